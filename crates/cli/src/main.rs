//! `zkgrad`: prove and verify neural-network inference. A thin binary over the libraries.
//!
//! Exit codes: 0 success (for `verify`: the proof is valid); 1 the proof is invalid; 2 the input
//! was unusable (missing or malformed file, unsupported model, bad arguments). Results go to
//! stdout, progress and summaries to stderr.

/// `println!` that ignores a closed stdout (`zkgrad … | head` must not panic).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod bench;
mod cache;
mod data;
mod files;
mod input;
mod load;
mod train;
mod verify_run;
mod weights_file;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::{model_commitment, verify_with_commitment, verify_with_model, ProofFile};

use cache::Mode;
use load::{LoadedModel, Precision, Statement};

#[derive(Parser)]
#[command(
    name = "zkgrad",
    version,
    about = "Succinct proofs of neural-network inference, checked in milliseconds, with no trusted setup"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a model on an input and prove the result.
    Prove(ProveArgs),
    /// Check a proof (exit 0: valid, 1: invalid, 2: unusable input).
    Verify(VerifyArgs),
    /// Print a model's commitment, its public fingerprint.
    Commit(CommitArgs),
    /// Print a model's graph, shapes, parameter count and what zkgrad supports.
    Inspect(InspectArgs),
    /// Measure prove/verify time, proof size, peak memory and accuracy on the built-in workloads.
    Bench(bench::BenchArgs),
    /// Train with SGD, optionally proving every step, into a run directory.
    Train(train::TrainArgs),
    /// Check a run directory against a training statement: every step's proof, the chain of
    /// weight commitments, the manifest and the final files.
    VerifyRun(verify_run::VerifyRunArgs),
    /// Write a LoRA run's merged model (W + (α/r)·B·A) as ONNX and print its commitment (does not
    /// verify the run: verify-run --merged does).
    MergeLora(verify_run::MergeLoraArgs),
}

#[derive(Args)]
struct ProveArgs {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// The input: {"input_data": [[...]]}, a JSON array, or a .npy file.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the proof.
    #[arg(long)]
    proof: PathBuf,
    /// Also write the dequantized output as {"output_data": [[...]]}.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Also print, per layer, the largest error of the proven (quantized) values against the
    /// float model (stderr; with --json, as "report").
    #[arg(long)]
    report: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: load::SchemeChoice,
}

/// `verify --model` checks the statement its flags describe, with `prove`'s defaults: the
/// circuit is built as `prove` builds it with the same precision flags, and the scheme chosen
/// as `prove` chooses it. A proof of another precision or scheme is invalid.
#[derive(Args)]
struct VerifyArgs {
    /// The ONNX model the proof claims to be about.
    #[arg(
        long,
        conflicts_with = "commitment",
        required_unless_present = "commitment"
    )]
    model: Option<PathBuf>,
    /// The model commitment (64 hex digits, from `zkgrad commit`) instead of the model file: it
    /// binds the circuit, precision and scheme itself, so no precision or --pcs flag goes with it.
    #[arg(long, conflicts_with_all = ["table_bits", "act_frac", "weight_frac", "calibration", "scheme", "no_cache"])]
    commitment: Option<String>,
    /// The proof file.
    #[arg(long)]
    proof: PathBuf,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Recompute the model's weight commitment (and calibration) instead of reading the cache.
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: load::SchemeChoice,
}

#[derive(Args)]
struct CommitArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: load::SchemeChoice,
}

#[derive(Args)]
struct InspectArgs {
    #[arg(long)]
    model: PathBuf,
}

/// How a command failed.
enum Failure {
    /// The proof is invalid (exit 1).
    Invalid(String),
    /// The input was unusable (exit 2).
    Unusable(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Unusable(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Prove(a) => cmd_prove(a).map_err(Failure::from),
        Cmd::Verify(a) => cmd_verify(a),
        Cmd::Commit(a) => cmd_commit(a).map_err(Failure::from),
        Cmd::Inspect(a) => cmd_inspect(a).map_err(Failure::from),
        Cmd::Bench(a) => bench::run(a).map_err(Failure::from),
        Cmd::Train(a) => train::cmd_train(a).map_err(Failure::from),
        Cmd::VerifyRun(a) => verify_run::cmd_verify_run(a),
        Cmd::MergeLora(a) => verify_run::cmd_merge_lora(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(msg)) => {
            eprintln!("invalid proof: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Unusable(e)) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_hex32(s: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("commitment must be 64 hex digits, got {s:?}");
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}

/// Writes every file or none: each goes to a temporary sibling first, then all are renamed.
fn write_all_or_nothing(files: &[(&Path, Vec<u8>)]) -> Result<()> {
    let mut temps = Vec::new();
    for (path, bytes) in files {
        let tmp = path.with_file_name(format!(
            ".{}.zkgrad-tmp-{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if let Err(e) = std::fs::write(&tmp, bytes) {
            for t in &temps {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(anyhow!("cannot write {}: {e}", path.display()));
        }
        temps.push(tmp);
    }
    for (tmp, (path, _)) in temps.iter().zip(files) {
        std::fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn dequantize(vals: &[i64], frac: u32) -> Vec<f64> {
    vals.iter()
        .map(|&v| v as f64 / (1u64 << frac) as f64)
        .collect()
}

fn cmd_prove(a: ProveArgs) -> Result<()> {
    let m = LoadedModel::load(&a.model, &a.precision, Mode::Off)?;
    let samples = input::read_input(&a.input)?;
    let x = m
        .join_inputs(&samples)
        .with_context(|| format!("input file {}", a.input.display()))?;
    let x = &x;
    let xq = m
        .quantize_input(x)
        .with_context(|| format!("input file {}", a.input.display()))?;
    let params = a.scheme.params_for(&m.q);
    let t0 = Instant::now();
    let committed = CommittedModel::new(&m.q, &params);
    let commit_time = t0.elapsed();
    eprintln!(
        "proving {} ({} parameters, {} nodes; activations at 2^-{}, weights at 2^-{}, tables of 2^{})",
        a.model.display(),
        m.q.n_params(),
        m.graph.nodes.len(),
        m.q.config.act_frac,
        m.q.config.weight_frac,
        m.q.config.table_bits
    );
    let t1 = Instant::now();
    let out = prove(&m.q, &committed, &xq, &params)
        .map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    let prove_time = t1.elapsed();
    let bytes = out.proof.to_bytes();
    let frac = m.q.output_tensor().frac;
    let y = dequantize(&out.proof.output, frac);
    let float = m.graph.forward_f64(x);
    let fy = &float[m.graph.output];
    let max_err = y
        .iter()
        .zip(fy)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let parts = split_outputs(&m.graph, &y);
    let report = if a.report {
        let rows = m.layer_errors(&float, &out.witness.values);
        eprintln!(
            "{:<36} {:<12} {:<18} {:>6} {:>12} {:>12}",
            "node", "op", "shape", "scale", "max |error|", "max |value|"
        );
        for r in &rows {
            eprintln!(
                "{:<36} {:<12} {:<18} {:>6} {:>12.3e} {:>12.3e}",
                r.node,
                r.op,
                format!("{:?}", r.shape),
                format!("2^-{}", r.scale_bits),
                r.max_abs_error,
                r.max_abs_value
            );
        }
        rows.iter()
            .map(|r| {
                json!({"node": r.node, "op": r.op, "shape": r.shape, "scale_bits": r.scale_bits,
                       "max_abs_error": r.max_abs_error, "max_abs_value": r.max_abs_value})
            })
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    let output_json = json!({ "output_data": parts });
    let mut files = vec![(a.proof.as_path(), bytes.clone())];
    if let Some(o) = &a.output {
        files.push((o.as_path(), format!("{output_json}\n").into_bytes()));
    }
    write_all_or_nothing(&files)?;
    let commitment = hex(&model_commitment(
        &out.proof.circuit,
        &out.proof.weight_root,
    ));
    let tm = &out.timings;
    eprintln!(
        "  forward {:.1} ms · witness commit {:.1} ms · lookups {:.1} ms · layers {:.1} ms · openings {:.1} ms",
        tm.forward.as_secs_f64() * 1e3,
        tm.commit.as_secs_f64() * 1e3,
        tm.lookups.as_secs_f64() * 1e3,
        tm.layers.as_secs_f64() * 1e3,
        tm.openings.as_secs_f64() * 1e3
    );
    eprintln!(
        "proved in {:.1} ms (+{:.1} ms weight commitment); proof {} bytes ({}) → {}",
        prove_time.as_secs_f64() * 1e3,
        commit_time.as_secs_f64() * 1e3,
        bytes.len(),
        params.scheme().name(),
        a.proof.display()
    );
    eprintln!("max |error| against the float model: {max_err:.3e}");
    eprintln!("model commitment: {commitment}");
    if a.json {
        out!(
            "{}",
            json!({
                "output_data": parts,
                "float_output": split_outputs(&m.graph, fy),
                "report": report,
                "max_abs_error": max_err,
                "prove_ms": prove_time.as_secs_f64() * 1e3,
                "weight_commit_ms": commit_time.as_secs_f64() * 1e3,
                "proof_bytes": bytes.len(),
                "pcs": params.scheme().name(),
                "proof": a.proof,
                "model_commitment": commitment,
                "act_frac": m.q.config.act_frac,
                "weight_frac": m.q.config.weight_frac,
                "table_bits": m.q.config.table_bits,
            })
        );
    } else {
        out!("{}", json!(parts));
    }
    Ok(())
}

/// The output as one array per graph output (a model with several outputs proves their
/// concatenation).
fn split_outputs(graph: &zkgrad_model::Graph, y: &[f64]) -> Vec<Vec<f64>> {
    if graph.output_parts.is_empty() {
        return vec![y.to_vec()];
    }
    let mut rest = y;
    let mut out = Vec::with_capacity(graph.output_parts.len());
    for (_, shape) in &graph.output_parts {
        let (part, tail) = rest.split_at(shape.iter().product::<usize>().min(rest.len()));
        out.push(part.to_vec());
        rest = tail;
    }
    out
}

fn cmd_verify(a: VerifyArgs) -> std::result::Result<(), Failure> {
    let bytes = std::fs::read(&a.proof)
        .map_err(|e| anyhow!("cannot read proof file {}: {e}", a.proof.display()))?;
    let proof = ProofFile::from_bytes(&bytes)
        .map_err(|e| anyhow!("proof file {}: {e}", a.proof.display()))?;
    let claimed = Statement {
        config: proof.config,
        scheme: proof.pcs,
    };
    let t0 = Instant::now();
    let mut graph = None;
    let checked = match (&a.model, &a.commitment) {
        (Some(model), _) => {
            // The statement is the verifier's: the circuit and scheme `prove` would use with
            // these flags. The proof's header is only compared with it.
            let cache = if a.no_cache { Mode::Off } else { Mode::Use };
            let m = LoadedModel::load(model, &a.precision, cache)?;
            let params = a.scheme.params_for(&m.q);
            let asked = Statement {
                config: m.q.config,
                scheme: params.scheme(),
            };
            let r = match claimed.differs_from(&asked, true) {
                Some(why) => Err(why),
                None => {
                    let root = load::weight_root_cached(&m.q, &params, cache);
                    verify_with_model(&proof, &m.q, &root, &params)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            };
            let fracs = (m.q.output_tensor().frac, m.q.input().frac);
            graph = Some(m.graph);
            r.map(|()| (asked, fracs))
        }
        (None, Some(c)) => {
            // The commitment binds the circuit (precision included) and, through the weight
            // root, the scheme: what is printed comes from the validated circuit.
            let c = parse_hex32(c)?;
            let params = zkgrad_pcs::PcsParams::for_scheme(proof.pcs);
            verify_with_commitment(&proof, &c, &params)
                .map(|(g, _)| {
                    let asked = Statement {
                        config: g.config,
                        scheme: params.scheme(),
                    };
                    (asked, (g.output_tensor().frac, g.input().frac))
                })
                .map_err(|e| e.to_string())
        }
        (None, None) => return Err(anyhow!("give --model or --commitment").into()),
    };
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let commitment = hex(&model_commitment(&proof.circuit, &proof.weight_root));
    match checked {
        Ok((st, (frac, in_frac))) => {
            let x = dequantize(&proof.input, in_frac);
            let y = dequantize(&proof.output, frac);
            let parts = match &graph {
                Some(g) => split_outputs(g, &y),
                None => vec![y],
            };
            if a.json {
                out!(
                    "{}",
                    json!({"verified": true, "input_data": [x], "output_data": parts,
                           "model_commitment": commitment, "pcs": st.scheme.name(),
                           "act_frac": st.config.act_frac, "weight_frac": st.config.weight_frac,
                           "table_bits": st.config.table_bits, "verify_ms": ms})
                );
            } else {
                out!("verified");
                out!("precision: {}", st.precision_line());
                out!("input: {}", json!([x]));
                out!("output: {}", json!(parts));
                eprintln!("model commitment {commitment}; proof checked in {ms:.1} ms");
            }
            Ok(())
        }
        Err(e) => {
            if a.json {
                out!("{}", json!({"verified": false, "error": e}));
            }
            Err(Failure::Invalid(e))
        }
    }
}

fn cmd_commit(a: CommitArgs) -> Result<()> {
    // `commit` prints what it computed: the cache is refreshed, never read.
    let m = LoadedModel::load(&a.model, &a.precision, Mode::Refresh)?;
    let params = a.scheme.params_for(&m.q);
    let t0 = Instant::now();
    let root = load::weight_root_cached(&m.q, &params, Mode::Refresh);
    let c = hex(&model_commitment(&m.q.describe(), &root));
    eprintln!(
        "committed {} ({} parameters; precision: {}) in {:.1} ms",
        a.model.display(),
        m.q.n_params(),
        Statement {
            config: m.q.config,
            scheme: params.scheme()
        }
        .precision_line(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    if a.json {
        out!(
            "{}",
            json!({"model_commitment": c, "weight_root": hex(&root), "pcs": params.scheme().name(), "act_frac": m.q.config.act_frac, "weight_frac": m.q.config.weight_frac, "table_bits": m.q.config.table_bits})
        );
    } else {
        out!("{c}");
    }
    Ok(())
}

fn cmd_inspect(a: InspectArgs) -> Result<()> {
    let bytes = std::fs::read(&a.model)
        .with_context(|| format!("cannot read model file {}", a.model.display()))?;
    let raw =
        zkgrad_onnx::raw_nodes(&bytes).map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    out!("model {}", a.model.display());
    let imported = zkgrad_onnx::import(&bytes);
    if let Ok(g) = &imported {
        out!("input {} {:?}", g.input_name, g.input_shape);
    }
    out!(
        "{:<4} {:<28} {:<10} {:<10} output shape",
        "#",
        "node",
        "op",
        "supported"
    );
    for (i, n) in raw.iter().enumerate() {
        let shape = match &imported {
            Ok(g) => g
                .nodes
                .iter()
                .find(|x| x.name == n.name)
                .map(|x| format!("{:?}", x.shape))
                .unwrap_or_else(|| "(constant or fused)".into()),
            Err(_) => "?".into(),
        };
        out!(
            "{:<4} {:<28} {:<10} {:<10} {}",
            i,
            n.name,
            n.op_type,
            if n.supported { "yes" } else { "NO" },
            shape
        );
    }
    match imported {
        Ok(g) => {
            out!("parameters: {}", g.n_params());
            out!("output shape: {:?}", g.shape(g.output));
            out!("status: supported");
        }
        Err(e) => out!("status: not supported: {e}"),
    }
    Ok(())
}
