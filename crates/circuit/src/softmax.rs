//! A proven softmax over the rows of a tensor, and the check that a circuit description holds
//! it exactly as [`softmax`] builds it.
//!
//! For a row `o` of `n` values at `2^-fa`, the prover supplies a normalizer `ℓ` at `2^-fz`
//! (a committed, range-checked hint, [`QOp::LogSumExp`]); with `d = fa − fz` the circuit computes
//!
//! ```text
//! z = round((o − 2^d·ℓ) / 2^d) = round(o / 2^d) − ℓ      (at 2^-fz, the exp table's input)
//! ŝ = T(z),  ŝ⁺ = T(z + 1)                               (the exp table T(z) = round(2^fs·e^z),
//!                                                          fs = fa + e, 2^e ≥ 2n)
//! 2^fs − Σ_c ŝ_c ∈ [0, 2^b)      and      Σ_c ŝ⁺_c − 2^fs − 1 ∈ [0, 2^b)   (two range checks)
//! s = round(ŝ / 2^e)                                      (the probabilities, at 2^-fa)
//! ```
//!
//! **The normalizer is unique.** `T` is non-decreasing, so `S(ℓ) = Σ_c T(round(o_c/2^d) − ℓ)`
//! is non-increasing in `ℓ`, and the two checks say `S(ℓ) ≤ 2^fs < S(ℓ − 1)`: `ℓ` is the least
//! integer with `S(ℓ) ≤ 2^fs`, a function of `o` (the forward pass finds it by a short search
//! from `round(2^fz·logsumexp(o))`). So a circuit holding a softmax is a function of its input:
//! no scaled, all-zero or otherwise chosen softmax verifies, whatever the row length, and two
//! softmaxes of the same logits are equal. The width `b` only has to hold the honest
//! deviations, which are at most `2^fs·(e^(2^-fz) − 1) + n` (each `T(z+1) ≤ e^(2^-fz)·T(z) + 1`),
//! so the probabilities sum to 1 within a relative `2^-fz + 2^-(fa+1)` (2^-12 at the defaults).
//!
//! **No wrap.** A row sum has `n ≤ 2^(e−1)` terms of at most `2^(fs+1)` (the exp table
//! saturates there), so it stays below `2^(fa+2e) ≤ 2^61` ([`MAX_ROW_BITS`]), and both range
//! checks read integers (docs/SECURITY.md, step 9).

use crate::ir::{QGraph, QOp, QuantError, TensorKind};
use crate::table::{ActKind, TableKind};

/// Fractional bits of the exp table's input and of the normalizer (the table's domain is then
/// `[−2^(K−1−fz), 2^(K−1−fz))`, `[−128, 128)` at `K = 20`).
pub const SOFTMAX_IN_FRAC: u32 = 12;

/// `fa + 2e` must stay at most this: the row sums of the exp values, below `2^(fa+2e)`, are then
/// integers below `2^61`.
pub const MAX_ROW_BITS: u32 = 61;

/// The extra fractional bits `e` of the exp values over the activations': the smallest with
/// `2^e ≥ 2n`.
pub fn extra_bits(n: usize) -> u32 {
    zkgrad_poly::log2_ceil(n.max(1)) as u32 + 1
}

/// The width `b` of the two normalization checks of a row of `n` values at `2^-fa` (exp input
/// at `2^-fz`): `2^b` exceeds the honest deviations' bound `2^fs·(e^(2^-fz) − 1) + n`.
pub fn check_bits(fa: u32, fz: u32, n: usize) -> u32 {
    let fs = fa + extra_bits(n);
    let step = (0.5f64.powi(fz as i32)).exp_m1();
    let bound = ((1u64 << fs) as f64 * step).ceil() as u64 + 2 * n as u64 + 2;
    64 - bound.leading_zeros()
}

/// `Σ_c T(oq_c − ℓ)`: the row sum of exp values for normalizer `ℓ`, `oq` the row at `2^-fz`.
fn exp_sum(oq: &[i64], l: i64, fz: u32, fs: u32, k: u32) -> i128 {
    oq.iter()
        .map(|&o| ActKind::Exp.eval_q(o - l, fz, fs, k) as i128)
        .sum()
}

/// The normalizer of a row `o` at `2^-fa` ([`softmax`]): the least `ℓ` (at `2^-fz`) with
/// `Σ_c T(round(o_c/2^(fa−fz)) − ℓ) ≤ 2^fs`, found from `round(2^fz·logsumexp(o))`.
pub fn normalizer(o: &[i64], fa: u32, fz: u32, k: u32) -> i64 {
    let d = fa - fz;
    let fs = fa + extra_bits(o.len());
    let oq: Vec<i64> = o
        .iter()
        .map(|&v| if d == 0 { v } else { (v + (1 << (d - 1))) >> d })
        .collect();
    let scale = (1u64 << fa) as f64;
    let m = o.iter().map(|&v| v as f64 / scale).fold(f64::MIN, f64::max);
    let lse = m + o
        .iter()
        .map(|&v| (v as f64 / scale - m).exp())
        .sum::<f64>()
        .ln();
    let target = 1i128 << fs;
    let mut l = (lse * (1u64 << fz) as f64).round() as i64;
    // S is non-increasing in ℓ, above 2^fs far below and 0 far above: both walks end.
    while exp_sum(&oq, l, fz, fs, k) > target {
        l += 1;
    }
    while exp_sum(&oq, l - 1, fz, fs, k) <= target {
        l -= 1;
    }
    l
}

/// Appends a proven softmax over the rows of `out` (`[rows, n]`, at `2^-fa`); returns the
/// probabilities `s` (at `2^-fa`). See the module documentation for the relations.
pub fn softmax(g: &mut QGraph, out: usize, rows: usize, n: usize) -> Result<usize, QuantError> {
    let fa = g.tensors[out].frac;
    let fz = SOFTMAX_IN_FRAC.min(fa);
    let d = fa - fz;
    let e = extra_bits(n);
    let fs = fa + e;
    if fa + 2 * e > MAX_ROW_BITS {
        return Err(QuantError::Config(format!(
            "softmax over rows of {n} values at 2^-{fa}: the row sums would pass 2^{MAX_ROW_BITS} \
             (lower the activations' precision)"
        )));
    }
    let lse = g.push_node("softmax/logsumexp", QOp::LogSumExp { x: out }, rows, 1, fz);
    // ℓ exceeds the largest logit by at most log n; it is only subtracted, never multiplied, so
    // a range 16× the activations' keeps every sum below 2^62.
    g.tensors[lse].bits = g.config.table_bits + 4;
    let lse_b = g.push_node(
        "softmax/logsumexp/broadcast",
        QOp::Broadcast { x: lse },
        rows,
        n,
        fz,
    );
    let lse_s = g.push_node(
        "softmax/logsumexp/scaled",
        QOp::Scale {
            x: lse_b,
            c: 1 << d,
        },
        rows,
        n,
        fa,
    );
    let z = g.push_node(
        "softmax/shifted",
        QOp::Sub { a: out, b: lse_s },
        rows,
        n,
        fa,
    );
    let zq = g.push_node(
        "softmax/shifted/round",
        QOp::Requant { x: z, shift: d },
        rows,
        n,
        fz,
    );
    let table = g.table_index(TableKind::Act {
        kind: ActKind::Exp,
        in_frac: fz,
        out_frac: fs,
    });
    let exp = |g: &mut QGraph, name: &str, x: usize| {
        g.push_node(
            name,
            QOp::Act {
                x,
                kind: ActKind::Exp,
                table,
            },
            rows,
            n,
            fs,
        )
    };
    let fine = exp(g, "softmax/exp", zq);
    let up = g.push_node(
        "softmax/shifted+1",
        QOp::AddConst { x: zq, c: 1 },
        rows,
        n,
        fz,
    );
    let up = g.push_node(
        "softmax/shifted+1/commit",
        QOp::Requant { x: up, shift: 0 },
        rows,
        n,
        fz,
    );
    let fine_up = exp(g, "softmax/exp+1", up);
    // Row sums: transpose, sum the rows, transpose back.
    let row_sum = |g: &mut QGraph, name: &str, x: usize| {
        let t = g.push_node(&format!("{name}/t"), QOp::Transpose { x }, n, rows, fs);
        let st = g.push_node(&format!("{name}/sum_t"), QOp::RowSum { x: t }, 1, rows, fs);
        g.push_node(
            &format!("{name}/sum"),
            QOp::Transpose { x: st },
            rows,
            1,
            fs,
        )
    };
    let sums = row_sum(g, "softmax/exp", fine);
    let sums_up = row_sum(g, "softmax/exp+1", fine_up);
    // 2^fs − S(ℓ) ∈ [0, 2^b) and S(ℓ − 1) − 2^fs − 1 ∈ [0, 2^b): signed range checks of b bits
    // on the deviations less 2^(b−1).
    let b = check_bits(fa, fz, n);
    let neg = g.push_node("softmax/-sum", QOp::Scale { x: sums, c: -1 }, rows, 1, fs);
    let low = g.push_node(
        "softmax/1-sum",
        QOp::AddConst {
            x: neg,
            c: (1i64 << fs) - (1i64 << (b - 1)),
        },
        rows,
        1,
        fs,
    );
    let high = g.push_node(
        "softmax/sum+1-1",
        QOp::AddConst {
            x: sums_up,
            c: -(1i64 << fs) - 1 - (1i64 << (b - 1)),
        },
        rows,
        1,
        fs,
    );
    for (name, x) in [("softmax/normalized", low), ("softmax/normalized+1", high)] {
        let check = g.push_node(name, QOp::Requant { x, shift: 0 }, rows, 1, fs);
        g.tensors[check].bits = b;
    }
    let s = g.push_node("softmax", QOp::Requant { x: fine, shift: e }, rows, n, fa);
    Ok(s)
}

/// Checks that the log-sum-exp hint written by node `ni` of `g` is pinned: the nodes from `ni`
/// on are exactly those [`softmax`] appends for its input (ops, shapes, scales, kinds, range
/// widths and tables), and nothing else reads the hint (`hint_readers` operand slots read it,
/// counted by the caller). A description that holds the hint any other way — alone, as the
/// output, with a wider slack — is not a function of its input.
///
/// The template is built on a scratch circuit holding only the input tensor (index 0), so its
/// tensor `t ≥ 1` is the description's `ni + t` and its 0 is the input: the cost is the
/// template's size, not the circuit's.
pub(crate) fn check_template(g: &QGraph, ni: usize, hint_readers: u32) -> Result<(), String> {
    let bad = |why: &str| Err(format!("node {ni}: log-sum-exp hint {why}"));
    let Some(QOp::LogSumExp { x }) = g.nodes.get(ni).map(|n| &n.op) else {
        return bad("expected");
    };
    let Some(xt) = g.tensors.get(*x) else {
        return bad("reads no tensor");
    };
    let mut scratch = QGraph {
        config: g.config,
        tensors: vec![xt.clone()],
        nodes: Vec::new(),
        weights: Vec::new(),
        tables: g.tables.clone(),
        output: 0,
    };
    if softmax(&mut scratch, 0, xt.rows, xt.cols).is_err() {
        return bad("on a row too long for its precision");
    }
    if scratch.tables != g.tables {
        return bad("reads a table the description does not list");
    }
    let len = scratch.nodes.len();
    let (Some(nodes), Some(tensors), Some(template)) = (
        g.nodes.get(ni..ni + len),
        g.tensors.get(ni + 1..ni + 1 + len),
        scratch.tensors.get(1..),
    ) else {
        return bad("without its normalization check");
    };
    let rename = |t: usize| if t == 0 { *x } else { ni + t };
    for (k, ((have, want), (ht, wt))) in nodes
        .iter()
        .zip(&scratch.nodes)
        .zip(tensors.iter().zip(template))
        .enumerate()
    {
        let last = k + 1 == len;
        // The probabilities may be the circuit's public output.
        let kind_ok = ht.kind == wt.kind || (last && ht.kind == TensorKind::Public);
        if have.op != want.op.map_operands(rename)
            || (ht.rows, ht.cols, ht.frac, ht.bits) != (wt.rows, wt.cols, wt.frac, wt.bits)
            || !kind_ok
        {
            return bad("is not followed by the softmax it must be pinned by");
        }
    }
    if hint_readers != 1 {
        return bad("is read outside its softmax");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values in `(−spread, spread)` at `2^-fa`, from a xorshift64 stream (fixed seed).
    fn row(seed: u64, n: usize, fa: u32, spread: f64) -> Vec<i64> {
        let mut s = seed.wrapping_add(0x2545_f491_4f6c_dd1d) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let v = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                (v * spread * (1u64 << fa) as f64).round() as i64
            })
            .collect()
    }

    /// Exactly one normalizer passes both checks, for rows of every length: the softmax is a
    /// function of its row (no scaled or zero softmax verifies).
    #[test]
    fn exactly_one_normalizer_passes_for_every_row_length() {
        let k = 20;
        for fa in [8u32, 10, 12, 16, 18] {
            let fz = SOFTMAX_IN_FRAC.min(fa);
            for (i, n) in [1usize, 2, 3, 10, 600, 4096].into_iter().enumerate() {
                for spread in [0.01, 1.0, 8.0] {
                    let o = row(i as u64 * 7 + fa as u64, n, fa, spread);
                    let fs = fa + extra_bits(n);
                    let d = fa - fz;
                    let oq: Vec<i64> = o
                        .iter()
                        .map(|&v| if d == 0 { v } else { (v + (1 << (d - 1))) >> d })
                        .collect();
                    let l = normalizer(&o, fa, fz, k);
                    let b = check_bits(fa, fz, n);
                    let passes = |l: i64| {
                        let low = (1i128 << fs) - exp_sum(&oq, l, fz, fs, k);
                        let high = exp_sum(&oq, l - 1, fz, fs, k) - (1i128 << fs) - 1;
                        (0..1i128 << b).contains(&low) && (0..1i128 << b).contains(&high)
                    };
                    assert!(passes(l), "fa {fa} n {n}: the honest normalizer fails");
                    for other in (l - 64..l + 64).filter(|&x| x != l) {
                        assert!(
                            !passes(other),
                            "fa {fa} n {n}: normalizer {other} passes too"
                        );
                    }
                }
            }
        }
    }
}
