//! Attacks on `verify --model` of a generation proof at the workflow level:
//! `zkgrad_workflow::generate::circuit_for_proof` reads `(first, n)` from the proof's own
//! circuit description and builds the statement itself. Hostile descriptions (codes 21 and 22
//! edited, garbage, another model's, byte mutations) against the real example models must
//! never panic, and the circuit built must be the model's with the check of the `(first, n)`
//! it names — never the description the prover sent.

use std::path::{Path, PathBuf};

use zkgrad_circuit::{QGraph, QOp};
use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::generate::{circuit_for_proof, generation_of_circuit, greedy, Generation};
use zkgrad_workflow::model::{LoadedModel, Precision};

fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}

fn load(model: &str) -> LoadedModel {
    LoadedModel::load(
        &example(&format!("transformers/{model}/model.onnx")),
        &Precision::default(),
        Mode::Off,
    )
    .unwrap()
}

/// `(first, n)` and the circuit `circuit_for_proof` builds for `desc` against `model`,
/// without a panic.
fn built(model: &str, desc: &[u8]) -> (Option<(usize, usize)>, Vec<u8>) {
    let m = load(model);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (m, gen) = circuit_for_proof(m, desc);
        (gen, m.q.describe())
    }));
    r.unwrap_or_else(|_| panic!("{model}: circuit_for_proof panicked"))
}

fn edit(desc: &[u8], f: impl Fn(&mut QOp)) -> Vec<u8> {
    let mut q = QGraph::from_description(desc).unwrap();
    for n in &mut q.nodes {
        f(&mut n.op);
    }
    q.describe()
}

/// The plain model's description, its greedy decoding of `n` tokens after `prompt`, and the
/// honest generation circuit's description.
fn generation(model: &str, prompt: &[i64], n: usize) -> (Vec<u8>, Generation, Vec<u8>) {
    let plain = load(model).q.describe();
    let g = greedy(load(model), prompt, n).unwrap();
    let honest = g.model.q.describe();
    (plain, g, honest)
}

#[test]
fn hostile_generation_descriptions_never_change_the_verifiers_statement() {
    for (model, prompt, n) in [
        ("gpt2_tiny", vec![40i64, 15, 45], 5usize),
        ("nanogpt", vec![1, 2, 3], 6),
    ] {
        let (plain, _, honest) = generation(model, &prompt, n);
        // The honest description: the verifier rebuilds exactly it.
        let (gen, q) = built(model, &honest);
        assert_eq!(gen, Some((prompt.len(), n)), "{model}");
        assert_eq!(q, honest, "{model}: the rebuilt circuit differs");
        // The pick's offset moved (the mask's kept), the mask's moved, both moved to 0,
        // both moved past the end, the pick reading tensor 0 replaced: the verifier's circuit
        // is never the tampered one (so the proof of it fails on the protocol id), and it
        // never panics.
        let p = prompt.len();
        type Edit = Box<dyn Fn(&mut QOp)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "pick offset + 1",
                Box::new(move |op| {
                    if let QOp::PickCol { offset, .. } = op {
                        *offset = p + 1
                    }
                }),
            ),
            (
                "pick offset − 1",
                Box::new(move |op| {
                    if let QOp::PickCol { offset, .. } = op {
                        *offset = p - 1
                    }
                }),
            ),
            (
                "mask offset + 1",
                Box::new(move |op| {
                    if let QOp::PrefixMask { offset, .. } = op {
                        *offset = p + 1
                    }
                }),
            ),
            (
                "both offsets 0",
                Box::new(|op| match op {
                    QOp::PickCol { offset, .. } | QOp::PrefixMask { offset, .. } => *offset = 0,
                    _ => {}
                }),
            ),
        ];
        for (what, f) in &edits {
            let tampered = edit(&honest, f);
            let decodes = QGraph::from_description(&tampered).is_ok();
            let (gen, q) = built(model, &tampered);
            assert_ne!(
                q, tampered,
                "{model}, {what}: the prover's circuit was taken"
            );
            match gen {
                Some(_) => assert!(q == honest || q != plain, "{model}, {what}"),
                None => assert_eq!(q, plain, "{model}, {what}"),
            }
            eprintln!("{model}, {what}: decodes {decodes}, statement {gen:?}");
        }
        // Garbage, empty, the plain model's description, the other model's generation.
        for (what, d) in [
            ("empty", vec![]),
            ("garbage", vec![0xa5; 4096]),
            ("plain", plain.clone()),
        ] {
            let (gen, q) = built(model, &d);
            assert_eq!(gen, None, "{model}, {what}");
            assert_eq!(q, plain, "{model}, {what}");
        }
        // Byte mutations of the honest description's last 200 bytes (the check's nodes and
        // the output index; every 10th), each loading the model afresh: no panic, and the
        // circuit built is the model's with a check the mutated description names, or the
        // plain model.
        let mut seen = 0;
        for i in (honest.len().saturating_sub(200)..honest.len()).step_by(10) {
            for delta in [1u8, 0xff] {
                let mut d = honest.clone();
                d[i] = d[i].wrapping_add(delta);
                let (gen, q) = built(model, &d);
                if gen.is_some() {
                    seen += 1;
                    assert!(q != d || d == honest, "{model}: byte {i}");
                } else {
                    assert_eq!(q, plain, "{model}: byte {i}");
                }
            }
        }
        eprintln!("{model}: {seen} mutations named a check");
    }
}

/// `verify --commitment` reads a generation from the committed circuit alone: the honest
/// one gives the prompt and the generated ids; a circuit that names a generation without
/// checking it (the pick kept, the gap check behind it cut off or altered), one with another
/// Gather of the logits after the check, the plain model, empty or garbage bytes give none; a
/// tail that is not the padding is refused. No mutation of the check's bytes panics.
#[test]
fn commitment_generation_read_only_from_the_genuine_check() {
    for (model, prompt, n) in [
        ("gpt2_tiny", vec![40i64, 15, 45], 4usize),
        ("nanogpt", vec![1, 2, 3], 5),
    ] {
        let (plain, g, honest) = generation(model, &prompt, n);
        let want = Some((prompt.clone(), g.generated.clone()));
        assert_eq!(generation_of_circuit(&honest, &g.ids), Ok(want), "{model}");
        // A non-zero id after the generated ones: refused, as `verify --model` refuses it.
        let mut tail = g.ids.clone();
        if let Some(last) = tail.last_mut() {
            *last = 1;
        }
        if tail.len() > prompt.len() + n {
            assert!(generation_of_circuit(&honest, &tail).is_err(), "{model}");
        }
        // The pick kept, everything after it cut off: it names a generation it does not check.
        let mut q = QGraph::from_description(&honest).unwrap();
        let pick = q
            .nodes
            .iter()
            .position(|nd| matches!(nd.op, QOp::PickCol { .. }))
            .unwrap();
        q.nodes.truncate(pick + 1);
        q.tensors.truncate(pick + 2);
        let cut = q.describe();
        // A second Gather of the logits' rows after the check: only the last can start it.
        let mut q = QGraph::from_description(&honest).unwrap();
        let gi = q
            .nodes
            .iter()
            .rposition(|nd| matches!(nd.op, QOp::Gather { x, .. } if x == q.output))
            .unwrap();
        let (op, t) = (q.nodes[gi].op.clone(), q.tensors[gi + 1].clone());
        q.push_node("dangling", op, t.rows, t.cols, t.frac);
        let dangling = q.describe();
        // The strictness mask's offset moved, the gap's shift changed.
        let shifted = edit(&honest, |op| {
            if let QOp::PrefixMask { offset, .. } = op {
                *offset += 1
            }
        });
        let loose = edit(&honest, |op| {
            if let QOp::AddConst { c, .. } = op {
                *c -= 1
            }
        });
        for (what, d) in [
            ("cut after the pick", cut),
            ("a Gather after the check", dangling),
            ("mask moved", shifted),
            ("gap shifted", loose),
            ("plain", plain.clone()),
            ("empty", vec![]),
            ("garbage", vec![0xa5; 4096]),
        ] {
            let r = std::panic::catch_unwind(|| generation_of_circuit(&d, &g.ids));
            let r = r.unwrap_or_else(|_| panic!("{model}, {what}: panicked"));
            assert_eq!(r, Ok(None), "{model}, {what}");
        }
        // Byte mutations of the check's end of the description: never a panic.
        for i in (honest.len().saturating_sub(200)..honest.len()).step_by(7) {
            let mut d = honest.clone();
            d[i] ^= 0x5a;
            let r = std::panic::catch_unwind(|| generation_of_circuit(&d, &g.ids));
            assert!(r.is_ok(), "{model}: byte {i} panicked");
        }
    }
}

#[test]
fn generation_on_a_model_that_is_not_causal() {
    // The greedy statement relies on the causal mask; `positions` checks only that the
    // model reads token ids and writes one row per position. Report whether a bidirectional
    // encoder (bert_tiny) is accepted for generation.
    let m = load("bert_tiny");
    let out = m.q.output_tensor().clone();
    let t = m.q.input().len();
    let r = greedy(m, &[1, 2], 2);
    eprintln!(
        "bert_tiny: output [{}, {}] for {t} ids; greedy: {}",
        out.rows,
        out.cols,
        match &r {
            Ok(g) => format!("accepted, generated {:?}", g.generated),
            Err(e) => format!("refused: {e}"),
        }
    );
}

/// Found by the attack review: on a model whose rows see later tokens (bert_tiny, a
/// bidirectional encoder whose output is [8, 32] hidden states, not logits over its 64 ids),
/// the ids after the generated ones — chosen by the prover, never printed — steered which
/// tokens "were" greedy. Generation now needs logits over the embedding's vocabulary, and the
/// positions after the generated tokens must hold the padding `generate` writes (id 0).
#[test]
fn generation_on_a_non_causal_model_with_a_steered_tail_rejected() {
    let e = greedy(load("bert_tiny"), &[1, 2], 2)
        .err()
        .expect("bert_tiny generates");
    assert!(e.to_string().contains("logits over its vocabulary"), "{e}");
    // A description naming a check does not make the verifier build one for bert_tiny.
    let g = greedy(load("gpt2_tiny"), &[1, 2], 2).unwrap();
    let prover = zkgrad_workflow::prove::InferenceProver::new(
        &g.model,
        zkgrad_workflow::scheme::PcsChoice(None),
    );
    let x: Vec<f64> = g.ids.iter().map(|&v| v as f64).collect();
    let proof = prover.prove(&x, &g.ids).unwrap();
    let pf = zkgrad_verifier::ProofFile::from_bytes(&proof.bytes).unwrap();
    let (_, gen) = circuit_for_proof(load("bert_tiny"), &pf.circuit);
    assert_eq!(gen, None);
    // The tail after the generated tokens is padding, not the prover's choice.
    assert!(zkgrad_workflow::generate::check_padding(&g.ids, 2, 2).is_ok());
    let mut steered = g.ids.clone();
    steered[5] = 33;
    let e = zkgrad_workflow::generate::check_padding(&steered, 2, 2).unwrap_err();
    assert!(e.contains("position 5"), "{e}");
}

/// The model part of a generation circuit: its logits for `ids` (the check's nodes skipped).
struct LoadedModelQ<'a>(&'a QGraph);

impl LoadedModelQ<'_> {
    fn logits(&self, ids: &[i64]) -> Vec<i64> {
        let mut q = self.0.clone();
        let first_check = q
            .nodes
            .iter()
            .position(|n| n.name.starts_with("generation/"))
            .unwrap();
        q.nodes.truncate(first_check);
        q.tensors.truncate(first_check + 1);
        let w = zkgrad_model::forward(&q, ids).unwrap();
        w.values[q.output].clone()
    }
}

#[test]
fn padding_tail_cannot_steer_the_checked_rows_of_causal_models() {
    // The same steering against gpt2_tiny and nanogpt: every row the check reads
    // (first − 1 .. first − 1 + n) is the same integer vector whatever the ids after the
    // generated ones — the causal mask is a constant of the circuit.
    for (model, prompt, n, vocab) in [
        ("gpt2_tiny", vec![40i64, 15, 45], 4usize, 64i64),
        ("nanogpt", vec![1, 2, 3], 6, 65),
    ] {
        let g = greedy(load(model), &prompt, n).unwrap();
        let q = LoadedModelQ(&g.model.q);
        let cols = g.model.q.output_tensor().cols;
        let end = prompt.len() + n;
        let rows = |ids: &[i64]| q.logits(ids)[..(end - 1) * cols].to_vec();
        let reference = rows(&g.ids);
        for z in [1, 7, vocab / 2, vocab - 1] {
            let mut ids = g.ids.clone();
            ids[end..].iter_mut().for_each(|v| *v = z);
            assert_eq!(
                rows(&ids),
                reference,
                "{model}: tail {z} moved a checked row"
            );
        }
    }
}

/// The greedy decoding (`zkgrad_model::Decoder`) computes, a step, the new position's rows of
/// each Gemm and one row of the LM head; its tokens must be those of full forward passes (a
/// decoding that differed would not forge anything — the proof's greedy check would refuse
/// it — but `generate` would fail). Both example language models end in a Gemm requantized,
/// so the LM head's shortcut is taken.
#[test]
fn one_row_decoding_gives_the_full_forward_passes_tokens() {
    for (model, prompt, n) in [
        ("gpt2_tiny", vec![40i64, 15, 45], 5usize),
        ("nanogpt", vec![1, 2, 3, 7, 9], 11),
    ] {
        let m = load(model);
        let q = &m.q;
        let head = q.producer(q.output).unwrap();
        assert!(matches!(q.nodes[head].op, QOp::Requant { .. }), "{model}");
        let QOp::Requant { x, .. } = q.nodes[head].op else {
            unreachable!()
        };
        assert!(
            matches!(q.nodes[q.producer(x).unwrap()].op, QOp::Gemm { .. }),
            "{model}: the logits are not a Gemm requantized"
        );
        let (t, vocab) = (q.input().len(), q.output_tensor().cols);
        let mut ids = prompt.clone();
        ids.resize(t, 0);
        let gemm = q.producer(x).unwrap();
        // The incremental decoder's row `pos − 1` is the full pass's at every step, the new
        // position's rows computed and the others reused.
        let mut decoder = zkgrad_model::Decoder::new(q, q.nodes.len(), Some(gemm));
        for pos in prompt.len()..prompt.len() + n {
            let w = zkgrad_model::forward(q, &ids).unwrap();
            let at = (pos - 1) * vocab..pos * vocab;
            let row = &w.values[q.output][at.clone()];
            assert_eq!(
                &decoder.step(&ids, pos).unwrap()[at],
                row,
                "{model}: position {pos}"
            );
            ids[pos] = zkgrad_model::generate::argmax_rows(row, vocab)[0] as i64;
        }
        let g = greedy(load(model), &prompt, n).unwrap();
        assert_eq!(g.ids, ids, "{model}");
    }
}

/// The incremental decoder reuses a Gemm row only where its input row is the one it was
/// computed from: after a pass over other ids (a token changed in the middle of the prompt,
/// the positions after it changed too), its next step is the full pass's again.
#[test]
fn decoder_recomputes_rows_whose_inputs_changed() {
    let m = load("gpt2_tiny");
    let q = &m.q;
    let (t, vocab) = (q.input().len(), q.output_tensor().cols);
    let mut ids: Vec<i64> = (0..t as i64).map(|i| (7 * i + 3) % vocab as i64).collect();
    let mut decoder = zkgrad_model::Decoder::new(q, q.nodes.len(), None);
    let live = t - 2;
    decoder.step(&ids, live).unwrap();
    ids[1] = (ids[1] + 1) % vocab as i64;
    let out = decoder.step(&ids, live + 1).unwrap().to_vec();
    let full = zkgrad_model::forward(q, &ids).unwrap();
    for r in 0..=live {
        let at = r * vocab..(r + 1) * vocab;
        assert_eq!(out[at.clone()], full.values[q.output][at], "row {r}");
    }
}

/// `m` with its causal masks lifted (gpt2_tiny's `[T, T]` additive masks zeroed): every
/// position then sees the whole sequence, padding included.
fn without_causal_masks(mut m: LoadedModel) -> LoadedModel {
    let t = m.q.input().len();
    let mut lifted = 0;
    for (i, n) in m.q.nodes.iter_mut().enumerate() {
        let shape = &m.q.tensors[i + 1];
        if let QOp::Const { data } = &mut n.op {
            if (shape.rows, shape.cols) == (t, t) && data.iter().any(|&v| v < 0) {
                data.iter_mut().for_each(|v| *v = 0);
                lifted += 1;
            }
        }
    }
    assert!(lifted > 0, "no causal mask found");
    m
}

/// `generate` on a model that is not causal (its logits at a position read later ones): the
/// greedy check of the proven pass — which holds the generated tokens where each decoding
/// pass held padding — refuses the tokens, and the error says why in words, not only as a
/// value outside the check's table.
#[test]
fn non_causal_model_generation_refused_with_a_clear_error() {
    use zkgrad_workflow::generate::{prove_generation, Prompted};
    let lifted = |model: &str| without_causal_masks(load(model));
    // A prompt on which the decoder's tokens differ from whole passes': the lifted masks
    // matter there.
    let m = lifted("nanogpt");
    let q = &m.q;
    let (t, vocab, n) = (q.input().len(), q.output_tensor().cols, 6usize);
    let prompt = (1..40i64)
        .map(|k| {
            (0..3)
                .map(|i| (k * 7 + i * 13) % vocab as i64)
                .collect::<Vec<_>>()
        })
        .find(|prompt| {
            let mut whole = prompt.clone();
            whole.resize(t, 0);
            for pos in prompt.len()..prompt.len() + n {
                let w = zkgrad_model::forward(q, &whole).unwrap();
                let row = &w.values[q.output][(pos - 1) * vocab..pos * vocab];
                whole[pos] = zkgrad_model::generate::argmax_rows(row, vocab)[0] as i64;
            }
            greedy(lifted("nanogpt"), prompt, n).unwrap().ids != whole
        })
        .expect("no prompt where the lifted masks matter");
    let scheme = zkgrad_workflow::scheme::parse_scheme("auto").unwrap();
    let e = prove_generation(
        Prompted {
            model: lifted("nanogpt"),
            prompt_ids: prompt,
        },
        n,
        scheme,
        &|_| {},
    )
    .err()
    .expect("a non-causal model's generation proved");
    assert!(e.to_string().contains("it is not causal"), "{e}");
}

/// `generate`'s load (the float weights quantized in their own memory, the model parsed once)
/// builds the circuit `prove`'s load builds, weight for weight, for the examples with
/// external data too, and leaves the float graph without weights.
#[test]
fn loading_without_float_weights_gives_the_same_circuit() {
    use zkgrad_workflow::model::FloatWeights;
    for (model, n) in [("gpt2_tiny", 16), ("nanogpt", 16), ("gpt2_dynamic", 6)] {
        let path = example(&format!("transformers/{model}/model.onnx"));
        let p = Precision::default();
        let load = |f| LoadedModel::load_for_input_keeping(&path, &p, Mode::Off, n, f).unwrap();
        let (kept, dropped) = (load(FloatWeights::Keep), load(FloatWeights::Drop));
        assert_eq!(kept.q.describe(), dropped.q.describe(), "{model}");
        assert_eq!(kept.q.weights, dropped.q.weights, "{model}");
        assert!(!kept.q.weights.is_empty(), "{model}");
        let weights = |g: &zkgrad_model::Graph| -> usize {
            g.nodes
                .iter()
                .map(|nd| match &nd.op {
                    zkgrad_model::Op::Linear { w, .. } => w.len(),
                    zkgrad_model::Op::Embed { table, .. } => table.len(),
                    _ => 0,
                })
                .sum()
        };
        assert!(weights(&kept.graph) > 0, "{model}");
        assert_eq!(weights(&dropped.graph), 0, "{model}");
    }
}

/// A generator kept between generations (the Python bindings' `Model.generate`: loaded once,
/// its weights committed by the first generation) proves, for each request, exactly what a
/// fresh `zkgrad generate` proves — the same tokens and the same proof bytes — across prompt
/// lengths and token counts in any order, a dynamic export specialized per length too. Each
/// proof verifies as the generation it asked for: the check a later request appended is
/// not left in the circuit, and an earlier one's does not leak into the next.
#[test]
fn kept_generator_proves_what_a_fresh_load_proves() {
    use zkgrad_workflow::generate::{
        load_for_prompt, prove_generation, verify_model_proof, Generator,
    };
    let scheme = zkgrad_workflow::scheme::parse_scheme("auto").unwrap();
    let p = Precision::default();
    for (model, requests) in [
        (
            "gpt2_tiny",
            vec![
                (vec![3i64, 14, 15], 2),
                (vec![3, 14, 15, 9], 3),
                (vec![3, 14, 15], 2),
            ],
        ),
        (
            "gpt2_dynamic",
            vec![(vec![3, 14, 15, 9], 2), (vec![3, 14, 15, 9], 2)],
        ),
    ] {
        let path = example(&format!("transformers/{model}/model.onnx"));
        // A fixed-length export has one generator for every request; a dynamic one, one per
        // sequence length (here all the same).
        let total = requests[0].0.len() + requests[0].1;
        let mut kept = Generator::load(&path, &p, total, scheme, Mode::Off).unwrap();
        for (i, (prompt, n)) in requests.iter().enumerate() {
            let fp: Vec<f64> = prompt.iter().map(|&v| v as f64).collect();
            let got = kept.generate(&fp, *n, "prompt", &|_| {}).unwrap();
            let fresh = load_for_prompt(&path, &p, &fp, *n, "prompt", Mode::Off).unwrap();
            let want = prove_generation(fresh, *n, scheme, &|_| {}).unwrap();
            assert_eq!(
                (&got.prompt, &got.generated),
                (&want.prompt, &want.generated),
                "{model} request {i}"
            );
            assert!(
                got.proof.bytes == want.proof.bytes,
                "{model} request {i}: proof bytes"
            );
            assert_eq!(got.scheme, want.scheme);
            if i > 0 {
                assert_eq!(
                    got.commit_time,
                    std::time::Duration::ZERO,
                    "{model}: recommitted"
                );
            }
            let file = zkgrad_verifier::ProofFile::from_bytes(&got.proof.bytes).unwrap();
            let m = LoadedModel::load_for_input(&path, &p, Mode::Off, total).unwrap();
            let (_, generation) = verify_model_proof(&file, &m, &scheme, Mode::Off).unwrap();
            assert_eq!(
                generation,
                Some((got.prompt.clone(), got.generated.clone())),
                "{model} request {i}"
            );
        }
        // A prompt outside the vocabulary is refused before anything runs, and the generator
        // still proves afterwards.
        assert!(kept.generate(&[3.0, 1e9], 1, "prompt", &|_| {}).is_err());
        let (prompt, n) = &requests[0];
        let fp: Vec<f64> = prompt.iter().map(|&v| v as f64).collect();
        assert!(kept.generate(&fp, *n, "prompt", &|_| {}).is_ok());
    }
}
