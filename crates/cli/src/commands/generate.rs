//! `zkgrad generate`: greedy decoding of a language model, proved in one forward pass over the
//! prompt and the generated tokens (zkgrad_workflow::generate).

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::json;
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::files::{check_outputs, write_all_or_nothing};
use zkgrad_workflow::generate::{load_for_prompt, prove_generation_observed};
use zkgrad_workflow::input::read_input;

use super::args::{Precision, SchemeChoice};
use super::progress::Progress;

#[derive(Args)]
pub struct GenerateArgs {
    /// The ONNX language model (token ids in, logits with one row per position out), exported
    /// for a fixed sequence length.
    #[arg(long)]
    model: PathBuf,
    /// The prompt's token ids: {"input_data": [[...]]} or a JSON array; at most the model's
    /// sequence length minus --max-new-tokens.
    #[arg(long)]
    input: PathBuf,
    /// How many tokens to generate.
    #[arg(long)]
    max_new_tokens: usize,
    /// Where to write the proof.
    #[arg(long)]
    proof: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: SchemeChoice,
    /// Recompute the calibration instead of reading it from the cache (as `verify --no-cache`).
    #[arg(long)]
    no_cache: bool,
    /// Also report progress on stderr as JSON lines, {"progress": {"stage", "done", "of"}}:
    /// load, decode (after each token), then prove's stages from the weight commitment on.
    #[arg(long)]
    progress_json: bool,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let progress = Progress {
        json: a.progress_json,
    };
    let new = a.max_new_tokens;
    progress.generate_stage("load", 0, new);
    let prompt: Vec<f64> = read_input(&a.input)?.concat();
    // A model with a dynamic sequence axis is specialized to prompt + new tokens (no padding);
    // a fixed-length one keeps its length.
    let prompted = load_for_prompt(
        &a.model,
        &a.precision.options(),
        &prompt,
        a.max_new_tokens,
        &format!("input file {}", a.input.display()),
        if a.no_cache { Mode::Off } else { Mode::Use },
    )?;
    check_outputs(
        &[("--proof", a.proof.as_path())],
        &[
            ("--model", a.model.as_path()),
            ("--input", a.input.as_path()),
        ],
    )?;
    let load_time = t0.elapsed();
    progress.generate_stage("decode", 0, new);
    let g = prove_generation_observed(
        prompted,
        new,
        a.scheme.scheme,
        &|k| {
            if k < new {
                progress.generate_stage("decode", k, new)
            }
        },
        &|| progress.generate_stage("weights", new, new),
        &|p| progress.generate_stage(p.name(), new, new),
    )
    .map_err(|e| anyhow!("model {}: {e:#}", a.model.display()))?;
    progress.generate_stage("write", new, new);
    eprintln!(
        "generated {} tokens after a prompt of {}: {:?}",
        g.generated.len(),
        g.prompt.len(),
        g.generated
    );
    let p = &g.proof;
    write_all_or_nothing(&[(a.proof.as_path(), p.bytes.clone())])?;
    eprintln!(
        "loaded in {:.1} ms, decoded in {:.1} ms",
        load_time.as_secs_f64() * 1e3,
        g.decode_time.as_secs_f64() * 1e3
    );
    eprintln!("{}", super::phases_line(&p.out.timings));
    eprintln!(
        "proved in {:.1} ms (+{:.1} ms weight commitment); {} → {}",
        p.prove_time.as_secs_f64() * 1e3,
        g.commit_time.as_secs_f64() * 1e3,
        p.size_summary(g.scheme.name()),
        a.proof.display()
    );
    eprintln!("{}", super::soundness_line(p.out.soundness_bits));
    eprintln!("model commitment: {}", p.commitment);
    let prompt_ids = &g.prompt;
    if a.json {
        out!(
            "{}",
            json!({
                "prompt": prompt_ids,
                "generated": g.generated,
                "load_ms": load_time.as_secs_f64() * 1e3,
                "decode_ms": g.decode_time.as_secs_f64() * 1e3,
                "prove_ms": p.prove_time.as_secs_f64() * 1e3,
                "weight_commit_ms": g.commit_time.as_secs_f64() * 1e3,
                "prove_phases": super::phases(&p.out.timings),
                "proof_bytes": p.bytes.len(),
                "proof_body_bytes": p.sizes().1,
                "soundness_bits": p.out.soundness_bits,
                "pcs": g.scheme.name(),
                "proof": a.proof,
                "model_commitment": p.commitment,
            })
        );
    } else {
        out!(
            "{}",
            json!({"prompt": prompt_ids, "generated": g.generated})
        );
    }
    Ok(())
}
