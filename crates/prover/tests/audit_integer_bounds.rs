//! The integer bounds of every rounding and range check of the suite's circuits, walked:
//! each relation checked mod p is an integer relation (docs/SECURITY.md, "Uniqueness").

mod common;
use common::*;
use zkgrad_circuit::QGraph;
use zkgrad_circuit::{QOp, TensorKind};
use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};

// The integer bounds of every rounding and range check, walked.

/// Every value below 2^62 (so its field element is the integer), every rounding with
/// `shift + bits ≤ 62`, every range check at most 62 bits wide.
fn assert_integer_bounds(q: &QGraph, what: &str) {
    q.check_relations().unwrap();
    // The validator accepts what the builders build (with the weights unknown).
    QGraph::from_description(&q.describe()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let bounds = q.value_bounds();
    for (t, b) in bounds.iter().enumerate() {
        let b = b.unwrap_or_else(|| panic!("{what}: tensor {t} has no bound"));
        assert!(
            b < 1u128 << 62,
            "{what}: tensor {t} ({}) may reach {b}",
            q.tensors[t].name
        );
    }
    let mut roundings = 0;
    for (ni, n) in q.nodes.iter().enumerate() {
        if let QOp::Requant { shift, .. } = n.op {
            if q.tensors[ni + 1].kind != TensorKind::Virtual {
                let bits = q.proven_bits(ni + 1).unwrap();
                assert!(
                    shift + bits <= 62,
                    "{what}: {} by {shift} of {bits} bits",
                    n.name
                );
            }
            roundings += 1;
        }
        if let QOp::Update { u, bits, .. } = n.op {
            assert!(bits <= 62);
            let QOp::Requant { shift, .. } = q.nodes[u - 1].op else {
                panic!("{what}: u is not a rounding")
            };
            match q.tensors[u].kind {
                TensorKind::Committed => assert!(shift + q.tensors[u].bits <= 62),
                TensorKind::Virtual => assert!(shift + bits <= 62, "{what}: virtual u"),
                k => panic!("{what}: u is {k:?}"),
            }
        }
    }
    for l in q.lookups() {
        let table = q.used_tables()[l.table].1;
        assert!(table.log_size(q.config.table_bits) <= 62);
    }
    for d in q.decompositions() {
        assert!(d.bits <= 62);
    }
    assert!(roundings > 0, "{what}: no rounding walked");
}

#[test]
fn every_rounding_and_range_check_holds_over_the_integers() {
    let base = seed_mlp();
    let x = rnd(7, 5);
    let cfg = zkgrad_model::calibrate(&base, std::slice::from_ref(&x), 20);
    assert_integer_bounds(&zkgrad_model::quantize(&base, cfg).unwrap(), "seed MLP");
    for lr in [0.1, 1e-4, 1e-7] {
        for loss in [Loss::Mse, Loss::SoftmaxCrossEntropy] {
            let spec = SgdSpec { batch: 4, lr, loss };
            let tc = TrainConfig::calibrate(&base, std::slice::from_ref(&x), 0);
            let q = sgd_step(&base, &spec, tc).unwrap();
            assert_integer_bounds(&q, &format!("SGD {lr} {loss:?}"));
            let lora = LoraSpec {
                rank: 2,
                alpha: 4.0,
                targets: vec![],
            };
            let (adapted, ads) = with_adapters(&base, &lora, 5, 0.2).unwrap();
            let q = lora_step(&adapted, &ads, &lora, &spec, tc).unwrap();
            assert_integer_bounds(&q, &format!("LoRA {lr} {loss:?}"));
        }
    }
    let lenet = zkgrad_model::zoo_cnn::lenet5();
    let samples = vec![rnd(9, lenet.n_inputs())];
    let cfg = zkgrad_model::calibrate(&lenet, &samples, 12);
    assert_integer_bounds(&zkgrad_model::quantize(&lenet, cfg).unwrap(), "LeNet-5");
    let (_, q, _) = softmax_layer(600);
    assert_integer_bounds(&q, "softmax 600");
}

// ---------------------------------------------------------------------------------------------
