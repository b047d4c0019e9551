//! Phase 4, write side: the layers, from the output back to the input — a claim on the
//! public output at a fresh point when the op writing it reduces claims, then each node, last
//! to first, through its op family's reduction ([`crate::ops`]).

use zkgrad_circuit::QGraph;
use zkgrad_model::Witness;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::claims::Claims;
use crate::ops::{self, At};
use crate::CommittedModel;

pub(crate) fn prove(
    g: &QGraph,
    w: &Witness,
    model: &CommittedModel,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let decomps = g.decompositions();
    let out = g.output;
    if g.output_needs_claim() {
        let r = t.challenge_vec(b"output/r", g.tensors[out].log_size());
        claims.pending[out].push(r);
    }
    for (ni, node) in g.nodes.iter().enumerate().rev() {
        let pending = std::mem::take(&mut claims.pending[ni + 1]);
        let at = At {
            g,
            w,
            model,
            ni,
            node,
        };
        ops::reduce(&at, pending, &decomps, claims, t);
    }
}
