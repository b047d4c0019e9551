//! Layout ops, read side: no arithmetic, only a change of point. Broadcast (a row repeated
//! over the columns): `x̃(r_b) = v / [real](r_c)`. Transpose: the row and column variables
//! swap. Gather by an index map `π` (reshapes, slices, pads, concatenations; `index_map.rs`):
//! `v = Σ_i w_r(i)·x̃(i)` with `w̃_r(ρ) = Σ_j eq(r, j)·eq(ρ, π(j))`, a degree-2 sumcheck over
//! `x` whose wiring sum the verifier computes itself from its own map; a map that only routes
//! index bits (`IndexMap::bit_selection`) moves the claim to `x̃(s(r))` instead.

use zkgrad_circuit::index_map::IndexMap;
use zkgrad_circuit::{QGraph, QOp, QTensor};
use zkgrad_field::{Field, PrimeCharacteristicRing, E};
use zkgrad_poly::prefix_indicator_eval;
use zkgrad_transcript::VerifierTranscript;

use super::{At, SplitEq};
use crate::claims::{Claims, Wiring};
use crate::error::VerifyError;
use crate::protocol::selected_point;

pub(super) fn reduce_broadcast(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    let ot = at.out();
    for (r, v) in pending {
        let (r_c, r_b) = r.split_at(ot.log_cols().min(r.len()));
        let Some(inv) = prefix_indicator_eval(ot.cols, r_c).try_inverse() else {
            return Err(at.err("degenerate broadcast point"));
        };
        claims.on_tensor(x, r_b.to_vec(), v * inv)?;
    }
    Ok(())
}

pub(super) fn reduce_transpose(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
) -> Result<(), VerifyError> {
    let lr = at.g.tensors[x].log_rows();
    for (r, v) in pending {
        let (lo, hi) = r.split_at(lr.min(r.len()));
        let mut p = hi.to_vec();
        p.extend_from_slice(lo);
        claims.on_tensor(x, p, v)?;
    }
    Ok(())
}

pub(super) fn reduce_gather(
    at: &At,
    x: usize,
    pending: Vec<(Vec<E>, E)>,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let xt = &at.g.tensors[x];
    let ot = at.out();
    let QOp::Gather { map, .. } = &at.g.nodes[at.ni].op else {
        return Err(at.err("reduction of a node that is no Gather"));
    };
    // A map that only routes index bits: `õut(r) = x̃(s(r))`, no sumcheck
    // (`IndexMap::bit_selection` has the argument).
    if let Some(sel) = map.bit_selection((xt.rows, xt.cols), (ot.rows, ot.cols)) {
        for (r, v) in pending {
            if r.len() != ot.log_size() {
                return Err(at.err("claim point of the wrong length"));
            }
            claims.on_tensor(x, selected_point(&sel, &r), v)?;
        }
        return Ok(());
    }
    for (r, v) in pending {
        let sub = at.sumcheck(v, xt.log_size(), 2, t)?;
        let xv = t.read_e(b"gather/x")?;
        claims.wirings.push(Wiring {
            node: at.ni,
            r,
            rho: sub.point.clone(),
            closing: sub.value,
            x_at_rho: xv,
        });
        claims.on_tensor(x, sub.point, xv)?;
    }
    Ok(())
}

/// Checks every deferred Gather closing (`Claims::wirings`): `closing = w̃_r(ρ)·x̃(ρ)`. The
/// wiring sums are the verifier's own work, `O(|out|)` each and independent of one another,
/// so they run on two threads when there are several; the error is the first failing check in
/// the order the walk met them, as if each were checked where it was read.
pub(crate) fn check_wirings(g: &QGraph, wirings: &[Wiring]) -> Result<(), VerifyError> {
    let check = |w: &Wiring| -> Result<(), VerifyError> {
        let node = g.nodes.get(w.node);
        let (Some(node), Some(ot)) = (node, g.tensors.get(w.node + 1)) else {
            return Err(VerifyError::Circuit(
                "wiring check of a missing node".into(),
            ));
        };
        let QOp::Gather { x, map } = &node.op else {
            return Err(VerifyError::Circuit(
                "wiring check of a node that is no Gather".into(),
            ));
        };
        let Some(xt) = g.tensors.get(*x) else {
            return Err(VerifyError::Circuit(
                "wiring check of a missing operand".into(),
            ));
        };
        if w.closing != wiring_sum(map, ot, xt, &w.r, &w.rho) * w.x_at_rho {
            return Err(VerifyError::Node {
                node: node.name.clone(),
                why: "index map sumcheck does not close",
            });
        }
        Ok(())
    };
    // Split where half of the walked entries lie before, so the threads share the work.
    let work = |w: &Wiring| match g.nodes.get(w.node).map(|n| &n.op) {
        Some(QOp::Gather { map, .. }) => map.out_len(),
        _ => 0,
    };
    let total: usize = wirings.iter().map(work).sum();
    let mut acc = 0usize;
    let mid = wirings
        .iter()
        .position(|w| {
            acc += work(w);
            2 * acc >= total
        })
        .map_or(wirings.len(), |i| i + 1);
    let (first, second) = wirings.split_at(mid);
    if total < PARALLEL_FROM || second.is_empty() {
        return wirings.iter().try_for_each(check);
    }
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| second.iter().try_for_each(check));
        let a = first.iter().try_for_each(check);
        (a, h.join())
    });
    a?;
    b.unwrap_or_else(|_| {
        Err(VerifyError::Circuit(
            "a wiring check thread panicked".into(),
        ))
    })
}

/// Walked entries below which the wiring checks stay on one thread (a thread costs tens of
/// microseconds; a small model's checks take less).
const PARALLEL_FROM: usize = 1 << 16;

/// `w̃_r(ρ) = Σ_j eq(r, pad(j))·eq(ρ, pad(π(j)))`, streamed over the map.
fn wiring_sum(map: &IndexMap, ot: &QTensor, xt: &QTensor, r: &[E], rho: &[E]) -> E {
    // The map is streamed, never expanded, and the eq tables are split when the walk reads
    // few of their entries: memory O(√|out| + √|x|) for O(|out|) work.
    let reads = map.out_len();
    let (eq_r, eq_rho) = (SplitEq::for_reads(r, reads), SplitEq::for_reads(rho, reads));
    let (pad_out, pad_x) = (ot.padder(), xt.padder());
    let mut wv = E::ZERO;
    map.for_each_source(|j, i| {
        if let (Some(a), Some(b)) = (eq_r.get(pad_out.at(j)), eq_rho.get(pad_x.at(i))) {
            wv += a * b;
        }
    });
    wv
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_circuit::{QConfig, QNode, TensorKind};
    use zkgrad_field::F;

    /// `n` Gathers, each the transpose of a `rows × cols` input (value 0).
    fn transposes(n: usize, rows: usize, cols: usize) -> QGraph {
        let tensor = |rows, cols| QTensor {
            name: String::new(),
            rows,
            cols,
            frac: 0,
            kind: TensorKind::Virtual,
            bits: 20,
        };
        let mut tensors = vec![tensor(rows, cols)];
        let mut nodes = Vec::new();
        for k in 0..n {
            tensors.push(tensor(cols, rows));
            nodes.push(QNode {
                name: format!("t{k}"),
                op: QOp::Gather {
                    x: 0,
                    map: IndexMap::transpose(&[rows, cols], &[1, 0]),
                },
            });
        }
        QGraph {
            config: QConfig {
                act_frac: 8,
                weight_frac: 8,
                table_bits: 12,
            },
            tensors,
            nodes,
            weights: Vec::new(),
            tables: Vec::new(),
            output: n,
        }
    }

    fn point(n: usize, seed: u64) -> Vec<E> {
        (0..n)
            .map(|k| E::from(F::from_u64(seed + 13 * k as u64)))
            .collect()
    }

    /// The honest closing of node `k` with `x̃(ρ) = 5`.
    fn honest(g: &QGraph, k: usize) -> Wiring {
        let QOp::Gather { x, map } = &g.nodes[k].op else {
            unreachable!()
        };
        let (ot, xt) = (&g.tensors[k + 1], &g.tensors[*x]);
        let (r, rho) = (point(ot.log_size(), 3 + k as u64), point(xt.log_size(), 7));
        let x_at_rho = E::from(F::from_u64(5));
        Wiring {
            node: k,
            closing: wiring_sum(map, ot, xt, &r, &rho) * x_at_rho,
            r,
            rho,
            x_at_rho,
        }
    }

    #[test]
    fn deferred_wiring_checks_reject_a_wrong_closing_on_either_thread() {
        // Small (one thread) and large (two threads: 2^17 walked entries) sets of checks; a
        // wrong closing in the first or the last position is rejected, naming its node.
        for (n, rows, cols) in [(3, 4, 6), (8, 128, 128)] {
            let g = transposes(n, rows, cols);
            let good: Vec<Wiring> = (0..n).map(|k| honest(&g, k)).collect();
            assert!(check_wirings(&g, &good).is_ok());
            for bad in [0, n - 1] {
                let mut ws: Vec<Wiring> = (0..n).map(|k| honest(&g, k)).collect();
                ws[bad].closing += E::ONE;
                let e = check_wirings(&g, &ws).unwrap_err();
                assert_eq!(
                    e,
                    VerifyError::Node {
                        node: format!("t{bad}"),
                        why: "index map sumcheck does not close"
                    }
                );
            }
            // A claimed x̃(ρ) changed after the sumcheck does not close either.
            let mut ws: Vec<Wiring> = (0..n).map(|k| honest(&g, k)).collect();
            ws[n / 2].x_at_rho += E::ONE;
            assert!(check_wirings(&g, &ws).is_err());
        }
    }
}
