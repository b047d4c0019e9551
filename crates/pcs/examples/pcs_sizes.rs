//! Commit / open / verify time and opening size of the Ligero PCS at the sizes of
//! ../shared/bench/REFERENCE.md's p3-whir table (one opening point, base-field values).
//! `cargo run --release -p zkgrad-pcs --example pcs_sizes`

use std::time::Instant;

use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_pcs::{commit, open, verify, PcsParams};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{ProverTranscript, VerifierTranscript};

fn main() {
    let params = PcsParams::default();
    println!("| 2^n values | commit | open | verify | opening bytes |");
    println!("|---|---|---|---|---|");
    for n in [10usize, 16, 20, 22] {
        let vals: Vec<F> = (0..1u64 << n)
            .map(|i| F::from_u64(i.wrapping_mul(0x9e37_79b9) % 1_000_003))
            .collect();
        let point: Vec<E> = (0..n)
            .map(|i| E::from(F::from_u64(17 + 31 * i as u64)))
            .collect();
        let value = eval_mle_base(&vals, &point);
        let runs = if n >= 20 { 3 } else { 10 };
        let (mut tc, mut to, mut tv, mut bytes) = (f64::MAX, f64::MAX, f64::MAX, 0);
        for _ in 0..runs {
            let t = Instant::now();
            let pd = commit(vals.clone(), n, &params);
            tc = tc.min(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let mut tr = ProverTranscript::new(&[0; 32]);
            open(&pd, &point, &params, &mut tr);
            let proof = tr.finish();
            to = to.min(t.elapsed().as_secs_f64() * 1e3);
            bytes = proof.len();
            let t = Instant::now();
            let mut vt = VerifierTranscript::new(&[0; 32], &proof);
            verify(&pd.root, n, &point, value, &params, &mut vt).expect("honest opening verifies");
            tv = tv.min(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "| n = {n} | {tc:.2} ms | {to:.2} ms | {tv:.2} ms | {:.1} KB |",
            bytes as f64 / 1000.0
        );
    }
}
