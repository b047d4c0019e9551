//! Phase 5, write side: the openings that discharge every claim — one batched opening of the
//! witness commitment, then the weights' (batched when they are packed, else one multi-point
//! opening per weight tensor) and one multi-point opening per updated weight tensor.

use rayon::prelude::*;
use std::collections::HashMap;
use zkgrad_circuit::QGraph;

use zkgrad_field::{E, F};
use zkgrad_pcs::{BlockClaim, PcsParams, ProverData};
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_transcript::ProverTranscript;
use zkgrad_verifier::protocol::split_weight_claim;

use super::header::Commitments;
use crate::claims::Claims;
use crate::CommittedModel;

/// Opens the witness commitment at every claim on it, in one batch.
pub(crate) fn open_witness(
    c: &Commitments,
    claims: &Claims,
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let (witness, known) = claims.witness();
    let witness_claims = block_claims(&c.wpd, witness, known, |what| c.wl.find(what));
    zkgrad_pcs::prove_batch(&c.wpd, &c.witness_binding, &witness_claims, params, t);
}

/// Opens the weights and the updated weights at every claim on them.
#[allow(clippy::panic, clippy::indexing_slicing)] // Prover side: its own claims on its own weights
pub(crate) fn open_weights(
    g: &QGraph,
    model: &CommittedModel,
    c: &Commitments,
    claims: &Claims,
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    match (&model.packing, model.tensors.first()) {
        // One batched opening of the packed weights, as for the witness.
        (Some(layout), Some(pd)) => {
            // Each claim on a tensor as claims on its committed parts, whose values the proof
            // carries (the verifier's `part_claims`).
            let mut parts = Vec::new();
            let mut sent = Vec::new();
            for (wi, point) in &claims.weights {
                let w = &g.weights[*wi];
                let split = split_weight_claim(w.rows, w.cols, point)
                    .unwrap_or_else(|| panic!("claim on weight {wi} of the wrong size"));
                let whole = split.len() == 1 && split[0].0.len() == point.len();
                for (pi, (local, _)) in split.into_iter().enumerate() {
                    sent.push(!whole);
                    parts.push(((*wi, pi), local));
                }
            }
            let index = layout.index();
            let weight_claims = block_claims(pd, &parts, &[], |k| index.get(&k).copied());
            for (c, send) in weight_claims.iter().zip(&sent) {
                if *send {
                    t.write_e(b"pcs/weights/part", c.value);
                }
            }
            zkgrad_pcs::prove_batch(pd, &c.weight_binding, &weight_claims, params, t);
        }
        _ => {
            for (wi, pd) in model.tensors.iter().enumerate() {
                let points: Vec<Vec<E>> = claims
                    .weights
                    .iter()
                    .filter(|c| c.0 == wi)
                    .map(|c| c.1.clone())
                    .collect();
                if !points.is_empty() {
                    zkgrad_pcs::open_multi(pd, &points, params, t);
                }
            }
        }
    }
    for (&(ni, _), pd) in g.updates().iter().zip(&c.after) {
        let points: Vec<Vec<E>> = claims
            .after
            .iter()
            .filter(|c| c.0 == ni + 1)
            .map(|c| c.1.clone())
            .collect();
        if !points.is_empty() {
            zkgrad_pcs::open_multi(pd, &points, params, t);
        }
    }
}

/// Each claim's block of the committed table `pd`, evaluated there — or, where `known` holds
/// the value (the phase that made the claim computed it from the same table), that value.
///
/// Claims at one point share one `eq` table: each is then an inner product with its block
/// (nanoGPT's witness: 1,018 claims at 308 points, the lookups' blocks of one size all at
/// one). Points of more than 2^[`SHARED_EQ_MAX_LOG`] entries, and lone ones, are evaluated
/// by `eval_mle_base`, which holds no table of the block's size.
#[allow(clippy::indexing_slicing)] // group members index `claims`
fn block_claims<K: Copy + Sync>(
    pd: &ProverData,
    claims: &[(K, Vec<E>)],
    known: &[Option<E>],
    find: impl Fn(K) -> Option<(usize, usize)> + Sync,
) -> Vec<BlockClaim> {
    let block = |what: K| -> Option<(usize, &[F])> {
        let (log, block_index) = find(what)?;
        let off = block_index << log;
        Some((block_index, &pd.values()[off..off + (1 << log)]))
    };
    let mut groups: HashMap<&[E], Vec<usize>> = HashMap::new();
    let mut out: Vec<(usize, BlockClaim)> = Vec::new();
    for (i, (what, point)) in claims.iter().enumerate() {
        match known.get(i).copied().flatten() {
            Some(value) => {
                if let Some((block_index, _)) = block(*what) {
                    let point = point.clone();
                    out.push((
                        i,
                        BlockClaim {
                            block_index,
                            point,
                            value,
                        },
                    ));
                }
            }
            None => groups.entry(&point[..]).or_default().push(i),
        }
    }
    let groups: Vec<(&[E], Vec<usize>)> = groups.into_iter().collect();
    let eval_group = |(point, members): &(&[E], Vec<usize>)| -> Vec<(usize, BlockClaim)> {
        let shared = members.len() > 1 && point.len() <= SHARED_EQ_MAX_LOG;
        let eq = if shared { eq_table(point) } else { Vec::new() };
        members
            .iter()
            .filter_map(|&i| {
                let (block_index, vals) = block(claims[i].0)?;
                let value = if shared {
                    vals.iter().zip(&eq).map(|(&v, &e)| e * v).sum()
                } else {
                    eval_mle_base(vals, point)
                };
                let claim = BlockClaim {
                    block_index,
                    point: point.to_vec(),
                    value,
                };
                Some((i, claim))
            })
            .collect()
    };
    // In parallel when the claimed blocks are large (a small proof would pay more to wake the
    // thread pool than the evaluations cost).
    let large = claims.iter().map(|(_, p)| 1usize << p.len()).sum::<usize>() >= 1 << 16;
    if large {
        out.par_extend(groups.par_iter().flat_map_iter(eval_group));
    } else {
        out.extend(groups.iter().flat_map(eval_group));
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, c)| c).collect()
}

/// The largest point (in variables) whose claims share an `eq` table in [`block_claims`]:
/// 2^20 entries, 16 MiB.
const SHARED_EQ_MAX_LOG: usize = 20;
