//! Commit / open / verify time and opening bytes of the WHIR opening (`zkgrad_pcs::whir`) beside
//! Ligero's, one base-field table and one opening point.
//! `cargo run --release -p zkgrad-pcs --example whir_sizes -- 20 22 24`; the environment
//! varies the parameters: `POW`, `RATE`, `FOLD`, `FIRST`, `STEP`, and `UNIQUE=k` (tables of
//! `2^k` values or more in the unique-decoding regime; `UNIQUE=27 … 27`: `whir-unique` at 2^27).

use std::time::Instant;

use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_pcs::whir::{self, WhirParams};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![16, 20, 22]
    } else {
        sizes
    };
    let mut p = WhirParams::default();
    if let Ok(v) = std::env::var("POW") {
        p.pow_bits = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("RATE") {
        p.log_inv_rate = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("FOLD") {
        p.folding = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("FIRST") {
        p.large_first_folding = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("UNIQUE") {
        p.unique_from_log_n = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("STEP") {
        p.rate_step = v.parse().unwrap();
    }
    println!("| 2^n values | commit | open | verify | opening bytes | sound |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let vals: Vec<F> = (0..1u64 << n)
            .map(|i| F::from_u64(i.wrapping_mul(0x9e37_79b9) % 1_000_003))
            .collect();
        let z: Vec<E> = (0..n)
            .map(|i| E::from(F::from_u64(17 + 31 * i as u64)))
            .collect();
        let y = eval_mle_base(&vals, &z);
        let t0 = Instant::now();
        let wd = whir::commit(vals, n, &p);
        let tc = t0.elapsed().as_secs_f64() * 1e3;
        let t0 = Instant::now();
        let mut t = ProverTranscript::new(&[1; 32]);
        whir::open(&wd, &z, &p, &mut t);
        let to = t0.elapsed().as_secs_f64() * 1e3;
        let proof = t.finish();
        let t0 = Instant::now();
        let mut t = VerifierTranscript::new(&[1; 32], &proof);
        whir::verify(&wd.root, n, &z, y, &p, &mut t).expect("honest opening");
        let tv = t0.elapsed().as_secs_f64() * 1e3;
        println!(
            "| 2^{n} | {tc:.0} ms | {to:.0} ms | {tv:.2} ms | {} | {} |",
            proof.len(),
            whir::params_are_sound(&p, n)
        );
    }
}
