//! `zkgrad bench`: prove time, verify time, proof bytes, peak RSS, one-time weight commitment
//! time and accuracy against the f64 model, per workload. Each workload runs in a child
//! process of its own so that its peak RSS is its own.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::{QConfig, QGraph};
use zkgrad_model::Graph;
use zkgrad_model::{zoo, zoo_cnn};
use zkgrad_pcs::{PcsParams, Scheme};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::{verify, ProofFile};

#[derive(Args)]
pub struct BenchArgs {
    /// Run only these workloads (comma-separated); default: all of the suite.
    #[arg(long, value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Which suite: "inference" (workload A and the dense nets), "training" (workload B: SGD
    /// steps), "cnn" (workload C at two precisions, and the real models) or "lora" (workload D:
    /// LoRA steps beside full SGD). For the training and LoRA suites the error column is the
    /// largest |weight after − f64 step| and the bracket the largest f64 update.
    #[arg(long, default_value = "inference")]
    pub suite: String,
    /// Timed repetitions of prove and verify (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Print one JSON object per workload instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the markdown table to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Commitment scheme: "auto" (the default: `zkgrad prove`'s choice for inference
    /// workloads, Ligero for training and LoRA steps), "ligero" or "whir".
    #[arg(long = "pcs", default_value = "auto", value_parser = crate::load::parse_scheme)]
    pub pcs: crate::load::PcsChoice,
    /// Internal: run one workload in this process.
    #[arg(long, hide = true)]
    pub child: bool,
}

struct Workload {
    name: String,
    what: String,
    build: Box<dyn Fn() -> Graph>,
    /// `Some(batch)`: one proven SGD step (lr 0.01) instead of inference.
    train: Option<usize>,
    /// Softmax cross-entropy (with one-hot targets) instead of MSE.
    xent: bool,
    /// Table width K (the precision setting: activations calibrated below 2^(K−1)).
    table_bits: u32,
    /// Inputs on which to compare the proven (quantized) top-1 class with the float model's.
    top1: usize,
    /// `Some(rank)`: a LoRA step (α = 2·rank) instead of full SGD.
    lora: Option<usize>,
}

/// An inference workload at the default precision.
fn inference(name: &str, what: &str, build: fn() -> Graph) -> Workload {
    Workload {
        name: name.into(),
        what: what.into(),
        build: Box::new(build),
        train: None,
        xent: false,
        table_bits: QConfig::DEFAULT_TABLE_BITS,
        top1: 0,
        lora: None,
    }
}

/// Workload D: LoRA steps of one linear layer `d_out × d_in` at batch 16, each beside the full
/// SGD step of the same layer (where that fits in memory).
fn lora_workloads() -> Vec<Workload> {
    let mut v = Vec::new();
    let shapes: [(usize, usize, usize, bool); 11] = [
        (768, 768, 16, true),
        (1024, 4096, 32, true),
        (1024, 1024, 24, true),
        // Full SGD commits W', the update's rounding and their range-check limbs (about seven
        // values per parameter): 4.2M parameters take 2.9 GB, so 67M (8192×8192) is beyond this
        // machine's 24 GB; only the LoRA step runs there.
        (4096, 4096, 64, true),
        (1024, 16384, 48, true),
        (8192, 8192, 128, false),
        (768, 768, 1, false),
        (768, 768, 2, false),
        (768, 768, 4, false),
        (768, 768, 8, false),
        (768, 768, 16, false),
    ];
    for (k, &(dout, din, r, full)) in shapes.iter().enumerate() {
        let build = move || zoo::mlp(&[din, dout], ActKind::Relu, 40 + k as u64);
        let tag = if k >= 6 { "-ranks" } else { "" };
        v.push(Workload {
            name: format!("lora-{dout}x{din}-r{r}{tag}"),
            what: format!(
                "D: LoRA step, {dout}×{din}, rank {r}, α {}, batch 16",
                2 * r
            ),
            build: Box::new(build),
            train: Some(16),
            xent: false,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: Some(r),
        });
        if full {
            v.push(Workload {
                name: format!("sgd-{dout}x{din}"),
                what: format!("D: full SGD step, {dout}×{din}, batch 16"),
                build: Box::new(build),
                train: Some(16),
                xent: false,
                table_bits: QConfig::DEFAULT_TABLE_BITS,
                top1: 0,
                lora: None,
            });
        }
    }
    v
}

/// The coarse precision setting of the CNN suite: tables of 2^12 (activations near 2^-8,
/// weights at 2^-12); the fine one is the default, tables of 2^20.
const COARSE_TABLE_BITS: u32 = 12;

fn cnn_workloads() -> Vec<Workload> {
    let mut v = Vec::new();
    for (name, what, build) in zoo_cnn::suite() {
        for (tag, bits) in [
            ("fine", QConfig::DEFAULT_TABLE_BITS),
            ("coarse", COARSE_TABLE_BITS),
        ] {
            let mut w = inference(&format!("{name}@{tag}"), what, build);
            w.table_bits = bits;
            v.push(w);
        }
    }
    for (name, what, build) in zoo_cnn::real_models() {
        let mut w = inference(name, what, build);
        w.top1 = 100;
        v.push(w);
    }
    v
}

fn training_workloads() -> Vec<Workload> {
    let seed = || zoo::seed_mlp(0);
    vec![
        Workload {
            name: "sgd-seed".into(),
            what: "B: one SGD step of the seed MLP, batch 1".into(),
            build: Box::new(seed),
            train: Some(1),
            xent: false,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: None,
        },
        Workload {
            name: "sgd-seed-b8".into(),
            what: "B: seed MLP step, batch 8".into(),
            build: Box::new(seed),
            train: Some(8),
            xent: false,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: None,
        },
        Workload {
            name: "sgd-seed-b64".into(),
            what: "B: seed MLP step, batch 64".into(),
            build: Box::new(seed),
            train: Some(64),
            xent: false,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: None,
        },
        Workload {
            name: "sgd-784-256-256-10".into(),
            what: "B: MLP 784-256-256-10 (ReLU), batch 32, MSE".into(),
            build: Box::new(|| zoo::mlp(&[784, 256, 256, 10], ActKind::Relu, 6)),
            train: Some(32),
            xent: false,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: None,
        },
        Workload {
            name: "sgd-784-256-256-10-xent".into(),
            what: "B: MLP 784-256-256-10 (ReLU), batch 32, softmax cross-entropy".into(),
            build: Box::new(|| zoo::mlp(&[784, 256, 256, 10], ActKind::Relu, 6)),
            train: Some(32),
            xent: true,
            table_bits: QConfig::DEFAULT_TABLE_BITS,
            top1: 0,
            lora: None,
        },
    ]
}

fn workloads() -> Vec<Workload> {
    vec![
        inference(
            "seed-mlp",
            "A: Linear(5,8)-ReLU-Linear(8,8)-Sigmoid-Linear(8,2), 138 params",
            || zoo::seed_mlp(0),
        ),
        inference("linear-64", "Linear(64,64), 4.2k params", || {
            zoo::mlp(&[64, 64], ActKind::Relu, 1)
        }),
        inference("linear-1024", "Linear(1024,1024), 1.05M params", || {
            zoo::mlp(&[1024, 1024], ActKind::Relu, 2)
        }),
        inference(
            "dense-1m",
            "MLP 784-1024-256-10, ReLU, 1.07M params",
            || zoo::mlp(&[784, 1024, 256, 10], ActKind::Relu, 3),
        ),
        inference("linear-4096x1024", "Linear(4096,1024), 4.2M params", || {
            zoo::mlp(&[4096, 1024], ActKind::Relu, 4)
        }),
        inference(
            "dense-4m",
            "MLP 1024-2048-1024-10, ReLU, 4.2M params",
            || zoo::mlp(&[1024, 2048, 1024, 10], ActKind::Relu, 5),
        ),
    ]
}

/// The bracketed magnitude of a row: two decimals, or two significant digits when small.
fn scale_figure(v: f64) -> String {
    if v.abs() >= 0.01 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Where a proof's time went, in milliseconds.
fn phases(t: &zkgrad_prover::ProveTimings) -> Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    json!({
        "forward_ms": ms(t.forward),
        "commit_ms": ms(t.commit),
        "lookups_ms": ms(t.lookups),
        "layers_ms": ms(t.layers),
        "openings_ms": ms(t.openings),
        "bytes_commitments": t.bytes[0],
        "bytes_lookups": t.bytes[1],
        "bytes_layers": t.bytes[2],
        "bytes_witness_opening": t.bytes[3],
        "bytes_weight_openings": t.bytes[4],
    })
}

/// Proves and verifies `runs` times; the median times, the last proof and its bytes.
fn measure(
    q: &QGraph,
    model: &CommittedModel,
    public: &[i64],
    params: &PcsParams,
    runs: usize,
) -> Result<(f64, f64, zkgrad_prover::ProveOutput, Vec<u8>)> {
    let mut prove_ms = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = prove(q, model, public, params).map_err(|e| anyhow!("{e}"))?;
        prove_ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(out);
    }
    let out = last.ok_or_else(|| anyhow!("no proof"))?;
    let bytes = out.proof.to_bytes();
    let mut verify_ms = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let p = ProofFile::from_bytes(&bytes).map_err(|e| anyhow!("{e}"))?;
        verify(q, &model.root(), &p.input, &p.output, &p.body, params)
            .map_err(|e| anyhow!("verification failed: {e}"))?;
        verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok((median(prove_ms), median(verify_ms), out, bytes))
}

/// A step circuit's one-time weight commitment (timed), then `measure` on the batch `x`, `y`.
fn commit_and_measure(
    q: &QGraph,
    x: &[f64],
    y: &[f64],
    runs: usize,
    params: &PcsParams,
) -> Result<(f64, f64, f64, zkgrad_prover::ProveOutput, Vec<u8>)> {
    let t = Instant::now();
    let model = CommittedModel::new(q, params);
    let commit_ms = t.elapsed().as_secs_f64() * 1e3;
    let public: Vec<i64> = x
        .iter()
        .chain(y)
        .map(|&v| {
            zkgrad_model::quantize_input(v, q.config.act_frac).ok_or_else(|| anyhow!("bad input"))
        })
        .collect::<Result<_>>()?;
    let (prove_ms, verify_ms, out, bytes) = measure(q, &model, &public, params, runs)?;
    Ok((commit_ms, prove_ms, verify_ms, out, bytes))
}

/// A training step's fidelity to the f64 step: the largest |weight after − f64 weight after|,
/// the largest f64 update, and how many updates larger than one quantum the proven step keeps
/// (nonzero, with the f64 update's sign).
struct Fidelity {
    scale: f64,
    kept: usize,
    moved: usize,
    max_err: f64,
    max_upd: f64,
}

impl Fidelity {
    fn new(weight_frac: u32) -> Self {
        Self {
            scale: (1u64 << weight_frac) as f64,
            kept: 0,
            moved: 0,
            max_err: 0.0,
            max_upd: 0.0,
        }
    }
    /// One parameter: quantized before and after the proven step, f64 before and after.
    fn add(&mut self, q_before: i64, q_after: i64, f_before: f64, f_after: f64) {
        let df = f_after - f_before;
        let dq = (q_after - q_before) as f64 / self.scale;
        self.max_err = self
            .max_err
            .max((q_after as f64 / self.scale - f_after).abs());
        self.max_upd = self.max_upd.max(df.abs());
        if df.abs() > 1.0 / self.scale {
            self.moved += 1;
            if dq != 0.0 && dq.signum() == df.signum() {
                self.kept += 1;
            }
        }
    }
}

fn run_train(w: &Workload, batch: usize, runs: usize, params: &PcsParams) -> Result<Value> {
    use zkgrad_model::train::{parameter_updates, sgd_step, sgd_step_f64, SgdSpec, TrainConfig};
    let graph = (w.build)();
    let (n_in, n_out) = (
        graph.n_inputs(),
        graph.shape(graph.output).iter().product::<usize>(),
    );
    let x = zoo::uniform(7, batch * n_in);
    let y: Vec<f64> = if w.xent {
        (0..batch)
            .flat_map(|b| (0..n_out).map(move |c| if c == (b * 7) % n_out { 1.0 } else { 0.0 }))
            .collect()
    } else {
        zoo::uniform(8, batch * n_out)
            .iter()
            .map(|v| v * 0.5)
            .collect()
    };
    let rows: Vec<Vec<f64>> = x.chunks(n_in).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&graph, &rows, 0);
    let loss = if w.xent {
        zkgrad_model::train::Loss::SoftmaxCrossEntropy
    } else {
        zkgrad_model::train::Loss::Mse
    };
    let spec = SgdSpec {
        batch,
        lr: 0.01,
        loss,
    };
    let q = sgd_step(&graph, &spec, cfg).map_err(|e| anyhow!("{e}"))?;
    let (commit_ms, prove_ms, verify_ms, out, bytes) =
        commit_and_measure(&q, &x, &y, runs, params)?;
    // Fidelity against f64 SGD: updates kept, largest deviation of the new weights.
    let (after, _) = sgd_step_f64(&graph, &x, &y, &spec);
    let mut fid = Fidelity::new(cfg.weight_frac);
    for p in parameter_updates(&graph, &after, &q, &out.witness) {
        fid.add(p.quant_before, p.quant_after, p.float_before, p.float_after);
    }
    Ok(json!({
        "workload": w.name,
        "what": w.what,
        "params": graph.n_params(),
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "proof_bytes": bytes.len(),
        "commit_ms": commit_ms,
        "peak_rss_mb": peak_rss_mb(),
        "max_abs_error": fid.max_err,
        "max_abs_output": fid.max_upd,
        "prove_phases": phases(&out.timings),
        "updates_kept": fid.kept,
        "updates_moved": fid.moved,
        "act_frac": cfg.act_frac,
        "pcs": params.scheme().name(),
        "weight_frac": cfg.weight_frac,
        "table_bits": cfg.table_bits,
        "runs": runs.max(1),
    }))
}

fn run_lora(
    w: &Workload,
    batch: usize,
    rank: usize,
    runs: usize,
    params: &PcsParams,
) -> Result<Value> {
    use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
    use zkgrad_model::train::{Loss, SgdSpec, TrainConfig};
    let base = (w.build)();
    let lora = LoraSpec {
        rank,
        alpha: 2.0 * rank as f64,
        targets: vec![],
    };
    // B drawn small rather than 0, so that both adapters have a gradient at this step.
    let (adapted, adapters) = with_adapters(&base, &lora, 3, 0.01).map_err(|e| anyhow!("{e}"))?;
    let (n_in, n_out) = (
        base.n_inputs(),
        base.shape(base.output).iter().product::<usize>(),
    );
    let x = zoo::uniform(7, batch * n_in);
    let y: Vec<f64> = zoo::uniform(8, batch * n_out)
        .iter()
        .map(|v| v * 0.5)
        .collect();
    let rows: Vec<Vec<f64>> = x.chunks(n_in).map(|c| c.to_vec()).collect();
    let cfg = TrainConfig::calibrate(&adapted, &rows, 0);
    let spec = SgdSpec {
        batch,
        lr: 0.01,
        loss: Loss::Mse,
    };
    let q = lora_step(&adapted, &adapters, &lora, &spec, cfg).map_err(|e| anyhow!("{e}"))?;
    let (commit_ms, prove_ms, verify_ms, out, bytes) =
        commit_and_measure(&q, &x, &y, runs, params)?;
    let adapter_params: usize = q
        .updates()
        .iter()
        .map(|&(_, wi)| q.weights[wi].data.len())
        .sum();
    // Fidelity against the f64 LoRA step: the updated adapters' largest deviation, and how many
    // updates larger than one quantum the proof keeps (nonzero, same sign).
    let (after, _) = zkgrad_model::lora::lora_step_f64(&adapted, &adapters, &x, &y, &spec);
    let float_of = |name: &str| {
        after.nodes.iter().find_map(|n| match &n.op {
            zkgrad_model::Op::Linear { w, .. } if format!("{}.weight", n.name) == name => Some(w),
            _ => None,
        })
    };
    let mut fid = Fidelity::new(cfg.weight_frac);
    for (node, wi) in q.updates() {
        let wt = &q.weights[wi];
        let f_after = float_of(&wt.name).ok_or_else(|| anyhow!("no f64 adapter {}", wt.name))?;
        for ((before, after_q), f) in wt
            .data
            .iter()
            .zip(&out.witness.values[node + 1])
            .zip(f_after)
        {
            // The f64 step starts from the quantized adapters.
            fid.add(*before, *after_q, *before as f64 / fid.scale, *f);
        }
    }
    Ok(json!({
        "workload": w.name,
        "what": w.what,
        "params": adapter_params,
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "proof_bytes": bytes.len(),
        "commit_ms": commit_ms,
        "peak_rss_mb": peak_rss_mb(),
        "max_abs_error": fid.max_err,
        "max_abs_output": fid.max_upd,
        "updates_kept": fid.kept,
        "updates_moved": fid.moved,
        "prove_phases": phases(&out.timings),
        "act_frac": cfg.act_frac,
        "pcs": params.scheme().name(),
        "weight_frac": cfg.weight_frac,
        "table_bits": cfg.table_bits,
        "runs": runs.max(1),
        "top1_inputs": 0,
    }))
}

fn run_one(w: &Workload, runs: usize, pcs: Option<Scheme>) -> Result<Value> {
    let step = PcsParams::for_scheme(pcs.unwrap_or(Scheme::Ligero));
    if let (Some(batch), Some(rank)) = (w.train, w.lora) {
        return run_lora(w, batch, rank, runs, &step);
    }
    if let Some(batch) = w.train {
        return run_train(w, batch, runs, &step);
    }
    let graph = (w.build)();
    let x = zoo::uniform(99, graph.n_inputs());
    let config = zkgrad_model::calibrate(&graph, std::slice::from_ref(&x), w.table_bits);
    let q = zkgrad_model::quantize(&graph, config).map_err(|e| anyhow!("{e}"))?;
    let params =
        PcsParams::for_scheme(pcs.unwrap_or_else(|| zkgrad_verifier::protocol::auto_scheme(&q)));
    let t = Instant::now();
    let model = CommittedModel::new(&q, &params);
    let commit_ms = t.elapsed().as_secs_f64() * 1e3;
    let xq: Vec<i64> = x
        .iter()
        .map(|&v| {
            zkgrad_model::quantize_input(v, config.act_frac).ok_or_else(|| anyhow!("bad input"))
        })
        .collect::<Result<_>>()?;
    let (prove_ms, verify_ms, out, bytes) = measure(&q, &model, &xq, &params, runs)?;
    let phases = phases(&out.timings);
    let proof = out.proof;
    let float = graph.forward_f64(&x);
    let fy = &float[graph.output];
    let s = (1u64 << q.output_tensor().frac) as f64;
    let max_err = proof
        .output
        .iter()
        .zip(fy)
        .map(|(a, b)| (*a as f64 / s - b).abs())
        .fold(0.0, f64::max);
    let max_abs = fy.iter().map(|v| v.abs()).fold(0.0, f64::max);
    // Top-1 agreement of the proven (quantized) output with the float model on further inputs.
    let argmax = |v: &[f64]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };
    let (mut agree, mut top1_err) = (0usize, 0.0f64);
    for k in 0..w.top1 {
        let x = zoo::uniform(1000 + k as u64, graph.n_inputs());
        let xq: Vec<i64> = x
            .iter()
            .map(|&v| {
                zkgrad_model::quantize_input(v, config.act_frac)
                    .ok_or_else(|| anyhow!("input {k}: {v} cannot be represented"))
            })
            .collect::<Result<_>>()?;
        let wit = zkgrad_model::forward(&q, &xq).map_err(|e| anyhow!("input {k}: {e}"))?;
        let yq: Vec<f64> = wit.values[q.output].iter().map(|&v| v as f64 / s).collect();
        let yf = graph.forward_f64(&x)[graph.output].clone();
        agree += usize::from(argmax(&yq) == argmax(&yf));
        top1_err = yq
            .iter()
            .zip(&yf)
            .map(|(a, b)| (a - b).abs())
            .fold(top1_err, f64::max);
    }
    Ok(json!({
        "top1_inputs": w.top1,
        "top1_agree": agree,
        "top1_max_logit_error": top1_err,
        "workload": w.name,
        "what": w.what,
        "params": graph.n_params(),
        "prove_ms": prove_ms,
        "verify_ms": verify_ms,
        "proof_bytes": bytes.len(),
        "commit_ms": commit_ms,
        "peak_rss_mb": peak_rss_mb(),
        "max_abs_error": max_err,
        "max_abs_output": max_abs,
        "act_frac": config.act_frac,
        "pcs": params.scheme().name(),
        "weight_frac": config.weight_frac,
        "table_bits": config.table_bits,
        "runs": runs.max(1),
        "prove_phases": phases,
    }))
}

pub fn run(a: BenchArgs) -> Result<()> {
    let all = match a.suite.as_str() {
        "inference" => workloads(),
        "training" => training_workloads(),
        "cnn" => cnn_workloads(),
        "lora" => lora_workloads(),
        other => bail!("unknown suite {other:?}; available: inference, training, cnn, lora"),
    };
    let chosen: Vec<&Workload> = if a.workload.is_empty() {
        all.iter().collect()
    } else {
        a.workload
            .iter()
            .map(|n| {
                all.iter().find(|w| w.name == *n).ok_or_else(|| {
                    anyhow!(
                        "unknown workload {n}; available: {}",
                        all.iter()
                            .map(|w| w.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    if a.child {
        let [w] = chosen.as_slice() else {
            bail!("--child runs exactly one workload")
        };
        out!("{}", run_one(w, a.runs, a.pcs.0)?);
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the zkgrad binary")?;
    let mut rows = Vec::new();
    for w in chosen {
        eprintln!("bench {} ({}) ...", w.name, w.what);
        let mut cmd = Command::new(&exe);
        cmd.args([
            "bench",
            "--child",
            "--suite",
            &a.suite,
            "--workload",
            &w.name,
            "--runs",
            &a.runs.to_string(),
        ]);
        if let Some(s) = a.pcs.0 {
            cmd.args(["--pcs", s.name()]);
        }
        let out = cmd.output().context("cannot run the benchmark child")?;
        if !out.status.success() {
            bail!(
                "workload {} failed: {}",
                w.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let v: Value =
            serde_json::from_slice(&out.stdout).context("benchmark child printed no JSON")?;
        if a.json {
            out!("{v}");
        }
        rows.push(v);
    }
    let mut table = String::from(
        "| workload | params | prove | verify | proof | peak RSS | weight commit (once) | max abs error (output scale) | precision |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in &rows {
        table += &format!(
            "| {} | {} | {:.1} ms | {:.2} ms | {:.1} KiB | {:.0} MB | {:.1} ms | {:.1e} ({}) | act 2^-{}, w 2^-{}, tables 2^{}, {} |\n",
            v["workload"].as_str().unwrap_or("?"),
            v["params"],
            v["prove_ms"].as_f64().unwrap_or(f64::NAN),
            v["verify_ms"].as_f64().unwrap_or(f64::NAN),
            v["proof_bytes"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            v["commit_ms"].as_f64().unwrap_or(f64::NAN),
            v["max_abs_error"].as_f64().unwrap_or(f64::NAN),
            scale_figure(v["max_abs_output"].as_f64().unwrap_or(f64::NAN)),
            v["act_frac"], v["weight_frac"], v["table_bits"],
            v["pcs"].as_str().unwrap_or("ligero"),
        );
    }
    let real: Vec<String> = rows
        .iter()
        .filter(|v| v["top1_inputs"].as_u64().unwrap_or(0) > 0)
        .map(|v| {
            format!(
                "{} {}/{} (max logit error {:.1e})",
                v["workload"].as_str().unwrap_or("?"),
                v["top1_agree"],
                v["top1_inputs"],
                v["top1_max_logit_error"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    if !real.is_empty() {
        table += &format!(
            "\ntop-1 class of the proven output equal to the float model's: {}\n",
            real.join(", ")
        );
    }
    if a.suite == "training" || a.suite == "lora" {
        table += "\nupdates kept (parameters whose f64 update exceeds one quantum and whose proven update has its sign): ";
        let parts: Vec<String> = rows
            .iter()
            .map(|v| {
                format!(
                    "{} {}/{}",
                    v["workload"].as_str().unwrap_or("?"),
                    v["updates_kept"],
                    v["updates_moved"]
                )
            })
            .collect();
        table += &parts.join(", ");
        table += "\n";
    }
    if !a.json {
        print!("{table}");
    }
    if let Some(p) = &a.out {
        std::fs::write(p, &table).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
