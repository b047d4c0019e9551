//! `prove_once` (what `zkgrad prove` runs) frees the float weights before the commitment and
//! the quantized ones after the forward pass; the proof and everything reported beside it must
//! be those of a model that keeps them all (`InferenceProver`).

use std::path::PathBuf;

use zkgrad_workflow::cache::Mode;
use zkgrad_workflow::input::read_input;
use zkgrad_workflow::model::{LoadedModel, Precision};
use zkgrad_workflow::prove::{prove_once, InferenceProver};
use zkgrad_workflow::scheme::PcsChoice;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/transformers")
        .join(name)
}

#[test]
fn proving_once_frees_the_weights_and_changes_nothing_reported() {
    let dir = example("gpt2_tiny");
    let samples = read_input(&dir.join("input.json")).unwrap();
    let n: usize = samples.iter().map(Vec::len).sum();
    let load = || {
        LoadedModel::load_for_input(&dir.join("model.onnx"), &Precision::default(), Mode::Off, n)
            .unwrap()
    };
    let kept = load();
    let x = kept.join_inputs(&samples).unwrap();
    let xq = kept.quantize_input(&x).unwrap();
    let reference = InferenceProver::new(&kept, PcsChoice(None))
        .prove(&x, &xq)
        .unwrap();

    // With every float value (`--report`), then with the output's only.
    for all_float in [true, false] {
        let mut m = load();
        let weighed = std::cell::Cell::new(false);
        let once = prove_once(
            &mut m,
            PcsChoice(None),
            &x,
            &xq,
            all_float,
            &|| weighed.set(true),
            &|_| {},
        )
        .unwrap();
        assert!(
            weighed.get(),
            "on_weights is told when the commitment starts"
        );
        assert_eq!(
            once.proof.bytes, reference.bytes,
            "the same proof, byte for byte"
        );
        assert_eq!(once.proof.output, reference.output);
        assert_eq!(
            once.proof.float_output(&m),
            reference.float_output(&kept),
            "the float pass ran before its weights went"
        );
        assert!(!once.proof.float_output(&m).concat().is_empty());
        assert_eq!(
            once.proof.max_abs_error.to_bits(),
            reference.max_abs_error.to_bits()
        );
        assert_eq!(once.proof.commitment, reference.commitment);
        if all_float {
            assert_eq!(once.proof.float, reference.float);
            assert_eq!(
                m.layer_errors(&once.proof.float, &once.proof.out.witness.values),
                kept.layer_errors(&reference.float, &reference.out.witness.values),
                "--report reads the same rows"
            );
        } else {
            let kept_values = once.proof.float.iter().filter(|v| !v.is_empty()).count();
            assert_eq!(kept_values, 1, "only the output's values are kept");
        }
        // Both weight sets are gone from the model proven once.
        assert!(m.q.weights.iter().all(|w| w.data.is_empty()));
        assert_eq!(m.graph.n_params(), 0);
    }
    assert!(kept.q.weights.iter().any(|w| !w.data.is_empty()));
    assert!(kept.graph.n_params() > 0);
}
