mod common;
use common::*;

#[test]
fn seed_mlp_proves_and_verifies() {
    let s = setup(seed_mlp(), 12, 1);
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    // the quantized output tracks the float model
    let err = max_output_error(&s, &p);
    assert!(err < 0.02, "{err}");
}

#[test]
fn every_op_kind_proves_and_verifies() {
    let s = setup(all_ops(), 12, 2);
    check(&s, &prove_ok(&s).proof).unwrap();
}

#[test]
fn matrix_ops_prove_and_verify_and_match_the_float_model() {
    let s = setup(matrix_ops(), 16, 4);
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    let err = max_output_error(&s, &p);
    assert!(err < 0.01, "{err}");
}

#[test]
fn layout_ops_prove_and_verify_and_match_the_float_model() {
    let s = setup(layout_ops(), 16, 5);
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    let err = max_output_error(&s, &p);
    assert!(err < 1e-3, "{err}");
    // The layout really moved values: the output is not a prefix of the input.
    assert_ne!(&p.output[..4], &s.input[..4]);
}

#[test]
fn convolutions_prove_and_verify_and_match_the_float_model() {
    let s = setup(conv_ops(), 16, 6);
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    let err = max_output_error(&s, &p);
    assert!(err < 1e-3, "{err}");
}
