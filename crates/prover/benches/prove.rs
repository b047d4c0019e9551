//! Criterion benchmarks of prove and verify on workload A and a 1M-parameter layer.
//! `cargo bench -p zkgrad-prover`; CI runs `cargo bench -p zkgrad-prover -- --test` as a smoke run.

use criterion::{criterion_group, criterion_main, Criterion};
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QConfig;
use zkgrad_model::quantize_input;
use zkgrad_model::{zoo, Graph};
use zkgrad_pcs::PcsParams;
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::verify;

fn bench_model(c: &mut Criterion, name: &str, graph: Graph) {
    let x = zoo::uniform(99, graph.n_inputs());
    let cfg = zkgrad_model::calibrate(
        &graph,
        std::slice::from_ref(&x),
        QConfig::DEFAULT_TABLE_BITS,
    );
    let q = zkgrad_model::quantize(&graph, cfg).expect("quantize");
    let params = PcsParams::default();
    let model = CommittedModel::new(&q, &params);
    let xq: Vec<i64> = x
        .iter()
        .map(|&v| quantize_input(v, cfg.act_frac).expect("input"))
        .collect();
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.bench_function("prove", |b| {
        b.iter(|| prove(&q, &model, &xq, &params).expect("prove"))
    });
    let p = prove(&q, &model, &xq, &params).expect("prove").proof;
    g.bench_function("verify", |b| {
        b.iter(|| {
            verify(&q, &p.weight_root, &p.input, &p.output, &p.body, &params).expect("verify")
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_model(c, "seed-mlp", zoo::seed_mlp(0));
    bench_model(c, "linear-1024", zoo::mlp(&[1024, 1024], ActKind::Relu, 2));
}

criterion_group!(all, benches);
criterion_main!(all);
