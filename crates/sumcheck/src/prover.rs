//! The prover half: the driver and the oracles. Oracles index their own tables, whose lengths
//! are checked when they are built.
#![allow(clippy::indexing_slicing)]

use std::borrow::Cow;

use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::interpolate_at;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::SumcheckOracle;

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

/// `f(x) = a(x)·b(x)` with `a` starting in the base field: the degree-2 sumcheck of matrix
/// products and batched openings, without the generic oracle's per-point overhead and without
/// first copying `a` into the extension (the first fold does that at half the size).
pub struct BaseExtProduct<'a> {
    a_base: Option<Cow<'a, [F]>>,
    a: Vec<E>,
    b: Vec<E>,
    /// Buffers the folds write into, swapped with `a` and `b` each round so that only the
    /// first fold allocates.
    spare_a: Vec<E>,
    spare_b: Vec<E>,
    n_vars: usize,
}

impl<'a> BaseExtProduct<'a> {
    /// `a` may be borrowed: it is read once, by the first round, and folded into the extension.
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
    /// rest zero: every round works on the prefix only (a pair past it contributes nothing,
    /// and folds to zero).
    pub fn new_prefix(a: impl Into<Cow<'a, [F]>>, mut b: Vec<E>, n_vars: usize) -> Self {
        let mut a = a.into();
        assert_eq!(a.len(), b.len(), "sumcheck tables differ in length");
        assert!(
            !a.is_empty() && a.len() <= 1 << n_vars,
            "sumcheck prefix longer than the table"
        );
        if n_vars > 0 && a.len() % 2 == 1 {
            a.to_mut().push(F::ZERO);
            b.push(E::ZERO);
        }
        Self {
            n_vars,
            a_base: Some(a),
            a: Vec::new(),
            b,
            spare_a: Vec::new(),
            spare_b: Vec::new(),
        }
    }
    /// `(a(r), b(r))` once every variable is bound.
    pub fn final_values(&self) -> (E, E) {
        let a = match &self.a_base {
            Some(v) => E::from(v[0]),
            None => self.a[0],
        };
        (a, self.b[0])
    }
}

/// `dst[i] = src[2i] + r·(src[2i+1] − src[2i])`, written into `dst`'s existing allocation.
fn fold_into(src: &[E], r: E, dst: &mut Vec<E>) {
    dst.clear();
    dst.par_extend(
        src.par_chunks(2)
            .with_min_len(2048)
            .map(|p| p[0] + r * (p[1] - p[0])),
    );
}

fn sum3(x: (E, E, E), y: (E, E, E)) -> (E, E, E) {
    (x.0 + y.0, x.1 + y.1, x.2 + y.2)
}

impl SumcheckOracle for BaseExtProduct<'_> {
    fn n_variables(&self) -> usize {
        self.n_vars
    }
    fn degree(&self) -> usize {
        2
    }
    fn round_evals(&self) -> Vec<E> {
        let z = (E::ZERO, E::ZERO, E::ZERO);
        // g(0) = Σ a0 b0, g(1) = Σ a1 b1, g(2) = Σ (2a1 − a0)(2b1 − b0).
        let (g0, g1, g2) = match &self.a_base {
            Some(a) => a
                .par_chunks(2)
                .zip(self.b.par_chunks(2))
                .with_min_len(4096)
                .map(|(a, b)| {
                    let (a0, a1, b0, b1) = (a[0], a[1], b[0], b[1]);
                    (b0 * a0, b1 * a1, (b1.double() - b0) * (a1.double() - a0))
                })
                .reduce(|| z, sum3),
            None => self
                .a
                .par_chunks(2)
                .zip(self.b.par_chunks(2))
                .with_min_len(4096)
                .map(|(a, b)| {
                    let (a0, a1, b0, b1) = (a[0], a[1], b[0], b[1]);
                    (a0 * b0, a1 * b1, (a1.double() - a0) * (b1.double() - b0))
                })
                .reduce(|| z, sum3),
        };
        vec![g0, g1, g2]
    }
    fn round_evals_except_one(&self) -> Vec<E> {
        let z = (E::ZERO, E::ZERO);
        let sum2 = |x: (E, E), y: (E, E)| (x.0 + y.0, x.1 + y.1);
        let (g0, g2) = match &self.a_base {
            Some(a) => a
                .par_chunks(2)
                .zip(self.b.par_chunks(2))
                .with_min_len(4096)
                .map(|(a, b)| (b[0] * a[0], (b[1].double() - b[0]) * (a[1].double() - a[0])))
                .reduce(|| z, sum2),
            None => self
                .a
                .par_chunks(2)
                .zip(self.b.par_chunks(2))
                .with_min_len(4096)
                .map(|(a, b)| (a[0] * b[0], (a[1].double() - a[0]) * (b[1].double() - b[0])))
                .reduce(|| z, sum2),
        };
        vec![g0, g2]
    }
    fn fix_first_variable(&mut self, r: E) {
        if let Some(a) = self.a_base.take() {
            self.a = a
                .par_chunks(2)
                .with_min_len(2048)
                .map(|p| r * (p[1] - p[0]) + p[0])
                .collect();
        } else {
            fold_into(&self.a, r, &mut self.spare_a);
            std::mem::swap(&mut self.a, &mut self.spare_a);
        }
        fold_into(&self.b, r, &mut self.spare_b);
        std::mem::swap(&mut self.b, &mut self.spare_b);
        self.n_vars -= 1;
        // Keep whole pairs for the next round (the prefix may now have odd length).
        if self.n_vars > 0 && self.a.len() % 2 == 1 {
            self.a.push(E::ZERO);
            self.b.push(E::ZERO);
        }
    }
}
