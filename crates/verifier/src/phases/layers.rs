//! Phase 4, read side: the layers, from the output back to the input. A claim on the public
//! output at a fresh point starts the walk when the op writing it reduces claims; then each
//! node, last to first, reduces the claims on its output to claims on what it reads
//! ([`crate::ops`]). This phase indexes only the verifier's own circuit description (built
//! from the model, not from the proof); no value read from the proof is used as an index.

use zkgrad_circuit::QGraph;
use zkgrad_transcript::{Challenger, VerifierTranscript};

use crate::claims::Claims;
use crate::error::VerifyError;
use crate::ops::{self, At};
use crate::protocol::eval_public;

pub(crate) fn verify(
    g: &QGraph,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    // Which decomposition defines each node's remainder, computed once for the whole walk.
    let decomps = g.decompositions();
    let rem_limbs = zkgrad_circuit::layout::rem_limbs_by_node(&decomps, g.nodes.len());
    let out = g.output;
    if g.output_needs_claim() {
        let tensor = &g.tensors[out];
        let r = t.challenge_vec(b"output/r", tensor.log_size());
        let v = eval_public(tensor, claims.output, &r);
        claims.pending[out].push((r, v));
    }
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let pending = std::mem::take(&mut claims.pending[ni + 1]);
        ops::reduce(&At { g, ni, node }, pending, &rem_limbs, claims, t)?;
    }
    ops::layout::check_wirings(g, &claims.wirings)
}
