//! The benchmark suites: the workloads each runs (built-in models, their precision, and whether
//! a workload is inference, a training step or a LoRA step).

use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QConfig;
use zkgrad_model::Graph;
use zkgrad_model::{zoo, zoo_cnn};

/// One benchmarked workload.
pub struct Workload {
    pub name: String,
    pub what: String,
    pub build: Box<dyn Fn() -> Graph>,
    /// `Some(batch)`: one proven SGD step (lr 0.01) instead of inference.
    pub train: Option<usize>,
    /// Softmax cross-entropy (with one-hot targets) instead of MSE.
    pub xent: bool,
    /// Table width K (the precision setting: activations calibrated below 2^(K−1)).
    pub table_bits: u32,
    /// Inputs on which to compare the proven (quantized) top-1 class with the float model's.
    pub top1: usize,
    /// `Some(rank)`: a LoRA step (α = 2·rank) instead of full SGD.
    pub lora: Option<usize>,
    /// The input to prove on (token ids), instead of one drawn from U(−1, 1).
    pub input: Option<Vec<f64>>,
    /// A calibrated scale per tensor (`--per-tensor-scales`) instead of one for all activations.
    pub per_tensor: bool,
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
        input: None,
        per_tensor: false,
    }
}

/// Workload D: LoRA steps of one linear layer `d_out × d_in` at batch 16, each beside the full
/// SGD step of the same layer (where that fits in memory).
pub fn lora_workloads() -> Vec<Workload> {
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
            input: None,
            per_tensor: false,
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
                input: None,
                per_tensor: false,
            });
        }
    }
    v
}

/// The coarse precision setting of the CNN suite: tables of 2^12 (activations near 2^-8,
/// weights at 2^-12); the fine one is the default, tables of 2^20.
const COARSE_TABLE_BITS: u32 = 12;

pub fn cnn_workloads() -> Vec<Workload> {
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

pub fn training_workloads() -> Vec<Workload> {
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
            input: None,
            per_tensor: false,
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
            input: None,
            per_tensor: false,
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
            input: None,
            per_tensor: false,
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
            input: None,
            per_tensor: false,
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
            input: None,
            per_tensor: false,
        },
    ]
}

pub fn workloads() -> Vec<Workload> {
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

/// The transformer suite: the exports in examples/transformers (`gen_transformers.py`), each on
/// its own input.json (token ids), with a scale per tensor (tables of 2^20).
pub fn transformer_workloads() -> Vec<Workload> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/transformers");
    let models: [(&str, &str); 4] = [
        (
            "sentiment",
            "Embedding(14, 8) on [3, 4, 5, 0, 0], sum, Mul, Add (JOLT Atlas's sentiment model)",
        ),
        (
            "gpt2-tiny",
            "GPT-2, 2 layers, d 32, 2 heads, vocab 64, 8 tokens, all logits",
        ),
        (
            "nanogpt",
            "GPT-2 config, 5 layers, d 64, 4 heads, 258k params, 16 tokens, all logits",
        ),
        (
            "bert-tiny",
            "BERT encoder, 2 layers, d 32, 2 heads, 8 tokens, last hidden state",
        ),
    ];
    models
        .iter()
        .map(|&(name, what)| {
            let dir = root.join(name.replace('-', "_"));
            let model = dir.join("model.onnx");
            let input = std::fs::read_to_string(dir.join("input.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .map(|v| {
                    v["input_data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                        .filter_map(|x| x.as_f64())
                        .collect::<Vec<f64>>()
                });
            Workload {
                name: name.into(),
                what: what.into(),
                build: Box::new(move || {
                    let bytes = std::fs::read(&model).unwrap_or_default();
                    zkgrad_onnx::import(&bytes).unwrap_or_else(|e| {
                        eprintln!("{}: {e}", model.display());
                        std::process::exit(2)
                    })
                }),
                train: None,
                xent: false,
                table_bits: QConfig::DEFAULT_TABLE_BITS,
                top1: 0,
                lora: None,
                input,
                per_tensor: true,
            }
        })
        .collect()
}
