//! Verified greedy generation ("certify, don't re-execute"): one forward pass over the prompt
//! and the generated tokens, with a proven argmax at every generated position.
//!
//! For a language model's circuit (token ids in a public tensor, logits `[T, V]`), a proof
//! that `ids[first + r]` is the greedy choice after `ids[..first + r]` for `r < n` appends, to
//! the model's circuit, for the logit rows `first − 1 .. first − 1 + n` (`x`, committed):
//!
//! ```text
//! m[r]     = x[r, ids[first + r]]                        (QOp::PickCol: wiring from the ids)
//! gap[r,c] = m[r] − x[r, c] − [c < ids[first + r]]       (Broadcast, Sub, QOp::PrefixMask)
//! gap + 2^(K−1) ∈ [0, 2^K) … i.e. gap[r, c] ≥ 0          (AddConst, a K-bit committed rounding)
//! ```
//!
//! `gap ≥ 0` at every real column says `x[r, ids[first + r]] ≥ x[r, c]` for all `c`, and `>`
//! for `c` before it: the id is the first maximal column — the greedy token, with ties broken
//! as `argmax` breaks them — and nothing else passes (no slack). The verifier refuses ids outside
//! the vocabulary. Because the causal mask is a constant of the circuit, the logits of row
//! `p` depend on `ids[..=p]` only, so proving one pass over the whole sequence (padded past the
//! generated tokens) certifies every step of the decoding.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::{QGraph, QOp, QuantError};

/// Appends the greedy-choice check of `ids[first .. first + n]` against the logits `logits`
/// (`[T, V]`, one row per position of `ids`) to `g`.
pub fn check_greedy(
    g: &mut QGraph,
    logits: usize,
    ids: usize,
    first: usize,
    n: usize,
) -> Result<(), QuantError> {
    let lt = g.tensors[logits].clone();
    let t = g.tensors[ids].len();
    if first == 0 || n == 0 || first + n > t || lt.rows != t {
        return Err(QuantError::Unsupported {
            node: "generation".into(),
            why: format!(
                "{n} generated tokens after a prompt of {first} do not fit {t} positions of \
                 logits [{}, {}]",
                lt.rows, lt.cols
            ),
        });
    }
    let (v, fa) = (lt.cols, lt.frac);
    let rows = IndexMap::aligned(&[t, v], &[n, v], &[1, 1], &[first as i64 - 1, 0]);
    let x = g.push_node(
        "generation/logits",
        QOp::Gather {
            x: logits,
            map: rows,
        },
        n,
        v,
        fa,
    );
    let x = g.committed(x, "generation/logits");
    zkgrad_circuit::argmax::check_rows(g, "generation", x, ids, first);
    g.check_relations().map_err(QuantError::Config)
}

/// The first maximal column of each row of a `[rows, cols]` matrix.
pub fn argmax_rows(values: &[i64], cols: usize) -> Vec<usize> {
    values
        .chunks(cols.max(1))
        .map(|row| {
            let mut best = 0;
            for (c, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// The `(first, n)` of a circuit's greedy-choice check (the PickCol reading tensor `ids`), if
/// it has one.
pub fn greedy_check_of(g: &QGraph, ids: usize) -> Option<(usize, usize)> {
    g.nodes
        .iter()
        .enumerate()
        .find_map(|(ni, node)| match node.op {
            QOp::PickCol { ids: i, offset, .. } if i == ids => {
                g.tensors.get(ni + 1).map(|t| (offset, t.rows))
            }
            _ => None,
        })
}
