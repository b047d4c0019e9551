//! Phase 1, read side: the statement's public checks, then the header of the proof body — the
//! weight roots (checked against the weight commitment), the witness root, the updated
//! weights' roots, and the out-of-domain claims binding the list-decoded ones.

use zkgrad_circuit::layout::{Decomposition, Lookup};
use zkgrad_circuit::QGraph;
use zkgrad_pcs::{Binding, Digest, PcsParams};
use zkgrad_transcript::VerifierTranscript;

use crate::error::VerifyError;
use crate::protocol::WeightLayout;

/// Checks the public input and output against the circuit, before anything is read: their
/// range, their lengths, the soundness budget of the circuit under `params`, and an output
/// that is itself an input tensor (never reached by a claim) against the input.
pub(crate) fn check_statement(
    g: &QGraph,
    input: &[i64],
    output: &[i64],
    params: &PcsParams,
) -> Result<(), VerifyError> {
    // Public values are bounded like committed ones: otherwise a field element far from any
    // small integer could satisfy a relation by wrapping around p (e.g. the last rounding).
    if input.iter().chain(output).any(|&v| !g.public_in_range(v)) {
        return Err(VerifyError::PublicRange);
    }
    if input.len() != g.public_input_len() {
        return Err(VerifyError::PublicShape {
            what: "input",
            expected: g.public_input_len(),
            got: input.len(),
        });
    }
    if output.len() != g.output_tensor().len() {
        return Err(VerifyError::PublicShape {
            what: "output",
            expected: g.output_tensor().len(),
            got: output.len(),
        });
    }
    crate::soundness::check(g, params).map_err(|bits| VerifyError::Soundness {
        bits,
        target: crate::soundness::TARGET_BITS,
    })?;
    // An ArgMax beside other outputs is the output's slice at its scale: exact multiples only.
    for ni in crate::claims::placed_hints(g) {
        if zkgrad_circuit::argmax::placed_ids(g, ni, output).is_none() {
            return Err(VerifyError::PublicMismatch {
                tensor: g.tensors[ni + 1].name.clone(),
            });
        }
    }
    // An output that is itself an input tensor (a model of reshapes only) is never reached by
    // a claim: compare the values.
    if let Some(off) = g.public_offset(g.output) {
        if input.get(off..off + output.len()) != Some(output) {
            return Err(VerifyError::PublicMismatch {
                tensor: g.output_tensor().name.clone(),
            });
        }
    }
    Ok(())
}

/// What the header of a proof body commits to.
pub(crate) struct Header {
    /// The weights' packed layout, when they are committed together.
    pub packing: Option<WeightLayout>,
    /// The weight roots (one, or one per weight tensor).
    pub roots: Vec<Digest>,
    pub witness_root: Digest,
    /// One root per update, in the order of `g.updates()`.
    pub after_roots: Vec<Digest>,
    pub weight_root_after: Digest,
    pub lookups: Vec<Lookup>,
    /// The range checks split into limbs (`QGraph::decompositions`), computed once.
    pub decomps: Vec<Decomposition>,
    /// Per used table, how many values the lookups read from it.
    pub reads: Vec<usize>,
    /// Per table, whether its multiplicities are committed in the witness (WHIR only).
    pub committed: Vec<bool>,
    /// The out-of-domain bindings of the witness and of the packed weights
    /// (`zkgrad_pcs::read_binding`; empty where the table is not list-decoded).
    pub witness_binding: Binding,
    pub weight_binding: Binding,
}

/// Reads the commitments.
pub(crate) fn read(
    g: &QGraph,
    weight_root: &Digest,
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<Header, VerifyError> {
    let packing = crate::protocol::weight_packing(g, params);
    let n_roots = if packing.is_some() {
        1
    } else {
        g.weights.len()
    };
    let mut roots = Vec::with_capacity(n_roots);
    for _ in 0..n_roots {
        roots.push(t.read_digest(b"weights/root")?);
    }
    if crate::protocol::weights_root(g, &roots, params) != *weight_root {
        return Err(VerifyError::WeightRoots);
    }
    let witness_root = t.read_digest(b"witness/root")?;
    let updates = g.updates();
    let mut after_roots = Vec::with_capacity(updates.len());
    for _ in &updates {
        after_roots.push(t.read_digest(b"after/root")?);
    }
    let mut roots_after = roots.clone();
    for (&(_, wi), root) in updates.iter().zip(&after_roots) {
        if let Some(slot) = roots_after.get_mut(wi) {
            *slot = *root;
        }
    }
    let weight_root_after = crate::protocol::weights_root(g, &roots_after, params);
    let lookups = g.lookups();
    // Succinct lookups (with WHIR) may commit some tables' multiplicities in the witness.
    let committed = crate::protocol::committed_tables(g, &lookups, params);
    // Every root is read: the list-decoded commitments' out-of-domain claims, before the
    // first challenge of the proof.
    let wl = g.witness_layout_with(&committed);
    let witness_binding = zkgrad_pcs::read_binding(&witness_root, wl.log_n, wl.used(), params, t)
        .map_err(|source| VerifyError::Opening {
        which: "witness",
        source,
    })?;
    let weight_binding = match (&packing, roots.first()) {
        (Some(layout), Some(root)) => {
            zkgrad_pcs::read_binding(root, layout.log_n, layout.used(), params, t).map_err(
                |source| VerifyError::Opening {
                    which: "weight",
                    source,
                },
            )?
        }
        _ => Binding::default(),
    };
    let decomps = g.decompositions();
    let reads = crate::protocol::reads_per_table(g, &lookups, &decomps);
    Ok(Header {
        witness_binding,
        weight_binding,
        packing,
        roots,
        witness_root,
        after_roots,
        weight_root_after,
        lookups,
        decomps,
        reads,
        committed,
    })
}
