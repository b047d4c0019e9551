//! `zkgrad inspect`: print a model's graph, shapes, parameter count and what zkgrad supports.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;

#[derive(Args)]
pub struct InspectArgs {
    #[arg(long)]
    model: PathBuf,
}

pub fn run(a: InspectArgs) -> Result<()> {
    // With its external data read in (PyTorch's dynamo exporter writes weights beside the
    // model), as `prove` reads it.
    let bytes = zkgrad_workflow::model::read_model(&a.model)?;
    let raw =
        zkgrad_onnx::raw_nodes(&bytes).map_err(|e| anyhow!("model {}: {e}", a.model.display()))?;
    let imported = zkgrad_onnx::import_with_limits(&bytes, zkgrad_workflow::limits::get());
    // A malformed model is refused (exit 2); one that is well formed but uses an op zkgrad does
    // not support is listed, with what is missing.
    if let Err(e) = &imported {
        if !matches!(e, zkgrad_onnx::OnnxError::Unsupported { .. }) {
            return Err(anyhow!("model {}: {e}", a.model.display()));
        }
    }
    out!("model {}", a.model.display());
    // Each name's first node, as a map: a linear scan per node is quadratic on long graphs.
    let mut by_name = std::collections::HashMap::new();
    if let Ok(g) = &imported {
        for x in &g.nodes {
            by_name.entry(x.name.as_str()).or_insert(x);
        }
    }
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
            Ok(_) => by_name
                .get(n.name.as_str())
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
