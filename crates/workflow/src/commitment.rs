//! A model's commitment, its public fingerprint: the weight commitment (weight root), cached
//! because it takes seconds to recompute for a large model and every `verify --model` and
//! `commit` needs it, and the model commitment binding it to the circuit.

use zkgrad_circuit::QGraph;

use crate::cache::{cached, Mode};
use crate::hex::hex;

/// The weight commitment of `q`'s weights under `params`: read from the cache (`cache`:
/// [`Mode::Use`]) if an authenticated entry for exactly these quantized weights, circuit, PCS
/// parameters and zkgrad version exists, else computed (and stored unless [`Mode::Off`]).
pub fn weight_root_cached(q: &QGraph, params: &zkgrad_pcs::PcsParams, cache: Mode) -> [u8; 32] {
    // Keyed on the quantized weights themselves (not the file, whose data may live in an
    // external .data file): a changed weight is another entry.
    let key = || {
        let mut h = blake3::Hasher::new();
        h.update(b"zkgrad/cache/weight-root/v4/");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(zkgrad_verifier::WEIGHTS_DOMAIN);
        let pb = params.to_bytes();
        h.update(&(pb.len() as u64).to_le_bytes());
        h.update(&pb);
        let d = q.describe();
        h.update(&(d.len() as u64).to_le_bytes());
        h.update(&d);
        let mut buf = Vec::with_capacity(8 << 12);
        for w in &q.weights {
            h.update(&(w.data.len() as u64).to_le_bytes());
            for chunk in w.data.chunks(1 << 12) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                h.update(&buf);
            }
        }
        *h.finalize().as_bytes()
    };
    cached("weight-roots", key, cache, || {
        zkgrad_verifier::commit_weights_root(q, params)
    })
}

/// The model commitment of a circuit description and weight root, as 64 hex digits: what
/// `zkgrad commit` prints and `verify --commitment` takes.
pub fn commitment_hex(circuit: &[u8], weight_root: &[u8; 32]) -> String {
    hex(&zkgrad_verifier::model_commitment(circuit, weight_root))
}
