mod common;
use common::*;
use zkgrad_verifier::verify;

#[test]
fn seed_mlp_proves_and_verifies() {
    let s = setup(seed_mlp(), 12, 1);
    let out = prove_ok(&s);
    let p = &out.proof;
    verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
    // the quantized output tracks the float model
    let float = s.graph.forward_f64(&s.input_f);
    let f_out = &float[s.graph.output];
    let scale = (1u64 << s.q.config.act_frac) as f64;
    for (q, f) in p.output.iter().zip(f_out) {
        assert!((*q as f64 / scale - f).abs() < 0.02, "{q} vs {f}");
    }
}

#[test]
fn every_op_kind_proves_and_verifies() {
    let s = setup(all_ops(), 12, 2);
    let out = prove_ok(&s);
    let p = &out.proof;
    verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
}

#[test]
fn matrix_ops_prove_and_verify_and_match_the_float_model() {
    let s = setup(matrix_ops(), 16, 4);
    let out = prove_ok(&s);
    let p = &out.proof;
    verify(
        &s.q,
        &p.weight_root,
        &p.input,
        &p.output,
        &p.body,
        &small_params(),
    )
    .unwrap();
    let float = s.graph.forward_f64(&s.input_f);
    let scale = (1u64 << s.q.config.act_frac) as f64;
    for (q, f) in p.output.iter().zip(&float[s.graph.output]) {
        assert!((*q as f64 / scale - f).abs() < 0.01, "{q} vs {f}");
    }
}
