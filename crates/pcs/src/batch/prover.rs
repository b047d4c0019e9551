//! The batched opening's prover: the table's commitment, the batching sumcheck over the
//! claims' weights, and the opening of its final claim.

use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::eq_table_scaled;
use zkgrad_poly::packed::{pack_word, EP, LANES};
use zkgrad_sumcheck::BaseExtProduct;
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::BlockClaim;
use crate::{commit_used, open, whir, Layout, PcsParams, ProverData};

/// Commits to a table that [`prove_batch`] will open: as [`commit_used`], or with WHIR where
/// [`Layout::choose_batched`] says so. The verifier's [`crate::verify_batch`] makes the same
/// choice.
pub fn commit_batched(values: Vec<F>, log_n: usize, used: usize, params: &PcsParams) -> ProverData {
    let layout = Layout::choose_batched(log_n, used, params);
    match (&params.whir, layout.whir) {
        (Some(wp), true) => {
            // WHIR keeps the values (its table); they are not held twice.
            let wd = whir::commit(values, log_n, wp);
            ProverData {
                layout,
                values: Vec::new(),
                leaves: Vec::new(),
                tree: None,
                root: wd.root,
                whir: Some(wd),
            }
        }
        _ => commit_used(values, log_n, used, params),
    }
}

/// Opens many claims on one committed table with one opening.
///
/// Clear layout: the values are sent and every claim is checked directly. Otherwise the
/// claims are folded with random `β_i` into one sumcheck
/// `Σ_i β_i v_i = Σ_x T(x) · Σ_i β_i eq(z_i, x)` (degree 2), which ends in one claim `T(ρ)`
/// that the Ligero opening discharges.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn prove_batch(
    pd: &ProverData,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let log_n = pd.layout.log_n;
    if pd.layout.clear {
        open(pd, &[], params, t);
        return;
    }
    let betas = t.challenge_vec(b"pcs/batch/beta", claims.len());
    let claim: E = claims.iter().zip(&betas).map(|(c, b)| *b * c.value).sum();
    // Only the used prefix takes part: the values are zero past it, and g is taken as zero
    // there too (the verifier evaluates this truncated g, eq_product_prefix_eval). The prefix
    // is taken to a whole number of SIMD words (both tables zero past `used`).
    let used = pd.layout.used;
    let len = used.next_multiple_of(64).min(1 << log_n);
    let values = &pd.values()[..len];
    let mut oracle = match batch_weights(log_n, used, len, claims, &betas) {
        Weights::Packed(g) => {
            BaseExtProduct::new_prefix_packed(std::borrow::Cow::Borrowed(values), g, log_n)
        }
        Weights::Scalar(g) => {
            BaseExtProduct::new_prefix(std::borrow::Cow::Borrowed(values), g, log_n)
        }
    };
    // The sumcheck binds the top variable first: its challenges, reversed, are the point.
    let mut rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
    rho.reverse();
    let at_rho = oracle.final_values().0;
    t.write_e(b"pcs/batch/value", at_rho);
    match (&pd.whir, &params.whir) {
        (Some(wd), Some(wp)) => whir::open(wd, &rho, wp, t),
        _ => open(pd, &rho, params, t),
    }
}

/// The batching weights, packed into SIMD words when the table is large enough.
enum Weights {
    Packed(Vec<EP>),
    Scalar(Vec<E>),
}

/// `g(x) = Σ_i β_i · eq(z_i, x − off_i)` on each claim's block, zero elsewhere and past
/// `used`, for the first `len` entries; written once, in parallel chunks of `2^c` entries:
/// within an aligned chunk of claim `i`'s block,
/// `eq(z_i, x) = eq(z_i,lo, x_lo) · eq(z_i,hi, chunk)`, so each claim contributes its
/// `2^c`-entry low table scaled by one number per chunk. Large tables are written straight
/// into packed words (no second copy of a table that can reach hundreds of MB).
#[allow(clippy::indexing_slicing)] // Prover side: blocks lie inside the table (checked by the caller's layout)
fn batch_weights(
    log_n: usize,
    used: usize,
    len: usize,
    claims: &[BlockClaim],
    betas: &[E],
) -> Weights {
    const LOG_CHUNK: usize = 12;
    let c = LOG_CHUNK.min(log_n);
    // Per claim: `β·eq(z_lo, ·)` over the first min(k, c) variables.
    // (In parallel: nanoGPT's witness claims spent ~27 ms of CPU here on one thread.)
    let lows: Vec<Vec<E>> = claims
        .par_iter()
        .zip(betas)
        .map(|(cl, b)| eq_table_scaled(&cl.point[..cl.point.len().min(c)], *b))
        .collect();
    // The claims on each chunk (an honest prover's claims lie inside the used prefix).
    let mut by_chunk: Vec<Vec<usize>> = vec![Vec::new(); len.div_ceil(1 << c)];
    for (i, cl) in claims.iter().enumerate() {
        let k = cl.point.len();
        let off = cl.block_index << k;
        let (first, n) = (off >> c, (1usize << k).div_ceil(1 << c));
        for list in by_chunk.iter_mut().skip(first).take(n) {
            list.push(i);
        }
    }
    // Chunk `chunk` of g into `out` (2^c entries, zeroed by the caller).
    let fill = |chunk: usize, out: &mut [E]| {
        for &i in &by_chunk[chunk] {
            let cl = &claims[i];
            let k = cl.point.len();
            if k <= c {
                // A block within the chunk.
                let at = (cl.block_index << k) - (chunk << c);
                for (o, v) in out[at..at + (1 << k)].iter_mut().zip(&lows[i]) {
                    *o += *v;
                }
            } else {
                // The chunk within the block: its index in the block gives the high bits.
                let idx = chunk - ((cl.block_index << k) >> c);
                let hi = zkgrad_poly::eq_at_index(&cl.point[c..], idx);
                for (o, v) in out.iter_mut().zip(&lows[i]) {
                    *o += hi * *v;
                }
            }
        }
        // Zero past the used prefix.
        let (start, n) = (chunk << c, out.len());
        if start + n > used {
            out[used.saturating_sub(start).min(n)..].fill(E::ZERO);
        }
    };
    let packable = log_n >= 1 && (1usize << (log_n - 1)) >= LANES && len.is_multiple_of(LANES);
    if packable && (1usize << c).is_multiple_of(LANES) {
        let words_per_chunk = (1usize << c) / LANES;
        // Zeroed in parallel, so that both threads take the page faults of the fresh table.
        let mut g: Vec<EP> = (0..len / LANES)
            .into_par_iter()
            .with_min_len(1 << 12)
            .map(|_| EP::ZERO)
            .collect();
        g.par_chunks_mut(words_per_chunk).enumerate().for_each_init(
            || vec![E::ZERO; 1 << c],
            |scratch, (chunk, words)| {
                scratch.fill(E::ZERO);
                let n = words.len() * LANES;
                fill(chunk, &mut scratch[..]);
                for (w, vals) in words.iter_mut().zip(scratch[..n].chunks(LANES)) {
                    *w = pack_word(vals);
                }
            },
        );
        Weights::Packed(g)
    } else {
        let mut g: Vec<E> = vec![E::ZERO; by_chunk.len() << c];
        g.par_chunks_mut(1 << c)
            .enumerate()
            .for_each(|(chunk, out)| fill(chunk, out));
        g.truncate(len);
        Weights::Scalar(g)
    }
}
