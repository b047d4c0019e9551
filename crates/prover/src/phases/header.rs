//! Phase 1, write side: the commitments — the weight roots, the witness commitment (every
//! committed tensor, remainder and limb, and with WHIR the committed
//! multiplicities, packed into one table), one commitment per updated weight tensor — and the
//! out-of-domain claims that bind the list-decoded ones (`zkgrad_pcs::Binding`).

// Prover side: the layout's blocks lie in the packed table it sizes.
#![allow(clippy::indexing_slicing)]

use rayon::prelude::*;
use zkgrad_circuit::layout::{CommitRef, Operand, WitnessLayout};
use zkgrad_circuit::QGraph;
use zkgrad_field::{PrimeCharacteristicRing, F};
use zkgrad_model::Witness;
use zkgrad_pcs::{Binding, PcsParams, ProverData};
use zkgrad_transcript::ProverTranscript;
use zkgrad_verifier::protocol::weights_root;

use crate::claims::{padded, write_padded_in};
use crate::CommittedModel;

/// What the prover committed to before the first challenge.
pub(crate) struct Commitments {
    pub wl: WitnessLayout,
    pub wpd: ProverData,
    /// One commitment per update, in the order of `g.updates()`.
    pub after: Vec<ProverData>,
    pub weight_root_after: [u8; 32],
    /// The out-of-domain bindings of the witness and of the packed weights
    /// (`zkgrad_pcs::bind`; empty where the table is not list-decoded).
    pub witness_binding: Binding,
    pub weight_binding: Binding,
}

/// Writes the weight roots, commits the witness and the updated weights, writes their roots.
pub(crate) fn commit(
    g: &QGraph,
    w: &Witness,
    model: &CommittedModel,
    mults: &[Vec<(usize, u64)>],
    committed: &[bool],
    params: &PcsParams,
    t: &mut ProverTranscript,
) -> Commitments {
    for pd in &model.tensors {
        t.write_digest(b"weights/root", &pd.root);
    }
    // Witness commitment: committed tensors and remainders.
    let wl = g.witness_layout_with(committed);
    // Zeroed by the allocator: each page is first written by the task that fills its block.
    let mut packed = F::zero_vec(1 << wl.log_n);
    // Each block written in place, in parallel (its padded values: `claims::padded`, without
    // the padded copies, which cost nanoGPT's witness ~3 ms of allocations).
    let mut blocks: Vec<(usize, usize, Operand)> = wl
        .blocks
        .iter()
        .filter_map(|&(what, log, block)| {
            let op = match what {
                CommitRef::Tensor(ti) => Operand::Tensor(ti),
                CommitRef::Rem(n) => Operand::Rem(n),
                CommitRef::Limb(d, k) => Operand::Limb(d, k),
                CommitRef::Mult(_) => return None,
            };
            Some((block << log, 1usize << log, op))
        })
        .collect();
    blocks.sort_unstable_by_key(|b| b.0);
    let mut slots: Vec<(&mut [F], Operand)> = Vec::with_capacity(blocks.len());
    let (mut rest, mut at) = (&mut packed[..], 0);
    for (off, len, op) in blocks {
        let (_, from) = std::mem::take(&mut rest).split_at_mut(off - at);
        let (mine, after) = from.split_at_mut(len);
        slots.push((mine, op));
        (rest, at) = (after, off + len);
    }
    let decomps = g.decompositions();
    slots
        .into_par_iter()
        .for_each(|(out, op)| write_padded_in(g, w, op, &decomps, out));
    // Committed multiplicities: each table's sparse counts written into its block.
    for &(what, log, block) in &wl.blocks {
        if let CommitRef::Mult(ti) = what {
            let off = block << log;
            for &(j, c) in mults.get(ti).map_or(&[][..], |m| &m[..]) {
                packed[off + j] = F::from_u64(c);
            }
        }
    }
    let wpd = zkgrad_pcs::commit_batched(packed, wl.log_n, wl.used(), params);
    t.write_digest(b"witness/root", &wpd.root);
    // Updated weights: one commitment each, like the model's.
    let after: Vec<ProverData> = g
        .updates()
        .iter()
        .map(|&(ni, _)| {
            let vals = padded(g, w, Operand::Tensor(ni + 1));
            zkgrad_pcs::commit(vals, g.tensors[ni + 1].log_size(), params)
        })
        .collect();
    for pd in &after {
        t.write_digest(b"after/root", &pd.root);
    }
    // Every root is written: the list-decoded commitments are bound to one candidate each
    // before the first challenge of the proof.
    let witness_binding = zkgrad_pcs::bind(&wpd, params, t);
    let weight_binding = match (&model.packing, model.tensors.first()) {
        (Some(_), Some(pd)) => zkgrad_pcs::bind(pd, params, t),
        _ => Binding::default(),
    };
    let mut roots_after: Vec<[u8; 32]> = model.tensors.iter().map(|pd| pd.root).collect();
    for (&(_, wi), pd) in g.updates().iter().zip(&after) {
        roots_after[wi] = pd.root;
    }
    let weight_root_after = weights_root(g, &roots_after, params);
    Commitments {
        wl,
        wpd,
        after,
        weight_root_after,
        witness_binding,
        weight_binding,
    }
}

impl Commitments {
    /// The committed multiplicity blocks of the witness, one per used table (empty without them).
    pub fn mult_blocks(&self, g: &QGraph) -> Vec<&[F]> {
        let (wpd, wl) = (&self.wpd, &self.wl);
        g.used_tables()
            .iter()
            .map(|(ti, _)| match wl.find(CommitRef::Mult(*ti)) {
                Some((log, block)) => &wpd.values()[block << log..(block + 1) << log],
                None => &[],
            })
            .collect()
    }
}
