//! The transcript schedule, write side: the proof body in the five phases of
//! `zkgrad-verifier`'s schedule ([`crate::phases`]) — commitments, lookups, limb
//! recompositions, layers (output to input), openings — each timed.

// Prover side: the circuit and the witness are the prover's own, built together.
#![allow(clippy::indexing_slicing)]

use std::time::Instant;

use zkgrad_circuit::QGraph;
use zkgrad_model::Witness;
use zkgrad_pcs::PcsParams;
use zkgrad_transcript::ProverTranscript;
use zkgrad_verifier::protocol::{committed_tables, protocol_id, public_bytes};
use zkgrad_verifier::ProofFile;

use crate::claims::Claims;
use crate::phases;
use crate::{CommittedModel, OnPhase, Phase, ProveOutput, ProveTimings};

/// The prover proper, given the witness and the multiplicities of its lookups.
pub(crate) fn prove_with(
    g: &QGraph,
    model: &CommittedModel,
    w: Witness,
    mults: Vec<Vec<(usize, u64)>>,
    params: &PcsParams,
    on_phase: OnPhase,
) -> ProveOutput {
    let mut timings = ProveTimings::default();
    let input: Vec<i64> = g
        .input_tensors()
        .iter()
        .flat_map(|&t| w.values[t].iter().copied())
        .collect();
    let output = w.values[g.output].clone();

    let id = protocol_id(g, params, &model.root());
    let mut t = ProverTranscript::new(&id);
    t.observe(b"public/input", &public_bytes(&input));
    t.observe(b"public/output", &public_bytes(&output));
    let mut mark = 0;
    let mut bytes_since = |t: &ProverTranscript| {
        let n = t.proof_len() - mark;
        mark = t.proof_len();
        n
    };

    // 1. Commitments.
    on_phase(Phase::Commitments);
    let t1 = Instant::now();
    let lookups = g.lookups();
    // With WHIR, the multiplicities of tables read densely are committed instead of sent.
    let committed = committed_tables(g, &lookups, params);
    let c = phases::header::commit(g, &w, model, &mults, &committed, params, &mut t);
    timings.commit = t1.elapsed();
    timings.bytes[0] = bytes_since(&t);

    // 2. Lookups, 3. limb recompositions.
    on_phase(Phase::Lookups);
    let t2 = Instant::now();
    let mut claims = Claims::new(g);
    phases::lookups::prove(
        g,
        &w,
        &lookups,
        &mults,
        &c.mult_blocks(g),
        &committed,
        &mut claims,
        &mut t,
    );
    phases::limbs::prove(g, &w, &mut claims, &mut t);
    timings.lookups = t2.elapsed();
    timings.bytes[1] = bytes_since(&t);

    // 4. Layers.
    on_phase(Phase::Layers);
    let t3 = Instant::now();
    phases::layers::prove(g, &w, model, &mut claims, &mut t);
    timings.layers = t3.elapsed();
    timings.bytes[2] = bytes_since(&t);

    // 5. Openings.
    on_phase(Phase::Openings);
    let t4 = Instant::now();
    phases::openings::open_witness(&c, &claims, params, &mut t);
    timings.bytes[3] = bytes_since(&t);
    phases::openings::open_weights(g, model, &c, &claims, params, &mut t);
    timings.openings = t4.elapsed();
    timings.bytes[4] = bytes_since(&t);

    let proof = ProofFile {
        config: g.config,
        pcs: params.scheme(),
        weight_root: model.root(),
        protocol_id: id,
        circuit: g.describe(),
        input,
        output,
        body: t.finish(),
    };
    ProveOutput {
        proof,
        witness: w,
        timings,
        weight_root_after: c.weight_root_after,
        // The caller's, from the budget it checked before the forward pass.
        soundness_bits: f64::NAN,
    }
}
