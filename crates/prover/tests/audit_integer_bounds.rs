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

/// A Gemm's bound is `max_r Σ_c |W[r, c]| · bound(x) + max |bias| · 2^shift`, exactly as the
/// naive u128 sums give it: also where a row's sum of |W| passes `u64::MAX` (the walk sums in
/// u64 only where `len · max |W|` fits), so a huge weight cannot slip under a wrapped sum.
#[test]
fn weight_row_sums_past_u64_not_wrapped() {
    let x = rnd(7, 5);
    let base = seed_mlp();
    let cfg = zkgrad_model::calibrate(&base, std::slice::from_ref(&x), 20);
    let honest = zkgrad_model::quantize(&base, cfg).unwrap();
    let mut huge = honest.clone();
    for w in &mut huge.weights {
        for (i, v) in w.data.iter_mut().enumerate() {
            *v = match i % 3 {
                0 => i64::MIN,
                1 => i64::MAX,
                _ => -(1 << 62),
            };
        }
    }
    for (q, what) in [(&honest, "honest"), (&huge, "huge")] {
        let bounds = q.value_bounds();
        let mut gemms = 0;
        for (ni, n) in q.nodes.iter().enumerate() {
            let QOp::Gemm {
                x,
                w,
                bias,
                bias_shift,
            } = n.op
            else {
                continue;
            };
            let wt = &q.weights[w];
            let rows = wt
                .data
                .chunks(wt.cols)
                .map(|r| r.iter().map(|v| v.unsigned_abs() as u128).sum::<u128>())
                .max()
                .unwrap();
            if what == "huge" {
                assert!(rows > u64::MAX as u128, "{what}: row sums fit u64");
            }
            let b = bias.map_or(0, |b| {
                let m = q.weights[b]
                    .data
                    .iter()
                    .map(|v| v.unsigned_abs() as u128)
                    .max();
                m.unwrap() << bias_shift.min(60)
            });
            let expected = rows
                .saturating_mul(bounds[x].unwrap())
                .saturating_add(b)
                .min(1 << 126);
            assert_eq!(bounds[ni + 1], Some(expected), "{what}: {}", n.name);
            gemms += 1;
        }
        assert!(gemms > 0);
    }
    // The huge weights' products may wrap: refused.
    assert!(huge.check_no_wrap().is_err());
}
