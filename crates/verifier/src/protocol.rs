//! What both sides compute from public data: the protocol id, the weight commitment, and the
//! MLEs of public tensors and padding indicators.

use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::quant::{QGraph, QTensor};
use zkgrad_pcs::{Digest, PcsParams};
use zkgrad_poly::{eval_mle_base, prefix_indicator_eval};

/// Domain tag of the weight commitment. Bump it whenever the weight commitment changes (layout,
/// PCS, hashing): it also keys the CLI's cache of weight roots.
pub const WEIGHTS_DOMAIN: &[u8] = b"zkgrad/weights/v2";

/// Weight tensor `wi`'s padded values as field elements, and its number of variables.
pub fn weight_values(g: &QGraph, wi: usize) -> (Vec<F>, usize) {
    match g.weights.get(wi) {
        Some(w) => {
            let t = w.as_tensor();
            (
                t.pad(&w.data).into_iter().map(f_from_i64).collect(),
                t.log_size(),
            )
        }
        None => (vec![F::ZERO], 0),
    }
}

/// The weight commitment: one PCS root per weight tensor, hashed together.
pub fn weights_root(g: &QGraph, roots: &[Digest]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(WEIGHTS_DOMAIN);
    h.update(&(roots.len() as u64).to_le_bytes());
    for (w, r) in g.weights.iter().zip(roots) {
        h.update(&(w.rows as u64).to_le_bytes());
        h.update(&(w.cols as u64).to_le_bytes());
        h.update(r);
    }
    *h.finalize().as_bytes()
}

/// Commits every weight tensor of `g` (the one-time, per-model work).
pub fn commit_weights(g: &QGraph, params: &PcsParams) -> Vec<zkgrad_pcs::ProverData> {
    (0..g.weights.len())
        .map(|wi| {
            let (vals, log_n) = weight_values(g, wi);
            zkgrad_pcs::commit(vals, log_n, params)
        })
        .collect()
}

/// The weight root of `g`, computed from its weights.
pub fn commit_weights_root(g: &QGraph, params: &PcsParams) -> Digest {
    let roots: Vec<Digest> = commit_weights(g, params).iter().map(|pd| pd.root).collect();
    weights_root(g, &roots)
}

/// The protocol id: a hash of every parameter that shapes the proof — field, PCS parameters,
/// the quantized circuit (graph, shapes, scales, tables), the weight commitment and the public
/// data's sizes. The public values themselves are absorbed first thing in the transcript.
pub fn protocol_id(g: &QGraph, params: &PcsParams, weight_root: &Digest) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/protocol/v1");
    h.update(b"field=goldilocks;ext=binomial2(x^2-7)");
    h.update(&params.to_bytes());
    h.update(
        &format!(
            "limbs={}/{}",
            zkgrad_model::layout::LIMB_BITS,
            zkgrad_model::layout::LIMB_MIN_LEN
        )
        .into_bytes(),
    );
    h.update(&g.describe());
    h.update(WEIGHTS_DOMAIN);
    h.update(weight_root);
    *h.finalize().as_bytes()
}

/// Bytes of public integers as absorbed by the transcript.
pub fn public_bytes(vals: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * vals.len() + 8);
    out.extend_from_slice(&(vals.len() as u64).to_le_bytes());
    for v in vals {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// MLE of a public tensor's padded values at `point`.
pub fn eval_public(t: &QTensor, vals: &[i64], point: &[E]) -> E {
    let padded: Vec<F> = t.pad(vals).into_iter().map(f_from_i64).collect();
    eval_mle_base(&padded, point)
}

/// MLE of the indicator of a tensor's real (unpadded) entries.
pub fn real_indicator(t: &QTensor, point: &[E]) -> E {
    let (lo, hi) = point.split_at(t.log_cols().min(point.len()));
    prefix_indicator_eval(t.cols, lo) * prefix_indicator_eval(t.rows, hi)
}

/// `2^k` in the extension.
pub fn pow2(k: u32) -> E {
    E::from(F::from_u64(1u64 << k))
}
