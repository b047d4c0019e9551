//! Times `eval_mle_base` on a table of `2^K` base-field values at a random extension point
//! (the out-of-domain binding of a WHIR commitment evaluates the whole table once):
//! `cargo run --release -p zkgrad-poly --example eval_time -- K`.

use std::time::Instant;
use zkgrad_field::{PrimeCharacteristicRing, E, F};

fn main() {
    let k: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(24);
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let table: Vec<F> = (0..1usize << k)
        .map(|_| F::from_u64(next() >> 40))
        .collect();
    let point: Vec<E> = (0..k)
        .map(|_| E::from(F::from_u64(next() >> 1)) * E::from(F::from_u64(next() >> 3)))
        .collect();
    for _ in 0..3 {
        let t = Instant::now();
        let v = zkgrad_poly::eval_mle_base(&table, &point);
        println!("2^{k}: {:.1} ms ({v:?})", t.elapsed().as_secs_f64() * 1e3);
    }
}
