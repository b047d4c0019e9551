//! The zkgrad prover: runs the quantized model on integers, commits to the witness and writes
//! the transcript schedule of `zkgrad-verifier` (write side).
//!
//! Crate map: [`prove`] is the entry point; [`ops`] holds the per-op reductions (Gemm sumcheck,
//! element-wise ops, requantization); [`lookups`] the LogUp arguments.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod lookups;
mod ops;

use std::time::{Duration, Instant};

use rayon::prelude::*;
use zkgrad_circuit::layout::{CommitRef, Operand, WitnessLayout};
use zkgrad_circuit::{QGraph, TensorKind};
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::{ForwardError, Witness};
use zkgrad_pcs::{BlockClaim, PcsParams, ProverData};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::ProverTranscript;
use zkgrad_verifier::protocol::{
    commit_weights, committed_tables, protocol_id, public_bytes, weights_root, WeightLayout,
};
use zkgrad_verifier::ProofFile;

/// Why a proof could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProveError {
    #[error(transparent)]
    Forward(#[from] ForwardError),
    #[error("lookup into table {table}: value {value} at entry {index} is outside the table")]
    LookupRange {
        table: usize,
        index: usize,
        value: i64,
    },
    #[error(
        "proofs of this circuit would reach only {bits:.1} bits of soundness (at least {target} \
         required): too many separate commitments or lookups for these parameters"
    )]
    Soundness { bits: f64, target: f64 },
}

/// The model's committed weights (one commitment per weight tensor), computed once per model
/// and reused by every proof.
pub struct CommittedModel {
    /// One commitment per weight tensor, or one of them all packed (`packing`).
    pub tensors: Vec<ProverData>,
    packing: Option<WeightLayout>,
    root: [u8; 32],
}

impl CommittedModel {
    pub fn new(g: &QGraph, params: &PcsParams) -> Self {
        Self::from_parts(g, params, commit_weights(g, params))
    }

    /// Commits `g`'s weights from their padded tables, `padded(wi)` (`2^log_size` values of
    /// weight `wi`): an honest committer pads with zeros ([`Self::new`]); the soundness tests
    /// model one who plants values in the padding.
    pub fn from_padded(g: &QGraph, params: &PcsParams, padded: &dyn Fn(usize) -> Vec<F>) -> Self {
        Self::from_parts(
            g,
            params,
            zkgrad_verifier::protocol::commit_weight_tables(g, params, padded),
        )
    }

    fn from_parts(
        g: &QGraph,
        params: &PcsParams,
        (tensors, packing): (Vec<ProverData>, Option<WeightLayout>),
    ) -> Self {
        let roots: Vec<[u8; 32]> = tensors.iter().map(|pd| pd.root).collect();
        Self {
            root: weights_root(g, &roots, params),
            packing,
            tensors,
        }
    }
    /// The weight commitment (a hash of the PCS roots and the tensors' shapes).
    pub fn root(&self) -> [u8; 32] {
        self.root
    }
    /// Weight tensor `wi`'s padded values.
    #[allow(clippy::indexing_slicing)] // Prover side: the layout's blocks lie in the table
    pub fn weight_values(&self, wi: usize) -> &[F] {
        match (&self.packing, self.tensors.first()) {
            (Some(layout), Some(pd)) => match layout.find(wi) {
                Some((log, block)) => &pd.values()[block << log..(block + 1) << log],
                None => &[],
            },
            _ => self.tensors.get(wi).map_or(&[], |pd| pd.values()),
        }
    }
}

/// Wall-clock time of each phase of a proof.
#[derive(Clone, Debug, Default)]
pub struct ProveTimings {
    pub forward: Duration,
    pub commit: Duration,
    pub lookups: Duration,
    pub layers: Duration,
    pub openings: Duration,
    /// Proof body bytes written by each phase: commitments, lookups, layers, the witness
    /// opening, the weight openings.
    pub bytes: [usize; 5],
}

/// A proof, the witness it was made from, and where the time went.
pub struct ProveOutput {
    pub proof: ProofFile,
    pub witness: Witness,
    pub timings: ProveTimings,
    /// The weight commitment after the step: each updated tensor's new root in place of its
    /// old one (equal to the model's root when nothing is updated).
    pub weight_root_after: [u8; 32],
}

/// Claims the prover accumulates, mirroring the verifier's.
pub(crate) struct Claims<'a> {
    pub g: &'a QGraph,
    pub witness: Vec<(CommitRef, Vec<E>)>,
    pub weights: Vec<(usize, Vec<E>)>,
    pub after: Vec<(usize, Vec<E>)>,
    pub pending: Vec<Vec<Vec<E>>>,
}

impl Claims<'_> {
    pub fn on_tensor(&mut self, t: usize, point: Vec<E>) {
        match self.g.tensors[t].kind {
            TensorKind::Public => {}
            TensorKind::Committed => self.witness.push((CommitRef::Tensor(t), point)),
            TensorKind::Virtual => self.pending[t].push(point),
            TensorKind::After => self.after.push((t, point)),
        }
    }
    pub fn on_operand(&mut self, op: Operand, point: Vec<E>) {
        match op {
            Operand::Tensor(t) => self.on_tensor(t, point),
            Operand::Rem(n) => self.witness.push((CommitRef::Rem(n), point)),
            Operand::Limb(d, k) => self.witness.push((CommitRef::Limb(d, k), point)),
        }
    }
}

/// The integer values of an operand (limbs are computed from the value they split).
pub(crate) fn operand_ints(g: &QGraph, w: &Witness, what: Operand) -> Vec<i64> {
    match what {
        Operand::Tensor(t) => w.values[t].clone(),
        Operand::Rem(n) => w.rems[n].clone().unwrap_or_else(|| w.values[n + 1].clone()),
        Operand::Limb(d, k) => {
            let decs = g.decompositions();
            let Some(dec) = decs.get(d) else {
                return Vec::new();
            };
            let mask = (1i64 << dec.limb_bits(k)) - 1;
            let shift = zkgrad_circuit::layout::LIMB_BITS * k;
            operand_ints(g, w, dec.a)
                .iter()
                .map(|v| ((v + dec.offset) >> shift) & mask)
                .collect()
        }
    }
}

/// Padded field values of a witness table (zero padding, unless the witness plants values
/// there: [`Witness::padding`]).
pub(crate) fn padded(g: &QGraph, w: &Witness, what: Operand) -> Vec<F> {
    let t = g.operand_tensor(what);
    let mut vals = t.pad(&operand_ints(g, w, what));
    for &(_, i, v) in w.padding.iter().filter(|p| p.0 == what) {
        if let Some(slot) = vals.get_mut(i) {
            *slot = v;
        }
    }
    vals.into_iter().map(f_from_i64).collect()
}

/// Proves that `g`, committed in `model`, maps `input` to its output.
pub fn prove(
    g: &QGraph,
    model: &CommittedModel,
    input: &[i64],
    params: &PcsParams,
) -> Result<ProveOutput, ProveError> {
    zkgrad_verifier::soundness::check(g, params).map_err(|bits| ProveError::Soundness {
        bits,
        target: zkgrad_verifier::soundness::TARGET_BITS,
    })?;
    let t0 = Instant::now();
    let w = zkgrad_model::forward(g, input)?;
    // Strict: a value outside its table is an error here, before anything is committed.
    let mults = lookups::multiplicities(g, &w, &g.lookups(), true)?;
    let forward = t0.elapsed();
    let mut out = prove_with(g, model, w, mults, params);
    out.timings.forward = forward;
    Ok(out)
}

/// Proves with a given witness, as it stands. An honest caller uses [`prove`]; a witness that
/// is not the forward pass of `witness.values[0]` yields a proof that fails verification, which
/// is how the soundness tests model a cheating prover.
pub fn prove_witness(
    g: &QGraph,
    model: &CommittedModel,
    w: Witness,
    params: &PcsParams,
) -> ProveOutput {
    // Lenient: a value outside its table is skipped, and the proof then fails.
    let mults = lookups::multiplicities(g, &w, &g.lookups(), false).unwrap_or_default();
    prove_with(g, model, w, mults, params)
}

/// The prover proper, given the witness and the multiplicities of its lookups.
fn prove_with(
    g: &QGraph,
    model: &CommittedModel,
    w: Witness,
    mults: Vec<Vec<(usize, u64)>>,
    params: &PcsParams,
) -> ProveOutput {
    let mut timings = ProveTimings::default();
    let input: Vec<i64> = g
        .input_tensors()
        .iter()
        .flat_map(|&t| w.values[t].iter().copied())
        .collect();
    let input = input.as_slice();
    let output = w.values[g.output].clone();

    let id = protocol_id(g, params, &model.root());
    let mut t = ProverTranscript::new(&id);
    t.observe(b"public/input", &public_bytes(input));
    t.observe(b"public/output", &public_bytes(&output));

    for pd in &model.tensors {
        t.write_digest(b"weights/root", &pd.root);
    }
    // Witness commitment: committed tensors and remainders.
    let t1 = Instant::now();
    let lookups = g.lookups();
    // Succinct lookups (with WHIR) commit the multiplicities instead of sending them.
    let succinct = params.whir.is_some();
    let committed = committed_tables(g, &lookups, params);
    let wl = g.witness_layout_with(&committed);
    let mut packed = vec![F::ZERO; 1 << wl.log_n];
    // The blocks' values in parallel (each a conversion of a whole tensor), then placed.
    let parts: Vec<(usize, Vec<F>)> = wl
        .blocks
        .par_iter()
        .filter_map(|(what, log, block)| {
            let op = match what {
                CommitRef::Tensor(ti) => Operand::Tensor(*ti),
                CommitRef::Rem(n) => Operand::Rem(*n),
                CommitRef::Limb(d, k) => Operand::Limb(*d, *k),
                CommitRef::Mult(_) => return None,
            };
            Some((block << log, padded(g, &w, op)))
        })
        .collect();
    for (off, vals) in parts {
        packed[off..off + vals.len()].copy_from_slice(&vals);
    }
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
            let vals = padded(g, &w, Operand::Tensor(ni + 1));
            zkgrad_pcs::commit(vals, g.tensors[ni + 1].log_size(), params)
        })
        .collect();
    for pd in &after {
        t.write_digest(b"after/root", &pd.root);
    }
    let mut roots_after: Vec<[u8; 32]> = model.tensors.iter().map(|pd| pd.root).collect();
    for (&(_, wi), pd) in g.updates().iter().zip(&after) {
        roots_after[wi] = pd.root;
    }
    let weight_root_after = weights_root(g, &roots_after, params);
    timings.commit = t1.elapsed();
    let mut mark = 0;
    let mut bytes_since = |t: &ProverTranscript| {
        let n = t.proof_len() - mark;
        mark = t.proof_len();
        n
    };
    timings.bytes[0] = bytes_since(&t);

    let t2 = Instant::now();
    let mut claims = Claims {
        g,
        witness: Vec::new(),
        weights: Vec::new(),
        after: Vec::new(),
        pending: vec![Vec::new(); g.tensors.len()],
    };
    if succinct {
        lookups::prove_succinct(
            g,
            &w,
            &lookups,
            &mults,
            &mult_blocks(&wpd, &wl, g),
            &committed,
            &mut claims,
            &mut t,
        );
    } else {
        lookups::prove(g, &w, &lookups, &mults, &mut claims, &mut t);
    }
    lookups::prove_decompositions(g, &w, &mut claims, &mut t);
    timings.lookups = t2.elapsed();
    timings.bytes[1] = bytes_since(&t);

    let t3 = Instant::now();
    ops::prove_nodes(g, &w, model, &mut claims, &mut t);
    timings.layers = t3.elapsed();
    timings.bytes[2] = bytes_since(&t);

    let t4 = Instant::now();
    let witness_claims = block_claims(&wpd, &claims.witness, |what| wl.find(what));
    zkgrad_pcs::prove_batch(&wpd, &witness_claims, params, &mut t);
    timings.bytes[3] = bytes_since(&t);
    match (&model.packing, model.tensors.first()) {
        // One batched opening of the packed weights, as for the witness.
        (Some(layout), Some(pd)) => {
            let weight_claims = block_claims(pd, &claims.weights, |wi| layout.find(wi));
            zkgrad_pcs::prove_batch(pd, &weight_claims, params, &mut t);
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
                    zkgrad_pcs::open_multi(pd, &points, params, &mut t);
                }
            }
        }
    }
    for (&(ni, _), pd) in g.updates().iter().zip(&after) {
        let points: Vec<Vec<E>> = claims
            .after
            .iter()
            .filter(|c| c.0 == ni + 1)
            .map(|c| c.1.clone())
            .collect();
        if !points.is_empty() {
            zkgrad_pcs::open_multi(pd, &points, params, &mut t);
        }
    }
    timings.openings = t4.elapsed();
    timings.bytes[4] = bytes_since(&t);

    let proof = ProofFile {
        config: g.config,
        pcs: params.scheme(),
        weight_root: model.root(),
        protocol_id: id,
        circuit: g.describe(),
        input: input.to_vec(),
        output,
        body: t.finish(),
    };
    ProveOutput {
        proof,
        witness: w,
        timings,
        weight_root_after,
    }
}

/// The committed multiplicity blocks of the witness, one per used table (empty without them).
#[allow(clippy::indexing_slicing)] // Prover side: the layout's blocks lie in the table
fn mult_blocks<'a>(wpd: &'a ProverData, wl: &WitnessLayout, g: &QGraph) -> Vec<&'a [F]> {
    g.used_tables()
        .iter()
        .map(|(ti, _)| match wl.find(CommitRef::Mult(*ti)) {
            Some((log, block)) => &wpd.values()[block << log..(block + 1) << log],
            None => &[],
        })
        .collect()
}

fn block_claims<K: Copy + Sync>(
    pd: &ProverData,
    claims: &[(K, Vec<E>)],
    find: impl Fn(K) -> Option<(usize, usize)> + Sync,
) -> Vec<BlockClaim> {
    // In parallel when the claimed blocks are large (a small proof would pay more to wake the
    // thread pool than the evaluations cost).
    let large = claims.iter().map(|(_, p)| 1usize << p.len()).sum::<usize>() >= 1 << 16;
    let eval = |(what, point): &(K, Vec<E>)| -> Option<BlockClaim> {
        let (log, block_index) = find(*what)?;
        let off = block_index << log;
        let value = eval_mle_base(&pd.values()[off..off + (1 << log)], point);
        Some(BlockClaim {
            block_index,
            point: point.clone(),
            value,
        })
    };
    if large {
        claims.par_iter().filter_map(eval).collect()
    } else {
        claims.iter().filter_map(eval).collect()
    }
}
