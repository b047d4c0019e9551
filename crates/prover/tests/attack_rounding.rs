//! Adversarial review of the audit fixes: the update rounding
//! `x + 2^(s−1) = 2^s·u + rem (mod p)` substituted by *every* shift's wrap-around, not only the
//! `2^64 ≡ 2^32 − 1` one the audit exploited at `s ≥ 33`.
//!
//! For `s ≤ 32`, `p = 2^s·q + 1` with `q = 2^(64−s) − 2^(32−s)`, so `u → u + q`,
//! `rem → rem + 1` (or `u → u − q`, `rem → rem − 1`) keeps the identity mod p with the remainder
//! in range; for `s ≥ 33`, `u → u + 2^(64−s)`, `rem → rem − (2^32 − 1)`. `W' = W − u` follows.
//! Every weight and bias update of SGD and LoRA steps across learning rates from 1e-7 to 100,
//! batches 1 to 64, and a layer wide enough (1,280 entries) that its ranges are split into
//! limbs: each substitution must be rejected.

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_circuit::QOp;
use zkgrad_field::f_from_i64;
use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
use zkgrad_model::quantize_input;
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_prover::{prove_witness, CommittedModel};
use zkgrad_verifier::verify;

const P: i128 = 0xFFFF_FFFF_0000_0001;

/// The signed representative of `v mod p` (what `f_from_i64` maps back to `v mod p`).
fn fe(v: i128) -> i64 {
    let mut r = v.rem_euclid(P);
    if r > P / 2 {
        r -= P;
    }
    r as i64
}

/// `(Δu, Δrem)` with `2^s·Δu + Δrem ≡ 0 (mod p)`, both directions.
fn substitutions(s: u32) -> Vec<(i128, i128)> {
    if s <= 32 {
        let q = (P - 1) >> s;
        vec![(q, 1), (-q, -1)]
    } else {
        let d = 1i128 << (64 - s);
        let wrap = (1i128 << 32) - 1;
        vec![(d, -wrap), (-d, wrap)]
    }
}

/// Carries out every substitution on entry 0 of every update of `q` (where the remainder stays
/// in `[0, 2^s)`), checks the identity holds mod p, and that the proof is rejected. Returns the
/// number carried out and the shifts seen.
fn substitute_every_update(q: &QGraph, public: &[i64], what: &str) -> (usize, Vec<u32>) {
    let params = small_params();
    let model = CommittedModel::new(q, &params);
    let honest = zkgrad_model::forward(q, public).unwrap();
    let mut cases = 0;
    let mut shifts = Vec::new();
    for (ni, _) in q.updates() {
        let QOp::Update { u, .. } = q.nodes[ni].op else {
            unreachable!()
        };
        let rn = u - 1;
        let QOp::Requant { x, shift: s } = q.nodes[rn].op else {
            panic!("{what}: u is not a rounding")
        };
        shifts.push(s);
        for (du, dr) in substitutions(s) {
            let i = 0;
            let rem = honest.rems[rn].as_ref().unwrap()[i] as i128;
            if !(0..1i128 << s).contains(&(rem + dr)) {
                continue;
            }
            let mut w = honest.clone();
            w.values[u][i] = fe(w.values[u][i] as i128 + du);
            w.rems[rn].as_mut().unwrap()[i] = (rem + dr) as i64;
            w.values[ni + 1][i] = fe(w.values[ni + 1][i] as i128 - du);
            let lhs = f_from_i64(w.values[x][i]) + f_from_i64(1i64 << (s - 1));
            let rhs = f_from_i64(1i64 << s) * f_from_i64(w.values[u][i])
                + f_from_i64(w.rems[rn].as_ref().unwrap()[i]);
            assert_eq!(lhs, rhs, "{what}: the substitution must hold mod p");
            let p = prove_witness(q, &model, w, &params).proof;
            let r = verify(q, &model.root(), &p.input, &p.output, &p.body, &params);
            assert!(
                r.is_err(),
                "{what}: update {} (s = {s}) moved by {du} accepted",
                q.nodes[ni].name
            );
            cases += 1;
        }
    }
    (cases, shifts)
}

#[test]
fn every_shift_wraparound_of_weight_and_bias_updates_rejected() {
    // 40 → 32 → 4: the first weight has 1,280 entries, so its remainder and u are range-checked
    // by limbs.
    let base = zkgrad_model::zoo::mlp(&[40, 32, 4], ActKind::Relu, 13);
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let mut cases = 0;
    let mut shifts = std::collections::BTreeSet::new();
    for lr in [100.0, 10.0, 1.0, 1e-1, 1e-3, 1e-7] {
        for batch in [1usize, 64] {
            let act_frac = 12;
            let cfg = TrainConfig {
                table_bits: 20,
                act_frac,
                weight_frac: TrainConfig::WEIGHT_FRAC,
            };
            let x = rnd(3 + batch as u64, 40 * batch);
            let y: Vec<f64> = rnd(5, 4 * batch).iter().map(|v| v * 0.5).collect();
            let public: Vec<i64> = [x, y]
                .concat()
                .iter()
                .map(|&v| quantize_input(v, act_frac).unwrap())
                .collect();
            let spec = SgdSpec {
                batch,
                lr,
                loss: Loss::Mse,
            };
            if let Ok(q) = sgd_step(&base, &spec, cfg) {
                assert!(!q.decompositions().is_empty(), "limbs exercised");
                let what = format!("SGD lr {lr} batch {batch}");
                let (c, s) = substitute_every_update(&q, &public, &what);
                cases += c;
                shifts.extend(s);
            }
            if let Ok(q) = lora_step(&adapted, &adapters, &lora, &spec, cfg) {
                let what = format!("LoRA lr {lr} batch {batch}");
                let (c, s) = substitute_every_update(&q, &public, &what);
                cases += c;
                shifts.extend(s);
            }
        }
    }
    eprintln!("{cases} substitutions, shifts {shifts:?}");
    assert!(shifts.iter().any(|&s| s <= 32), "{shifts:?}");
    assert!(shifts.iter().any(|&s| s >= 33), "{shifts:?}");
    assert!(cases >= 40, "{cases}");
}
