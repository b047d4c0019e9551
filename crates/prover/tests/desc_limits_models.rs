//! Issue 13: every built-in model and training step describes a circuit within the verifier's
//! default limits (`DescLimits`), with room to spare: the sizes docs/SECURITY.md ("Limits on
//! what a proof may describe") quotes. The largest steps take long to build in a debug build:
//! they are measured by the ignored test (`--release --ignored --nocapture`).

use zkgrad_circuit::describe::{DescLimits, DescSizes};
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_model::{zoo, zoo_cnn, Graph};

fn inference(g: &Graph) -> QGraph {
    let x = zoo::uniform(99, g.n_inputs());
    let config = zkgrad_model::calibrate(g, std::slice::from_ref(&x), 20);
    zkgrad_model::quantize(g, config).expect("quantizes")
}

fn sgd(g: &Graph, batch: usize) -> QGraph {
    use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
    let x = zoo::uniform(7, batch * g.n_inputs());
    let rows: Vec<Vec<f64>> = x.chunks(g.n_inputs()).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(g, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.01,
        loss: Loss::Mse,
    };
    sgd_step(g, &spec, cfg).expect("builds")
}

fn lora(g: &Graph, batch: usize, rank: usize) -> QGraph {
    use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
    use zkgrad_model::train::{Loss, SgdSpec, TrainConfig};
    let spec_l = LoraSpec {
        rank,
        alpha: 2.0 * rank as f64,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(g, &spec_l, 3, 0.01).expect("adapters");
    let x = zoo::uniform(7, batch * g.n_inputs());
    let rows: Vec<Vec<f64>> = x.chunks(g.n_inputs()).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&adapted, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.01,
        loss: Loss::Mse,
    };
    lora_step(&adapted, &adapters, &spec_l, &spec, cfg).expect("builds")
}

fn log2(n: usize) -> f64 {
    (n.max(1) as f64).log2()
}

/// Checks `q` decodes within the default limits, and within a quarter of each size limit
/// (the margin docs/SECURITY.md states); prints its sizes.
fn check(name: &str, q: &QGraph) -> DescSizes {
    let s = q.declared_sizes();
    eprintln!(
        "{name}: {} nodes, {} weights, {} tables, largest 2^{:.2}, weights 2^{:.2}, total 2^{:.2}",
        s.nodes,
        s.weights,
        s.tables,
        log2(s.max_tensor_elements),
        log2(s.weight_elements),
        log2(s.total_elements)
    );
    let d = DescLimits::default();
    assert!(s.within(&d), "{name}: {s:?} over {d:?}");
    QGraph::from_description(&q.describe()).unwrap_or_else(|e| panic!("{name}: {e}"));
    s
}

#[test]
fn built_in_models_describe_circuits_within_the_default_limits() {
    for (name, _, build) in zoo_cnn::suite().into_iter().chain(zoo_cnn::real_models()) {
        let s = check(name, &inference(&build()));
        let d = DescLimits::default();
        assert!(
            s.total_elements <= d.max_total_elements / 4,
            "{name}: {s:?}"
        );
        assert!(
            s.weight_elements <= d.max_weight_elements / 4,
            "{name}: {s:?}"
        );
    }
    check("seed-mlp", &inference(&zoo::seed_mlp(0)));
    check(
        "dense-4m",
        &inference(&zoo::mlp(&[1024, 2048, 1024, 10], ActKind::Relu, 5)),
    );
    check("sgd-seed-b64", &sgd(&zoo::seed_mlp(0), 64));
    check(
        "sgd-784-256-256-10",
        &sgd(&zoo::mlp(&[784, 256, 256, 10], ActKind::Relu, 6), 32),
    );
    check(
        "lora-768x768-r16",
        &lora(&zoo::mlp(&[768, 768], ActKind::Relu, 40), 16, 16),
    );
}

#[test]
#[ignore = "builds 16M- and 67M-parameter steps: run with --release"]
fn largest_training_steps_describe_circuits_within_the_default_limits() {
    let d = DescLimits::default();
    let big = zoo::mlp(&[4096, 4096], ActKind::Relu, 43);
    let s = check("sgd-4096x4096", &sgd(&big, 16));
    assert!(s.total_elements <= d.max_total_elements / 3, "{s:?}");
    check("lora-4096x4096-r64", &lora(&big, 16, 64));
    check(
        "lora-1024x16384-r48",
        &lora(&zoo::mlp(&[16384, 1024], ActKind::Relu, 44), 16, 48),
    );
    let s = check(
        "lora-8192x8192-r128",
        &lora(&zoo::mlp(&[8192, 8192], ActKind::Relu, 45), 16, 128),
    );
    assert!(s.weight_elements <= d.max_weight_elements / 3, "{s:?}");
}
