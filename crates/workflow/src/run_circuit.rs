//! A run's statement resolved against its model: the step circuit every step's proof uses, and
//! the final files (`final.onnx`, `adapters.json`) it gives for a run's final weights.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use zkgrad_circuit::QGraph;
use zkgrad_model::lora::{merged, Adapter, LoraSpec};
use zkgrad_model::train::TrainConfig;
use zkgrad_model::{Graph, Op};
use zkgrad_onnx::LinearSource;

/// A run's statement resolved against its model: the step circuit every step's proof uses.
pub struct RunCircuit {
    /// The model file (external data read in): `final.onnx` is this file with new weights.
    pub bytes: Vec<u8>,
    pub(crate) sources: HashMap<usize, LinearSource>,
    /// The float graph trained (the base with adapters, for LoRA).
    pub graph: Graph,
    pub adapters: Vec<Adapter>,
    /// The step circuit, holding the model's own weights (and the initial adapters).
    pub q0: QGraph,
    pub cfg: TrainConfig,
}

impl RunCircuit {
    /// Where each Linear layer's weights sit among the model file's initializers.
    pub fn sources(&self) -> &HashMap<usize, LinearSource> {
        &self.sources
    }

    /// The step circuit with the weights `ints` (one vector per weight of `q0`).
    pub fn with_weights(&self, ints: &[Vec<i64>]) -> QGraph {
        let mut q = self.q0.clone();
        for (w, v) in q.weights.iter_mut().zip(ints) {
            w.data = v.clone();
        }
        q
    }

    /// The model `final.onnx` holds for the weights `ints`: the trained graph with them
    /// (dequantized), the adapters merged into their layers for LoRA.
    pub fn final_graph(&self, ints: &[Vec<i64>], lora: Option<&LoraSpec>) -> Graph {
        let trained = dequantized(&self.graph, ints, self.cfg.weight_frac);
        match lora {
            Some(l) => merged(&trained, &self.adapters, l.scale()),
            None => trained,
        }
    }

    /// `final.onnx`'s bytes for the weights `ints`: the input model file with the final graph's
    /// weights as float32. `train` writes it and `verify-run` regenerates it to compare.
    pub fn final_onnx(&self, ints: &[Vec<i64>], lora: Option<&LoraSpec>) -> Result<Vec<u8>> {
        zkgrad_onnx::export_weights(&self.bytes, &self.final_graph(ints, lora), &self.sources)
            .map_err(|e| anyhow!("writing final.onnx: {e}"))
    }

    /// The index of the weight of `q0` that float value `v` (an adapter's A or B) holds.
    fn weight_of(&self, v: usize) -> Option<usize> {
        let name = format!("{}.weight", self.graph.nodes.get(v.checked_sub(1)?)?.name);
        self.q0.weights.iter().position(|w| w.name == name)
    }

    /// `adapters.json` for the weights `ints`: per adapted layer its A and B, as integers at
    /// 2^-weight_frac.
    pub fn adapters_json(&self, ints: &[Vec<i64>], l: &LoraSpec) -> Value {
        let adapters: Vec<Value> = self
            .adapters
            .iter()
            .map(|ad| {
                let of = |v: usize| self.weight_of(v).and_then(|wi| ints.get(wi)).cloned();
                json!({"layer": ad.name, "A": of(ad.a), "B": of(ad.b)})
            })
            .collect();
        json!({"weight_frac": self.cfg.weight_frac, "rank": l.rank, "alpha": l.alpha, "adapters": adapters})
    }

    /// The final weights an `adapters.json` describes: `q0`'s (the frozen base) with the file's
    /// adapters. Every field must be what this statement gives.
    pub fn weights_from_adapters(
        &self,
        doc: &Value,
        l: &LoraSpec,
    ) -> Result<Vec<Vec<i64>>, String> {
        for (field, want) in [
            ("weight_frac", json!(self.cfg.weight_frac)),
            ("rank", json!(l.rank)),
            ("alpha", json!(l.alpha)),
        ] {
            if doc.get(field) != Some(&want) {
                return Err(format!(
                    "{field} is {}; the run's is {want}",
                    doc.get(field).unwrap_or(&Value::Null)
                ));
            }
        }
        let entries = doc
            .get("adapters")
            .and_then(Value::as_array)
            .ok_or("no \"adapters\" array")?;
        if entries.len() != self.adapters.len() {
            return Err(format!(
                "{} adapters; the run adapts {} layers",
                entries.len(),
                self.adapters.len()
            ));
        }
        let mut ints: Vec<Vec<i64>> = self.q0.weights.iter().map(|w| w.data.clone()).collect();
        for (ad, entry) in self.adapters.iter().zip(entries) {
            if entry.get("layer").and_then(Value::as_str) != Some(ad.name.as_str()) {
                return Err(format!(
                    "an adapter is for layer {}; expected {}",
                    entry.get("layer").unwrap_or(&Value::Null),
                    ad.name
                ));
            }
            for (v, key) in [(ad.a, "A"), (ad.b, "B")] {
                let wi = self
                    .weight_of(v)
                    .ok_or_else(|| format!("no weight for {}'s {key}", ad.name))?;
                let vals = entry
                    .get(key)
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("{}: no {key} array", ad.name))?;
                let want = self.q0.weights[wi].data.len();
                if vals.len() != want {
                    return Err(format!(
                        "{}'s {key} holds {} values, expected {want}",
                        ad.name,
                        vals.len()
                    ));
                }
                ints[wi] = vals
                    .iter()
                    .map(|x| {
                        x.as_i64()
                            .ok_or_else(|| format!("{}'s {key} holds {x}, not an integer", ad.name))
                    })
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(ints)
    }
}

/// The float graph holding the quantized weights `ints` (at 2^-frac).
pub(crate) fn dequantized(graph: &Graph, ints: &[Vec<i64>], frac: u32) -> Graph {
    let s = (1u64 << frac) as f64;
    let mut g = graph.clone();
    let mut k = 0;
    let mut next = || {
        let v: Vec<f64> = ints
            .get(k)
            .map(|w| w.iter().map(|&v| v as f64 / s).collect())
            .unwrap_or_default();
        k += 1;
        v
    };
    for n in g.nodes.iter_mut() {
        if let Op::Linear { w, bias, .. } = &mut n.op {
            *w = next();
            if let Some(b) = bias {
                *b = next();
            }
        }
    }
    g
}
