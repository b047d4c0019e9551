//! Adversarial review of the audit fixes: roundings whose *input* wraps around p.
//!
//! `crate::bounds` makes every rounding unique mod p (`s + b ≤ 62`); that unique solution is
//! the integer rounding only when the integer being rounded is itself below `2^62`. The review
//! found the quantizer leaving the operands of an element-wise `Mul` and of a non-integer
//! `Scale` uncommitted: virtual tensors far wider than `K` bits (an integer `Scale` keeps up to
//! `2^(K−1+20)`), whose product passed `2^64`, so a cheating prover proved the rounding of the
//! product's residue mod p — a false output for an input on which the integer forward pass
//! overflows (through `zkgrad verify --model` too). Now the quantizer commits such operands
//! (range-checked to K bits) and every builder and description is checked for values that could
//! reach `2^62` (`QGraph::check_no_wrap`). These tests carry the forgeries out against what the
//! quantizer now builds, and check that the vulnerable circuit itself is refused.

mod common;
use common::*;
use zkgrad_circuit::QOp;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_model::{ForwardError, Witness};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::verify;

/// `y = (c·x) ⊙ (c·x)` with an integer constant `c` (ONNX: `Mul(x, c)` then `Mul(a, a)`).
fn square_of_scaled(c: f64) -> Graph {
    let n = |name: &str, op: Op| Node {
        name: name.into(),
        op,
        shape: vec![1, 1],
    };
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, 1],
        nodes: vec![
            n("scaled", Op::Scale { x: 0, c }),
            n("square", Op::Mul { a: 1, b: 1 }),
        ],
        output: 2,
        output_parts: Vec::new(),
    }
}

/// The quantizer's circuit for `square_of_scaled(2^14)` at K = 20, act_frac = 14: the scaled
/// value (up to 2^33) is committed before it is squared.
fn circuit() -> QGraph {
    let cfg = QConfig {
        act_frac: 14,
        weight_frac: 20,
        table_bits: 20,
    };
    let q = zkgrad_model::quantize(&square_of_scaled((1u64 << 14) as f64), cfg).unwrap();
    q.check_relations().unwrap();
    let mul = q
        .nodes
        .iter()
        .position(|n| matches!(n.op, QOp::Mul { .. }))
        .unwrap();
    let QOp::Mul { a, b } = q.nodes[mul].op else {
        unreachable!()
    };
    assert_eq!((a, b), (2, 2), "the square reads the committed copy");
    assert_eq!(q.tensors[a].kind, zkgrad_circuit::TensorKind::Committed);
    q
}

/// The circuit the quantizer built before the fix: `Scale` (virtual) squared directly.
fn vulnerable_circuit() -> QGraph {
    let mut q = circuit();
    // Drop the commit: the square reads the wide virtual value.
    q.nodes.remove(1);
    q.tensors.remove(2);
    for n in q.nodes.iter_mut() {
        match &mut n.op {
            QOp::Mul { a, b } => {
                *a = 1;
                *b = 1;
            }
            QOp::Requant { x, .. } if *x > 1 => *x -= 1,
            _ => {}
        }
    }
    q.output -= 1;
    q
}

/// The forward pass in the field: every value the product or scaling of the previous ones
/// mod p (as a signed representative), every rounding of that residue — the witness a cheating
/// prover uses when the integer pass overflows. Handles the ops of these circuits.
fn field_witness(q: &QGraph, x: i64) -> Witness {
    let p: i128 = 0xFFFF_FFFF_0000_0001;
    let signed = |v: i128| {
        let v = v.rem_euclid(p);
        (if v > p / 2 { v - p } else { v }) as i64
    };
    let mut values = vec![vec![x]];
    let mut rems = Vec::new();
    for n in &q.nodes {
        let (v, rem) = match n.op {
            QOp::Scale { x, c } => (signed(values[x][0] as i128 * c as i128), None),
            QOp::Mul { a, b } => (signed(values[a][0] as i128 * values[b][0] as i128), None),
            QOp::Requant { x, shift: 0 } => (values[x][0], None),
            QOp::Requant { x, shift } => {
                let v = values[x][0];
                let h = 1i64 << (shift - 1);
                let y = (v + h) >> shift;
                (y, Some(vec![v + h - (y << shift)]))
            }
            ref op => panic!("{op:?}"),
        };
        values.push(vec![v]);
        rems.push(rem);
    }
    Witness {
        values,
        rems,
        padding: Vec::new(),
    }
}

#[test]
fn honest_small_inputs_prove_and_verify() {
    let q = circuit();
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    for x in [0i64, 1, -3, 5] {
        let out = prove(&q, &model, &[x], &params).unwrap();
        // (2^14·x)² / 2^14 = 2^14·x².
        assert_eq!(out.proof.output, vec![(1i64 << 14) * x * x]);
        let p = &out.proof;
        verify(&q, &model.root(), &p.input, &p.output, &p.body, &params).unwrap();
    }
}

/// x = 2^18 (16.0 at 2^-14, inside the public range): c·x = 2^32, whose square is
/// 2^64 ≡ 2^32 − 1 (mod p). The integer forward pass overflows; the proof of the output 2^18
/// (16.0, the rounding of (2^32 − 1)/2^14) must be refused (it was accepted before the fix). The
/// circuit that allowed it is refused by the builders' and the validator's check.
#[test]
fn product_wrapping_past_p_in_a_quantized_model_is_rejected() {
    let q = circuit();
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let x = 1i64 << 18;
    assert!(q.public_in_range(x));
    // The model's own integer forward pass refuses this input: the scaled value passes its
    // range (before the fix: the product passed 2^62).
    assert!(matches!(
        zkgrad_model::forward(&q, &[x]),
        Err(ForwardError::Overflow { .. } | ForwardError::OutOfRange { .. })
    ));
    let w = field_witness(&q, x);
    assert_eq!(w.values[q.output], vec![1i64 << 18]);
    let p = prove_witness(&q, &model, w, &params).proof;
    let r = verify(&q, &model.root(), &p.input, &p.output, &p.body, &params);
    assert!(
        r.is_err(),
        "FORGERY: (2^14·x)² for x = 2^18 proven to round to {:?} (the integer value is 2^64/2^14 = 2^50)",
        p.output
    );
    // The vulnerable circuit: its forgery verified; the circuit itself is now refused.
    let v = vulnerable_circuit();
    let err = v.check_relations().unwrap_err();
    assert!(err.contains("wrap around p"), "{err}");
    assert!(QGraph::from_description(&v.describe()).is_err());
}

// ---------------------------------------------------------------------------------------------
// The same model as an ONNX file, through the importer `zkgrad prove`/`verify --model` use.

/// A minimal protobuf writer (length-delimited fields and varints), enough for an ONNX model.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                break;
            }
            self.0.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn int(&mut self, field: u32, v: u64) -> &mut Self {
        self.key(field, 0);
        self.varint(v);
        self
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: &Pb) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

fn value_info(name: &str, dims: &[u64]) -> Pb {
    let mut shape = Pb::default();
    for &d in dims {
        let mut dim = Pb::default();
        dim.int(1, d);
        shape.msg(1, &dim);
    }
    let mut tensor = Pb::default();
    tensor.int(1, 1).msg(2, &shape);
    let mut ty = Pb::default();
    ty.msg(1, &tensor);
    let mut vi = Pb::default();
    vi.str(1, name).msg(2, &ty);
    vi
}

fn node(inputs: &[&str], output: &str, op: &str) -> Pb {
    let mut n = Pb::default();
    for i in inputs {
        n.str(1, i);
    }
    n.str(2, output).str(3, output).str(4, op);
    n
}

/// `y = (x·16384)²` as ONNX: `Mul(x, c)`, `Mul(a, a)`.
fn square_onnx() -> Vec<u8> {
    let mut c = Pb::default();
    c.int(2, 1).bytes(4, &16384f32.to_le_bytes()).str(8, "c");
    let mut g = Pb::default();
    g.msg(1, &node(&["x", "c"], "a", "Mul"))
        .msg(1, &node(&["a", "a"], "y", "Mul"))
        .str(2, "square")
        .msg(5, &c)
        .msg(11, &value_info("x", &[1, 1]))
        .msg(12, &value_info("y", &[1, 1]));
    let mut opset = Pb::default();
    opset.int(2, 13);
    let mut m = Pb::default();
    m.int(1, 8).msg(7, &g).msg(8, &opset);
    m.0
}

/// The ONNX model imported and quantized as `zkgrad prove --act-frac 14 --weight-frac 20`
/// does; a forged proof file of (2^14·16)² "= 16.0" written to target/attack-forgery/ (with the
/// model) for the CLI, and checked in process the way `zkgrad verify --model` checks it.
#[test]
fn onnx_square_of_scaled_forged_proof_is_rejected() {
    let graph = zkgrad_onnx::import(&square_onnx()).unwrap();
    let cfg = QConfig {
        act_frac: 14,
        weight_frac: 20,
        table_bits: 20,
    };
    let q = zkgrad_model::quantize(&graph, cfg).unwrap();
    assert_eq!(
        q.describe(),
        circuit().describe(),
        "the importer builds the same circuit"
    );
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let x = 1i64 << 18;
    assert!(matches!(
        zkgrad_model::forward(&q, &[x]),
        Err(ForwardError::Overflow { .. } | ForwardError::OutOfRange { .. })
    ));
    let p = prove_witness(&q, &model, field_witness(&q, x), &params).proof;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/attack-forgery");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("square.onnx"), square_onnx()).unwrap();
    std::fs::write(dir.join("forged.zkp"), p.to_bytes()).unwrap();
    let root = zkgrad_verifier::commit_weights_root(&q, &params);
    let r = zkgrad_verifier::verify_with_model(&p, &q, &root, &params);
    assert!(
        r.is_err(),
        "FORGERY through the ONNX importer: (16384·16.0)² proven to be {} (files in {})",
        p.output[0] as f64 / (1u64 << 14) as f64,
        dir.display()
    );
}

// ---------------------------------------------------------------------------------------------
// The same class through a non-integer Scale, whose operand is not committed either.

/// `y = (x·16384)·4096.5`: the second factor is not an integer, so the quantizer rounds the
/// product by weight_frac (20) bits, with the operand `x·16384` virtual (up to 2^33) and the
/// factor at 2^-20 (≈ 2^32): the product passes 2^64. At x = −262112 (−16.0 at 2^-14) it is
/// ≡ 270582939649 (mod p), which rounds to an in-range output.
#[test]
fn non_integer_scale_of_a_virtual_wrapping_past_p_is_rejected() {
    let n = |name: &str, op: Op| Node {
        name: name.into(),
        op,
        shape: vec![1, 1],
    };
    let g = Graph {
        input_name: "x".into(),
        input_shape: vec![1, 1],
        nodes: vec![
            n("a", Op::Scale { x: 0, c: 16384.0 }),
            n("b", Op::Scale { x: 1, c: 4096.5 }),
        ],
        output: 2,
        output_parts: Vec::new(),
    };
    let cfg = QConfig {
        act_frac: 14,
        weight_frac: 20,
        table_bits: 20,
    };
    let q = zkgrad_model::quantize(&g, cfg).unwrap();
    // The wide operand is committed before the non-integer scaling.
    let scale = q
        .nodes
        .iter()
        .rposition(|n| matches!(n.op, QOp::Scale { .. }))
        .unwrap();
    let QOp::Scale { x: operand, .. } = q.nodes[scale].op else {
        unreachable!()
    };
    assert_eq!(
        q.tensors[operand].kind,
        zkgrad_circuit::TensorKind::Committed
    );
    let x = -262112i64;
    assert!(matches!(
        zkgrad_model::forward(&q, &[x]),
        Err(ForwardError::Overflow { .. } | ForwardError::OutOfRange { .. })
    ));
    let w = field_witness(&q, x);
    let y = w.values[q.output][0];
    assert!(q.public_in_range(y));
    let params = small_params();
    let model = CommittedModel::new(&q, &params);
    let pf = prove_witness(&q, &model, w, &params).proof;
    let r = verify(&q, &model.root(), &pf.input, &pf.output, &pf.body, &params);
    assert!(
        r.is_err(),
        "FORGERY: (16384·x)·4096.5 at x = −16.0 proven to be {} (the real value is about −1.1e9)",
        y as f64 / (1u64 << 14) as f64
    );
}
