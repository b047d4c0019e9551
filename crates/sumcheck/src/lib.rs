//! One sumcheck, written once.
//!
//! Proves `claim = Σ_{x ∈ {0,1}^n} f(x)` for a polynomial `f` of individual degree `d`, binding
//! variable `x_0` first (the little-endian order of `zkgrad-poly`). Round `j` sends the round
//! polynomial `g_j(t) = Σ_{x_{j+1..}} f(r_0..r_{j-1}, t, x_{j+1..})` as its values at
//! `t = 0, 2, 3, …, d` (`g_j(1)` follows from `g_j(0) + g_j(1) = claim_j`); the verifier draws
//! `r_j` and sets `claim_{j+1} = g_j(r_j)`. After `n` rounds the verifier holds the
//! [`SubClaim`] `f(r) = claim_n`, which the caller discharges (Lund–Fortnow–Karloff–Nisan;
//! Thaler, "Proofs, Arguments, and Zero-Knowledge", §4.1).
//!
//! Prover side: any [`SumcheckOracle`]; [`ProductOracle`] covers every sum of products of
//! multilinear tables the protocol needs (matmul, eq-weighted GKR layers, batched openings).
//!
//! The verifier half ([`verify`]) is verifier-side code: it never panics on proof bytes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::interpolate_at;
use zkgrad_transcript::{Challenger, ProverTranscript, TranscriptError, VerifierTranscript};

/// The verifier's residual claim `f(point) = value` after all rounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubClaim {
    pub point: Vec<E>,
    pub value: E,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumcheckError {
    #[error("round {round}: {source}")]
    Transcript { round: usize, source: TranscriptError },
}

/// The prover's view of a sumcheck polynomial (stwo's `MultivariatePolyOracle`).
pub trait SumcheckOracle {
    fn n_variables(&self) -> usize;
    fn degree(&self) -> usize;
    /// `g(t)` for `t = 0..=degree`, where `g(t) = Σ_{x'} f(t, x')`.
    fn round_evals(&self) -> Vec<E>;
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
        assert!(len.is_power_of_two(), "sumcheck tables must have power-of-two length");
        assert!(tables.iter().all(|t| t.len() == len), "sumcheck tables differ in length");
        Self { n_vars: len.trailing_zeros() as usize, tables, degree, combine }
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
        let half = self.tables[0].len() / 2;
        let d = self.degree;
        let k = self.tables.len();
        let ts: Vec<E> = (0..=d).map(|t| E::from(F::from_u64(t as u64))).collect();
        let chunk = 1024.max(half / 64);
        (0..half)
            .into_par_iter()
            .with_min_len(chunk)
            .fold(
                || (vec![E::ZERO; d + 1], vec![E::ZERO; k]),
                |(mut acc, mut vals), i| {
                    for (t, tv) in ts.iter().enumerate() {
                        for (j, table) in self.tables.iter().enumerate() {
                            let a = table[2 * i];
                            let b = table[2 * i + 1];
                            vals[j] = a + (b - a) * *tv;
                        }
                        acc[t] += (self.combine)(&vals);
                    }
                    (acc, vals)
                },
            )
            .map(|(acc, _)| acc)
            .reduce(
                || vec![E::ZERO; d + 1],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            )
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
        let evals = oracle.round_evals();
        debug_assert_eq!(evals[0] + evals[1], claim, "sumcheck prover: round sum mismatch");
        let mut msg = vec![evals[0]];
        msg.extend_from_slice(&evals[2..]);
        t.write_es(b"sumcheck/round", &msg);
        let r = t.challenge_e(b"sumcheck/r");
        claim = interpolate_at(&evals, r);
        oracle.fix_first_variable(r);
        point.push(r);
    }
    point
}

/// Runs the verifier for `n_vars` rounds of degree `degree`; the caller checks the returned
/// [`SubClaim`] against its own evaluation of `f`.
pub fn verify(
    claim: E,
    n_vars: usize,
    degree: usize,
    t: &mut VerifierTranscript,
) -> Result<SubClaim, SumcheckError> {
    let mut point = Vec::with_capacity(n_vars);
    let mut claim = claim;
    for round in 0..n_vars {
        let msg = t
            .read_es(b"sumcheck/round", degree)
            .map_err(|source| SumcheckError::Transcript { round, source })?;
        let g0 = msg.first().copied().unwrap_or(E::ZERO);
        let mut evals = Vec::with_capacity(degree + 1);
        evals.push(g0);
        evals.push(claim - g0);
        evals.extend(msg.iter().skip(1).copied());
        let r = t.challenge_e(b"sumcheck/r");
        claim = interpolate_at(&evals, r);
        point.push(r);
    }
    Ok(SubClaim { point, value: claim })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_poly::eval_mle;

    fn table(n: usize, seed: u64) -> Vec<E> {
        (0..n as u64).map(|i| E::from(F::from_u64(i * i * 31 + seed * 7 + 1))).collect()
    }

    fn run(degree3: bool) -> (Vec<u8>, E, Vec<Vec<E>>) {
        let a = table(16, 1);
        let b = table(16, 2);
        let c = table(16, 3);
        let claim: E = if degree3 {
            (0..16).map(|i| a[i] * b[i] * c[i]).sum()
        } else {
            (0..16).map(|i| a[i] * b[i]).sum()
        };
        let mut t = ProverTranscript::new(&[0; 32]);
        let tables = if degree3 { vec![a, b, c] } else { vec![a, b] };
        let mut o = ProductOracle::new(tables.clone(), if degree3 { 3 } else { 2 }, |v: &[E]| {
            v.iter().copied().product()
        });
        prove(&mut o, claim, &mut t);
        (t.finish(), claim, tables)
    }

    #[test]
    fn honest_sumcheck_verifies_and_subclaim_is_true() {
        for deg3 in [false, true] {
            let (proof, claim, tables) = run(deg3);
            let mut v = VerifierTranscript::new(&[0; 32], &proof);
            let sub = verify(claim, 4, if deg3 { 3 } else { 2 }, &mut v).unwrap();
            let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
            assert_eq!(sub.value, expect);
            v.finish().unwrap();
        }
    }

    #[test]
    fn wrong_claim_is_rejected() {
        let (proof, claim, tables) = run(false);
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        let sub = verify(claim + E::ONE, 4, 2, &mut v).unwrap();
        let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
        assert_ne!(sub.value, expect);
    }

    #[test]
    fn corrupted_middle_round_detected() {
        let (mut proof, claim, tables) = run(true);
        proof[16 * 3 * 2] ^= 1; // round 2, first coordinate
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        match verify(claim, 4, 3, &mut v) {
            Ok(sub) => {
                let expect: E = tables.iter().map(|t| eval_mle(t, &sub.point)).product();
                assert_ne!(sub.value, expect);
            }
            Err(_) => {}
        }
    }

    #[test]
    fn truncated_proof_is_an_error() {
        let (proof, claim, _) = run(false);
        let mut v = VerifierTranscript::new(&[0; 32], &proof[..proof.len() - 1]);
        assert!(verify(claim, 4, 2, &mut v).is_err());
    }
}

/// `f(x) = a(x)·b(x)` with `a` starting in the base field: the degree-2 sumcheck of matrix
/// products and batched openings, without the generic oracle's per-point overhead and without
/// first copying `a` into the extension (the first fold does that at half the size).
pub struct BaseExtProduct {
    a_base: Option<Vec<F>>,
    a: Vec<E>,
    b: Vec<E>,
    n_vars: usize,
}

impl BaseExtProduct {
    pub fn new(a: Vec<F>, b: Vec<E>) -> Self {
        assert_eq!(a.len(), b.len(), "sumcheck tables differ in length");
        assert!(a.len().is_power_of_two(), "sumcheck tables must have power-of-two length");
        Self { n_vars: a.len().trailing_zeros() as usize, a_base: Some(a), a: Vec::new(), b }
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

fn sum3(x: (E, E, E), y: (E, E, E)) -> (E, E, E) {
    (x.0 + y.0, x.1 + y.1, x.2 + y.2)
}

impl SumcheckOracle for BaseExtProduct {
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
    fn fix_first_variable(&mut self, r: E) {
        if let Some(a) = self.a_base.take() {
            self.a = a.par_chunks(2).map(|p| r * (p[1] - p[0]) + p[0]).collect();
        } else {
            self.a = self.a.par_chunks(2).map(|p| p[0] + r * (p[1] - p[0])).collect();
        }
        self.b = self.b.par_chunks(2).map(|p| p[0] + r * (p[1] - p[0])).collect();
        self.n_vars -= 1;
    }
}

#[cfg(test)]
mod product_tests {
    use super::*;
    use zkgrad_poly::{eval_mle, eval_mle_base};

    #[test]
    fn base_ext_product_matches_the_generic_oracle() {
        let a: Vec<F> = (0..64u64).map(|i| F::from_u64(i * 13 + 5)).collect();
        let b: Vec<E> = (0..64u64).map(|i| E::from(F::from_u64(i * i + 1))).collect();
        let claim: E = a.iter().zip(&b).map(|(x, y)| *y * *x).sum();
        let mut t1 = ProverTranscript::new(&[0; 32]);
        let mut o = BaseExtProduct::new(a.clone(), b.clone());
        prove(&mut o, claim, &mut t1);
        let mut t2 = ProverTranscript::new(&[0; 32]);
        let ae: Vec<E> = a.iter().map(|&x| E::from(x)).collect();
        let mut g = ProductOracle::new(vec![ae, b.clone()], 2, |v: &[E]| v[0] * v[1]);
        prove(&mut g, claim, &mut t2);
        let proof = t1.finish();
        assert_eq!(proof, t2.finish());
        let mut v = VerifierTranscript::new(&[0; 32], &proof);
        let sub = verify(claim, 6, 2, &mut v).unwrap();
        assert_eq!(o.final_values(), (eval_mle_base(&a, &sub.point), eval_mle(&b, &sub.point)));
        assert_eq!(sub.value, o.final_values().0 * o.final_values().1);
    }
}
