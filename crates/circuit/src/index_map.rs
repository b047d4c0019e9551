//! Index maps: `out[j] = x[π(j)]` for a public map `π`, and `out[j] = 0` where `π(j)` is
//! undefined.
//!
//! One description covers every layout op: Reshape, Flatten and Squeeze/Unsqueeze (the flat
//! identity between two shapes), Slice (steps and offsets), Pad (coordinates that fall outside
//! the input read 0), each part of a Concat (the part's offset along the axis; the parts are then
//! added), an N-D Transpose (input axis `k` follows output axis `perm⁻¹(k)`) and broadcasting
//! (an input axis of size 1 with step 0).
//!
//! View the input as a row-major N-D array of shape `in_shape` and the output as one of shape
//! `out_shape`. Input coordinate `k` is `step_k·o[axis_k] + offset_k`, where `o` is the output
//! coordinate vector; `π(j)` is defined when every input coordinate lies in `[0, in_shape[k])`.
//!
//! The proof of an index map (DESIGN.md: "layout ops … a sumcheck against a wiring predicate";
//! the wiring-predicate reduction of Thaler, "Time-Optimal Interactive Proofs for Circuit
//! Evaluation", CRYPTO 2013, §4) reduces a claim `õut(r) = v` to one on `x`:
//! `v = Σ_i w_r(i)·x̃(i)` with `w_r(i) = Σ_{j : π(j) = i} eq(r, j)`, a degree-2 sumcheck over the
//! input's variables ending at a point `ρ`, after which the verifier evaluates
//! `w̃_r(ρ) = Σ_j eq(r, j)·eq(ρ, π(j))` itself in `O(|out| + |x|)`.

/// Largest rank a map may have.
pub const MAX_RANK: usize = 8;
/// Largest absolute step or offset.
pub const MAX_COEFF: i64 = 1 << 32;

/// How one input coordinate follows the output coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisMap {
    pub out_axis: usize,
    pub step: i64,
    pub offset: i64,
}

/// Where one variable of `x̃` comes from when a map only routes index bits
/// ([`IndexMap::bit_selection`]): a variable of the output's point, or a constant bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitSource {
    Out(usize),
    Const(bool),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexMap {
    pub in_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
    /// One per input axis.
    pub axes: Vec<AxisMap>,
}

impl IndexMap {
    /// The flat identity between two shapes of `n` values (Reshape).
    pub fn reshape(n: usize) -> Self {
        Self {
            in_shape: vec![n],
            out_shape: vec![n],
            axes: vec![AxisMap {
                out_axis: 0,
                step: 1,
                offset: 0,
            }],
        }
    }

    /// `out` has the same rank as `in_shape`; input axis `k` follows output axis `k` with the
    /// given step and offset (Slice, Pad, a part of a Concat).
    pub fn aligned(
        in_shape: &[usize],
        out_shape: &[usize],
        steps: &[i64],
        offsets: &[i64],
    ) -> Self {
        Self {
            in_shape: in_shape.to_vec(),
            out_shape: out_shape.to_vec(),
            axes: steps
                .iter()
                .zip(offsets)
                .enumerate()
                .map(|(k, (&step, &offset))| AxisMap {
                    out_axis: k,
                    step,
                    offset,
                })
                .collect(),
        }
    }

    /// `out = transpose(x, perm)`: output axis `d` is input axis `perm[d]`.
    pub fn transpose(in_shape: &[usize], perm: &[usize]) -> Self {
        let out_shape = perm
            .iter()
            .map(|&p| in_shape.get(p).copied().unwrap_or(0))
            .collect();
        let mut axes = vec![
            AxisMap {
                out_axis: 0,
                step: 1,
                offset: 0
            };
            in_shape.len()
        ];
        for (d, &p) in perm.iter().enumerate() {
            if let Some(a) = axes.get_mut(p) {
                a.out_axis = d;
            }
        }
        Self {
            in_shape: in_shape.to_vec(),
            out_shape,
            axes,
        }
    }

    /// Numpy broadcasting of `in_shape` to `out_shape` (trailing axes aligned; an input axis of
    /// size 1 repeats along a longer output axis).
    pub fn broadcast(in_shape: &[usize], out_shape: &[usize]) -> Option<Self> {
        let lead = out_shape.len().checked_sub(in_shape.len())?;
        let mut axes = Vec::with_capacity(in_shape.len());
        for (k, &d) in in_shape.iter().enumerate() {
            let od = *out_shape.get(lead + k)?;
            let step = if d == od {
                1
            } else if d == 1 {
                0
            } else {
                return None;
            };
            axes.push(AxisMap {
                out_axis: lead + k,
                step,
                offset: 0,
            });
        }
        Some(Self {
            in_shape: in_shape.to_vec(),
            out_shape: out_shape.to_vec(),
            axes,
        })
    }

    pub fn in_len(&self) -> usize {
        self.in_shape.iter().product()
    }
    pub fn out_len(&self) -> usize {
        self.out_shape.iter().product()
    }

    /// Checks the map is well formed: ranks, sizes and coefficients bounded, one axis map per
    /// input axis, each naming an output axis.
    pub fn validate(&self, max_len: usize) -> Result<(), String> {
        let rank_ok = |s: &[usize]| (1..=MAX_RANK).contains(&s.len());
        if !rank_ok(&self.in_shape) || !rank_ok(&self.out_shape) {
            return Err(format!(
                "index map ranks {} and {} must be within 1..={MAX_RANK}",
                self.in_shape.len(),
                self.out_shape.len()
            ));
        }
        let size = |s: &[usize]| {
            s.iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n > 0 && n <= max_len)
        };
        if size(&self.in_shape).is_none() || size(&self.out_shape).is_none() {
            return Err("index map shapes out of bounds".into());
        }
        if self.axes.len() != self.in_shape.len() {
            return Err("index map needs one axis map per input axis".into());
        }
        for a in &self.axes {
            if a.out_axis >= self.out_shape.len()
                || a.step.unsigned_abs() > MAX_COEFF as u64
                || a.offset.unsigned_abs() > MAX_COEFF as u64
            {
                return Err("index map axis out of range".into());
            }
        }
        Ok(())
    }

    /// `π` as a table: for each flat output index, the flat input index it reads, or `None`.
    /// Call on a validated map.
    pub fn sources(&self) -> Vec<Option<usize>> {
        // Built by the streamed row walk (no per-entry coordinate arithmetic): the per-entry
        // `source_of` walk was 14% of the CPU of nanoGPT's whole `zkgrad prove` command.
        let mut out = vec![None; self.out_len()];
        self.for_each_source(|j, i| {
            if let Some(o) = out.get_mut(j) {
                *o = Some(i);
            }
        });
        out
    }

    /// Calls `f(j, π(j))` for every flat output index `j` where `π(j)` is defined, in order,
    /// without expanding the map: memory O(rank) (the verifier's wiring sum streams over
    /// this). Call on a validated map.
    pub fn for_each_source(&self, mut f: impl FnMut(usize, usize)) {
        let Some(last) = self.out_shape.len().checked_sub(1) else {
            if let Some(i) = self.source_of(&[]) {
                f(0, i);
            }
            return;
        };
        let inner = self.out_shape.get(last).copied().unwrap_or(0);
        if inner == 0 {
            return;
        }
        // Along the last output axis every input coordinate moves by its step (or stays),
        // so each row of the output is one walk: the flat source moves by `delta` and the
        // moving coordinates are bounds-checked, with no per-entry coordinate arithmetic.
        // (i128: steps and offsets are at most 2^32, coordinates below 2^63.)
        let mut strides = vec![0i128; self.in_shape.len()];
        let mut acc = 1i128;
        for (s, &d) in strides.iter_mut().zip(&self.in_shape).rev() {
            *s = acc;
            acc *= d as i128;
        }
        let delta: i128 = self
            .axes
            .iter()
            .zip(&strides)
            .filter(|(a, _)| a.out_axis == last)
            .map(|(a, s)| a.step as i128 * s)
            .sum();
        let mut coord = vec![0usize; last];
        let mut moving: Vec<(i128, i128, i128)> = Vec::with_capacity(self.axes.len());
        for row in 0..self.out_len() / inner {
            moving.clear();
            let mut base = 0i128;
            let mut fixed_inside = true;
            for ((a, &dim), s) in self.axes.iter().zip(&self.in_shape).zip(&strides) {
                let o = coord.get(a.out_axis).copied().unwrap_or(0) as i128;
                let i = a.step as i128 * o + a.offset as i128;
                base += i * s;
                if a.out_axis == last {
                    moving.push((i, a.step as i128, dim as i128));
                } else if i < 0 || i >= dim as i128 {
                    fixed_inside = false;
                }
            }
            if fixed_inside {
                let mut flat = base;
                for c in 0..inner {
                    if moving.iter().all(|&(i, _, dim)| 0 <= i && i < dim) {
                        f(row * inner + c, flat as usize);
                    }
                    flat += delta;
                    for m in &mut moving {
                        m.0 += m.1;
                    }
                }
            }
            // Odometer increment of the leading axes, the last of them fastest.
            for d in (0..last).rev() {
                let Some(c) = coord.get_mut(d) else { break };
                *c += 1;
                if *c < self.out_shape.get(d).copied().unwrap_or(0) {
                    break;
                }
                *c = 0;
            }
        }
    }

    /// `Some((r, c))` when the map is the transposition of an `r × c` matrix: `out[j][i] =
    /// x[i][j]`.
    fn matrix_transpose(&self) -> Option<(usize, usize)> {
        let plain = |a: &AxisMap, out_axis| a.out_axis == out_axis && a.step == 1 && a.offset == 0;
        match (&self.in_shape[..], &self.out_shape[..], &self.axes[..]) {
            ([r, c], [c2, r2], [a0, a1]) if r == r2 && c == c2 && plain(a0, 1) && plain(a1, 0) => {
                Some((*r, *c))
            }
            _ => None,
        }
    }

    fn source_of(&self, coord: &[usize]) -> Option<usize> {
        let mut flat = 0usize;
        for (a, &dim) in self.axes.iter().zip(&self.in_shape) {
            // i128: step·o cannot overflow (|step| ≤ 2^32, o < 2^64), so the table agrees
            // with `for_each_source` for any validated size (attack_index_walk.rs).
            let o = *coord.get(a.out_axis)? as i128;
            let i = a.step as i128 * o + a.offset as i128;
            if i < 0 || i >= dim as i128 {
                return None;
            }
            flat = flat.checked_mul(dim)?.checked_add(i as usize)?;
        }
        Some(flat)
    }

    /// When `π` only routes index bits, `x[π(j)]` is `x̃` at a point whose coordinates are
    /// bits of `j` or constants, so a claim `õut(r) = v` is the claim `x̃(s(r)) = v` with no
    /// sumcheck: the function `j ↦ x̃(s(j))` is multilinear (each variable of `j` enters at
    /// most one coordinate of `x̃`'s argument, and `x̃` is multilinear) and agrees with `out`
    /// on the hypercube, so it is `õut`. That holds when every dimension of both shapes and
    /// both tensors' `(rows, cols)` layouts (`x`, `out`) is a power of two — the padded layout
    /// is then the flat one, and a flat index's bits are its coordinates' bits, the last axis
    /// lowest — and each input axis is either fixed (step 0, an offset inside the axis) or
    /// reads one output axis whole (step 1) at an offset that is a multiple of that axis's
    /// size and keeps it inside the input axis, no output axis read by two input axes (a
    /// diagonal would square a variable). Returns `s`, one entry per variable of `x̃` (bit `i`
    /// of the flat input index is variable `i`, as in `zkgrad_poly::eq_table`), or `None`.
    pub fn bit_selection(&self, x: (usize, usize), out: (usize, usize)) -> Option<Vec<BitSource>> {
        let pow2 = |d: usize| d.is_power_of_two();
        let dims = [x.0, x.1, out.0, out.1];
        if !dims
            .into_iter()
            .chain(self.in_shape.iter().copied())
            .all(pow2)
            || !self.out_shape.iter().copied().all(pow2)
            || self.axes.len() != self.in_shape.len()
            || x.0.checked_mul(x.1) != Some(self.in_len())
            || out.0.checked_mul(out.1) != Some(self.out_len())
        {
            return None;
        }
        let log = |d: usize| d.trailing_zeros() as usize;
        // The first variable of each axis: the axes after it hold the lower bits.
        let starts = |shape: &[usize]| {
            let mut v = vec![0usize; shape.len()];
            let mut acc = 0;
            for k in (0..shape.len()).rev() {
                v[k] = acc;
                acc += log(shape[k]);
            }
            (v, acc)
        };
        let (in_start, n_in) = starts(&self.in_shape);
        let (out_start, _) = starts(&self.out_shape);
        let mut read = vec![false; self.out_shape.len()];
        let mut sel = vec![BitSource::Const(false); n_in];
        for ((a, &dim), &start) in self.axes.iter().zip(&self.in_shape).zip(&in_start) {
            let offset = u64::try_from(a.offset).ok()?;
            let bits = log(dim);
            match a.step {
                0 if offset < dim as u64 => {
                    for b in 0..bits {
                        sel[start + b] = BitSource::Const((offset >> b) & 1 == 1);
                    }
                }
                1 => {
                    let out_dim = *self.out_shape.get(a.out_axis)?;
                    let out_bits = log(out_dim);
                    if std::mem::replace(read.get_mut(a.out_axis)?, true)
                        || offset % out_dim as u64 != 0
                        || offset + out_dim as u64 > dim as u64
                    {
                        return None;
                    }
                    let out_first = *out_start.get(a.out_axis)?;
                    for b in 0..bits {
                        sel[start + b] = if b < out_bits {
                            BitSource::Out(out_first + b)
                        } else {
                            BitSource::Const((offset >> b) & 1 == 1)
                        };
                    }
                }
                _ => return None,
            }
        }
        Some(sel)
    }

    /// Applies the map to values (0 where undefined).
    pub fn apply<T: Copy + Default + Send + Sync>(&self, x: &[T]) -> Vec<T> {
        if let Some((r, c)) = self.matrix_transpose() {
            // (Every index below `r·c = x.len()` then fits in a usize.)
            if r.checked_mul(c) == Some(x.len()) {
                return transpose(x, r, c);
            }
        }
        // Streamed: a table of sources first took 16 bytes an entry (GPT-2 124M's transposed
        // LM head: 617 MB of fresh pages in its loading).
        let mut out = vec![T::default(); self.out_len()];
        self.for_each_source(|j, i| {
            if let (Some(o), Some(v)) = (out.get_mut(j), x.get(i)) {
                *o = *v;
            }
        });
        out
    }
}

/// The transpose of the `r × c` row-major matrix `x` (`x.len() = r·c`), in tiles on every
/// core: the walk of [`IndexMap::for_each_source`] reads a column per output row, a cache line
/// per value (GPT-2 124M's transposed LM head, 38.6M values: 1.35 s of its loading on one
/// core). The ONNX importer transposes Gemm weights with it too.
pub fn transpose<T: Copy + Default + Send + Sync>(x: &[T], r: usize, c: usize) -> Vec<T> {
    use rayon::prelude::*;
    const TILE: usize = 32;
    // Zeroed on both threads: memory the allocator reuses is otherwise cleared on one.
    let mut out: Vec<T> = (0..r * c).into_par_iter().map(|_| T::default()).collect();
    if r == 0 {
        return out;
    }
    // A band of TILE output rows (input columns) per task, filled tile by tile.
    out.par_chunks_mut(TILE * r)
        .enumerate()
        .for_each(|(band, rows)| {
            let j0 = band * TILE;
            for i0 in (0..r).step_by(TILE) {
                for (k, row) in rows.chunks_mut(r).enumerate() {
                    let j = j0 + k;
                    for i in i0..(i0 + TILE).min(r) {
                        if let (Some(o), Some(v)) = (row.get_mut(i), x.get(i * c + j)) {
                            *o = *v;
                        }
                    }
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix transposition through the tiled path is the walk's, on shapes that are not
    /// multiples of the tile.
    #[test]
    fn tiled_transpose_is_the_walk_and_a_short_input_is_not_read_past() {
        for (r, c) in [(1, 1), (3, 70), (65, 33), (100, 1), (1, 100)] {
            let x: Vec<i64> = (0..(r * c) as i64).map(|v| v * 7 - 3).collect();
            let m = IndexMap::transpose(&[r, c], &[1, 0]);
            assert_eq!(m.matrix_transpose(), Some((r, c)));
            let mut walk = vec![0i64; m.out_len()];
            m.for_each_source(|j, i| walk[j] = x[i]);
            assert_eq!(m.apply(&x), walk, "{r} x {c}");
            // An input of another length (a hostile or truncated one) takes the walk: the
            // entries it lacks read as zero, and nothing panics.
            let short = &x[..x.len() / 2];
            let mut walk = vec![0i64; m.out_len()];
            m.for_each_source(|j, i| walk[j] = short.get(i).copied().unwrap_or(0));
            assert_eq!(m.apply(short), walk, "{r} x {c}, short input");
        }
    }

    /// The reference table: `π` evaluated entry by entry at every output coordinate.
    fn by_coordinates(m: &IndexMap) -> Vec<Option<usize>> {
        let rank = m.out_shape.len();
        let mut coord = vec![0usize; rank];
        let mut out = Vec::with_capacity(m.out_len());
        for _ in 0..m.out_len() {
            out.push(m.source_of(&coord));
            for d in (0..rank).rev() {
                coord[d] += 1;
                if coord[d] < m.out_shape[d] {
                    break;
                }
                coord[d] = 0;
            }
        }
        out
    }

    #[test]
    fn slice_pad_transpose_broadcast() {
        // x = [[0,1,2],[3,4,5]]
        let x: Vec<i64> = (0..6).collect();
        // Slice columns 1.. with step 1.
        let s = IndexMap::aligned(&[2, 3], &[2, 2], &[1, 1], &[0, 1]);
        assert_eq!(s.apply(&x), vec![1, 2, 4, 5]);
        // Pad one zero column on the left.
        let p = IndexMap::aligned(&[2, 3], &[2, 4], &[1, 1], &[0, -1]);
        assert_eq!(p.apply(&x), vec![0, 0, 1, 2, 0, 3, 4, 5]);
        // Transpose.
        let t = IndexMap::transpose(&[2, 3], &[1, 0]);
        assert_eq!(t.out_shape, vec![3, 2]);
        assert_eq!(t.apply(&x), vec![0, 3, 1, 4, 2, 5]);
        // Broadcast a row over 2 rows.
        let b = IndexMap::broadcast(&[3], &[2, 3]).unwrap();
        assert_eq!(b.apply(&[7i64, 8, 9]), vec![7, 8, 9, 7, 8, 9]);
        assert!(IndexMap::broadcast(&[2], &[2, 3]).is_none());
        // Reverse (negative step).
        let r = IndexMap::aligned(&[3], &[3], &[-1], &[2]);
        assert_eq!(r.apply(&[1i64, 2, 3]), vec![3, 2, 1]);
        for m in [s, p, t, b, r] {
            m.validate(1 << 20).unwrap();
        }
    }

    #[test]
    fn streamed_sources_are_the_table() {
        let maps = [
            IndexMap::aligned(&[2, 3], &[2, 4], &[1, 1], &[0, -1]),
            IndexMap::transpose(&[2, 3, 4], &[2, 0, 1]),
            IndexMap::broadcast(&[3], &[2, 3]).unwrap(),
            IndexMap::aligned(&[5], &[3], &[-2], &[4]),
            // A diagonal (two input axes on one output axis), a pad on the last axis, a
            // reversed inner axis inside a transpose, and rank 0.
            IndexMap {
                in_shape: vec![3, 3],
                out_shape: vec![2, 3],
                axes: vec![
                    AxisMap {
                        out_axis: 1,
                        step: 1,
                        offset: 0,
                    },
                    AxisMap {
                        out_axis: 1,
                        step: 1,
                        offset: 0,
                    },
                ],
            },
            IndexMap::aligned(&[2, 3], &[4, 7], &[1, 2], &[-1, -1]),
            IndexMap {
                in_shape: vec![4, 3],
                out_shape: vec![3, 4],
                axes: vec![
                    AxisMap {
                        out_axis: 1,
                        step: -1,
                        offset: 3,
                    },
                    AxisMap {
                        out_axis: 0,
                        step: 1,
                        offset: 0,
                    },
                ],
            },
            IndexMap {
                in_shape: vec![],
                out_shape: vec![],
                axes: vec![],
            },
        ];
        for m in maps {
            let mut streamed = vec![None; m.out_len()];
            m.for_each_source(|j, i| streamed[j] = Some(i));
            assert_eq!(streamed, by_coordinates(&m));
            assert_eq!(m.sources(), by_coordinates(&m));
        }
    }

    /// A bit selection is the map itself: on random power-of-two maps (slices, fixed
    /// coordinates, broadcasts, transposes, reshapes of the layout), wherever
    /// `bit_selection` answers, every output index reads the input index its bits give.
    #[test]
    fn bit_selections_agree_with_the_map_on_random_maps() {
        let mut state = 0x51f1_5e1e_c7ed_0001u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let mut answered = 0;
        for _ in 0..3000 {
            let in_rank = 1 + next(3) as usize;
            let out_rank = 1 + next(3) as usize;
            let in_shape: Vec<usize> = (0..in_rank).map(|_| 1 << next(3)).collect();
            let out_shape: Vec<usize> = (0..out_rank).map(|_| 1 << next(3)).collect();
            let axes = (0..in_rank)
                .map(|k| {
                    let out_axis = next(out_rank as u64) as usize;
                    let step = next(3) as i64 - (next(4) == 0) as i64;
                    let offset = match next(3) {
                        0 => 0,
                        1 => (out_shape[out_axis] * next(3) as usize) as i64,
                        _ => next(in_shape[k] as u64 + 1) as i64,
                    };
                    AxisMap {
                        out_axis,
                        step,
                        offset,
                    }
                })
                .collect();
            let m = IndexMap {
                in_shape,
                out_shape,
                axes,
            };
            let (n_in, n_out) = (m.in_len(), m.out_len());
            let mut split = |n: usize| {
                let c = 1 << next(n.trailing_zeros() as u64 + 1);
                (n / c, c)
            };
            let (x, out) = (split(n_in), split(n_out));
            let Some(sel) = m.bit_selection(x, out) else {
                continue;
            };
            answered += 1;
            assert_eq!(1usize << sel.len(), n_in, "{m:?}");
            for (j, src) in by_coordinates(&m).into_iter().enumerate() {
                let i = sel.iter().enumerate().fold(0usize, |acc, (b, s)| {
                    let bit = match *s {
                        BitSource::Out(v) => (j >> v) & 1 == 1,
                        BitSource::Const(c) => c,
                    };
                    acc | (usize::from(bit) << b)
                });
                assert_eq!(src, Some(i), "{m:?} at {j}");
            }
        }
        assert!(answered > 200, "only {answered} maps were bit selections");
        // A diagonal (two input axes reading one output axis) and a non-power-of-two layout
        // are not bit selections.
        let diag = IndexMap {
            in_shape: vec![4, 4],
            out_shape: vec![4],
            axes: vec![
                AxisMap {
                    out_axis: 0,
                    step: 1,
                    offset: 0,
                },
                AxisMap {
                    out_axis: 0,
                    step: 1,
                    offset: 0,
                },
            ],
        };
        assert!(diag.bit_selection((4, 4), (1, 4)).is_none());
        let t = IndexMap::aligned(&[4, 8], &[4, 4], &[1, 1], &[0, 4]);
        assert!(t.bit_selection((4, 8), (4, 4)).is_some());
        assert!(t.bit_selection((4, 8), (2, 8)).is_some());
        let odd = IndexMap::reshape(12);
        assert!(odd.bit_selection((3, 4), (1, 12)).is_none());
    }

    #[test]
    fn streamed_sources_are_the_table_on_random_maps() {
        // Random ranks, shapes, axis assignments (repeated and unused output axes), steps in
        // [−2, 2] and offsets in [−3, 3]: the row walk agrees with the per-entry table.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for _ in 0..500 {
            let in_rank = 1 + next(3) as usize;
            let out_rank = 1 + next(3) as usize;
            let in_shape: Vec<usize> = (0..in_rank).map(|_| 1 + next(4) as usize).collect();
            let out_shape: Vec<usize> = (0..out_rank).map(|_| 1 + next(4) as usize).collect();
            let axes = (0..in_rank)
                .map(|_| AxisMap {
                    out_axis: next(out_rank as u64) as usize,
                    step: next(5) as i64 - 2,
                    offset: next(7) as i64 - 3,
                })
                .collect();
            let m = IndexMap {
                in_shape,
                out_shape,
                axes,
            };
            m.validate(1 << 20).unwrap();
            let mut streamed = vec![None; m.out_len()];
            m.for_each_source(|j, i| streamed[j] = Some(i));
            assert_eq!(streamed, by_coordinates(&m), "{m:?}");
            assert_eq!(m.sources(), by_coordinates(&m), "{m:?}");
        }
    }

    #[test]
    fn validation_rejects_malformed_maps() {
        let mut m = IndexMap::reshape(4);
        m.axes[0].out_axis = 1;
        assert!(m.validate(16).is_err());
        let mut m = IndexMap::reshape(4);
        m.axes.clear();
        assert!(m.validate(16).is_err());
        assert!(IndexMap::reshape(32).validate(16).is_err());
        let mut m = IndexMap::reshape(4);
        m.axes[0].step = i64::MAX;
        assert!(m.validate(16).is_err());
        // i64::MIN has no absolute value in i64: refused, not wrapped past the check.
        let mut m = IndexMap::reshape(4);
        m.axes[0].offset = i64::MIN;
        assert!(m.validate(16).is_err());
    }
}
