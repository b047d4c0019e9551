//! `zkgrad verify`: check a proof against a model file or a model commitment.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use serde_json::json;
use zkgrad_verifier::ProofFile;
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::commitment::commitment_hex;
use zkgrad_workflow::files::{read_regular, MAX_PROOF_BYTES};
use zkgrad_workflow::hex::parse_hex32;
use zkgrad_workflow::model::LoadedModel;
use zkgrad_workflow::verify::verify_against_commitment;
use zkgrad_workflow::Failure;

use super::args::{Precision, SchemeChoice};

/// `verify --model` checks the statement its flags describe, with `prove`'s defaults: the
/// circuit is built as `prove` builds it with the same precision flags, and the scheme chosen
/// as `prove` chooses it. A proof of another precision or scheme is invalid.
#[derive(Args)]
pub struct VerifyArgs {
    /// The ONNX model the proof claims to be about.
    #[arg(
        long,
        conflicts_with = "commitment",
        required_unless_present = "commitment"
    )]
    model: Option<PathBuf>,
    /// The model commitment (64 hex digits, from `zkgrad commit`) instead of the model file: it
    /// binds the circuit, precision and scheme itself, so no precision or --pcs flag goes with it.
    #[arg(long, conflicts_with_all = ["table_bits", "act_frac", "weight_frac", "calibration", "per_tensor_scales", "global_scale", "scheme", "no_cache"])]
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
    scheme: SchemeChoice,
}

pub fn run(a: VerifyArgs) -> Result<(), Failure> {
    let bytes = read_regular(&a.proof, MAX_PROOF_BYTES)
        .map_err(|e| anyhow!("cannot read proof file: {e:#}"))?;
    let proof = ProofFile::from_bytes(&bytes)
        .map_err(|e| anyhow!("proof file {}: {e}", a.proof.display()))?;
    let t0 = Instant::now();
    let mut generation = None;
    let checked = match (&a.model, &a.commitment) {
        (Some(model), _) => {
            // The statement is the verifier's: the circuit and scheme `prove` would use with
            // these flags. The proof's header is only compared with it.
            let cache = if a.no_cache { Mode::Off } else { Mode::Use };
            let pc = proof.config;
            let header = || {
                format!(
                    "proof file {}: its header's precision (activations 2^-{}, weights 2^-{}, tables 2^{})",
                    a.proof.display(),
                    pc.act_frac,
                    pc.weight_frac,
                    pc.table_bits
                )
            };
            if !(4..=20).contains(&pc.table_bits)
                || pc.weight_frac > 40
                || pc.act_frac >= pc.table_bits.saturating_sub(1)
            {
                return Err(anyhow!(
                    "{} is one no zkgrad proof has (tables 2^4..2^20, weights at most 2^-40, activations finer than the tables by 2 bits)",
                    header()
                )
                .into());
            }
            let p = a.precision.options();
            // A model with a dynamic sequence axis: specialized to the proof's input length.
            let loaded = LoadedModel::load_for_input(model, &p, cache, proof.input.len());
            let m = match loaded {
                Ok(m) => m,
                // The precision asked for is the proof header's (the flags its mismatch note
                // suggested): the header is what cannot be built, not the model.
                Err(e)
                    if p.weight_frac == Some(pc.weight_frac) || p.act_frac == Some(pc.act_frac) =>
                {
                    return Err(anyhow!(
                        "{}, asked for with these flags, cannot be built for model {}: {e:#}",
                        header(),
                        model.display()
                    )
                    .into())
                }
                Err(e) => return Err(e.into()),
            };
            // A generation proof: the model's circuit with the greedy check it names.
            zkgrad_workflow::generate::verify_model_proof(&proof, &m, &a.scheme.scheme, cache).map(
                |(ok, gen)| {
                    generation = gen;
                    ok
                },
            )
        }
        (None, Some(c)) => match verify_against_commitment(&proof, &parse_hex32(c)?) {
            Err(Failure::Unusable(e)) => {
                return Err(Failure::Unusable(
                    e.context(format!("proof file {}", a.proof.display())),
                ))
            }
            Err(Failure::Invalid(e)) => Err(e),
            // A generation proof: the committed circuit is the model's with the greedy check.
            Ok(ok) => {
                zkgrad_workflow::generate::generation_of_circuit(&proof.circuit, &proof.input).map(
                    |gen| {
                        generation = gen;
                        ok
                    },
                )
            }
        },
        (None, None) => return Err(anyhow!("give --model or --commitment").into()),
    };
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let commitment = commitment_hex(&proof.circuit, &proof.weight_root);
    match checked {
        Ok(ok) => {
            let (st, x, parts) = (ok.statement, ok.input, ok.output);
            // What a generation proof established: these tokens are the greedy continuation.
            let gen = generation;
            if a.json {
                let mut v = json!({"verified": true, "input_data": [x], "output_data": parts,
                           "model_commitment": commitment, "pcs": st.scheme.name(),
                           "act_frac": st.config.act_frac, "weight_frac": st.config.weight_frac,
                           "table_bits": st.config.table_bits, "verify_ms": ms});
                if let Some((prompt, generated)) = &gen {
                    v["prompt"] = json!(prompt);
                    v["generated"] = json!(generated);
                }
                out!("{v}");
            } else {
                out!("verified");
                if let Some((prompt, generated)) = &gen {
                    out!("prompt: {}", json!(prompt));
                    out!("generated (greedy, proven): {}", json!(generated));
                }
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
