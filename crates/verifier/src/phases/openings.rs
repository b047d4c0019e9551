//! Phase 5, read side: the openings that discharge every claim — one batched opening of the
//! witness commitment, one of the weights (batched when they are packed, else one multi-point
//! opening per weight tensor), and one multi-point opening per updated weight tensor.

use zkgrad_circuit::layout::PackedLayout;
use zkgrad_circuit::QGraph;
use zkgrad_field::{PrimeCharacteristicRing, E};
use zkgrad_pcs::{BlockClaim, PcsParams};
use zkgrad_transcript::VerifierTranscript;

use super::header::Header;
use crate::claims::Claims;
use crate::error::VerifyError;

pub(crate) fn verify(
    g: &QGraph,
    h: &Header,
    claims: Claims,
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let wl = g.witness_layout_with(&h.committed);
    let block_claims = packed_claims(&wl, claims.witness, |what| format!("{what:?}"))?;
    zkgrad_pcs::verify_batch(
        &h.witness_root,
        wl.log_n,
        wl.used(),
        &h.witness_binding,
        &block_claims,
        params,
        t,
    )
    .map_err(|source| VerifyError::Opening {
        which: "witness",
        source,
    })?;
    match (&h.packing, h.roots.first()) {
        // One batched opening of the packed weights, as for the witness.
        (Some(layout), Some(root)) => {
            let parts = part_claims(g, &claims.weights, t)?;
            let block_claims =
                packed_claims(layout, parts, |(wi, pi)| format!("weight {wi} part {pi}"))?;
            zkgrad_pcs::verify_batch(
                root,
                layout.log_n,
                layout.used(),
                &h.weight_binding,
                &block_claims,
                params,
                t,
            )
            .map_err(|source| VerifyError::Opening {
                which: "weight",
                source,
            })?;
        }
        _ => {
            for (wi, (w, root)) in g.weights.iter().zip(&h.roots).enumerate() {
                let mine: Vec<(Vec<E>, E)> = claims
                    .weights
                    .iter()
                    .filter(|c| c.0 == wi)
                    .map(|c| (c.1.clone(), c.2))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                zkgrad_pcs::verify_multi(root, w.as_tensor().log_size(), &mine, params, t)
                    .map_err(|source| VerifyError::Opening {
                        which: "weight",
                        source,
                    })?;
            }
        }
    }
    for (&(ni, _), root) in g.updates().iter().zip(&h.after_roots) {
        let tensor = &g.tensors[ni + 1];
        let mine: Vec<(Vec<E>, E)> = claims
            .after
            .iter()
            .filter(|c| c.0 == ni + 1)
            .map(|c| (c.1.clone(), c.2))
            .collect();
        if mine.is_empty() {
            continue;
        }
        zkgrad_pcs::verify_multi(root, tensor.log_size(), &mine, params, t).map_err(|source| {
            VerifyError::Opening {
                which: "updated weight",
                source,
            }
        })?;
    }
    Ok(())
}

/// A claim on part `.0.1` of weight `.0.0`: its point and value.
type PartClaim = ((usize, usize), Vec<E>, E);

/// The claims on packed weights as claims on their parts ([`crate::protocol::weight_parts`]):
/// for each claim `W̃(z) = v`, in order, the proof's value `v_p` of every part (none for a
/// tensor that is one part), and `Σ_p coef_p · v_p = v` is checked
/// ([`crate::protocol::split_weight_claim`]; the padding is zero, as it is not committed).
fn part_claims(
    g: &QGraph,
    claims: &[(usize, Vec<E>, E)],
    t: &mut VerifierTranscript,
) -> Result<Vec<PartClaim>, VerifyError> {
    let mut out = Vec::new();
    for (wi, point, value) in claims {
        let bad = |why| VerifyError::Node {
            node: format!("weight {wi}"),
            why,
        };
        let w = g.weights.get(*wi).ok_or(bad("not a weight"))?;
        let split = crate::protocol::split_weight_claim(w.rows, w.cols, point)
            .ok_or(bad("claim of the wrong size"))?;
        if let [(local, _)] = split.as_slice() {
            if local.len() == point.len() {
                out.push(((*wi, 0), local.clone(), *value));
                continue;
            }
        }
        let mut sum = E::ZERO;
        for (pi, (local, coef)) in split.into_iter().enumerate() {
            let v = t.read_e(b"pcs/weights/part")?;
            sum += coef * v;
            out.push(((*wi, pi), local, v));
        }
        if sum != *value {
            return Err(bad("its parts do not sum to the claim"));
        }
    }
    Ok(out)
}

/// Claims on the blocks of a packed commitment (the witness, or the packed weights), each
/// checked to name a block of the layout and to have that block's number of variables.
fn packed_claims<K: Copy + Eq + std::hash::Hash>(
    layout: &PackedLayout<K>,
    claims: Vec<(K, Vec<E>, E)>,
    name: impl Fn(K) -> String,
) -> Result<Vec<BlockClaim>, VerifyError> {
    // One map of the blocks, not a scan of them per claim.
    let blocks = layout.index();
    claims
        .into_iter()
        .map(|(what, point, value)| {
            let Some(&(log, block_index)) = blocks.get(&what) else {
                return Err(VerifyError::Node {
                    node: name(what),
                    why: "not in the commitment's layout",
                });
            };
            if point.len() != log {
                return Err(VerifyError::Node {
                    node: name(what),
                    why: "claim of the wrong size",
                });
            }
            Ok(BlockClaim {
                block_index,
                point,
                value,
            })
        })
        .collect()
}
