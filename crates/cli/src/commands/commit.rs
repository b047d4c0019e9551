//! `zkgrad commit`: print a model's commitment, its public fingerprint.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::commitment::{commitment_hex, weight_root_cached};
use zkgrad_workflow::hex::hex;
use zkgrad_workflow::model::LoadedModel;
use zkgrad_workflow::statement::Statement;

use super::args::{Precision, SchemeChoice};

#[derive(Args)]
pub struct CommitArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    precision: Precision,
    #[command(flatten)]
    scheme: SchemeChoice,
}

pub fn run(a: CommitArgs) -> Result<()> {
    // `commit` prints what it computed: the cache is refreshed, never read.
    let m = LoadedModel::load(&a.model, &a.precision.options(), Mode::Refresh)?;
    let params = a.scheme.scheme.params_for(&m.q);
    let t0 = Instant::now();
    let root = weight_root_cached(&m.q, &params, Mode::Refresh);
    let c = commitment_hex(&m.q.describe(), &root);
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
            json!({"model_commitment": c, "weight_root": hex(&root), "pcs": params.scheme().name(), "act_frac": m.q.config.act_frac, "weight_frac": m.q.config.weight_frac, "table_bits": m.q.config.table_bits,
                   "parameters": m.q.n_params(), "inputs": inputs(&m.graph),
                   "input_values": m.q.public_input_len(), "dynamic_input": dynamic_input(&a.model),
                   "outputs": outputs(&m.graph)})
        );
    } else {
        out!("{c}");
    }
    Ok(())
}

/// Whether the model's input has a symbolic dimension (a sequence axis specialized per input).
fn dynamic_input(model: &std::path::Path) -> bool {
    std::fs::read(model)
        .ok()
        .and_then(|b| zkgrad_onnx::symbolic_input_dims(&b).ok())
        .is_some_and(|(symbolic, _)| !symbolic.is_empty())
}

/// The graph's inputs, in the order their values are concatenated: name and shape.
fn inputs(g: &zkgrad_model::graph::Graph) -> Vec<serde_json::Value> {
    let mut v = vec![json!({"name": g.input_name, "shape": g.input_shape})];
    v.extend(
        g.nodes
            .iter()
            .filter(|n| matches!(n.op, zkgrad_model::graph::Op::Input { .. }))
            .map(|n| json!({"name": n.name, "shape": n.shape})),
    );
    v
}

/// The graph's outputs: name and shape (one output: the output value's shape).
fn outputs(g: &zkgrad_model::graph::Graph) -> Vec<serde_json::Value> {
    if g.output_parts.is_empty() {
        let name = g
            .output
            .checked_sub(1)
            .and_then(|i| g.nodes.get(i))
            .map_or("output", |n| n.name.as_str());
        return vec![json!({"name": name, "shape": g.shape(g.output)})];
    }
    g.output_parts
        .iter()
        .map(|(name, shape)| json!({"name": name, "shape": shape}))
        .collect()
}
