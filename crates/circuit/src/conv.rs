//! 2-D convolution geometry, and the virtual im2col matrix it defines.
//!
//! A convolution of an input `x` of `c_in` channels, `h × w` (batch 1, NCHW, viewed as the matrix
//! `[c_in, h·w]`) with a kernel `kh × kw` is the matrix product
//! `out[co, p] = Σ_j W[co, j]·X[p, j] + 2^k·b[co]` where `p = oy·ow + ox` runs over output
//! positions, `j = (ci·kh + a)·kw + b` over input channels and kernel offsets, and the im2col
//! matrix `X[p, j] = x[ci, oy·s_y + a·d_y − pad_top, ox·s_x + b·d_x − pad_left]` (0 outside the
//! image) is an index map of `x`. Grouped and depthwise convolutions use a dense `W` that is zero
//! outside each group's block.
//!
//! `X` is never committed or stored (DESIGN.md: convolution by sumcheck, as in zkCNN, Liu, Xie and
//! Zhang, CCS 2021, with im2col as a wiring predicate): a claim `õut(r_p ‖ r_co) = v` becomes a
//! degree-2 sumcheck over `j` of `A(j)·B(j)` with `A(j) = Σ_p eq(r_p, p)·X[p, j]` (computed by
//! streaming over the map) and `B(j) = Σ_co eq(r_co, co)·W[co, j]`, ending in a claim on `W` and
//! one on `X̃(ρ ‖ r_p)`; the latter is an index-map claim on `x` (see `index_map`), whose
//! wiring sum `Σ_{p,j} eq(r_p, p)·eq(ρ, j)·eq(σ, π(p, j))` the verifier evaluates by streaming
//! over the `|P|·|J|` pairs.

/// Largest kernel side, stride, dilation or padding a description may declare.
pub const MAX_GEOM: usize = 1 << 12;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    /// (y, x)
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Zeros before the image, (top, left); the bottom and right padding follow from `oh`, `ow`.
    pub pad: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// Output side for an input side, kernel, stride, dilation and the two paddings (ONNX).
    pub fn out_side(input: usize, k: usize, s: usize, d: usize, p0: usize, p1: usize) -> usize {
        let span = d * (k.max(1) - 1) + 1;
        let padded = input + p0 + p1;
        if padded < span || s == 0 {
            0
        } else {
            (padded - span) / s + 1
        }
    }

    /// Columns of the im2col matrix: `c_in·kh·kw`.
    pub fn j_len(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    /// Rows of the im2col matrix: output positions.
    pub fn p_len(&self) -> usize {
        self.oh * self.ow
    }

    pub fn validate(&self, max_len: usize) -> Result<(), String> {
        let dims = [
            self.c_in, self.h, self.w, self.c_out, self.kh, self.kw, self.oh, self.ow,
        ];
        if dims.iter().any(|&d| d == 0 || d > max_len) {
            return Err("convolution dimensions out of range".into());
        }
        let small = [
            self.kh,
            self.kw,
            self.stride[0],
            self.stride[1],
            self.dilation[0],
            self.dilation[1],
            self.pad[0],
            self.pad[1],
        ];
        if small.iter().any(|&v| v > MAX_GEOM)
            || self.stride.contains(&0)
            || self.dilation.contains(&0)
        {
            return Err("convolution kernel, stride, dilation or padding out of range".into());
        }
        let sizes = [
            self.c_in
                .checked_mul(self.h)
                .and_then(|v| v.checked_mul(self.w)),
            self.j_len().checked_mul(self.p_len()),
            self.c_out.checked_mul(self.p_len()),
        ];
        if sizes.iter().any(|s| s.is_none_or(|s| s > max_len)) {
            return Err("convolution sizes out of range".into());
        }
        Ok(())
    }

    /// For each kernel offset `(a, b)` and output position, the input position it reads
    /// (`y·w + x`), or `None` in the padding: `taps[(a·kw + b)·P + p]`. Channels add
    /// `ci·h·w`. Call on a validated geometry.
    pub fn taps(&self) -> Vec<Option<u32>> {
        let mut out = Vec::with_capacity(self.kh * self.kw * self.p_len());
        for a in 0..self.kh {
            for b in 0..self.kw {
                for oy in 0..self.oh {
                    let iy = (oy * self.stride[0] + a * self.dilation[0]).checked_sub(self.pad[0]);
                    for ox in 0..self.ow {
                        let ix =
                            (ox * self.stride[1] + b * self.dilation[1]).checked_sub(self.pad[1]);
                        out.push(match (iy, ix) {
                            (Some(iy), Some(ix)) if iy < self.h && ix < self.w => {
                                Some((iy * self.w + ix) as u32)
                            }
                            _ => None,
                        });
                    }
                }
            }
        }
        out
    }

    /// Calls `f(p, j, i)` for every im2col entry `X[p, j] = x[i]` inside the image, in order of
    /// `j` then `p`.
    ///
    /// Streams the entries (the taps are computed as they are visited, not tabulated): memory
    /// O(1), work O(|P|·|J|).
    pub fn for_each_entry(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (kk, hw) = (self.kh * self.kw, self.h * self.w);
        for ci in 0..self.c_in {
            for a in 0..self.kh {
                for b in 0..self.kw {
                    let j = ci * kk + a * self.kw + b;
                    let mut p = 0;
                    for oy in 0..self.oh {
                        let iy =
                            (oy * self.stride[0] + a * self.dilation[0]).checked_sub(self.pad[0]);
                        for ox in 0..self.ow {
                            let ix = (ox * self.stride[1] + b * self.dilation[1])
                                .checked_sub(self.pad[1]);
                            if let (Some(iy), Some(ix)) = (iy, ix) {
                                if iy < self.h && ix < self.w {
                                    f(p, j, ci * hw + iy * self.w + ix);
                                }
                            }
                            p += 1;
                        }
                    }
                }
            }
        }
    }

    /// The convolution on integers (or floats): `out[co·P + p]`, without bias.
    pub fn apply<T>(&self, x: &[T], weights: &[T]) -> Vec<T>
    where
        T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
    {
        let (pl, jl) = (self.p_len(), self.j_len());
        let mut out = vec![T::default(); self.c_out * pl];
        // Column j of im2col at a time: out[co, :] += W[co, j]·X[:, j].
        let mut col = vec![T::default(); pl];
        let taps = self.taps();
        let (kk, hw) = (self.kh * self.kw, self.h * self.w);
        for j in 0..jl {
            let (ci, k) = (j / kk, j % kk);
            for (p, c) in col.iter_mut().enumerate() {
                *c = taps
                    .get(k * pl + p)
                    .copied()
                    .flatten()
                    .and_then(|t| x.get(ci * hw + t as usize).copied())
                    .unwrap_or_default();
            }
            for co in 0..self.c_out {
                let wv = weights.get(co * jl + j).copied().unwrap_or_default();
                if let Some(orow) = out.get_mut(co * pl..(co + 1) * pl) {
                    for (o, c) in orow.iter_mut().zip(&col) {
                        *o = *o + wv * *c;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, for comparison.
    fn naive(g: &ConvGeom, x: &[i64], w: &[i64]) -> Vec<i64> {
        let mut out = vec![0; g.c_out * g.p_len()];
        for co in 0..g.c_out {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut acc = 0;
                    for ci in 0..g.c_in {
                        for a in 0..g.kh {
                            for b in 0..g.kw {
                                let iy =
                                    (oy * g.stride[0] + a * g.dilation[0]) as i64 - g.pad[0] as i64;
                                let ix =
                                    (ox * g.stride[1] + b * g.dilation[1]) as i64 - g.pad[1] as i64;
                                if iy < 0 || ix < 0 || iy >= g.h as i64 || ix >= g.w as i64 {
                                    continue;
                                }
                                let xv = x[ci * g.h * g.w + iy as usize * g.w + ix as usize];
                                acc += xv * w[co * g.j_len() + (ci * g.kh + a) * g.kw + b];
                            }
                        }
                    }
                    out[co * g.p_len() + oy * g.ow + ox] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn im2col_product_is_the_convolution() {
        for (stride, dilation, pad) in [
            ([1, 1], [1, 1], [1, 1]),
            ([2, 1], [1, 2], [0, 2]),
            ([2, 2], [1, 1], [1, 0]),
        ] {
            let (h, w, kh, kw) = (5, 6, 3, 2);
            let g = ConvGeom {
                c_in: 2,
                h,
                w,
                c_out: 3,
                kh,
                kw,
                stride,
                dilation,
                pad,
                oh: ConvGeom::out_side(h, kh, stride[0], dilation[0], pad[0], pad[0]),
                ow: ConvGeom::out_side(w, kw, stride[1], dilation[1], pad[1], pad[1]),
            };
            g.validate(1 << 20).unwrap();
            let x: Vec<i64> = (0..2 * h * w).map(|v| (v as i64 * 7) % 11 - 5).collect();
            let wt: Vec<i64> = (0..3 * g.j_len()).map(|v| (v as i64 * 5) % 7 - 3).collect();
            assert_eq!(g.apply(&x, &wt), naive(&g, &x, &wt));
            let mut n = 0;
            g.for_each_entry(|p, j, i| {
                assert!(p < g.p_len() && j < g.j_len() && i < x.len());
                n += 1;
            });
            assert!(n > 0 && n <= g.p_len() * g.j_len());
        }
    }
}
