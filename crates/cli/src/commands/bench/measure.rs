//! Measuring one workload in this process: prove and verify times (medians), proof size, peak
//! RSS, the one-time weight commitment and the accuracy against the f64 model, as one JSON
//! object.

use crate::commands::phases;
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use zkgrad_circuit::QGraph;
use zkgrad_model::zoo;
use zkgrad_pcs::{PcsParams, Scheme};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::{verify, ProofFile};

use super::workloads::Workload;

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

pub fn run_one(w: &Workload, runs: usize, pcs: Option<Scheme>) -> Result<Value> {
    let step = PcsParams::for_scheme(pcs.unwrap_or(Scheme::Ligero));
    if let (Some(batch), Some(rank)) = (w.train, w.lora) {
        return run_lora(w, batch, rank, runs, &step);
    }
    if let Some(batch) = w.train {
        return run_train(w, batch, runs, &step);
    }
    let graph = (w.build)();
    let x = w
        .input
        .clone()
        .unwrap_or_else(|| zoo::uniform(99, graph.n_inputs()));
    let mut config = zkgrad_model::calibrate(&graph, std::slice::from_ref(&x), w.table_bits);
    let q = if w.per_tensor {
        let fracs =
            zkgrad_model::calibrate_per_tensor(&graph, std::slice::from_ref(&x), w.table_bits);
        config.act_frac = fracs.iter().copied().max().unwrap_or(0);
        zkgrad_model::quantize_with_scales(&graph, config, &fracs)
            .map_err(|e| anyhow!("{e}"))?
            .0
    } else {
        zkgrad_model::quantize(&graph, config).map_err(|e| anyhow!("{e}"))?
    };
    let params =
        PcsParams::for_scheme(pcs.unwrap_or_else(|| zkgrad_verifier::protocol::auto_scheme(&q)));
    let t = Instant::now();
    let model = CommittedModel::new(&q, &params);
    let commit_ms = t.elapsed().as_secs_f64() * 1e3;
    let xq = zkgrad_model::quantize_public_input(&q, &x).map_err(|e| anyhow!(e))?;
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
    // On a sequence: the proven next token at every position against the float model's.
    let cols = q.output_tensor().cols.max(1);
    let rows: Vec<f64> = proof.output.iter().map(|&v| v as f64 / s).collect();
    let positions = rows.len() / cols;
    let positions_agree = rows
        .chunks(cols)
        .zip(fy.chunks(cols))
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
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
        "positions": positions,
        "positions_top1_agree": positions_agree,
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
