//! A proven softmax over the rows of a tensor, and the check that a circuit description holds
//! it exactly as [`softmax`] builds it.
//!
//! For a row `o` of `n` values at `2^-fa`, the prover supplies `L ≈ logsumexp(o)` (a committed,
//! range-checked hint, [`QOp::LogSumExp`]); the circuit computes
//!
//! ```text
//! z = round((o − L) / 2^(fa−fz))            (at 2^-fz, the exp table's input scale)
//! ŝ = round(2^fs · exp(z))                  (the exp table, output at 2^-fs, fs = fa + e)
//! Σ_c ŝ_c − 2^fs ∈ [−2^(b−1), 2^(b−1))      (a range check: the row sum is 1 within a slack)
//! s = round(ŝ / 2^e)                        (the probabilities, at 2^-fa)
//! ```
//!
//! with `2^e ≥ 2n`. Each `ŝ_c` is rounded to an integer once, so a row's `n` roundings move its
//! sum by at most `n/2 ≤ 2^(e−2)` units of `2^-fs`: a relative `2^-(fa+2)` whatever `n`. The
//! exp input's rounding (`2^-(fz+1)`, relative, per value) and `L`'s (`2^-(fa+1)`) give the rest
//! of the honest deviation `S`; the check allows `2^(b−1) ≤ 2S`. So the prover's `L` is pinned
//! within a factor `e^(±ρ)` of the true normalization with
//!
//! `ρ = 2^(b−1) / 2^fs ≤ 2^-(fz−2)`    (below 2^-11 at `fa = 18`, `fz = 12`),
//!
//! a bound that does not grow with the row length: a scaled or all-zero "softmax" fails the
//! range check (docs/SECURITY.md, step 9). Uniqueness over the integers: the row sum has at
//! most `n ≤ 2^(e−1)` terms of at most `2^(fs+1)` (the exp table saturates there), so it stays
//! below `2^(fa+2e) ≤ 2^61` ([`MAX_ROW_BITS`]), and the range check reads its integer value.

use crate::quant::{QGraph, QOp, QTensor, QuantError, TensorKind};
use crate::table::{ActKind, TableKind};

/// Fractional bits of the exp table's input (its domain is then `[−2^(K−1−fz), 2^(K−1−fz))`,
/// `[−128, 128)` at `K = 20`).
pub const SOFTMAX_IN_FRAC: u32 = 12;

/// `fa + 2e` must stay at most this: the row sums of the exp values, below `2^(fa+2e)`, are then
/// integers below `2^61`.
pub const MAX_ROW_BITS: u32 = 61;

/// The extra fractional bits `e` of the exp values over the activations': the smallest with
/// `2^e ≥ 2n`.
pub fn extra_bits(n: usize) -> u32 {
    zkgrad_poly::log2_ceil(n.max(1)) as u32 + 1
}

/// The signed width of the normalization check of a row of `n` values at `2^-fa`, with the exp
/// input at `2^-fz`: `2^(b−1)` is the first power of two above the honest deviation
/// `S = 2^fs·(exp(2^-(fz+1) + 2^-(fa+1)) − 1) + n/2 + 1` (the first term without `2^-(fz+1)`
/// when `fz = fa`, where the exp input is not rounded).
pub fn check_bits(fa: u32, fz: u32, n: usize) -> u32 {
    let fs = fa + extra_bits(n);
    let input_rounding = if fz < fa {
        0.5 / (1u64 << fz) as f64
    } else {
        0.0
    };
    let hint_rounding = 0.5 / (1u64 << fa) as f64;
    let relative = (input_rounding + hint_rounding).exp_m1();
    let slack = ((1u64 << fs) as f64 * relative).ceil() as u64 + (n as u64).div_ceil(2) + 1;
    64 - slack.leading_zeros() + 1
}

/// Appends a proven softmax over the rows of `out` (`[rows, n]`, at `2^-fa`); returns the
/// probabilities `s` (at `2^-fa`). See the module documentation for the relations.
pub fn softmax(g: &mut QGraph, out: usize, rows: usize, n: usize) -> Result<usize, QuantError> {
    let fa = g.tensors[out].frac;
    let fz = SOFTMAX_IN_FRAC.min(fa);
    let e = extra_bits(n);
    let fs = fa + e;
    if fa + 2 * e > MAX_ROW_BITS {
        return Err(QuantError::Config(format!(
            "softmax over rows of {n} values at 2^-{fa}: the row sums would pass 2^{MAX_ROW_BITS} \
             (lower the activations' precision)"
        )));
    }
    let lse = g.push_node("softmax/logsumexp", QOp::LogSumExp { x: out }, rows, 1, fa);
    // L exceeds the largest logit by at most log n; it is only subtracted, never multiplied, so
    // a range 16× the activations' keeps every sum below 2^62.
    g.tensors[lse].bits = g.config.table_bits + 4;
    let lse_b = g.push_node(
        "softmax/logsumexp/broadcast",
        QOp::Broadcast { x: lse },
        rows,
        n,
        fa,
    );
    let z = g.push_node(
        "softmax/shifted",
        QOp::Sub { a: out, b: lse_b },
        rows,
        n,
        fa,
    );
    let zq = g.push_node(
        "softmax/shifted/round",
        QOp::Requant {
            x: z,
            shift: fa - fz,
        },
        rows,
        n,
        fz,
    );
    let table = g.table_index(TableKind::Act {
        kind: ActKind::Exp,
        in_frac: fz,
        out_frac: fs,
    });
    let fine = g.push_node(
        "softmax/exp",
        QOp::Act {
            x: zq,
            kind: ActKind::Exp,
            table,
        },
        rows,
        n,
        fs,
    );
    // Row sums: transpose, sum the rows, transpose back.
    let st = g.push_node("softmax/t", QOp::Transpose { x: fine }, n, rows, fs);
    let sums_t = g.push_node("softmax/sum_t", QOp::RowSum { x: st }, 1, rows, fs);
    let sums = g.push_node("softmax/sum", QOp::Transpose { x: sums_t }, rows, 1, fs);
    let dev = g.push_node(
        "softmax/sum-1",
        QOp::AddConst {
            x: sums,
            c: -(1i64 << fs),
        },
        rows,
        1,
        fs,
    );
    let check = g.push_node(
        "softmax/normalized",
        QOp::Requant { x: dev, shift: 0 },
        rows,
        1,
        fs,
    );
    g.tensors[check].bits = check_bits(fa, fz, n);
    let s = g.push_node("softmax", QOp::Requant { x: fine, shift: e }, rows, n, fa);
    Ok(s)
}

/// Checks that the log-sum-exp hint written by node `ni` of `g` is pinned: the nodes from `ni`
/// on are exactly those [`softmax`] appends for its input (ops, shapes, scales, kinds, range
/// widths and tables), and nothing else reads the hint. A description that holds the hint any
/// other way — alone, as the output, with a wider slack — is not a function of its input.
pub fn check_template(g: &QGraph, ni: usize) -> Result<(), String> {
    let bad = |why: &str| Err(format!("node {ni}: log-sum-exp hint {why}"));
    let Some(QOp::LogSumExp { x }) = g.nodes.get(ni).map(|n| &n.op) else {
        return bad("expected");
    };
    let Some(xt) = g.tensors.get(*x) else {
        return bad("reads no tensor");
    };
    // The builder on a scratch circuit holding the tensors up to the hint's input (only `x`'s
    // own entry is read) and the description's tables: its nodes are the template.
    let mut scratch = QGraph {
        config: g.config,
        tensors: vec![placeholder(); ni + 1],
        nodes: Vec::new(),
        weights: Vec::new(),
        tables: g.tables.clone(),
        output: 0,
    };
    if let Some(slot) = scratch.tensors.get_mut(*x) {
        *slot = xt.clone();
    }
    if softmax(&mut scratch, *x, xt.rows, xt.cols).is_err() {
        return bad("on a row too long for its precision");
    }
    if scratch.tables != g.tables {
        return bad("reads a table the description does not list");
    }
    let len = scratch.nodes.len();
    let (Some(nodes), Some(tensors)) = (
        g.nodes.get(ni..ni + len),
        g.tensors.get(ni + 1..ni + 1 + len),
    ) else {
        return bad("without its normalization check");
    };
    let template = scratch.tensors.get(ni + 1..).unwrap_or(&[]);
    for (k, ((have, want), (ht, wt))) in nodes
        .iter()
        .zip(&scratch.nodes)
        .zip(tensors.iter().zip(template))
        .enumerate()
    {
        let last = k + 1 == len;
        // The probabilities may be the circuit's public output.
        let kind_ok = ht.kind == wt.kind || (last && ht.kind == TensorKind::Public);
        if have.op != want.op
            || (ht.rows, ht.cols, ht.frac, ht.bits) != (wt.rows, wt.cols, wt.frac, wt.bits)
            || !kind_ok
        {
            return bad("is not followed by the softmax it must be pinned by");
        }
    }
    let hint = ni + 1;
    let readers = g
        .nodes
        .iter()
        .filter(|n| n.op.operands().contains(&hint))
        .count();
    if readers != 1 {
        return bad("is read outside its softmax");
    }
    Ok(())
}

fn placeholder() -> QTensor {
    QTensor {
        name: String::new(),
        rows: 1,
        cols: 1,
        frac: 0,
        kind: TensorKind::Virtual,
        bits: 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_slack_does_not_grow_with_the_row_length() {
        for fa in [6u32, 8, 10, 12, 16, 18] {
            let fz = SOFTMAX_IN_FRAC.min(fa);
            let mut rows = 0;
            for n in [1usize, 2, 10, 600, 4096, 100_000, 1 << 20] {
                let e = extra_bits(n);
                if fa + 2 * e > MAX_ROW_BITS {
                    continue;
                }
                // The relative deviation of the row sum the check allows.
                let rho = (1u64 << (check_bits(fa, fz, n) - 1)) as f64 / (1u64 << (fa + e)) as f64;
                assert!(
                    rho <= 0.5f64.powi(fz as i32 - 2),
                    "fa {fa}, n {n}: slack {rho} against 2^-{}",
                    fz - 2
                );
                if fa == 18 {
                    assert!(rho < 0.5f64.powi(11), "n {n}: {rho}");
                }
                rows += 1;
            }
            assert!(rows >= 5);
        }
    }
}
