//! Import tests on the example models and on small models built here.

use onnx_protobuf::{Message, TensorProto};
use zkgrad_circuit::table::ActKind;
use zkgrad_model::graph::Op;

use super::*;

fn example(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../examples/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn seed_mlp_imports() {
    let g = import(&example("mlp/mlp.onnx")).unwrap();
    assert_eq!(g.n_params(), 138);
    assert_eq!(g.input_shape, vec![1, 5]);
    assert_eq!(g.nodes.len(), 5);
    assert_eq!(g.shape(g.output), &[1, 2]);
}

#[test]
fn matmul_variant_imports_and_agrees_with_gemm_variant_where_it_should() {
    let g = import(&example("mlp/mlp_matmul.onnx")).unwrap();
    assert_eq!(g.n_params(), 138);
    let out = g.forward_f64(&[0.1, 0.2, -0.3, 0.4, 0.5]);
    assert_eq!(out[g.output].len(), 2);
}

#[test]
fn exported_weights_import_back() {
    let b = example("mlp/mlp.onnx");
    let (mut g, src) = import_with_sources(&b).unwrap();
    if let Op::Linear { w, bias, .. } = &mut g.nodes[0].op {
        w[3] += 0.5;
        bias.as_mut().unwrap()[1] -= 0.25;
    }
    let out = export_weights(&b, &g, &src).unwrap();
    let g2 = import(&out).unwrap();
    for (a, b) in g.nodes.iter().zip(&g2.nodes) {
        match (&a.op, &b.op) {
            (
                Op::Linear {
                    w: w1, bias: b1, ..
                },
                Op::Linear {
                    w: w2, bias: b2, ..
                },
            ) => {
                for (x, y) in w1
                    .iter()
                    .zip(w2)
                    .chain(b1.as_ref().unwrap().iter().zip(b2.as_ref().unwrap()))
                {
                    assert!((x - y).abs() < 1e-6);
                }
            }
            _ => assert_eq!(a.op, b.op),
        }
    }
    // The MatMul + Add form writes back too.
    let b = example("mlp/mlp_matmul.onnx");
    let (g, src) = import_with_sources(&b).unwrap();
    let g2 = import(&export_weights(&b, &g, &src).unwrap()).unwrap();
    assert_eq!(g.n_params(), g2.n_params());
}

#[test]
fn greater_is_the_relu_mask_only_against_zero_and_cast_only_to_floats() {
    use onnx_protobuf::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
    let model = |threshold: f32, to: i64| -> Vec<u8> {
        let mut m = ModelProto::new();
        let mut g = GraphProto::new();
        let mut vi = ValueInfoProto::new();
        vi.name = "x".into();
        let dim = |v: i64| {
            let mut d = onnx_protobuf::tensor_shape_proto::Dimension::new();
            d.set_dim_value(v);
            d
        };
        let tt = vi.type_.mut_or_insert_default().mut_tensor_type();
        tt.elem_type = 1;
        tt.shape.mut_or_insert_default().dim = vec![dim(1), dim(4)];
        g.input.push(vi);
        let mut c = TensorProto::new();
        c.name = "zero".into();
        c.data_type = 1;
        c.float_data = vec![threshold];
        g.initializer.push(c);
        let mut gt = NodeProto::new();
        gt.op_type = "Greater".into();
        gt.name = "gt".into();
        gt.input = vec!["x".into(), "zero".into()];
        gt.output = vec!["m".into()];
        let mut cast = NodeProto::new();
        cast.op_type = "Cast".into();
        cast.name = "cast".into();
        cast.input = vec!["m".into()];
        cast.output = vec!["y".into()];
        let mut a = onnx_protobuf::AttributeProto::new();
        a.name = "to".into();
        a.i = to;
        a.type_ = onnx_protobuf::attribute_proto::AttributeType::INT.into();
        cast.attribute.push(a);
        g.node = vec![gt, cast];
        let mut out = ValueInfoProto::new();
        out.name = "y".into();
        g.output.push(out);
        m.graph = protobuf::MessageField::some(g);
        let mut opset = onnx_protobuf::OperatorSetIdProto::new();
        opset.version = 13;
        m.opset_import.push(opset);
        m.write_to_bytes().unwrap()
    };
    let g = import(&model(0.0, 1)).unwrap();
    assert_eq!(
        g.forward_f64(&[-1.0, 0.0, 0.5, 2.0])[g.output],
        vec![0.0, 0.0, 1.0, 1.0]
    );
    assert!(matches!(
        import(&model(0.5, 1)),
        Err(OnnxError::Invalid { .. })
    ));
    assert!(matches!(
        import(&model(0.0, 7)),
        Err(OnnxError::Invalid { .. })
    ));
}

#[test]
fn layout_ops_agree_with_onnx_runtime() {
    // examples/gen_examples.py layout: Slice (negative step), 3-D Transpose, Squeeze,
    // Unsqueeze, Concat, broadcasting, ReduceSum/ReduceMean, folded constants, two outputs.
    let g = import(&example("layout/layout.onnx")).unwrap();
    let read = |f: &str, k: &str| -> Vec<f64> {
        let v: serde_json::Value =
            serde_json::from_slice(&example(&format!("layout/{f}"))).unwrap();
        v[k].as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect()
    };
    let x = read("input.json", "input_data");
    let expect = read("onnxruntime_output.json", "output_data");
    let got = &g.forward_f64(&x)[g.output];
    assert_eq!(got.len(), expect.len());
    for (a, b) in got.iter().zip(&expect) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert_eq!(g.output_parts.len(), 2);
    assert_eq!(g.output_parts[0].1, vec![2, 8]);
    assert_eq!(g.output_parts[1].1, vec![3]);
}

#[test]
fn cnn_layers_and_pointwise_ops_agree_with_onnx_runtime() {
    // examples/gen_cnn.py. mixed: Conv (padding, stride, dilation, groups, depthwise),
    // BatchNorm (folded and standalone), MaxPool, AveragePool, SiLU, GlobalAveragePool, Gemm.
    // pointwise: LayerNormalization, LeakyRelu, Clip, Erf, Pow, Sqrt, Div, Softmax.
    // mixed_torchscript: the same CNN from the TorchScript exporter at opset 13, whose Pad
    // reads pads computed by shape arithmetic on constants (folded at import).
    for (model, prefix) in [
        ("mixed", ""),
        ("mixed_torchscript", ""),
        ("pointwise", "pointwise_"),
    ] {
        let g = import(&example(&format!("cnn/{model}.onnx"))).unwrap();
        let read = |f: &str, k: &str| -> Vec<f64> {
            let v: serde_json::Value =
                serde_json::from_slice(&example(&format!("cnn/{prefix}{f}"))).unwrap();
            v[k][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let got = &g.forward_f64(&read("input.json", "input_data"))[g.output];
        let expect = read("onnxruntime_output.json", "output_data");
        assert_eq!(got.len(), expect.len());
        for (a, b) in got.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-6, "{model}: {a} vs {b}");
        }
    }
}

#[test]
fn unsupported_op_names_op_and_node() {
    let e = import(&example("unsupported/softsign.onnx")).unwrap_err();
    assert_eq!(
        e,
        OnnxError::Unsupported {
            op_type: "Softsign".into(),
            node: "/act/Softsign".into()
        }
    );
}

#[test]
fn truncated_and_garbage_files_are_parse_errors() {
    let b = example("mlp/mlp.onnx");
    for n in [0usize, 10, 200, b.len() - 1] {
        assert!(import(&b[..n]).is_err(), "prefix {n} accepted");
    }
    assert!(matches!(import(b"hello world"), Err(OnnxError::Parse(_))));
}

#[test]
fn sdpa_softmax_guard_keeps_the_softmax() {
    // Where(IsNaN(p), 0, p): a proven value is never NaN, so the guard is the softmax itself.
    let g = import(&example("transformers/softmax_guard.onnx")).unwrap();
    assert!(g.nodes.iter().any(|n| matches!(n.op, Op::Softmax { .. })));
    assert!(!g
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Mul { .. } | Op::Const { .. })));
    let y = &g.forward_f64(&[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0])[g.output];
    assert!((y[4] - 0.25).abs() < 1e-12 && (y[..4].iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn layer_norm_scales_fold_into_the_one_linear_that_reads_them() {
    // gpt2_tiny (TorchScript export, weights inline): each block's ln_1 feeds c_attn and ln_2
    // feeds c_fc, which absorb γ and β; ln_f feeds the tied LM head, which stays the table.
    let bytes = example("transformers/gpt2_tiny/model_ts.onnx");
    let g = import(&bytes).unwrap();
    let diagonals = |g: &zkgrad_model::Graph| {
        g.nodes
            .iter()
            .filter(|n| {
                matches!(&n.op, Op::Linear { w, in_features: d, out_features, .. }
                    if d == out_features && *d > 1
                        && w.iter().enumerate().all(|(i, &v)| v == 0.0 || i / d == i % d))
            })
            .count()
    };
    assert_eq!(diagonals(&g), 1, "only ln_f's scale is left");
    let dynamo = import(&example("transformers/gpt2_tiny/model.onnx")).unwrap();
    assert_eq!(
        diagonals(&dynamo),
        1,
        "dynamo export: only ln_f's scale is left"
    );
    // The same function: the folded graph against ONNX Runtime's logits.
    let ids: Vec<f64> = serde_json::from_str::<serde_json::Value>(
        &String::from_utf8(example("transformers/gpt2_tiny/input.json")).unwrap(),
    )
    .unwrap()["input_data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want: Vec<f64> = serde_json::from_str::<serde_json::Value>(
        &String::from_utf8(example("transformers/gpt2_tiny/onnxruntime_output_ts.json")).unwrap(),
    )
    .unwrap()["outputs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let got = &g.forward_f64(&ids)[g.output];
    assert_eq!(got.len(), want.len());
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-4, "max |error| {err}");
}

#[test]
fn exported_gelus_fuse_into_one_table_per_block() {
    // GPT-2's gelu_new (tanh form) from both exporters, BERT's exact GELU (erf form): one
    // GeluTanh or Gelu node per block, no tanh or erf left. The function is unchanged: the
    // gpt2_tiny and bert_tiny tests compare the imported graphs with ONNX Runtime.
    let count = |g: &zkgrad_model::Graph, want: ActKind| {
        g.nodes
            .iter()
            .filter(|n| matches!(&n.op, Op::Act { kind, .. } if *kind == want))
            .count()
    };
    for (model, fused, left) in [
        ("gpt2_tiny/model.onnx", ActKind::GeluTanh, ActKind::Tanh),
        ("gpt2_tiny/model_ts.onnx", ActKind::GeluTanh, ActKind::Tanh),
        ("nanogpt/model.onnx", ActKind::GeluTanh, ActKind::Tanh),
        ("bert_tiny/model.onnx", ActKind::Gelu, ActKind::Erf),
        ("bert_tiny/model_ts.onnx", ActKind::Gelu, ActKind::Erf),
    ] {
        let g = import(&example(&format!("transformers/{model}"))).unwrap();
        let blocks = if model.starts_with("nanogpt") { 5 } else { 2 };
        assert_eq!(count(&g, fused), blocks, "{model}");
        assert_eq!(count(&g, left), 0, "{model}");
    }
}
