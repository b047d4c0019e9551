//! The Reed–Solomon encoding of a WHIR commitment, p3's transform against zkgrad's four-step
//! one (`zkgrad_pcs::whir::four_step`), on a `2^k × w` message at rate 1/2 (GPT-2 124M's
//! weights: `k = 20`, `w = 128`, the default; its witness: `k = 19`, `w = 32`), each run
//! three times in turn so that the later runs reuse memory.
//! `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
//! cargo run --release -p zkgrad-pcs --features prover --example encode_time -- 20 [128]`

use std::time::Instant;

use p3_commit::Encoder;
use p3_dft::Radix2DFTSmallBatch;
use p3_matrix::dense::RowMajorMatrixView;
use zkgrad_field::{PrimeCharacteristicRing, F};

fn main() {
    let k: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let w: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(128);
    let h = 1usize << k;
    let values: Vec<F> = (0..h * w)
        .map(|i| F::from_u64((i as u64).wrapping_mul(0x9e37_79b9) % 1_000_003))
        .collect();
    let view = RowMajorMatrixView::new(&values, w);
    let dft = Radix2DFTSmallBatch::<F>::default();
    for _ in 0..3 {
        let t = Instant::now();
        let a = zkgrad_pcs::whir::four_step(&dft, view, 1);
        let four = t.elapsed();
        drop(a);
        let t = Instant::now();
        let b = Encoder::encode_batch_borrowed(&dft, view, 1);
        let p3 = t.elapsed();
        drop(b);
        println!("2^{k} × {w}: four-step {four:.2?}, p3 {p3:.2?}");
    }
}
