//! Property test (issue 13): valid ONNX files, mutated — bytes flipped, truncated or inserted;
//! dims, attributes, op types, inputs and raw data rewritten at the protobuf level — import to
//! `Ok` or `Err`, never a panic, and within a time bound.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use onnx_protobuf::{Message, ModelProto};
use proptest::prelude::*;
use zkgrad_onnx::{import_with_limits, Limits, SUPPORTED_OPS};

/// The seed MLP, a CNN, the layout ops, and transformer exports: GPT-2 (dynamo: embedding by
/// ids, Split, batched products, a constant causal mask), BERT (TorchScript: mask logic folded
/// on constants) and the sentiment model.
const EXAMPLES: [&str; 6] = [
    "mlp/mlp.onnx",
    "cnn/mixed.onnx",
    "layout/layout.onnx",
    "transformers/gpt2_tiny/model.onnx",
    "transformers/bert_tiny/model_ts.onnx",
    "transformers/sentiment/model.onnx",
];

fn example(k: usize) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../examples/{}",
        env!("CARGO_MANIFEST_DIR"),
        EXAMPLES[k % EXAMPLES.len()]
    ))
    .unwrap()
}

/// Limits small enough that a mutated size within them imports quickly in a debug build.
fn limits() -> Limits {
    Limits {
        max_tensor_elements: 1 << 20,
        max_nodes: 10_000,
    }
}

/// Imports `bytes`: a panic or more than 5 s fails the property.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| import_with_limits(bytes, &limits())));
    prop_assert!(r.is_ok(), "import panicked");
    let s = t.elapsed().as_secs_f64();
    prop_assert!(s < 5.0, "import took {s} s");
    Ok(())
}

/// Values a hostile file would write into a size or an integer attribute.
fn hostile_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(1 << 31),
        Just(1 << 32),
        Just(1 << 40),
        Just(1 << 62),
        Just(7905747460161236407), // 7 · this ≡ 1 (mod 2^64)
        -4i64..64,
        any::<i64>(),
    ]
}

fn hostile_float() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::MAX),
        Just(-f32::MAX),
        Just(0.0f32),
        Just(-1.0),
        any::<f32>(),
    ]
}

#[derive(Clone, Debug)]
enum Bytes {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

#[derive(Clone, Debug)]
enum Field {
    InitDim(usize, usize, i64),
    InputDim(usize, i64),
    AttrInt(usize, usize, i64),
    AttrInts(usize, usize, usize, i64),
    AttrFloat(usize, usize, f32),
    OpType(usize, usize),
    Rewire(usize, usize, usize),
    RawLen(usize, usize),
    DropNode(usize),
}

fn bytes_mutation() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(p, b)| Bytes::Flip(p, b)),
        any::<usize>().prop_map(Bytes::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(p, v)| Bytes::Insert(p, v)),
    ]
}

fn field_mutation() -> impl Strategy<Value = Field> {
    let u = any::<usize>;
    prop_oneof![
        (u(), u(), hostile_int()).prop_map(|(a, b, v)| Field::InitDim(a, b, v)),
        (u(), hostile_int()).prop_map(|(a, v)| Field::InputDim(a, v)),
        (u(), u(), hostile_int()).prop_map(|(a, b, v)| Field::AttrInt(a, b, v)),
        (u(), u(), u(), hostile_int()).prop_map(|(a, b, c, v)| Field::AttrInts(a, b, c, v)),
        (u(), u(), hostile_float()).prop_map(|(a, b, v)| Field::AttrFloat(a, b, v)),
        (u(), u()).prop_map(|(a, b)| Field::OpType(a, b)),
        (u(), u(), u()).prop_map(|(a, b, c)| Field::Rewire(a, b, c)),
        (u(), 0usize..64).prop_map(|(a, b)| Field::RawLen(a, b)),
        u().prop_map(Field::DropNode),
    ]
}

fn apply_bytes(mut b: Vec<u8>, muts: &[Bytes]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        match m {
            Bytes::Flip(p, x) => {
                let n = b.len();
                b[p % n] ^= x;
            }
            Bytes::Truncate(p) => b.truncate(p % b.len()),
            Bytes::Insert(p, v) => {
                let p = p % b.len();
                b.splice(p..p, v.iter().copied());
            }
        }
    }
    b
}

fn apply_field(m: &mut ModelProto, f: &Field) {
    let g = m.graph.mut_or_insert_default();
    let nn = g.node.len().max(1);
    match *f {
        Field::InitDim(t, d, v) => {
            let len = g.initializer.len().max(1);
            if let Some(t) = g.initializer.get_mut(t % len) {
                if !t.dims.is_empty() {
                    let k = d % t.dims.len();
                    t.dims[k] = v;
                }
            }
        }
        Field::InputDim(d, v) => {
            if let Some(i) = g.input.first_mut() {
                let dims = &mut i
                    .type_
                    .mut_or_insert_default()
                    .mut_tensor_type()
                    .shape
                    .mut_or_insert_default()
                    .dim;
                if !dims.is_empty() {
                    let k = d % dims.len();
                    dims[k].set_dim_value(v);
                }
            }
        }
        Field::AttrInt(n, a, v) => {
            if let Some(n) = g.node.get_mut(n % nn) {
                let len = n.attribute.len().max(1);
                if let Some(a) = n.attribute.get_mut(a % len) {
                    a.i = v;
                }
            }
        }
        Field::AttrInts(n, a, k, v) => {
            if let Some(n) = g.node.get_mut(n % nn) {
                let len = n.attribute.len().max(1);
                if let Some(a) = n.attribute.get_mut(a % len) {
                    if a.ints.is_empty() {
                        a.ints.push(v);
                    } else {
                        let k = k % a.ints.len();
                        a.ints[k] = v;
                    }
                }
            }
        }
        Field::AttrFloat(n, a, v) => {
            if let Some(n) = g.node.get_mut(n % nn) {
                let len = n.attribute.len().max(1);
                if let Some(a) = n.attribute.get_mut(a % len) {
                    a.f = v;
                }
            }
        }
        Field::OpType(n, op) => {
            if let Some(n) = g.node.get_mut(n % nn) {
                n.op_type = SUPPORTED_OPS[op % SUPPORTED_OPS.len()].into();
            }
        }
        Field::Rewire(n, i, src) => {
            let names: Vec<String> = g
                .node
                .iter()
                .flat_map(|n| n.output.clone())
                .chain(g.initializer.iter().map(|t| t.name.clone()))
                .chain(g.input.iter().map(|i| i.name.clone()))
                .collect();
            if names.is_empty() {
                return;
            }
            let name = names[src % names.len()].clone();
            if let Some(n) = g.node.get_mut(n % nn) {
                if n.input.is_empty() {
                    n.input.push(name);
                } else {
                    let k = i % n.input.len();
                    n.input[k] = name;
                }
            }
        }
        Field::RawLen(t, extra) => {
            let len = g.initializer.len().max(1);
            if let Some(t) = g.initializer.get_mut(t % len) {
                if t.raw_data.is_empty() {
                    t.raw_data = vec![0x41; extra];
                } else if extra % 2 == 0 {
                    let n = t.raw_data.len();
                    t.raw_data.truncate(n.saturating_sub(extra + 1));
                } else {
                    t.raw_data.extend(std::iter::repeat_n(0x7f, extra));
                }
            }
        }
        Field::DropNode(n) => {
            if !g.node.is_empty() {
                let k = n % g.node.len();
                g.node.remove(k);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn byte_mutations_never_panic(k in 0usize..EXAMPLES.len(), muts in proptest::collection::vec(bytes_mutation(), 1..6)) {
        check(&apply_bytes(example(k), &muts))?;
    }

    #[test]
    fn field_mutations_never_panic(k in 0usize..EXAMPLES.len(), muts in proptest::collection::vec(field_mutation(), 1..5)) {
        let mut m = ModelProto::parse_from_bytes(&example(k)).unwrap();
        for f in &muts {
            apply_field(&mut m, f);
        }
        check(&m.write_to_bytes().unwrap())?;
    }
}

#[test]
fn the_unmutated_examples_import() {
    for k in 0..EXAMPLES.len() {
        assert!(
            import_with_limits(&example(k), &limits()).is_ok(),
            "{}",
            EXAMPLES[k]
        );
    }
}
