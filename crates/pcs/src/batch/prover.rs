//! The batched opening's prover: the table's commitment, the batching sumcheck over the
//! claims' weights, and the opening of its final claim.

use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::packed::{pack_word, unpack, EP, LANES};
use zkgrad_poly::{eq_table, eq_table_scaled, eval_mle_base};
use zkgrad_sumcheck::{store_packed, BaseExtProduct, LazyBaseExtProduct, LazyTable};
use zkgrad_transcript::{Challenger, ProverTranscript};

use super::{binds, Binding, BlockClaim};
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

/// Draws and answers the out-of-domain claim binding `pd` to one candidate ([`Binding`]),
/// where it [`binds`]: called once per commitment, before any other challenge of the proof.
/// The root is absorbed again first, so that the point depends on the table whatever the
/// caller wrote before.
#[allow(clippy::panic)] // Prover side: `commit_batched` keeps WHIR data wherever a table binds
pub fn bind(pd: &ProverData, params: &PcsParams, t: &mut ProverTranscript) -> Binding {
    if !binds(&pd.layout, params) {
        return Binding::default();
    }
    let Some(wd) = pd.whir.as_ref() else {
        panic!("a bound table committed without WHIR (not by commit_batched with these params)");
    };
    t.observe(b"pcs/whir/bind-root", &wd.root);
    let point = t.challenge_vec(b"pcs/whir/bind", wd.log_n);
    let value = eval_mle_base(wd.values(), &point);
    t.write_e(b"pcs/whir/bound", value);
    Binding {
        claim: Some((point, value)),
    }
}

/// Opens many claims on one committed table with one opening.
///
/// Clear layout: the values are sent and every claim is checked directly. Otherwise the
/// claims are folded with random `β_i` into one sumcheck
/// `Σ_i β_i v_i = Σ_x T(x) · Σ_i β_i eq(z_i, x)` (degree 2), which ends in one claim `T(ρ)`
/// that the Ligero opening discharges.
///
/// `binding` is what [`bind`] returned for `pd`: where the table is bound, the WHIR opening
/// proves its out-of-domain claim beside `T(ρ)`.
pub fn prove_batch(
    pd: &ProverData,
    binding: &Binding,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let lazy = if pd.layout.log_n >= LAZY_FROM_LOG_N {
        LAZY_ROUNDS
    } else {
        0
    };
    prove_batch_lazy(pd, binding, claims, params, t, lazy);
}

/// [`prove_batch`] with the weights lazy for `lazy_rounds` rounds where the table allows
/// (`0`: stored from the start); the proof bytes are the same either way.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
#[allow(clippy::panic)] // Prover side: a binding that is not `bind`'s for this table
pub(crate) fn prove_batch_lazy(
    pd: &ProverData,
    binding: &Binding,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut ProverTranscript,
    lazy_rounds: usize,
) {
    let log_n = pd.layout.log_n;
    assert_eq!(
        binding.claim.is_some(),
        binds(&pd.layout, params),
        "a binding exactly where the table is bound"
    );
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
    let lazy = lazy_rounds > 0
        && Weights::within(claims, used)
        && LazyBaseExtProduct::<Weights>::fits(log_n, len, Weights::log_chunk(log_n), lazy_rounds);
    // Stored weights write each chunk once: a block within a chunk has its table computed
    // there and then (rather than all of them held at once: nanoGPT's witness has 1,018
    // claims, 36 MB of low tables allocated and faulted in for one pass).
    let weights = Weights::new(log_n, used, claims, &betas, !lazy);
    // The sumcheck binds the top variable first: its challenges, reversed, are the point.
    let (mut rho, at_rho) = if lazy {
        let mut oracle = LazyBaseExtProduct::new(
            std::borrow::Cow::Borrowed(values),
            weights,
            log_n,
            lazy_rounds,
        );
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        (rho, oracle.final_values().0)
    } else {
        let mut oracle = match weights.store(log_n, len, claims, &betas) {
            Stored::Packed(g) => {
                BaseExtProduct::new_prefix_packed(std::borrow::Cow::Borrowed(values), g, log_n)
            }
            Stored::Scalar(g) => {
                BaseExtProduct::new_prefix(std::borrow::Cow::Borrowed(values), g, log_n)
            }
        };
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        (rho, oracle.final_values().0)
    };
    rho.reverse();
    t.write_e(b"pcs/batch/value", at_rho);
    match (&pd.whir, &params.whir) {
        (Some(wd), Some(wp)) => match &binding.claim {
            Some((z, _)) => whir::open_points(wd, &[&rho, z], wp, t),
            None => whir::open(wd, &rho, wp, t),
        },
        _ => open(pd, &rho, params, t),
    }
}

/// Rounds of the batching sumcheck in which a large table's weights are not stored (they are
/// then stored at an eighth of their size)…
const LAZY_ROUNDS: usize = 3;
/// … from tables of `2^LAZY_FROM_LOG_N` values. Each lazy round writes every claim's entries
/// again (after `j` top variables are bound the claims' blocks overlap, so a round's work
/// stays the table's, not half of it), which pays only where writing and folding a stored
/// table costs more: GPT-2 124M's 2^27 weights (318 claims) went from 5.2 s to 3.1 s for the
/// weights and the sumcheck with 3 lazy rounds (3.8 s with 1, 3.7 s with 2), while its 2^25
/// witness (4,040 claims) went from 1.0 to 1.3 s.
const LAZY_FROM_LOG_N: usize = 26;

/// The batching weights `g(x) = Σ_i β_i·eq(z_i, x − off_i)`, described rather than stored:
/// per claim a coefficient (`β_i` times the `eq` factors of the variables bound so far), the
/// claim's remaining point and its block's place in the current table. The sumcheck binds the
/// top variable first: binding it scales a claim by `eq(bit, r)` of its block's top index bit
/// (and keeps its block in the lower half), or — a block as large as the table — by
/// `eq(z_top, r)`, and drops `z_top`. Each chunk of `2^c` entries is written on demand: within
/// an aligned chunk of claim `i`'s block, `eq(z_i, x) = eq(z_i,lo, x_lo)·eq(z_i,hi, chunk)`,
/// so each claim contributes its `2^c`-entry low table scaled by one number per chunk — in
/// packed words when the table is large enough (a claim's low table then is too, a block
/// smaller than a word aside).
struct Weights {
    /// `log₂` of a chunk.
    c: usize,
    /// Variables of the current table.
    m: usize,
    /// Per claim: the remaining point (its block holds `2^point.len()` entries) and the
    /// block's first entry in the current table.
    points: Vec<(Vec<E>, usize)>,
    /// Per claim: `coefficient · eq(point[..min(k, c)], ·)`.
    lows: Vec<Low>,
    /// The claims on each chunk of the current table.
    by_chunk: Vec<Vec<usize>>,
    /// Entries past this are zero: applied only before any variable is bound (a lazy table's
    /// claims all lie below it, so that it is a no-op there).
    used: Option<usize>,
}

/// A claim's low table, or (a block within a chunk, whose chunk is written once) its
/// coefficient, the table being computed where the chunk is written.
enum Low {
    Packed(Vec<EP>),
    Scalar(Vec<E>),
    Deferred(E),
}

impl Weights {
    const LOG_CHUNK: usize = 12;

    /// `log₂` of a chunk of a table of `2^log_n` values.
    fn log_chunk(log_n: usize) -> usize {
        Self::LOG_CHUNK.min(log_n)
    }

    /// The weights of `claims` with coefficients `betas`; `defer`: blocks within a chunk keep
    /// only their coefficient (for weights whose chunks are each written once).
    #[allow(clippy::indexing_slicing)] // `..min(len, c)` of each point
    fn new(log_n: usize, used: usize, claims: &[BlockClaim], betas: &[E], defer: bool) -> Self {
        let c = Self::log_chunk(log_n);
        let packed = Self::packable(log_n, c);
        // (In parallel: nanoGPT's witness claims spent ~27 ms of CPU here on one thread.)
        let lows: Vec<Low> = claims
            .par_iter()
            .zip(betas)
            .map(|(cl, b)| {
                if defer && cl.point.len() <= c {
                    return Low::Deferred(*b);
                }
                let point = &cl.point[..cl.point.len().min(c)];
                if packed && 1usize << point.len() >= LANES {
                    let (lo, hi) = packed_eq(point, *b);
                    Low::Packed(hi.iter().map(|&h| lo * h).collect())
                } else {
                    Low::Scalar(eq_table_scaled(point, *b))
                }
            })
            .collect();
        let points = claims
            .iter()
            .map(|cl| (cl.point.clone(), cl.block_index << cl.point.len()))
            .collect();
        let mut w = Self {
            c,
            m: log_n,
            points,
            lows,
            by_chunk: Vec::new(),
            used: Some(used),
        };
        w.index_chunks();
        w
    }

    /// Whether chunks are written as packed words (a table of at least two words, chunks of
    /// whole words).
    fn packable(log_n: usize, c: usize) -> bool {
        log_n >= 1 && (1usize << (log_n - 1)) >= LANES && (1usize << c).is_multiple_of(LANES)
    }

    /// Whether every claim's block ends by `used` (the truncation is then a no-op).
    fn within(claims: &[BlockClaim], used: usize) -> bool {
        claims
            .iter()
            .all(|cl| (cl.block_index + 1) << cl.point.len() <= used)
    }

    fn index_chunks(&mut self) {
        let chunks = (1usize << self.m) >> self.c;
        let mut by_chunk: Vec<Vec<usize>> = vec![Vec::new(); chunks.max(1)];
        for (i, (point, off)) in self.points.iter().enumerate() {
            let (first, n) = (off >> self.c, (1usize << point.len()).div_ceil(1 << self.c));
            for list in by_chunk.iter_mut().skip(first).take(n) {
                list.push(i);
            }
        }
        self.by_chunk = by_chunk;
    }

    /// The first `len` entries, stored: in packed words when the table is large enough,
    /// written once, in parallel chunks; a table too small for whole words (below `2·LANES`
    /// values, smaller than any batched table the layouts leave unclear) claim by claim.
    fn store(&self, log_n: usize, len: usize, claims: &[BlockClaim], betas: &[E]) -> Stored {
        if Self::packable(log_n, self.c) && len.is_multiple_of(LANES) {
            return Stored::Packed(store_packed(self, len));
        }
        Stored::Scalar(store_direct(len, self.used.unwrap_or(len), claims, betas))
    }
}

impl LazyTable for Weights {
    fn log_chunk(&self) -> usize {
        self.c
    }

    /// The packed chunk (built only where [`Weights::packable`] holds).
    #[allow(clippy::indexing_slicing)] // Prover side: blocks lie inside the table (checked by the caller's layout)
    fn fill_chunk(&self, chunk: usize, out: &mut [EP]) {
        let c = self.c;
        let Some(claims) = self.by_chunk.get(chunk) else {
            return;
        };
        for &i in claims {
            let (point, off) = &self.points[i];
            let k = point.len();
            match &self.lows[i] {
                Low::Packed(low) if k <= c => {
                    // A block of whole words within the chunk.
                    let at = (off - (chunk << c)) / LANES;
                    for (o, v) in out[at..at + low.len()].iter_mut().zip(low) {
                        *o += *v;
                    }
                }
                Low::Packed(low) => {
                    // The chunk within the block: its index in the block gives the high bits.
                    let hi = zkgrad_poly::eq_at_index(&point[c..], chunk - (off >> c));
                    for (o, v) in out.iter_mut().zip(low) {
                        *o += *v * hi;
                    }
                }
                Low::Scalar(low) => add_small(out, off - (chunk << c), low),
                Low::Deferred(coef) => {
                    // A block within the chunk, its table computed now.
                    let at = off - (chunk << c);
                    if 1usize << k >= LANES {
                        let (lo, hi) = packed_eq(point, *coef);
                        for (o, &h) in out[at / LANES..].iter_mut().zip(&hi) {
                            *o += lo * h;
                        }
                    } else {
                        add_small(out, at, &eq_table_scaled(point, *coef));
                    }
                }
            }
        }
        if let Some(used) = self.used {
            // Zero past the used prefix: whole words, and the tail of a word it ends inside.
            let (start, n) = (chunk << c, out.len() * LANES);
            if start + n > used {
                let keep = used.saturating_sub(start).min(n);
                let w = keep / LANES;
                if !keep.is_multiple_of(LANES) {
                    let mut vals = unpack(&out[w..w + 1]);
                    vals[keep % LANES..].fill(E::ZERO);
                    out[w] = pack_word(&vals);
                }
                out[keep.div_ceil(LANES)..].fill(EP::ZERO);
            }
        }
    }

    /// The chunk's claims one by one, none written: a claim larger than the chunk is its low
    /// table's inner products, times `eq` of its high variables at the chunk's index; a
    /// block within the chunk, its table's at the block's words. (The table's `used`
    /// truncation is not applied: a lazy table's claims all lie below it.)
    #[allow(clippy::indexing_slicing)] // Prover side: blocks lie inside the table (checked by the caller's layout)
    fn dot_chunk<T>(&self, chunk: usize, x: &[T], y: Option<&[T]>) -> (EP, EP)
    where
        T: Copy + Sync,
        EP: std::ops::Mul<T, Output = EP>,
    {
        let c = self.c;
        let mut sums = (EP::ZERO, EP::ZERO);
        let Some(claims) = self.by_chunk.get(chunk) else {
            return sums;
        };
        // `y`, or nothing to multiply.
        let y = y.unwrap_or_default();
        for &i in claims {
            let (point, off) = &self.points[i];
            let k = point.len();
            let (dx, dy) = match &self.lows[i] {
                Low::Packed(low) if k <= c => {
                    // A block of whole words within the chunk.
                    let at = (off - (chunk << c)) / LANES;
                    dots(low, words_at(x, at, low.len()), words_at(y, at, low.len()))
                }
                Low::Packed(low) => {
                    // The chunk within the block: its index in the block gives the high bits.
                    let hi = zkgrad_poly::eq_at_index(&point[c..], chunk - (off >> c));
                    let (dx, dy) = dots(low, x, y);
                    (times(dx, hi), times(dy, hi))
                }
                Low::Scalar(low) => {
                    // A block within one word: that word, the rest of its lanes zero.
                    let at = off - (chunk << c);
                    let mut vals = vec![E::ZERO; LANES];
                    for (o, v) in vals[at % LANES..].iter_mut().zip(low) {
                        *o = *v;
                    }
                    let w = at / LANES;
                    let word = [pack_word(&vals)];
                    dots(&word, words_at(x, w, 1), words_at(y, w, 1))
                }
                Low::Deferred(coef) => {
                    // A block within the chunk, its table computed now.
                    let at = off - (chunk << c);
                    let mut word = vec![EP::ZERO; (1usize << k).div_ceil(LANES).max(1)];
                    if 1usize << k >= LANES {
                        let (lo, hi) = packed_eq(point, *coef);
                        for (o, &h) in word.iter_mut().zip(&hi) {
                            *o = times(lo, h);
                        }
                    } else {
                        add_small(&mut word, at % LANES, &eq_table_scaled(point, *coef));
                    }
                    let w = at / LANES;
                    dots(
                        &word,
                        words_at(x, w, word.len()),
                        words_at(y, w, word.len()),
                    )
                }
            };
            sums.0 += dx;
            sums.1 += dy;
        }
        sums
    }

    fn bind_top(&mut self, r: E) {
        let top = self.m - 1;
        let half = 1usize << top;
        self.points
            .par_iter_mut()
            .zip(self.lows.par_iter_mut())
            .for_each(|((point, off), low)| {
                let factor = if point.len() <= top {
                    // The top variable is a bit of the block's index.
                    let bit = *off & half != 0;
                    *off &= half - 1;
                    if bit {
                        r
                    } else {
                        E::ONE - r
                    }
                } else {
                    // The block is the whole table: its point's top coordinate is bound. (A
                    // lazy round's table is larger than a chunk, so the low table keeps its
                    // variables.)
                    let z = point.pop().unwrap_or(E::ZERO);
                    (E::ONE - z) * (E::ONE - r) + z * r
                };
                match low {
                    Low::Packed(v) => v.iter_mut().for_each(|x| *x *= factor),
                    Low::Scalar(v) => v.iter_mut().for_each(|x| *x *= factor),
                    Low::Deferred(coef) => *coef *= factor,
                }
            });
        self.m = top;
        self.used = None;
        self.index_chunks();
    }
}

/// `coef·eq(point, ·)` (at least a word of entries) as a word and a table: the word holds
/// `coef·eq` of the low `log2(LANES)` variables, lane by lane, and entry `j` of the table
/// `eq` of the rest at `j`, so that word `j` of the packed table is `word · table[j]` — one
/// packed product per word instead of a scalar product per entry and a transposition.
fn packed_eq(point: &[E], coef: E) -> (EP, Vec<E>) {
    let lanes = LANES.trailing_zeros() as usize;
    let (lo, hi) = point.split_at(lanes.min(point.len()));
    (pack_word(&eq_table_scaled(lo, coef)), eq_table(hi))
}

/// Up to `n` words of `v` from word `w` (fewer where `v` ends first).
fn words_at<T>(v: &[T], w: usize, n: usize) -> &[T] {
    let end = v.len().min(w.saturating_add(n));
    v.get(w..end).unwrap_or_default()
}

/// A word times an extension value (named: where `EP: Mul<T>` is a bound, `*` is ambiguous).
fn times(w: EP, e: E) -> EP {
    w * e
}

/// `(Σ_w t_w·x_w, Σ_w t_w·y_w)` over the words the tables share (lane by lane).
fn dots<T>(t: &[EP], x: &[T], y: &[T]) -> (EP, EP)
where
    T: Copy,
    EP: std::ops::Mul<T, Output = EP>,
{
    let mut sx = EP::ZERO;
    for (a, b) in t.iter().zip(x) {
        sx += *a * *b;
    }
    let mut sy = EP::ZERO;
    for (a, b) in t.iter().zip(y) {
        sy += *a * *b;
    }
    (sx, sy)
}

/// Adds a block smaller than a word at entry `at` of the packed chunk `out`: its word,
/// unpacked and packed again.
#[allow(clippy::indexing_slicing)] // the block lies inside one word of the chunk
fn add_small(out: &mut [EP], at: usize, low: &[E]) {
    let w = at / LANES;
    let mut vals = unpack(&out[w..w + 1]);
    for (o, v) in vals[at % LANES..].iter_mut().zip(low) {
        *o += *v;
    }
    out[w] = pack_word(&vals);
}

/// The first `len` entries of `g`, zero from `used` on, claim by claim: the plain definition
/// (the small tables' weights, and the reference the chunked ones are tested against).
fn store_direct(len: usize, used: usize, claims: &[BlockClaim], betas: &[E]) -> Vec<E> {
    let mut g = vec![E::ZERO; len];
    let limit = used.min(len);
    for (cl, b) in claims.iter().zip(betas) {
        let off = cl.block_index << cl.point.len();
        let block = g.iter_mut().take(limit).skip(off);
        for (o, v) in block.zip(eq_table_scaled(&cl.point, *b)) {
            *o += v;
        }
    }
    g
}

/// Stored batching weights.
enum Stored {
    Packed(Vec<EP>),
    Scalar(Vec<E>),
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use zkgrad_field::F;

    /// The chunked, packed weights (blocks smaller than a word, within a chunk, larger than a
    /// chunk; deferred or held tables; a used prefix ending inside a word) are the plain
    /// definition's, entry for entry.
    #[test]
    fn chunked_weights_are_the_plain_definition() {
        let log_n = 14;
        let blocks = [
            (13usize, 0usize),
            (12, 2),
            (5, 384),
            (2, 3080),
            (0, 12322),
            (0, 12323),
        ];
        let claims: Vec<BlockClaim> = blocks
            .iter()
            .enumerate()
            .map(|(i, &(k, block_index))| BlockClaim {
                block_index,
                point: (0..k)
                    .map(|j| E::from(F::from_u64((i * 31 + j * 7 + 2) as u64)))
                    .collect(),
                value: E::ZERO,
            })
            .collect();
        let betas: Vec<E> = (0..claims.len())
            .map(|i| E::from(F::from_u64(1000 + i as u64)))
            .collect();
        for used in [12323usize, 12324, 1 << 13] {
            let len = used.next_multiple_of(64);
            let want = store_direct(len, used, &claims, &betas);
            for defer in [false, true] {
                let w = Weights::new(log_n, used, &claims, &betas, defer);
                let Stored::Packed(got) = w.store(log_n, len, &claims, &betas) else {
                    panic!("a 2^14 table is stored packed");
                };
                assert_eq!(unpack(&got), want, "used {used}, defer {defer}");
            }
        }
    }

    /// A chunk's inner products (`dot_chunk`, what the first lazy round reads) are those of
    /// the written chunk (`fill_chunk`), for every kind of claim — larger than a chunk, whole
    /// words within one, within one word, deferred — with base and extension words, a
    /// shorter `x` (the table's end) and no `y`, before and after a variable is bound.
    #[test]
    fn chunk_inner_products_are_the_written_chunks() {
        use p3_field::PackedValue;
        use zkgrad_poly::packed::FP;
        let log_n = 14;
        let blocks = [
            (13usize, 0usize),
            (13, 1),
            (12, 2),
            (5, 384),
            (5, 384),
            (2, 3080),
            (0, 12322),
            (1, 5000),
        ];
        let claims: Vec<BlockClaim> = blocks
            .iter()
            .enumerate()
            .map(|(i, &(k, block_index))| BlockClaim {
                block_index,
                point: (0..k)
                    .map(|j| E::from(F::from_u64((i * 31 + j * 7 + 2) as u64)))
                    .collect(),
                value: E::ZERO,
            })
            .collect();
        let betas: Vec<E> = (0..claims.len())
            .map(|i| E::from(F::from_u64(1000 + i as u64)))
            .collect();
        let cw = (1usize << Weights::LOG_CHUNK) / LANES;
        let vals: Vec<F> = (0..cw * LANES)
            .map(|i| F::from_u64((i * i + 7) as u64 % 1009))
            .collect();
        let base: Vec<FP> = FP::pack_slice(&vals).to_vec();
        let ext: Vec<EP> = base
            .iter()
            .map(|&b| EP::from(b) * E::from(F::from_u64(3)))
            .collect();
        for defer in [false, true] {
            let mut w = Weights::new(log_n, 1 << log_n, &claims, &betas, defer);
            for bound in 0..2 {
                for chunk in 0..(1usize << w.m) >> w.c {
                    let mut t = vec![EP::ZERO; cw];
                    w.fill_chunk(chunk, &mut t);
                    for n in [cw, cw - 3] {
                        let want_b: EP = t.iter().zip(&base[..n]).map(|(a, b)| *a * *b).sum();
                        let want_e: EP = t.iter().zip(&ext[..n]).map(|(a, b)| *a * *b).sum();
                        let (gx, gy) = w.dot_chunk(chunk, &base[..n], None);
                        assert_eq!((gx, gy), (want_b, EP::ZERO), "chunk {chunk}, {bound} bound");
                        let (gx, gy) = w.dot_chunk(chunk, &ext[..n], Some(&ext[..n]));
                        assert_eq!((gx, gy), (want_e, want_e), "chunk {chunk}, {bound} bound");
                    }
                }
                w.bind_top(E::from(F::from_u64(12345)));
            }
        }
    }
}
