//! The prover half: the driver and the oracles. Oracles index their own tables, whose lengths
//! are checked when they are built.
#![allow(clippy::indexing_slicing)]

use std::borrow::Cow;

use p3_field::PackedValue;
use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::interpolate_at;
use zkgrad_poly::packed::{first_lane, lane_sum, pack, unpack, EP, FP, LANES};
use zkgrad_transcript::{Challenger, ProverTranscript};

/// The prover's view of a sumcheck polynomial (stwo's `MultivariatePolyOracle`).
pub trait SumcheckOracle {
    fn n_variables(&self) -> usize;
    fn degree(&self) -> usize;
    /// `g(t)` for `t = 0..=degree`, where `g(t) = Σ_{x'} f(t, x')`.
    fn round_evals(&self) -> Vec<E>;
    /// `g(t)` for `t = 0, 2, 3, …, degree`: what the prover sends. `g(1)` follows from the claim,
    /// so an oracle may skip computing it.
    fn round_evals_except_one(&self) -> Vec<E> {
        let mut v = self.round_evals();
        let _ = v.remove(1);
        v
    }
    /// What the prover sends in a round whose claim is `claim = g(0) + g(1)`: by default
    /// [`Self::round_evals_except_one`]; an oracle that uses the claim to skip a point (as the
    /// GKR layers do, after Gruen's factoring of `eq`) overrides this.
    fn round_message(&self, claim: E) -> Vec<E> {
        let _ = claim;
        self.round_evals_except_one()
    }
    /// Binds the first variable to `r`.
    fn fix_first_variable(&mut self, r: E);
}

/// `f(x) = combine(t_0(x), …, t_{k-1}(x))` for multilinear tables `t_i` and a polynomial
/// `combine` of total degree `degree`.
pub struct ProductOracle<C: Fn(&[E]) -> E + Sync> {
    tables: Vec<Vec<E>>,
    n_vars: usize,
    degree: usize,
    combine: C,
}

impl<C: Fn(&[E]) -> E + Sync> ProductOracle<C> {
    /// All tables must have length `2^n_vars`.
    pub fn new(tables: Vec<Vec<E>>, degree: usize, combine: C) -> Self {
        let len = tables.first().map_or(1, |t| t.len());
        assert!(
            len.is_power_of_two(),
            "sumcheck tables must have power-of-two length"
        );
        assert!(
            tables.iter().all(|t| t.len() == len),
            "sumcheck tables differ in length"
        );
        Self {
            n_vars: len.trailing_zeros() as usize,
            tables,
            degree,
            combine,
        }
    }
    /// `g(t)` at `t = 0..=d`, without `t = 1` when `skip_one`.
    fn evals(&self, skip_one: bool) -> Vec<E> {
        let half = self.tables[0].len() / 2;
        let d = self.degree;
        let k = self.tables.len();
        let chunk = 1024.max(half / 64);
        let acc = (0..half)
            .into_par_iter()
            .with_min_len(chunk)
            .fold(
                || (vec![E::ZERO; d + 1], vec![E::ZERO; k], vec![E::ZERO; k]),
                |(mut acc, mut vals, mut steps), i| {
                    // v(t) = a + t·(b − a), stepped by additions: v(0) = a, v(t+1) = v(t) + (b − a).
                    for (j, table) in self.tables.iter().enumerate() {
                        let a = table[2 * i];
                        vals[j] = a;
                        steps[j] = table[2 * i + 1] - a;
                    }
                    for (t, slot) in acc.iter_mut().enumerate() {
                        if t > 0 {
                            for (v, s) in vals.iter_mut().zip(&steps) {
                                *v += *s;
                            }
                        }
                        if !(skip_one && t == 1) {
                            *slot += (self.combine)(&vals);
                        }
                    }
                    (acc, vals, steps)
                },
            )
            .map(|(acc, _, _)| acc)
            .reduce(
                || vec![E::ZERO; d + 1],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            );
        let mut out = acc;
        if skip_one {
            let _ = out.remove(1);
        }
        out
    }

    /// The tables' values at the bound point (each table folded to one entry).
    pub fn final_values(&self) -> Vec<E> {
        self.tables.iter().map(|t| t[0]).collect()
    }
}

impl<C: Fn(&[E]) -> E + Sync> SumcheckOracle for ProductOracle<C> {
    fn n_variables(&self) -> usize {
        self.n_vars
    }
    fn degree(&self) -> usize {
        self.degree
    }
    fn round_evals(&self) -> Vec<E> {
        self.evals(false)
    }
    fn round_evals_except_one(&self) -> Vec<E> {
        self.evals(true)
    }
    fn fix_first_variable(&mut self, r: E) {
        for t in self.tables.iter_mut() {
            let half = t.len() / 2;
            for i in 0..half {
                let a = t[2 * i];
                let b = t[2 * i + 1];
                t[i] = a + (b - a) * r;
            }
            t.truncate(half.max(1));
        }
        self.n_vars -= 1;
    }
}

/// Runs the prover. Returns the bound point `r` (so `f(r)` is the final claim).
pub fn prove<O: SumcheckOracle>(oracle: &mut O, claim: E, t: &mut ProverTranscript) -> Vec<E> {
    let n = oracle.n_variables();
    let mut point = Vec::with_capacity(n);
    let mut claim = claim;
    for _ in 0..n {
        let msg = oracle.round_message(claim);
        let mut evals = vec![msg[0], claim - msg[0]];
        evals.extend_from_slice(&msg[1..]);
        debug_assert_eq!(
            evals,
            oracle.round_evals(),
            "sumcheck prover: round sum mismatch"
        );
        t.write_es(b"sumcheck/round", &msg);
        let r = t.challenge_e(b"sumcheck/r");
        claim = interpolate_at(&evals, r);
        oracle.fix_first_variable(r);
        point.push(r);
    }
    point
}

/// `f(x) = a(x)·b(x)` with `a` starting in the base field: the degree-2 sumcheck of batched
/// openings, **binding the variables from the top** (`x_{n−1}` first), so that a round's pairs
/// `(i, i + 2^v)` lie in matching lanes of Plonky3's packed words and every fold runs in place.
/// The challenges, reversed, are the point in variable order: callers (and their verifiers)
/// reverse them.
///
/// The tables are given by a prefix (`a.len() == b.len() ≤ 2^n`), the rest zero, and every
/// round works on the prefix only. `a` may be borrowed: the first round reads it in the base
/// field and folds it into the extension.
pub struct BaseExtProduct<'a> {
    a_base: Option<Cow<'a, [F]>>,
    a: Tab,
    b: Tab,
    n_vars: usize,
}

/// An extension table: packed while a round's halves are whole words, scalar after.
enum Tab {
    Packed(Vec<EP>),
    Scalar(Vec<E>),
}

impl Tab {
    fn unpack(self) -> Vec<E> {
        match self {
            Tab::Packed(v) => unpack(&v),
            Tab::Scalar(v) => v,
        }
    }
    fn first(&self) -> E {
        match self {
            Tab::Packed(v) => v.first().map_or(E::ZERO, |w| first_lane(*w)),
            Tab::Scalar(v) => v.first().copied().unwrap_or(E::ZERO),
        }
    }
}

/// `(Σ lo·lo', Σ (2hi − lo)·(2hi' − lo'))` over the pairs `(i, i + half)` of two tables given
/// by prefixes of length `len` (entries past it zero).
fn round_sums<A, B, P>(a: &[A], b: &[B], half: usize, mul: impl Fn(A, B) -> P + Sync) -> (P, P)
where
    A: PrimeCharacteristicRing + Copy + Send + Sync,
    B: PrimeCharacteristicRing + Copy + Send + Sync,
    P: PrimeCharacteristicRing + Copy + Send + Sync,
{
    let len = a.len().min(b.len());
    let pairs = len.min(half);
    let at = |t: &[A], i: usize| t.get(i).copied().unwrap_or(A::ZERO);
    let bt = |t: &[B], i: usize| t.get(i).copied().unwrap_or(B::ZERO);
    let step = |(s0, s2): (P, P), i: usize| {
        let (a0, b0) = (at(a, i), bt(b, i));
        let (a1, b1) = (at(a, i + half), bt(b, i + half));
        (
            s0 + mul(a0, b0),
            s2 + mul(a1.double() - a0, b1.double() - b0),
        )
    };
    let zero = (P::ZERO, P::ZERO);
    if pairs < 2048 {
        (0..pairs).fold(zero, step)
    } else {
        (0..pairs)
            .into_par_iter()
            .with_min_len(1024)
            .fold(|| zero, step)
            .reduce(|| zero, |x, y| (x.0 + y.0, x.1 + y.1))
    }
}

/// Binds the top variable of a base-field table of `2·half_words` packed words, given by a
/// prefix (a whole number of words), into a new extension table.
fn fold_base_top(a: &[F], half_words: usize, r: E) -> Vec<EP> {
    let aw = FP::pack_slice(a);
    let keep = aw.len().min(half_words);
    let rp = EP::from(r);
    (0..keep)
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            // `lo + r·(hi − lo)` with `hi − lo` in the base field: two base products.
            let lo = aw[i];
            let hi = aw.get(i + half_words).copied().unwrap_or(FP::ZERO);
            EP::from(lo) + rp * (hi - lo)
        })
        .collect()
}

/// Binds the top variable of a table of `2·half` entries, given by a prefix, in place.
fn fold_top<T>(t: &mut Vec<T>, half: usize, r: E)
where
    T: PrimeCharacteristicRing + Copy + Send + Sync + std::ops::Mul<E, Output = T>,
{
    let keep = t.len().min(half);
    if t.len() > half {
        let (lo, hi) = t.split_at_mut(half);
        let body = |(l, h): (&mut T, &T)| *l += (*h - *l) * r;
        if hi.len() < 2048 {
            lo.iter_mut().zip(hi.iter()).for_each(body);
        } else {
            lo.par_iter_mut()
                .zip(hi.par_iter())
                .with_min_len(1024)
                .for_each(body);
        }
    }
    // Entries without a partner past the prefix: l + r·(0 − l).
    let start = t.len().saturating_sub(half).min(keep);
    let one_minus_r = E::ONE - r;
    t[start..keep]
        .iter_mut()
        .for_each(|l| *l = *l * one_minus_r);
    t.truncate(keep);
}

impl<'a> BaseExtProduct<'a> {
    /// Whole tables of `2^k` entries.
    pub fn new(a: impl Into<Cow<'a, [F]>>, b: Vec<E>) -> Self {
        let a = a.into();
        assert!(
            a.len().is_power_of_two(),
            "sumcheck tables must have power-of-two length"
        );
        let n_vars = a.len().trailing_zeros() as usize;
        Self::new_prefix(a, b, n_vars)
    }

    /// Tables of `2^n_vars` entries given by their first `a.len() == b.len()` entries, the
    /// rest zero.
    pub fn new_prefix(a: impl Into<Cow<'a, [F]>>, b: Vec<E>, n_vars: usize) -> Self {
        let a = a.into();
        assert_eq!(a.len(), b.len(), "sumcheck tables differ in length");
        assert!(
            a.len() <= 1 << n_vars,
            "sumcheck prefix longer than the table"
        );
        // Packed while the first round's halves are whole words and the prefix is too.
        let packed = n_vars >= 1 && (1usize << (n_vars - 1)) >= LANES && a.len() % LANES == 0;
        let b = if packed {
            Tab::Packed(pack(&b))
        } else {
            Tab::Scalar(b)
        };
        Self {
            a_base: Some(a),
            a: Tab::Scalar(Vec::new()),
            b,
            n_vars,
        }
    }

    /// [`Self::new_prefix`] with `b` already packed (`b.len()·LANES == a.len()`), as a caller
    /// that builds a large `b` word by word hands it over without a second copy.
    pub fn new_prefix_packed(a: impl Into<Cow<'a, [F]>>, b: Vec<EP>, n_vars: usize) -> Self {
        let a = a.into();
        assert_eq!(a.len(), b.len() * LANES, "sumcheck tables differ in length");
        assert!(
            n_vars >= 1 && (1usize << (n_vars - 1)) >= LANES && a.len() <= 1 << n_vars,
            "packed sumcheck tables of the wrong size"
        );
        Self {
            a_base: Some(a),
            a: Tab::Scalar(Vec::new()),
            b: Tab::Packed(b),
            n_vars,
        }
    }

    /// Both tables already in the extension, packed (`a.len() == b.len()`), of `2^n_vars`
    /// entries given by that prefix: [`LazyBaseExtProduct`] hands its tables over so.
    fn from_packed(a: Vec<EP>, b: Vec<EP>, n_vars: usize) -> Self {
        assert_eq!(a.len(), b.len(), "sumcheck tables differ in length");
        assert!(
            n_vars >= 1 && (1usize << (n_vars - 1)) >= LANES,
            "packed sumcheck tables of the wrong size"
        );
        Self {
            a_base: None,
            a: Tab::Packed(a),
            b: Tab::Packed(b),
            n_vars,
        }
    }

    /// `(a(r), b(r))` once every variable is bound (`r` in variable order: the challenges
    /// reversed).
    pub fn final_values(&self) -> (E, E) {
        let a = match &self.a_base {
            Some(v) => v.first().map(|&x| E::from(x)).unwrap_or(E::ZERO),
            None => self.a.first(),
        };
        (a, self.b.first())
    }

    /// `(g(0), g(2))` of this round.
    fn sums(&self) -> (E, E) {
        let half = 1usize << (self.n_vars - 1);
        match (&self.a_base, &self.a, &self.b) {
            (Some(a), _, Tab::Packed(b)) => {
                let aw = FP::pack_slice(a);
                let (s0, s2) = round_sums(aw, b, half / LANES, |x: FP, y: EP| y * x);
                (lane_sum(s0), lane_sum(s2))
            }
            (Some(a), _, Tab::Scalar(b)) => round_sums(a, b, half, |x: F, y: E| y * x),
            (None, Tab::Packed(a), Tab::Packed(b)) => {
                let (s0, s2) = round_sums(a, b, half / LANES, |x: EP, y: EP| x * y);
                (lane_sum(s0), lane_sum(s2))
            }
            (None, Tab::Scalar(a), Tab::Scalar(b)) => round_sums(a, b, half, |x: E, y: E| x * y),
            // (The tables change representation together; were they ever apart, scalar.)
            (None, a, b) => round_sums(&a.to_vec(), &b.to_vec(), half, |x: E, y: E| x * y),
        }
    }
}

impl SumcheckOracle for BaseExtProduct<'_> {
    fn n_variables(&self) -> usize {
        self.n_vars
    }
    fn degree(&self) -> usize {
        2
    }
    fn round_evals(&self) -> Vec<E> {
        // g(1) = Σ_x a(x)·b(x) − g(0), from the tables themselves (the driver's debug check
        // compares it with the claim).
        let (g0, g2) = self.sums();
        let total = self.total();
        vec![g0, total - g0, g2]
    }
    fn round_evals_except_one(&self) -> Vec<E> {
        let (g0, g2) = self.sums();
        vec![g0, g2]
    }
    fn fix_first_variable(&mut self, r: E) {
        let half = 1usize << (self.n_vars - 1);
        if let Some(a) = self.a_base.take() {
            // The first fold leaves the base field.
            match &self.b {
                Tab::Packed(_) => self.a = Tab::Packed(fold_base_top(&a, half / LANES, r)),
                Tab::Scalar(_) => {
                    let keep = a.len().min(half);
                    let folded: Vec<E> = (0..keep)
                        .map(|i| {
                            let lo = E::from(a[i]);
                            let hi = a.get(i + half).map_or(E::ZERO, |&h| E::from(h));
                            lo + (hi - lo) * r
                        })
                        .collect();
                    self.a = Tab::Scalar(folded);
                }
            }
        } else {
            match &mut self.a {
                Tab::Packed(v) => fold_top(v, half / LANES, r),
                Tab::Scalar(v) => fold_top(v, half, r),
            }
        }
        match &mut self.b {
            Tab::Packed(v) => fold_top(v, half / LANES, r),
            Tab::Scalar(v) => fold_top(v, half, r),
        }
        self.n_vars -= 1;
        // Scalar once the next round's halves would share a word.
        let next_half = if self.n_vars > 0 {
            1usize << (self.n_vars - 1)
        } else {
            0
        };
        if matches!(self.b, Tab::Packed(_)) && next_half < LANES {
            let a = std::mem::replace(&mut self.a, Tab::Scalar(Vec::new())).unpack();
            let b = std::mem::replace(&mut self.b, Tab::Scalar(Vec::new())).unpack();
            self.a = Tab::Scalar(a);
            self.b = Tab::Scalar(b);
        }
    }
}

impl Tab {
    fn to_vec(&self) -> Vec<E> {
        match self {
            Tab::Packed(v) => unpack(v),
            Tab::Scalar(v) => v.clone(),
        }
    }
}

impl BaseExtProduct<'_> {
    /// `Σ_x a(x)·b(x)` over the current tables.
    fn total(&self) -> E {
        let b = self.b.to_vec();
        match &self.a_base {
            Some(a) => a.iter().zip(&b).map(|(x, y)| *y * *x).sum(),
            None => self.a.to_vec().iter().zip(&b).map(|(x, y)| *x * *y).sum(),
        }
    }
}

/// A table that [`LazyBaseExtProduct`] does not store for its first rounds: each round asks
/// for the aligned chunks it reads, when it reads them. A batched opening's weights
/// `Σ_i β_i·eq(z_i, x − off_i)` are such a table — a few numbers per claim describe it, while
/// stored they take 16 bytes a committed value (2 GB for GPT-2's 2^27 weights).
pub trait LazyTable: Sync {
    /// `log₂` of a chunk's length.
    fn log_chunk(&self) -> usize;
    /// Adds entries `[chunk·2^c, (chunk + 1)·2^c)` of the current table into `out` (`2^c`
    /// entries in packed words; the caller zeroes them).
    fn fill_chunk(&self, chunk: usize, out: &mut [EP]);
    /// `(Σ_w t_w·x_w, Σ_w t_w·y_w)` lane by lane, where `t_w` is word `w` of chunk `chunk`
    /// (as [`Self::fill_chunk`] writes it) and `x`, `y` are words of another table from the
    /// chunk's first word on (`x` and `y` at most a chunk; `y` may be absent: zero) — the
    /// products a lazy round needs of a chunk, without the chunk being written.
    fn dot_chunk<T>(&self, chunk: usize, x: &[T], y: Option<&[T]>) -> (EP, EP)
    where
        T: Copy + Sync,
        EP: std::ops::Mul<T, Output = EP>;
    /// Binds the current table's top variable to `r`: the table of `2^(m−1)` entries
    /// `x ↦ (1 − r)·t(x) + r·t(x + 2^(m−1))`.
    fn bind_top(&mut self, r: E);
}

/// [`BaseExtProduct`] whose `b` is a [`LazyTable`] for its first `lazy` rounds, then stored:
/// the same rounds, messages and point (so the same proof bytes) without `b`'s first and
/// largest tables ever being written. A lazy round reads each chunk of `a`'s halves once and
/// has `b` write the matching chunks into per-thread scratch, which stays in cache.
///
/// `a` is given by a prefix of whole packed words (the rest zero), and `b` must be zero past
/// it (as the batched opening's weights are past the used prefix) — the stored rounds that
/// follow keep `b` on `a`'s prefix only.
pub struct LazyBaseExtProduct<'a, L: LazyTable> {
    state: LazyState<'a, L>,
}

enum LazyState<'a, L: LazyTable> {
    Lazy {
        /// `a` as given, never folded during the lazy rounds…
        a_base: Cow<'a, [F]>,
        /// … whose bound top variables, first to last, are these: the current `a` is
        /// `x ↦ Σ_t eq(rs, t)·a_base(t‖x)`, computed where a round reads it.
        rs: Vec<E>,
        b: L,
        n_vars: usize,
        lazy_left: usize,
    },
    Stored(BaseExtProduct<'a>),
    /// Only while moving from one to the other.
    Moving,
}

impl<'a, L: LazyTable> LazyBaseExtProduct<'a, L> {
    /// Whether `lazy` rounds of a table of `2^n_vars` entries given by `prefix` entries can
    /// run lazily: every lazy round's halves whole chunks, the prefix whole words.
    pub fn fits(n_vars: usize, prefix: usize, log_chunk: usize, lazy: usize) -> bool {
        lazy < n_vars
            && n_vars - lazy > log_chunk
            && (1usize << log_chunk) >= LANES
            && prefix.is_multiple_of(LANES)
            && prefix <= 1 << n_vars
    }

    /// `a` (a prefix of a table of `2^n_vars` entries) times `b`, with `b` lazy for `lazy`
    /// rounds; [`Self::fits`] must hold.
    pub fn new(a: impl Into<Cow<'a, [F]>>, b: L, n_vars: usize, lazy: usize) -> Self {
        let a = a.into();
        assert!(
            Self::fits(n_vars, a.len(), b.log_chunk(), lazy) && lazy > 0,
            "lazy sumcheck of the wrong shape"
        );
        Self {
            state: LazyState::Lazy {
                a_base: a,
                rs: Vec::new(),
                b,
                n_vars,
                lazy_left: lazy,
            },
        }
    }

    /// `(a(r), b(r))` once every variable is bound.
    pub fn final_values(&self) -> (E, E) {
        match &self.state {
            LazyState::Stored(s) => s.final_values(),
            _ => (E::ZERO, E::ZERO),
        }
    }

    /// `(g(0), g(1), g(2))` of a lazy round; `g(1)` only `with_one` (the prover sends
    /// `g(0), g(2)`; the driver's debug check asks for all three).
    ///
    /// With `b`'s chunks `g0` (low half) and `g1` (high half) and `a`'s `f0`, `f1`, and
    /// `d = 2f1 − f0`: `g(0) = Σ g0·f0`, `g(1) = Σ g1·f1` and
    /// `g(2) = Σ (2g1 − g0)·(2f1 − f0) = 2·Σ g1·d − Σ g0·d`.
    ///
    /// In the first round `a` is the base table: these are inner products of `b`'s chunks
    /// with `a`'s base words, which `b` computes claim by claim ([`LazyTable::dot_chunk`])
    /// without writing its chunks: one and a half extension-times-base products a word per
    /// claim, where writing the chunk costs an extension product a word per claim and the
    /// chunk's products on top (GPT-2 124M's weights, 1.21 claims an entry: 555 → 374 ms).
    /// After it, the claims on a chunk double with every bound variable: `b` writes its
    /// chunks and they are multiplied once (462 ms against 548 ms for the inner products in
    /// the second round, 364 against 503 in the third).
    ///
    /// `a` is not folded either: after `k` bound variables each of its words is read as
    /// `Σ_t eq(rs, t)·a_base(t‖w)`, `2^k` extension-times-base products — as many a round
    /// as folding into a stored table costs (one such product per entry, then a product of
    /// two extension values per entry, halving each round), without writing the folded tables
    /// (GPT-2 124M's weights: 1 GB, 0.5 GB and 0.25 GB of fresh pages).
    fn lazy_sums(a_base: &[F], rs: &[E], b: &L, n_vars: usize, with_one: bool) -> (E, E, E) {
        let half = 1usize << (n_vars - 1);
        let hw = half / LANES;
        let v = FP::pack_slice(a_base);
        let (s0, s1, s2) = if rs.is_empty() {
            lazy_dots(b, half, v.len().min(hw), with_one, |w| {
                (v[w], v.get(w + hw).copied().unwrap_or(FP::ZERO))
            })
        } else {
            let word = bound_word(v, rs, 2 * hw);
            let pairs = v.len().min(hw);
            lazy_filled(b, half, pairs, with_one, |w| (word(w), word(w + hw)))
        };
        (lane_sum(s0), lane_sum(s1), lane_sum(s2))
    }
}

/// `eq(rs, t)` for every `t` of `rs.len()` bits, `rs[0]` the top bit.
fn top_first_eq(rs: &[E]) -> Vec<E> {
    let mut e = vec![E::ONE];
    for &r in rs {
        e = e.iter().flat_map(|&x| [x * (E::ONE - r), x * r]).collect();
    }
    e
}

/// Word `w` of the table `v` (packed words, zero past them) with its top `rs.len()`
/// variables bound to `rs` (first the top one), the result holding `words` words:
/// `Σ_t eq(rs, t)·v[t·words + w]`.
fn bound_word<'v>(v: &'v [FP], rs: &[E], words: usize) -> impl Fn(usize) -> EP + Sync + 'v {
    let e: Vec<EP> = top_first_eq(rs).into_iter().map(EP::from).collect();
    move |w| {
        e.iter()
            .enumerate()
            .fold(EP::ZERO, |acc, (t, et)| match v.get(t * words + w) {
                Some(x) => acc + *et * *x,
                None => acc,
            })
    }
}

/// A lazy round's sums (in packed words) over `pairs` word pairs, `b`'s chunks written into
/// per-thread scratch and multiplied with `f(w)`, `a`'s pair of words `(w, w + half/LANES)`.
fn lazy_filled<L: LazyTable, T>(
    b: &L,
    half: usize,
    pairs: usize,
    with_one: bool,
    f: impl Fn(usize) -> (T, T) + Sync,
) -> (EP, EP, EP)
where
    T: PrimeCharacteristicRing + Copy + Send + Sync,
    EP: std::ops::Mul<T, Output = EP>,
{
    let c = b.log_chunk();
    let cw = (1usize << c) / LANES;
    let zero = (EP::ZERO, EP::ZERO, EP::ZERO);
    (0..pairs.div_ceil(cw))
        .into_par_iter()
        .map_init(
            || (vec![EP::ZERO; cw], vec![EP::ZERO; cw]),
            |(lo, hi), chunk| {
                lo.fill(EP::ZERO);
                hi.fill(EP::ZERO);
                b.fill_chunk(chunk, lo);
                b.fill_chunk((half >> c) + chunk, hi);
                let mut acc = zero;
                for w in chunk * cw..((chunk + 1) * cw).min(pairs) {
                    let (g0, g1) = (lo[w - chunk * cw], hi[w - chunk * cw]);
                    let (f0, f1) = f(w);
                    acc.0 += g0 * f0;
                    if with_one {
                        acc.1 += g1 * f1;
                    }
                    acc.2 += (g1.double() - g0) * (f1.double() - f0);
                }
                acc
            },
        )
        .reduce(|| zero, |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2))
}

/// A lazy round's sums (in packed words) over `pairs` word pairs of a table whose high half
/// starts `half` entries on, `f(w)` being `a`'s pair of words `(w, w + half/LANES)`: per
/// chunk, `a`'s words `f0`, `f1` and `d = 2f1 − f0`, then `b`'s inner products with them.
fn lazy_dots<L: LazyTable, T>(
    b: &L,
    half: usize,
    pairs: usize,
    with_one: bool,
    f: impl Fn(usize) -> (T, T) + Sync,
) -> (EP, EP, EP)
where
    T: PrimeCharacteristicRing + Copy + Send + Sync,
    EP: std::ops::Mul<T, Output = EP>,
{
    let c = b.log_chunk();
    let cw = (1usize << c) / LANES;
    let zero = (EP::ZERO, EP::ZERO, EP::ZERO);
    (0..pairs.div_ceil(cw))
        .into_par_iter()
        .map_init(
            || {
                (
                    Vec::with_capacity(cw),
                    Vec::with_capacity(cw),
                    Vec::with_capacity(cw),
                )
            },
            |(f0, f1, d): &mut (Vec<T>, Vec<T>, Vec<T>), chunk| {
                f0.clear();
                f1.clear();
                d.clear();
                for w in chunk * cw..((chunk + 1) * cw).min(pairs) {
                    let (x0, x1) = f(w);
                    f0.push(x0);
                    if with_one {
                        f1.push(x1);
                    }
                    d.push(x1.double() - x0);
                }
                let (g0f0, g0d) = b.dot_chunk(chunk, f0, Some(d));
                let (g1d, g1f1) = b.dot_chunk((half >> c) + chunk, d, with_one.then_some(&f1[..]));
                (g0f0, g1f1, g1d.double() - g0d)
            },
        )
        .reduce(|| zero, |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2))
}

impl<'a, L: LazyTable> LazyBaseExtProduct<'a, L> {
    fn sums(&self, with_one: bool) -> (E, E, E) {
        match &self.state {
            LazyState::Lazy {
                a_base,
                rs,
                b,
                n_vars,
                ..
            } => Self::lazy_sums(a_base, rs, b, *n_vars, with_one),
            LazyState::Stored(s) => {
                let (g0, g2) = s.sums();
                (g0, s.total() - g0, g2)
            }
            LazyState::Moving => (E::ZERO, E::ZERO, E::ZERO),
        }
    }
}

/// The first `len` entries (a whole number of words) of a lazy table, stored: zeroed in
/// parallel (so that both threads take the page faults of a fresh table), then written chunk
/// by chunk.
pub fn store_packed<L: LazyTable>(b: &L, len: usize) -> Vec<EP> {
    let cw = (1usize << b.log_chunk()) / LANES;
    let mut out: Vec<EP> = (0..len / LANES)
        .into_par_iter()
        .with_min_len(1 << 12)
        .map(|_| EP::ZERO)
        .collect();
    out.par_chunks_mut(cw).enumerate().for_each_init(
        || vec![EP::ZERO; cw],
        |scratch, (chunk, words)| {
            scratch.fill(EP::ZERO);
            b.fill_chunk(chunk, scratch);
            let n = words.len();
            words.copy_from_slice(&scratch[..n]);
        },
    );
    out
}

impl<L: LazyTable> SumcheckOracle for LazyBaseExtProduct<'_, L> {
    fn n_variables(&self) -> usize {
        match &self.state {
            LazyState::Lazy { n_vars, .. } => *n_vars,
            LazyState::Stored(s) => s.n_variables(),
            LazyState::Moving => 0,
        }
    }
    fn degree(&self) -> usize {
        2
    }
    fn round_evals(&self) -> Vec<E> {
        let (g0, g1, g2) = self.sums(true);
        vec![g0, g1, g2]
    }
    fn round_evals_except_one(&self) -> Vec<E> {
        match &self.state {
            LazyState::Stored(s) => s.round_evals_except_one(),
            _ => {
                let (g0, _, g2) = self.sums(false);
                vec![g0, g2]
            }
        }
    }
    fn fix_first_variable(&mut self, r: E) {
        match std::mem::replace(&mut self.state, LazyState::Moving) {
            LazyState::Lazy {
                a_base,
                mut rs,
                mut b,
                n_vars,
                lazy_left,
            } => {
                b.bind_top(r);
                rs.push(r);
                self.state = if lazy_left > 1 {
                    LazyState::Lazy {
                        a_base,
                        rs,
                        b,
                        n_vars: n_vars - 1,
                        lazy_left: lazy_left - 1,
                    }
                } else {
                    // `a` stored at last, folded through every lazy round at once: the
                    // words of its prefix (the rest zero, as a fold of the prefix keeps it).
                    let words = (1usize << (n_vars - 1)) / LANES;
                    let v = FP::pack_slice(&a_base);
                    let word = bound_word(v, &rs, words);
                    let a: Vec<EP> = (0..v.len().min(words))
                        .into_par_iter()
                        .with_min_len(1024)
                        .map(word)
                        .collect();
                    drop(a_base);
                    let stored = store_packed(&b, a.len() * LANES);
                    LazyState::Stored(BaseExtProduct::from_packed(a, stored, n_vars - 1))
                };
            }
            LazyState::Stored(mut s) => {
                s.fix_first_variable(r);
                self.state = LazyState::Stored(s);
            }
            LazyState::Moving => {}
        }
    }
}
