//! Fuzzing the verifier with proptest: random and mutated proof files must be rejected with an
//! error, never accepted and never a panic. (cargo-fuzz needs nightly; this runs on stable in CI.)

mod common;
use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;
use zkgrad_verifier::{model_commitment, verify_with_commitment, verify_with_model, ProofFile};

struct Fixture {
    s: Setup,
    bytes: Vec<u8>,
    commitment: [u8; 32],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::of(setup(seed_mlp(), 8, 5)))
}

impl Fixture {
    /// Whether the fixture's model accepts `p`, by the model or by its commitment.
    fn accepts(&self, p: &ProofFile) -> bool {
        verify_with_model(p, &self.s.q, &self.s.model.root(), &self.s.params).is_ok()
            || verify_with_commitment(p, &self.commitment, &self.s.params).is_ok()
    }

    /// An honest proof of the setup, with the model commitment it verifies against.
    fn of(s: Setup) -> Self {
        let p = prove_ok(&s).proof;
        let commitment = model_commitment(&p.circuit, &p.weight_root);
        Fixture {
            bytes: p.to_bytes(),
            s,
            commitment,
        }
    }
}

/// Parses and verifies both ways; true if anything accepted.
fn accepted(bytes: &[u8]) -> bool {
    let f = fixture();
    let Ok(p) = ProofFile::from_bytes(bytes) else {
        return false;
    };
    f.accepts(&p)
}

#[test]
fn honest_proof_is_accepted_both_ways() {
    assert!(accepted(&fixture().bytes));
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { pos: usize, mask: u8 },
    Set { pos: usize, byte: u8 },
    Truncate { len: usize },
    Insert { pos: usize, bytes: Vec<u8> },
    Remove { pos: usize, n: usize },
    Splice { from: usize, to: usize, n: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(pos, mask)| Mutation::Flip { pos, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(pos, byte)| Mutation::Set { pos, byte }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(pos, bytes)| Mutation::Insert { pos, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(pos, n)| Mutation::Remove { pos, n }),
        (any::<usize>(), any::<usize>(), 1usize..64).prop_map(|(from, to, n)| Mutation::Splice {
            from,
            to,
            n
        }),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) -> bool {
    let len = b.len();
    if len == 0 && !matches!(m, Mutation::Insert { .. }) {
        return false; // an earlier mutation emptied the file: nothing to index
    }
    let before = b.clone();
    match m {
        Mutation::Flip { pos, mask } => b[pos % len] ^= mask,
        Mutation::Set { pos, byte } => b[pos % len] = *byte,
        Mutation::Truncate { len: n } => b.truncate(n % len),
        Mutation::Insert { pos, bytes } => {
            let p = pos % (len + 1);
            b.splice(p..p, bytes.iter().copied());
        }
        Mutation::Remove { pos, n } => {
            let p = pos % len;
            b.drain(p..(p + n).min(len));
        }
        Mutation::Splice { from, to, n } => {
            let (f, t) = (from % len, to % len);
            let n = (*n).min(len - f).min(len - t);
            let src = b[f..f + n].to_vec();
            b[t..t + n].copy_from_slice(&src);
        }
    }
    *b != before
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_proofs_are_rejected(ms in proptest::collection::vec(mutation(), 1..4)) {
        let mut b = fixture().bytes.clone();
        let mut changed = false;
        for m in &ms {
            changed |= apply(&mut b, m);
        }
        prop_assume!(changed && b != fixture().bytes);
        prop_assert!(!accepted(&b));
    }

    #[test]
    fn random_bytes_are_rejected(b in proptest::collection::vec(any::<u8>(), 0..2000)) {
        prop_assert!(!accepted(&b));
    }

    #[test]
    fn random_body_behind_a_valid_header_is_rejected(body in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let mut p = ProofFile::from_bytes(&fixture().bytes).unwrap();
        p.body = body;
        prop_assert!(!accepted(&p.to_bytes()));
    }
}

/// A cross-entropy training step (Update, LogSumExp, Broadcast, AddConst, Transpose, MatMul,
/// RowSum ops) for fuzzing the circuit-description decoder through the commitment path.
fn training_fixture() -> &'static (Vec<u8>, [u8; 32]) {
    static F: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    F.get_or_init(|| {
        use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
        let graph = zkgrad_model::zoo::mlp(&[4, 6, 3], zkgrad_circuit::ActKind::Relu, 2);
        let x = rnd(41, 8);
        let y = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let cfg = TrainConfig::calibrate(&graph, &[x[..4].to_vec(), x[4..].to_vec()], 0);
        let spec = SgdSpec {
            batch: 2,
            lr: 0.05,
            loss: Loss::SoftmaxCrossEntropy,
        };
        let q = sgd_step(&graph, &spec, cfg).unwrap();
        let model = zkgrad_prover::CommittedModel::new(&q, &small_params());
        let public: Vec<i64> = x
            .iter()
            .chain(&y)
            .map(|&v| zkgrad_model::quantize_input(v, cfg.act_frac).unwrap())
            .collect();
        let p = zkgrad_prover::prove(&q, &model, &public, &small_params())
            .unwrap()
            .proof;
        let c = model_commitment(&p.circuit, &p.weight_root);
        (p.to_bytes(), c)
    })
}

fn training_accepted(bytes: &[u8]) -> bool {
    let (_, c) = training_fixture();
    ProofFile::from_bytes(bytes)
        .is_ok_and(|p| verify_with_commitment(&p, c, &small_params()).is_ok())
}

#[test]
fn honest_training_proof_is_accepted() {
    assert!(training_accepted(&training_fixture().0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_training_proofs_are_rejected(ms in proptest::collection::vec(mutation(), 1..3)) {
        let mut b = training_fixture().0.clone();
        let mut changed = false;
        for m in &ms {
            changed |= apply(&mut b, m);
        }
        prop_assume!(changed && b != training_fixture().0);
        prop_assert!(!training_accepted(&b));
    }

    #[test]
    fn mutated_training_circuit_descriptions_never_panic(pos in any::<usize>(), mask in 1u8..=255) {
        // Flip bits inside the circuit description only, and decode + verify.
        let mut p = ProofFile::from_bytes(&training_fixture().0).unwrap();
        let i = pos % p.circuit.len();
        p.circuit[i] ^= mask;
        let _ = zkgrad_circuit::QGraph::from_description(&p.circuit).map(|g| (g.lookups(), g.witness_layout(), g.decompositions()));
        prop_assert!(!training_accepted(&p.to_bytes()));
    }
}

/// Index maps (Slice, Pad, Transpose, reshape, broadcast, Concat) through the commitment path.
fn layout_fixture() -> &'static (Vec<u8>, [u8; 32]) {
    static F: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    F.get_or_init(|| {
        let s = setup(layout_ops(), 12, 5);
        let p = prove_ok(&s).proof;
        let c = model_commitment(&p.circuit, &p.weight_root);
        (p.to_bytes(), c)
    })
}

fn layout_accepted(bytes: &[u8]) -> bool {
    let (_, c) = layout_fixture();
    ProofFile::from_bytes(bytes)
        .is_ok_and(|p| verify_with_commitment(&p, c, &small_params()).is_ok())
}

#[test]
fn honest_layout_proof_is_accepted_by_commitment() {
    assert!(layout_accepted(&layout_fixture().0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_layout_proofs_are_rejected(ms in proptest::collection::vec(mutation(), 1..3)) {
        let mut b = layout_fixture().0.clone();
        let mut changed = false;
        for m in &ms {
            changed |= apply(&mut b, m);
        }
        prop_assume!(changed && b != layout_fixture().0);
        prop_assert!(!layout_accepted(&b));
    }

    #[test]
    fn mutated_layout_circuit_descriptions_never_panic(pos in any::<usize>(), mask in 1u8..=255) {
        let mut p = ProofFile::from_bytes(&layout_fixture().0).unwrap();
        let i = pos % p.circuit.len();
        p.circuit[i] ^= mask;
        if let Ok(g) = zkgrad_circuit::QGraph::from_description(&p.circuit) {
            // Small enough to expand: a decoded map must not panic either.
            for n in &g.nodes {
                if let zkgrad_circuit::QOp::Gather { map, .. } = &n.op {
                    if map.out_len() < 1 << 16 {
                        let _ = map.sources();
                    }
                }
            }
            let _ = (g.lookups(), g.witness_layout(), g.decompositions());
        }
        prop_assert!(!layout_accepted(&p.to_bytes()));
    }
}

/// Convolutions through the commitment path.
fn conv_fixture() -> &'static (Vec<u8>, [u8; 32]) {
    static F: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    F.get_or_init(|| {
        let s = setup(conv_ops(), 12, 6);
        let p = prove_ok(&s).proof;
        let c = model_commitment(&p.circuit, &p.weight_root);
        (p.to_bytes(), c)
    })
}

#[test]
fn honest_conv_proof_is_accepted_by_commitment() {
    let (b, c) = conv_fixture();
    let p = ProofFile::from_bytes(b).unwrap();
    assert!(verify_with_commitment(&p, c, &small_params()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_conv_proofs_and_descriptions_are_rejected_without_panics(pos in any::<usize>(), mask in 1u8..=255, in_circuit in any::<bool>()) {
        let (b, c) = conv_fixture();
        let mut p = ProofFile::from_bytes(b).unwrap();
        if in_circuit {
            let i = pos % p.circuit.len();
            p.circuit[i] ^= mask;
            let _ = zkgrad_circuit::QGraph::from_description(&p.circuit).map(|g| (g.lookups(), g.witness_layout()));
        } else {
            let i = pos % p.body.len();
            p.body[i] ^= mask;
        }
        let ok = ProofFile::from_bytes(&p.to_bytes())
            .is_ok_and(|p| verify_with_commitment(&p, c, &small_params()).is_ok());
        prop_assert!(!ok);
    }
}

/// A LeNet-5 proof under the WHIR scheme (WHIR openings of the witness and the packed weights,
/// committed multiplicities): the fuzzer reaches the serialized WHIR proofs.
fn whir_fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        Fixture::of(setup_with(
            zkgrad_model::zoo_cnn::lenet5(),
            12,
            7,
            whir_small(),
        ))
    })
}

fn whir_accepted(bytes: &[u8]) -> bool {
    let f = whir_fixture();
    let Ok(p) = ProofFile::from_bytes(bytes) else {
        return false;
    };
    f.accepts(&p)
}

#[test]
fn honest_whir_proof_is_accepted() {
    assert!(whir_accepted(&whir_fixture().bytes));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_whir_proofs_are_rejected(ms in proptest::collection::vec(mutation(), 1..3)) {
        let mut b = whir_fixture().bytes.clone();
        let mut changed = false;
        for m in &ms {
            changed |= apply(&mut b, m);
        }
        prop_assume!(changed && b != whir_fixture().bytes);
        prop_assert!(!whir_accepted(&b));
    }
}

/// A causal-attention language model with its greedy-generation check (Embed, Const mask,
/// MatMul of computed tensors, Softmax, PickCol, PrefixMask), proved and committed.
fn transformer_fixture() -> &'static (Vec<u8>, [u8; 32]) {
    static F: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    F.get_or_init(|| {
        let (s, _) = common::transformer::greedy_attention_setup();
        let p = prove_ok(&s).proof;
        let c = model_commitment(&p.circuit, &p.weight_root);
        (p.to_bytes(), c)
    })
}

fn transformer_accepted(bytes: &[u8]) -> bool {
    let (_, c) = transformer_fixture();
    ProofFile::from_bytes(bytes)
        .is_ok_and(|p| verify_with_commitment(&p, c, &small_params()).is_ok())
}

#[test]
fn honest_transformer_proof_is_accepted() {
    assert!(transformer_accepted(&transformer_fixture().0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_transformer_proofs_are_rejected(ms in proptest::collection::vec(mutation(), 1..3)) {
        let mut b = transformer_fixture().0.clone();
        let mut changed = false;
        for m in &ms {
            changed |= apply(&mut b, m);
        }
        prop_assume!(changed && b != transformer_fixture().0);
        prop_assert!(!transformer_accepted(&b));
    }

    #[test]
    fn mutated_transformer_circuit_descriptions_never_panic(pos in any::<usize>(), mask in 1u8..=255) {
        let mut p = ProofFile::from_bytes(&transformer_fixture().0).unwrap();
        let i = pos % p.circuit.len();
        p.circuit[i] ^= mask;
        let _ = zkgrad_circuit::QGraph::from_description(&p.circuit).map(|g| (g.lookups(), g.witness_layout(), g.decompositions()));
        prop_assert!(!transformer_accepted(&p.to_bytes()));
    }

    #[test]
    fn transformer_public_ids_changed_are_rejected(pos in any::<usize>(), delta in 1i64..16) {
        let mut p = ProofFile::from_bytes(&transformer_fixture().0).unwrap();
        let i = pos % p.input.len();
        p.input[i] = (p.input[i] + delta) % 16;
        prop_assert!(!transformer_accepted(&p.to_bytes()));
    }
}
