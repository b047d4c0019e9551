//! Hostile files (issue 13): each attack found on the importer, built here as a protobuf and
//! imported — an error naming the node or tensor and what is wrong, never a panic, an
//! allocation past the limits or a hang.

use std::time::Instant;

use onnx_protobuf::{Message, ModelProto, StringStringEntryProto, TensorProto};

use super::*;

#[path = "../tests/fixtures/onnx_builder.rs"]
mod onnx_builder;
use onnx_builder::*;

/// The error importing `b`, as the CLI prints it; panics if the import succeeds.
fn refused(b: Vec<u8>) -> String {
    match import(&b) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

fn assert_names(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not name {n:?}");
    }
}

fn gemm(w_dims: &[i64], vals: &[f32]) -> Vec<u8> {
    B::new(&[1, 4], 13)
        .floats("W", w_dims, vals)
        .node("Gemm", "fc", &["x", "W"], &["y"], vec![])
        .bytes()
}

#[test]
fn the_builder_makes_a_model_that_imports() {
    let g = import(&gemm(&[4, 2], &[1.0; 8])).unwrap();
    assert_eq!(g.shape(g.output), &[1, 2]);
}

#[test]
fn gemm_weight_dims_overflowing_to_one_refused() {
    // 7 · 7905747460161236407 ≡ 1 (mod 2^64): one value "fits" a wrapped product.
    let e = refused(gemm(&[7, 7905747460161236407], &[1.0]));
    assert_names(&e, &["tensor W", "elements"]);
}

#[test]
fn gemm_weight_dims_overflowing_to_zero_refused() {
    let e = refused(gemm(&[1 << 32, 1 << 32], &[]));
    assert_names(&e, &["tensor W", "elements"]);
}

#[test]
fn constant_of_shape_overflowing_feeding_a_weight_refused() {
    let b = B::new(&[1, 4], 13)
        .ints("s", &[1 << 32, 1 << 32])
        .node("ConstantOfShape", "cos", &["s"], &["W"], vec![])
        .node("Gemm", "fc", &["x", "W"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["cos", "elements"]);
}

#[test]
fn input_declared_1e12_wide_refused() {
    let b = B::new(&[1, 1_000_000_000_000], 13)
        .node("Relu", "r", &["x"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["input x", "elements"]);
}

#[test]
fn rank3_input_of_2pow40_elements_refused() {
    let b = B::new(&[1 << 20, 1 << 10, 1 << 10], 13)
        .node("Relu", "r", &["x"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["input x", "elements"]);
}

#[test]
fn pad_to_2pow40_refused() {
    let b = B::new(&[1, 4], 13)
        .ints("p", &[0, 0, 0, 1 << 40])
        .node("Pad", "pad", &["x", "p"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["pad", "larger than the limit"]);
    // Pads that overflow i64 when added, or that cancel out to a valid size.
    for pads in [[0, 0, i64::MAX, i64::MAX], [0, i64::MIN, 0, i64::MAX]] {
        let b = B::new(&[1, 4], 13)
            .ints("p", &pads)
            .node("Pad", "pad", &["x", "p"], &["y"], vec![])
            .bytes();
        assert_names(&refused(b), &["pad"]);
    }
}

#[test]
fn pad_value_attribute_nonzero_below_opset_11_refused() {
    let b = B::new(&[1, 4], 2)
        .node(
            "Pad",
            "pad",
            &["x"],
            &["y"],
            vec![("pads", A::Ints(vec![0, 1, 0, 1])), ("value", A::F(1.5))],
        )
        .bytes();
    assert_names(&refused(b), &["pad", "nonzero constant"]);
    // Zero padding there still imports.
    let b = B::new(&[1, 4], 2)
        .node(
            "Pad",
            "pad",
            &["x"],
            &["y"],
            vec![("pads", A::Ints(vec![0, 1, 0, 1]))],
        )
        .bytes();
    assert!(import(&b).is_ok());
}

fn conv(attrs: Vec<(&str, A)>, w_dims: &[i64]) -> Vec<u8> {
    let n: i64 = w_dims.iter().product();
    B::new(&[1, 2, 8, 8], 13)
        .floats("W", w_dims, &vec![0.5; n as usize])
        .node("Conv", "conv", &["x", "W"], &["y"], attrs)
        .bytes()
}

#[test]
fn conv_imports_when_well_formed() {
    assert!(import(&conv(
        vec![("pads", A::Ints(vec![1, 1, 1, 1]))],
        &[3, 2, 3, 3]
    ))
    .is_ok());
}

#[test]
fn conv_pads_of_2pow50_refused() {
    let e = refused(conv(
        vec![("pads", A::Ints(vec![1 << 50; 4]))],
        &[3, 2, 3, 3],
    ));
    assert_names(&e, &["conv", "pads"]);
}

#[test]
fn conv_pads_of_i64_max_or_negative_refused() {
    for p in [i64::MAX, -1, i64::MIN] {
        let e = refused(conv(
            vec![("pads", A::Ints(vec![p, 0, 0, 0]))],
            &[3, 2, 3, 3],
        ));
        assert_names(&e, &["conv", "pads"]);
    }
}

#[test]
fn conv_strides_and_dilations_huge_refused() {
    for k in ["strides", "dilations"] {
        let e = refused(conv(vec![(k, A::Ints(vec![i64::MAX, 1]))], &[3, 2, 3, 3]));
        assert_names(&e, &["conv", k]);
    }
}

#[test]
fn conv_kernel_shape_disagreeing_with_weight_refused() {
    let e = refused(conv(
        vec![("kernel_shape", A::Ints(vec![5, 5]))],
        &[3, 2, 3, 3],
    ));
    assert_names(&e, &["conv", "kernel_shape"]);
}

#[test]
fn conv_group_overflowing_or_not_positive_refused() {
    for g in [1 << 62, 0, -2] {
        let e = refused(conv(vec![("group", A::I(g))], &[4, 4, 1, 1]));
        assert_names(&e, &["conv", "group"]);
    }
}

#[test]
fn per_feature_mul_by_a_wide_constant_refused_before_its_diagonal_is_allocated() {
    let d = 1i64 << 15;
    let b = B::new(&[1, d], 13)
        .floats("s", &[d], &vec![2.0; d as usize])
        .node("Mul", "scale", &["x", "s"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["scale", "elements"]);
}

fn identity_chain(n: usize) -> Vec<u8> {
    let mut b = B::new(&[1, 4], 13);
    for k in 0..n {
        let i = if k == 0 {
            "x".to_string()
        } else {
            format!("t{k}")
        };
        let o = if k + 1 == n {
            "y".to_string()
        } else {
            format!("t{}", k + 1)
        };
        b = b.node("Identity", "", &[&i], &[&o], vec![]);
    }
    b.bytes()
}

#[test]
fn identity_chain_of_100k_imports_in_linear_time() {
    let time = |n: usize| {
        let b = identity_chain(n);
        let t = Instant::now();
        let g = import(&b).unwrap();
        assert_eq!(g.nodes.len(), n);
        t.elapsed().as_secs_f64()
    };
    let small = time(10_000);
    let big = time(100_000);
    eprintln!("Identity chain: 10k {small:.3} s, 100k {big:.3} s");
    // Ten times the nodes: about ten times the time (quadratic would be a hundred).
    assert!(big < 30.0 * small.max(0.005), "10k {small} s, 100k {big} s");
    assert!(big < 10.0, "100k Identity nodes took {big} s");
}

#[test]
fn identity_chain_on_a_large_constant_does_not_copy_it_per_node() {
    let n = 1 << 20;
    let mut b = B::new(&[1, 4], 13).floats("c", &[n], &vec![1.0; n as usize]);
    for k in 0..2000 {
        let i = if k == 0 {
            "c".to_string()
        } else {
            format!("t{k}")
        };
        b = b.node("Identity", "", &[&i], &[&format!("t{}", k + 1)], vec![]);
    }
    let b = b.node("Relu", "r", &["x"], &["y"], vec![]).bytes();
    let t = Instant::now();
    assert!(import(&b).is_ok());
    // Copying 8 MB per node would be 16 GB of copies.
    assert!(t.elapsed().as_secs_f64() < 10.0);
}

#[test]
fn more_nodes_than_the_limit_refused() {
    let limits = Limits {
        max_nodes: 100,
        ..Limits::default()
    };
    let e = import_with_limits(&identity_chain(101), &limits)
        .unwrap_err()
        .to_string();
    assert_names(&e, &["101 nodes", "limit of 100"]);
    assert!(import_with_limits(&identity_chain(100), &limits).is_ok());
}

#[test]
fn the_tensor_limit_can_be_lowered_and_raised() {
    let small = Limits {
        max_tensor_elements: 7,
        ..Limits::default()
    };
    let e = import_with_limits(&gemm(&[4, 2], &[1.0; 8]), &small)
        .unwrap_err()
        .to_string();
    assert_names(&e, &["tensor W", "more than 7 elements"]);
}

#[test]
fn duplicate_initializer_names_refused() {
    let b = B::new(&[1, 4], 13)
        .floats("W", &[4, 2], &[1.0; 8])
        .floats("W", &[4, 2], &[2.0; 8])
        .node("Gemm", "fc", &["x", "W"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["initializer W", "defined twice"]);
}

#[test]
fn duplicate_node_output_names_refused() {
    let b = B::new(&[1, 4], 13)
        .node("Relu", "a", &["x"], &["t"], vec![])
        .node("Sigmoid", "b", &["x"], &["t"], vec![])
        .node("Relu", "c", &["t"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["node b", "output t is already defined"]);
    // A node output shadowing an initializer.
    let b = B::new(&[1, 4], 13)
        .floats("W", &[4, 2], &[1.0; 8])
        .node("Relu", "a", &["x"], &["W"], vec![])
        .node("Relu", "c", &["W"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["node a", "output W is already defined"]);
}

#[test]
fn op_of_a_custom_domain_refused() {
    let mut b = B::new(&[1, 4], 13);
    b.domain_extra = Some("com.example".into());
    let b = b.node("Relu", "r", &["x"], &["y"], vec![]).bytes();
    assert_names(&refused(b), &["node r", "domain \"com.example\""]);
}

#[test]
fn opsets_up_to_28_import_and_29_refused() {
    // Opsets 23–28 changed the ops zkgrad claims only by element types it does not take.
    for opset in [23, 28] {
        let b = B::new(&[1, 4], opset)
            .node("Relu", "r", &["x"], &["y"], vec![])
            .bytes();
        import(&b).unwrap_or_else(|e| panic!("opset {opset}: {e}"));
    }
    let b = B::new(&[1, 4], 29)
        .node("Relu", "r", &["x"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["opset 29", "newer", "(28)"]);
}

#[test]
fn opset_99_refused_and_missing_opset_refused() {
    let b = B::new(&[1, 4], 99)
        .node("Relu", "r", &["x"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["opset 99", "newer"]);
    let mut m = ModelProto::parse_from_bytes(
        &B::new(&[1, 4], 13)
            .node("Relu", "r", &["x"], &["y"], vec![])
            .bytes(),
    )
    .unwrap();
    m.opset_import.clear();
    assert_names(&refused(m.write_to_bytes().unwrap()), &["no opset"]);
}

fn layer_norm(opset: i64, eps: f32) -> Vec<u8> {
    B::new(&[1, 4], opset)
        .floats("g", &[4], &[1.0; 4])
        .node(
            "LayerNormalization",
            "ln",
            &["x", "g"],
            &["y"],
            vec![("epsilon", A::F(eps))],
        )
        .bytes()
}

#[test]
fn layer_normalization_below_opset_17_refused() {
    assert!(import(&layer_norm(17, 1e-5)).is_ok());
    assert_names(
        &refused(layer_norm(16, 1e-5)),
        &["node ln", "opset 16", "opset 17"],
    );
}

#[test]
fn layer_normalization_epsilon_negative_zero_or_nan_refused() {
    for eps in [-1e-5, 0.0] {
        assert_names(&refused(layer_norm(17, eps)), &["node ln", "epsilon"]);
    }
    for eps in [f32::NAN, f32::INFINITY] {
        assert_names(
            &refused(layer_norm(17, eps)),
            &["node ln", "epsilon", "finite"],
        );
    }
}

#[test]
fn gelu_below_opset_20_refused() {
    let gelu = |opset| {
        B::new(&[1, 4], opset)
            .node("Gelu", "g", &["x"], &["y"], vec![])
            .bytes()
    };
    assert!(import(&gelu(20)).is_ok());
    assert_names(&refused(gelu(19)), &["node g", "opset 19", "opset 20"]);
}

fn gemm_with(attrs: Vec<(&str, A)>) -> Vec<u8> {
    B::new(&[1, 4], 13)
        .floats("W", &[4, 2], &[1.0; 8])
        .floats("c", &[2], &[1.0; 2])
        .node("Gemm", "fc", &["x", "W", "c"], &["y"], attrs)
        .bytes()
}

#[test]
fn gemm_alpha_given_as_an_int_refused() {
    let e = refused(gemm_with(vec![("alpha", A::I(2))]));
    assert_names(&e, &["node fc", "attribute alpha is INT, must be FLOAT"]);
}

#[test]
fn gemm_alpha_or_beta_not_finite_refused() {
    for k in ["alpha", "beta"] {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_names(
                &refused(gemm_with(vec![(k, A::F(v))])),
                &["node fc", k, "finite"],
            );
        }
    }
}

#[test]
fn leaky_relu_alpha_nan_or_inf_refused() {
    for v in [f32::NAN, f32::INFINITY] {
        let b = B::new(&[1, 4], 13)
            .node("LeakyRelu", "lr", &["x"], &["y"], vec![("alpha", A::F(v))])
            .bytes();
        assert_names(&refused(b), &["node lr", "alpha", "finite"]);
    }
}

#[test]
fn clip_nan_attribute_or_min_above_max_refused() {
    let clip = |lo: f32, hi: f32| {
        B::new(&[1, 4], 6)
            .node(
                "Clip",
                "clip",
                &["x"],
                &["y"],
                vec![("min", A::F(lo)), ("max", A::F(hi))],
            )
            .bytes()
    };
    assert!(import(&clip(-1.0, 1.0)).is_ok());
    assert_names(
        &refused(clip(f32::NAN, 1.0)),
        &["node clip", "min", "finite"],
    );
    assert_names(&refused(clip(2.0, 1.0)), &["node clip", "greater than max"]);
    // Opset 11: bounds as inputs.
    let b = B::new(&[1, 4], 13)
        .floats("lo", &[], &[2.0])
        .floats("hi", &[], &[1.0])
        .node("Clip", "clip", &["x", "lo", "hi"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["node clip", "greater than max"]);
}

#[test]
fn raw_tensor_of_41_bytes_for_floats_refused() {
    let b = B::new(&[1, 4], 13)
        .raw("W", &[4, 2], vec![0u8; 41])
        .node("Gemm", "fc", &["x", "W"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["tensor W", "41 bytes", "needs 32"]);
    let ok = B::new(&[1, 4], 13)
        .raw("W", &[4, 2], vec![0u8; 32])
        .node("Gemm", "fc", &["x", "W"], &["y"], vec![])
        .bytes();
    assert!(import(&ok).is_ok());
}

fn softmax(input: &[i64], opset: i64, axis: Option<i64>) -> Vec<u8> {
    let attrs = axis.map(|a| vec![("axis", A::I(a))]).unwrap_or_default();
    B::new(input, opset)
        .node("Softmax", "sm", &["x"], &["y"], attrs)
        .bytes()
}

#[test]
fn softmax_below_opset_13_on_rank_3_refused_and_on_its_last_axis_imported() {
    // Default axis 1 of a rank-3 input: normalizes axes 1 and 2 together.
    assert_names(
        &refused(softmax(&[1, 3, 4], 11, None)),
        &["node sm", "opset 11"],
    );
    assert!(import(&softmax(&[1, 3, 4], 11, Some(2))).is_ok());
    assert!(import(&softmax(&[1, 4], 11, None)).is_ok());
    assert!(import(&softmax(&[1, 3, 4], 13, None)).is_ok());
}

#[test]
fn batch_norm_variance_plus_epsilon_not_positive_refused() {
    let bn = |var: f32, eps: f32| {
        B::new(&[1, 2, 4, 4], 13)
            .floats("s", &[2], &[1.0; 2])
            .floats("b", &[2], &[0.0; 2])
            .floats("m", &[2], &[0.0; 2])
            .floats("v", &[2], &[1.0, var])
            .node(
                "BatchNormalization",
                "bn",
                &["x", "s", "b", "m", "v"],
                &["y"],
                vec![("epsilon", A::F(eps))],
            )
            .bytes()
    };
    assert!(import(&bn(1.0, 1e-5)).is_ok());
    assert_names(&refused(bn(-1.0, 1e-5)), &["node bn", "variance + epsilon"]);
    assert_names(&refused(bn(0.0, 0.0)), &["node bn", "variance + epsilon"]);
    assert_names(
        &refused(bn(1.0, f32::NAN)),
        &["node bn", "epsilon", "finite"],
    );
}

#[test]
fn slice_of_an_empty_axis_with_a_negative_step_is_an_error_not_a_panic() {
    let b = B::new(&[1, 4], 13)
        .floats("c", &[0], &[])
        .ints("st", &[-1])
        .ints("en", &[i64::MIN])
        .ints("ax", &[0])
        .ints("sp", &[-1])
        .node(
            "Slice",
            "sl",
            &["c", "st", "en", "ax", "sp"],
            &["t"],
            vec![],
        )
        .node("Relu", "r", &["x"], &["y"], vec![])
        .bytes();
    assert_names(&refused(b), &["node sl", "empty"]);
}

#[test]
fn slice_step_i64_min_or_max_is_an_error_or_a_slice_not_a_panic() {
    for step in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let b = B::new(&[1, 4], 13)
            .ints("st", &[0])
            .ints("en", &[i64::MAX])
            .ints("ax", &[1])
            .ints("sp", &[step])
            .node(
                "Slice",
                "sl",
                &["x", "st", "en", "ax", "sp"],
                &["y"],
                vec![],
            )
            .bytes();
        let _ = import(&b);
    }
}

#[test]
fn reshape_to_dims_overflowing_refused() {
    for spec in [
        vec![1 << 32, 1 << 32, 0],
        vec![-1, 1 << 62, 4],
        vec![i64::MAX, i64::MAX],
    ] {
        let b = B::new(&[1, 4], 13)
            .ints("s", &spec)
            .node("Reshape", "rs", &["x", "s"], &["y"], vec![])
            .bytes();
        assert_names(&refused(b), &["node rs"]);
    }
}

mod external {
    use std::path::Path;

    use super::*;

    fn model_with_external(location: &str, length: Option<usize>) -> Vec<u8> {
        let mut b = B::new(&[1, 4], 13).node("Gemm", "fc", &["x", "W"], &["y"], vec![]);
        let mut t = TensorProto::new();
        t.name = "W".into();
        t.data_type = 1;
        t.dims = vec![4, 2];
        let kv = |k: &str, v: &str| {
            let mut e = StringStringEntryProto::new();
            e.key = k.into();
            e.value = v.into();
            e
        };
        t.external_data.push(kv("location", location));
        if let Some(l) = length {
            t.external_data.push(kv("length", &l.to_string()));
        }
        b.g.initializer.push(t);
        b.bytes()
    }

    /// A test's own directory, removed when the test ends (passed or failed).
    struct Scratch(std::path::PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl AsRef<std::path::Path> for Scratch {
        fn as_ref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("zkgrad-onnx-ext-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn inline(d: &Path, m: &[u8]) -> Result<Vec<u8>, String> {
        inline_external_data_in_dir(m, d, &Limits::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn external_data_of_a_regular_file_is_read() {
        let d = dir("ok");
        std::fs::write(d.join("w.bin"), [0u8; 40]).unwrap();
        let m = inline(&d, &model_with_external("w.bin", None)).unwrap();
        assert!(import(&m).is_ok());
        // A length other than the tensor's size is refused.
        let e = inline(&d, &model_with_external("w.bin", Some(36))).unwrap_err();
        assert_names(&e, &["tensor W", "length 36"]);
    }

    /// The parsed inlining (`zkgrad generate`'s load) is the encoded one: the same bytes for
    /// the calibration key, streamed, and the same graph, with external data and without.
    #[test]
    fn parsed_inlining_is_the_encoded_one() {
        let d = dir("parsed");
        let w: Vec<u8> = (0..8u32)
            .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
            .collect();
        std::fs::write(d.join("w.bin"), &w).unwrap();
        let external = model_with_external("w.bin", None);
        let inline_only = B::new(&[1, 4], 13)
            .node("Relu", "r", &["x"], &["y"], vec![])
            .bytes();
        for m in [external, inline_only] {
            let encoded = inline(&d, &m).unwrap();
            let parsed =
                inline_external_data_in_dir_parsed(m.clone(), &d, &Limits::default()).unwrap();
            let mut streamed = Vec::new();
            parsed.write_bytes(&mut streamed).unwrap();
            assert_eq!(streamed, encoded);
            assert_eq!(parsed.byte_len(), encoded.len() as u64);
            assert_eq!(
                crate::import_inlined(&parsed, &Limits::default(), &[]).unwrap(),
                import(&encoded).unwrap()
            );
        }
    }

    #[test]
    fn external_data_shorter_than_the_tensor_refused() {
        let d = dir("short");
        std::fs::write(d.join("w.bin"), [0u8; 31]).unwrap();
        let e = inline(&d, &model_with_external("w.bin", None)).unwrap_err();
        assert_names(&e, &["tensor W", "w.bin", "shorter"]);
    }

    #[test]
    fn external_data_in_a_fifo_refused_without_blocking() {
        let d = dir("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(d.join("w.bin"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("mkfifo unavailable; skipped");
            return;
        }
        let e = inline(&d, &model_with_external("w.bin", None)).unwrap_err();
        assert_names(&e, &["tensor W", "not a regular file"]);
    }

    #[cfg(unix)]
    #[test]
    fn external_data_through_a_symlink_to_dev_zero_or_outside_refused() {
        let d = dir("symlink");
        std::os::unix::fs::symlink("/dev/zero", d.join("zero.bin")).unwrap();
        let e = inline(&d, &model_with_external("zero.bin", None)).unwrap_err();
        assert_names(&e, &["tensor W", "outside the model's directory"]);
        let outside = dir("symlink-outside");
        std::fs::write(outside.join("w.bin"), [0u8; 32]).unwrap();
        std::os::unix::fs::symlink(outside.join("w.bin"), d.join("w.bin")).unwrap();
        let e = inline(&d, &model_with_external("w.bin", None)).unwrap_err();
        assert_names(&e, &["tensor W", "outside the model's directory"]);
        let e = inline(&d, &model_with_external("../x.bin", None)).unwrap_err();
        assert_names(&e, &["tensor W", "relative path inside"]);
        // A device inside the directory (a symlink to it resolves outside first); a directory.
        std::fs::create_dir(d.join("sub")).unwrap();
        let e = inline(&d, &model_with_external("sub", None)).unwrap_err();
        assert_names(&e, &["tensor W", "not a regular file"]);
    }

    #[test]
    fn external_data_in_a_huge_sparse_file_reads_only_what_the_tensor_needs() {
        let d = dir("sparse");
        let f = std::fs::File::create(d.join("w.bin")).unwrap();
        f.set_len(1 << 40).unwrap();
        let t = Instant::now();
        let m = inline(&d, &model_with_external("w.bin", None)).unwrap();
        assert!(t.elapsed().as_secs_f64() < 2.0);
        assert!(m.len() < 4096);
        assert!(import(&m).is_ok());
    }
}
