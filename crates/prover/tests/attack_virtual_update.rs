//! Adversarial review of the virtual update rounding (format v5): `u = round(x / 2^s)` is never
//! committed when `s + wbits ≤ 62`; the update's identity
//! `x + 2^(s−1)·[real] = 2^s·(W − W') + rem (mod p)` is checked at the update's point, and its
//! uniqueness rests on `W'`'s range (wbits) and `rem`'s (`[0, 2^s)`) alone.
//!
//! - every wrap-around pair `(Δu, Δrem)`, `2^s·Δu ≡ Δrem (mod p)`, not only the two canonical
//!   ones: none fits inside the ranges below `s + wbits = 64` (so 62 is 2 bits conservative);
//! - `update_scale` over a grid of precisions, learning rates and batches, SGD and LoRA: every
//!   update keeps `s + wbits ≤ 62` (virtual) or a committed `u` of `62 − s ≥ 2` bits, `x` below
//!   `2^60`, and honest proofs of the extremes verify;
//! - crafted descriptions around a virtual rounding: read by a second node, by a second update,
//!   widened `W'`, a virtual rounding feeding a rounding, a virtual rounding as the output.

mod common;
use common::*;
use zkgrad_circuit::table::ActKind;
use zkgrad_circuit::QGraph;
use zkgrad_circuit::{QOp, TensorKind};
use zkgrad_field::f_from_i64;
use zkgrad_model::lora::{lora_step, with_adapters, LoraSpec};
use zkgrad_model::quantize_input;
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_prover::{prove, prove_witness, CommittedModel};
use zkgrad_verifier::verify;

const P: i128 = 0xFFFF_FFFF_0000_0001;

/// The signed representative of `v mod p`.
fn fe(v: i128) -> i64 {
    let mut r = v.rem_euclid(P);
    if r > P / 2 {
        r -= P;
    }
    r as i64
}

/// Every `(Δu, Δrem)` with `2^s·Δu − Δrem ≡ 0 (mod p)`, `0 < |Δrem| < 2^s` or `Δrem = 0`, and
/// `Δu ≠ 0`, of the smallest `|Δu|`: `2^s·Δu − Δrem = k·p` with `k ≠ 0`, smallest at `k = ±1`.
fn shortest_wraps(s: u32) -> Vec<(i128, i128)> {
    let mut out = Vec::new();
    for k in [-2i128, -1, 1, 2] {
        let base = (k * P).div_euclid(1i128 << s);
        for du in [base - 1, base, base + 1] {
            let dr = (du << s) - k * P;
            if dr.abs() < (1i128 << s) && du != 0 {
                out.push((du, dr));
            }
        }
    }
    out
}

#[test]
fn no_wraparound_pair_fits_a_virtual_update_below_64_bits() {
    for s in 1..=61u32 {
        let wraps = shortest_wraps(s);
        assert!(!wraps.is_empty(), "s = {s}");
        let min_du = wraps.iter().map(|(du, _)| du.abs()).min().unwrap();
        // Two values of W' in [−2^(b−1), 2^(b−1)) differ by at most 2^b − 1.
        for b in 1..=(63 - s) {
            assert!(
                min_du > (1i128 << b) - 1,
                "s = {s}, wbits = {b}: a wrap-around by {min_du} fits W''s range"
            );
        }
        // At s + wbits = 64 one does (so the limit 62 is conservative by 2 bits, not loose).
        let b = 64 - s;
        if b <= 62 {
            assert!(
                wraps.iter().any(|(du, dr)| du.abs() < (1i128 << b)
                    && dr.abs() < (1i128 << s)
                    && fe((du << s) - dr) == 0),
                "s = {s}: expected a wrap at 64 bits"
            );
        }
    }
}

fn public_for(batch: usize, n_in: usize, n_out: usize, fa: u32, seed: u64) -> Vec<i64> {
    let x = rnd(seed, n_in * batch);
    let y: Vec<f64> = rnd(seed + 7, n_out * batch)
        .iter()
        .map(|v| v * 0.5)
        .collect();
    [x, y]
        .concat()
        .iter()
        .map(|&v| quantize_input(v, fa).unwrap())
        .collect()
}

/// The properties `update_scale` and `push_update_node` promise, for each update of `q`.
/// Returns (virtual, committed) counts.
fn check_updates(q: &QGraph, what: &str) -> (usize, usize) {
    let bounds = q.value_bounds();
    let (mut v, mut c) = (0, 0);
    for (ni, _) in q.updates() {
        let QOp::Update { u, bits, .. } = q.nodes[ni].op else {
            unreachable!()
        };
        let QOp::Requant { x, shift: s } = q.nodes[u - 1].op else {
            panic!("{what}: u is not a rounding")
        };
        match q.tensors[u].kind {
            TensorKind::Virtual => {
                assert!(
                    s + bits <= 62,
                    "{what}: virtual u with s {s} + wbits {bits}"
                );
                v += 1;
            }
            TensorKind::Committed => {
                assert!(s <= 60, "{what}: committed u with s = {s}");
                assert_eq!(q.tensors[u].bits, 62 - s, "{what}: committed u's width");
                c += 1;
            }
            k => panic!("{what}: u of kind {k:?}"),
        }
        // x = lr_q·Gᵀ·A (or lr_q·ΣG for a bias) stays below 2^60.
        let bx = bounds[x].unwrap_or_else(|| panic!("{what}: x has no bound"));
        assert!(
            bx < 1u128 << 60,
            "{what}: x may reach {bx} ≥ 2^60 (s = {s})"
        );
    }
    (v, c)
}

#[test]
fn update_scale_grid_keeps_shift_width_and_x_bounds() {
    let base = zkgrad_model::zoo::mlp(&[5, 8, 3], ActKind::Tanh, 31);
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let (mut built, mut virt, mut comm) = (0, 0, 0);
    for k in [8u32, 12, 16, 20] {
        for fa in [2u32, k / 2, k - 2] {
            for fw in [8u32, 16, TrainConfig::WEIGHT_FRAC, 40] {
                for lr in [1e-12, 1e-9, 1e-6, 1e-4, 3e-3, 0.05, 1.0, 30.0, 1e3, 1e6] {
                    for batch in [1usize, 2, 5, 64, 1000] {
                        let cfg = TrainConfig {
                            table_bits: k,
                            act_frac: fa,
                            weight_frac: fw,
                        };
                        let spec = SgdSpec {
                            batch,
                            lr,
                            loss: Loss::Mse,
                        };
                        let what = format!("k {k} fa {fa} fw {fw} lr {lr} batch {batch}");
                        // Building must never panic; an error is a refusal, not a bug.
                        if let Ok(q) = sgd_step(&base, &spec, cfg) {
                            let (a, b) = check_updates(&q, &format!("SGD {what}"));
                            (built, virt, comm) = (built + 1, virt + a, comm + b);
                        }
                        if let Ok(q) = lora_step(&adapted, &adapters, &lora, &spec, cfg) {
                            let (a, b) = check_updates(&q, &format!("LoRA {what}"));
                            (built, virt, comm) = (built + 1, virt + a, comm + b);
                        }
                    }
                }
            }
        }
    }
    eprintln!("{built} circuits, {virt} virtual and {comm} committed updates");
    assert!(virt > 100 && comm > 100, "{virt} virtual, {comm} committed");
}

/// Honest proofs at the extremes of the learning rate around the coarsening threshold (lr_q
/// keeping about 12 bits), tiny and huge, batch 1 and 64: every one verifies.
#[test]
fn honest_steps_at_learning_rate_extremes_verify() {
    let base = zkgrad_model::zoo::mlp(&[5, 8, 3], ActKind::Tanh, 31);
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let params = small_params();
    let fa = 10;
    let cfg = TrainConfig {
        table_bits: 16,
        act_frac: fa,
        weight_frac: TrainConfig::WEIGHT_FRAC,
    };
    let mut proofs = 0;
    for batch in [1usize, 64] {
        // c·2^coarse = 2^12 is the threshold: coarse = 62 + fw − 2fa − wbits.
        let wbits = (60 - 17 - zkgrad_poly::log2_ceil(8.max(batch)) as u32).min(40);
        let coarse = 62 + TrainConfig::WEIGHT_FRAC - 2 * fa - wbits;
        let thr = batch as f64 * 4096.0 / (1u64 << coarse) as f64;
        for lr in [thr * 0.999, thr, thr * 1.001, 1e-9, 10.0] {
            let spec = SgdSpec {
                batch,
                lr,
                loss: Loss::Mse,
            };
            let public = public_for(batch, 5, 3, fa, 41 + batch as u64);
            for q in [
                sgd_step(&base, &spec, cfg),
                lora_step(&adapted, &adapters, &lora, &spec, cfg),
            ]
            .into_iter()
            .flatten()
            {
                check_updates(&q, &format!("lr {lr} batch {batch}"));
                let model = CommittedModel::new(&q, &params);
                let Ok(out) = prove(&q, &model, &public, &params) else {
                    // A weight leaving its range is refused by the prover, never accepted.
                    continue;
                };
                let p = out.proof;
                verify(&q, &model.root(), &p.input, &p.output, &p.body, &params)
                    .unwrap_or_else(|e| panic!("honest lr {lr} batch {batch}: {e}"));
                proofs += 1;
            }
        }
    }
    assert!(proofs >= 10, "{proofs}");
}

/// The shortest generic wrap-arounds (not only the canonical two) on a virtual update, weights
/// and biases, SGD and LoRA: each satisfies the identity mod p and each is rejected (W' leaves
/// its range — the loosened forward pass lets the cheater build it).
#[test]
fn shortest_generic_wraparounds_on_virtual_updates_rejected() {
    let base = zkgrad_model::zoo::mlp(&[5, 8, 3], ActKind::Tanh, 31);
    let lora = LoraSpec {
        rank: 2,
        alpha: 4.0,
        targets: vec![],
    };
    let (adapted, adapters) = with_adapters(&base, &lora, 5, 0.2).unwrap();
    let params = small_params();
    let fa = 10;
    let cfg = TrainConfig {
        table_bits: 16,
        act_frac: fa,
        weight_frac: TrainConfig::WEIGHT_FRAC,
    };
    let mut cases = 0;
    for lr in [0.5, 0.01] {
        let spec = SgdSpec {
            batch: 2,
            lr,
            loss: Loss::Mse,
        };
        let public = public_for(2, 5, 3, fa, 77);
        for q in [
            sgd_step(&base, &spec, cfg).unwrap(),
            lora_step(&adapted, &adapters, &lora, &spec, cfg).unwrap(),
        ] {
            let model = CommittedModel::new(&q, &params);
            let honest = zkgrad_model::forward(&q, &public).unwrap();
            for (ni, _) in q.updates() {
                let QOp::Update { u, .. } = q.nodes[ni].op else {
                    unreachable!()
                };
                let rn = u - 1;
                let QOp::Requant { x, shift: s } = q.nodes[rn].op else {
                    unreachable!()
                };
                if q.tensors[u].kind != TensorKind::Virtual {
                    continue;
                }
                for (du, dr) in shortest_wraps(s) {
                    let rems = honest.rems[rn].as_ref().unwrap();
                    let Some(i) = (0..rems.len())
                        .find(|&i| (0..1i128 << s).contains(&(rems[i] as i128 - dr)))
                    else {
                        continue;
                    };
                    let mut w = honest.clone();
                    w.values[u][i] = fe(w.values[u][i] as i128 + du);
                    w.rems[rn].as_mut().unwrap()[i] = (rems[i] as i128 - dr) as i64;
                    w.values[ni + 1][i] = fe(w.values[ni + 1][i] as i128 - du);
                    let lhs = f_from_i64(w.values[x][i]) + f_from_i64(1i64 << (s - 1));
                    let rhs = f_from_i64(1i64 << s) * f_from_i64(w.values[u][i])
                        + f_from_i64(w.rems[rn].as_ref().unwrap()[i]);
                    assert_eq!(lhs, rhs, "the substitution holds mod p");
                    let p = prove_witness(&q, &model, w, &params).proof;
                    assert!(
                        verify(&q, &model.root(), &p.input, &p.output, &p.body, &params).is_err(),
                        "{}: virtual update (s = {s}) moved by {du} accepted",
                        q.nodes[ni].name
                    );
                    cases += 1;
                }
            }
        }
    }
    assert!(cases >= 8, "{cases}");
}

fn described(q: &QGraph) -> Result<QGraph, String> {
    QGraph::from_description(&q.describe()).map_err(|e| e.to_string())
}

/// Crafted descriptions around a virtual update rounding, all refused by `from_description`.
#[test]
fn crafted_descriptions_around_a_virtual_rounding_rejected() {
    let base = zkgrad_model::zoo::mlp(&[5, 8, 8, 3], ActKind::Tanh, 31);
    let spec = SgdSpec {
        batch: 2,
        lr: 0.05,
        loss: Loss::Mse,
    };
    let cfg = TrainConfig {
        table_bits: 16,
        act_frac: 10,
        weight_frac: TrainConfig::WEIGHT_FRAC,
    };
    let q = sgd_step(&base, &spec, cfg).unwrap();
    described(&q).unwrap();
    // The 8×8 weight's update, with a virtual u.
    let (ni, wi) = q
        .updates()
        .into_iter()
        .find(|&(ni, wi)| {
            let QOp::Update { u, .. } = q.nodes[ni].op else {
                unreachable!()
            };
            q.weights[wi].rows == 8
                && q.weights[wi].cols == 8
                && q.tensors[u].kind == TensorKind::Virtual
        })
        .expect("a virtual update of an 8×8 weight");
    let QOp::Update { u, bits, .. } = q.nodes[ni].op else {
        unreachable!()
    };
    let QOp::Requant { shift: s, .. } = q.nodes[u - 1].op else {
        unreachable!()
    };
    assert!(s + bits <= 62);
    let push = |g: &mut QGraph, op: QOp, kind: TensorKind| {
        let mut t = g.tensors[u].clone();
        t.kind = kind;
        g.nodes.push(zkgrad_circuit::QNode {
            name: "extra".into(),
            op,
        });
        g.tensors.push(t);
    };
    // (a) the virtual u also read by a Sub (another reader: its value would be free).
    let mut a = q.clone();
    push(&mut a, QOp::Sub { a: u, b: u }, TensorKind::Virtual);
    let e = described(&a).unwrap_err();
    assert!(e.contains("read by its update alone"), "{e}");
    // (b) a virtual u (a bias's) as a second update's u, for another weight of its shape.
    let pair = q.updates().into_iter().find_map(|(nj, wj)| {
        let QOp::Update {
            u: uj, bits: bj, ..
        } = q.nodes[nj].op
        else {
            unreachable!()
        };
        let shape = (q.weights[wj].rows, q.weights[wj].cols);
        let other = (0..q.weights.len())
            .find(|&k| k != wj && (q.weights[k].rows, q.weights[k].cols) == shape)?;
        (q.tensors[uj].kind == TensorKind::Virtual).then_some((uj, bj, other))
    });
    let (uj, bj, other) = pair.expect("two weights of one shape, one with a virtual u");
    let mut b = q.clone();
    let mut t = b.tensors[uj].clone();
    t.kind = TensorKind::After;
    b.nodes.push(zkgrad_circuit::QNode {
        name: "second update".into(),
        op: QOp::Update {
            w: other,
            u: uj,
            bits: bj,
        },
    });
    b.tensors.push(t);
    let e = described(&b).unwrap_err();
    assert!(e.contains("read by its update alone"), "{e}");
    // (c) W' widened past 62 − s.
    let mut c = q.clone();
    c.nodes[ni].op = QOp::Update {
        w: wi,
        u,
        bits: 63 - s,
    };
    let e = described(&c).unwrap_err();
    assert!(e.contains("at most 62"), "{e}");
    // (d) u left virtual, read by a rounding rather than the update (the update then reads a
    // committed copy): the virtual one has no update of its own.
    let mut d = q.clone();
    push(
        &mut d,
        QOp::Requant { x: u, shift: 0 },
        TensorKind::Committed,
    );
    let copy = d.tensors.len() - 1;
    let mut dd = d.clone();
    dd.nodes[ni].op = QOp::Update {
        w: wi,
        u: copy,
        bits,
    };
    // (the update now reads a later tensor: the index check refuses it first)
    assert!(described(&dd).is_err());
    // (e) a virtual rounding with no update at all.
    let mut e2 = q.clone();
    push(
        &mut e2,
        QOp::Requant { x: u - 1, shift: s },
        TensorKind::Virtual,
    );
    assert!(described(&e2).is_err());
    // (f) the virtual u as the public output.
    let mut f = q.clone();
    f.output = u;
    assert!(described(&f).is_err());
    // (g) a virtual u whose producer's shift exceeds 62 − wbits by one, W' unchanged.
    let mut g2 = q.clone();
    let QOp::Requant { x, .. } = g2.nodes[u - 1].op else {
        unreachable!()
    };
    g2.nodes[u - 1].op = QOp::Requant {
        x,
        shift: 63 - bits,
    };
    let e = described(&g2).unwrap_err();
    assert!(e.contains("at most 62") || e.contains("scale"), "{e}");
}
