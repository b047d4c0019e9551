//! LogUp lookups proven by a fractional-sum GKR.
//!
//! # LogUp (Haböck, "Multivariate lookups based on logarithmic derivatives", 2022, §2)
//! Values `v_1..v_N` all lie in a table `t_1..t_T` iff there are multiplicities `m_j` with
//! `Σ_i 1/(α − v_i) = Σ_j m_j/(α − t_j)` as rational functions of `α`; checked at a random `α`
//! drawn after the values and multiplicities are committed (error ≤ (N + T)/|E| when the field
//! characteristic exceeds N). Multi-column lookups fold columns with a random `γ` first.
//!
//! # Fractional-sum GKR (Papini and Haböck, "Improving logarithmic derivative lookups using
//! GKR", 2023, §3)
//! Leaves `(p_i, q_i)`, `i < 2^n`, form layer `n`; layer `k` has `2^k` nodes and node `x` of
//! layer `k` combines its children `x` and `x + 2^k` of layer `k+1` (the new child bit is the
//! *top* variable, `x_k`, in the little-endian order of `zkgrad-poly`):
//! `p_k(x) = p_{k+1}(x,0)·q_{k+1}(x,1) + p_{k+1}(x,1)·q_{k+1}(x,0)`,
//! `q_k(x) = q_{k+1}(x,0)·q_{k+1}(x,1)`, so the root `(P, Q)` has `P/Q = Σ_i p_i/q_i`.
//! A claim on `(p̃_k, q̃_k)(ρ)` is reduced, with a random `λ`, by the degree-3 sumcheck
//! `p̃_k(ρ) + λ q̃_k(ρ) = Σ_x eq(ρ,x)·[p_0 q_1 + p_1 q_0 + λ q_0 q_1](x)` to the four values
//! `p̃_{k+1}(ρ',b), q̃_{k+1}(ρ',b)` for `b ∈ {0,1}`, and a random `μ` turns them into one claim
//! at `(ρ' ‖ μ)` by the line through `b = 0` and `b = 1`. After `n` layers the caller holds a
//! claim on the leaves' MLEs and discharges it against the committed data.
//!
//! Verifier side: [`verify`] never panics on proof bytes.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use rayon::prelude::*;
use zkgrad_field::{Field, PrimeCharacteristicRing, E, F};
use zkgrad_poly::{eq_eval, eq_table};
use zkgrad_sumcheck::{SumcheckError, SumcheckOracle};
use zkgrad_transcript::{Challenger, ProverTranscript, TranscriptError, VerifierTranscript};

/// The claim on the leaves left after the GKR: `p̃(point) = p`, `q̃(point) = q`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafClaim {
    pub point: Vec<E>,
    pub p: E,
    pub q: E,
}

/// A verified tree: its root fraction and the claim on its leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTree {
    pub root_p: E,
    pub root_q: E,
    pub leaves: LeafClaim,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GkrError {
    #[error("layer {layer}: {source}")]
    Transcript {
        layer: usize,
        source: TranscriptError,
    },
    #[error("layer {layer}: {source}")]
    Sumcheck { layer: usize, source: SumcheckError },
    #[error("layer {layer}: the layer's values do not satisfy the sumcheck's final claim")]
    LayerMismatch { layer: usize },
}

/// Builds the tree and proves its root. `p.len() == q.len() == 2^n`.
///
/// Leaves with `p ≡ 1` (a lookup over a whole tensor) take a cheaper bottom layer: there
/// `p₀q₁ + p₁q₀ = q₀ + q₁`, and folding keeps `p ≡ 1`.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn prove(p: Vec<E>, q: Vec<E>, t: &mut ProverTranscript) -> LeafClaim {
    assert_eq!(p.len(), q.len());
    assert!(p.len().is_power_of_two());
    let n = p.len().trailing_zeros() as usize;
    let p_ones = p.par_iter().all(|x| *x == E::ONE);
    // layers[k] = (p_k, q_k), k = n..0 built bottom-up.
    let mut layers: Vec<(Vec<E>, Vec<E>)> = vec![(Vec::new(), Vec::new()); n + 1];
    layers[n] = (p, q);
    for k in (0..n).rev() {
        let h = 1usize << k;
        let (cp, cq) = &layers[k + 1];
        let ones = p_ones && k + 1 == n;
        let next: (Vec<E>, Vec<E>) = (0..h)
            .into_par_iter()
            .with_min_len(4096)
            .map(|x| {
                let (q0, q1) = (cq[x], cq[x + h]);
                let p = if ones {
                    q0 + q1
                } else {
                    cp[x] * q1 + cp[x + h] * q0
                };
                (p, q0 * q1)
            })
            .unzip();
        layers[k] = next;
    }
    let (root_p, root_q) = (layers[0].0[0], layers[0].1[0]);
    t.write_es(b"gkr/root", &[root_p, root_q]);
    let mut point: Vec<E> = Vec::new();
    let (mut cp, mut cq) = (root_p, root_q);
    for k in 0..n {
        let h = 1usize << k;
        let lambda = t.challenge_e(b"gkr/lambda");
        let (lp, lq) = std::mem::take(&mut layers[k + 1]);
        let mut oracle = LayerOracle::new(&point, lp, lq, h, lambda, p_ones && k + 1 == n);
        let rho = zkgrad_sumcheck::prove(&mut oracle, cp + lambda * cq, t);
        let [p0, p1, q0, q1] = oracle.final_values();
        t.write_es(b"gkr/layer", &[p0, p1, q0, q1]);
        let mu = t.challenge_e(b"gkr/mu");
        cp = p0 + mu * (p1 - p0);
        cq = q0 + mu * (q1 - q0);
        point = rho;
        point.push(mu);
    }
    LeafClaim {
        point,
        p: cp,
        q: cq,
    }
}

/// The sumcheck of one GKR layer, `Σ_x eq(ρ,x)·φ(x)` with `φ = p₀q₁ + p₁q₀ + λq₀q₁`
/// (degree 3), with `eq` factored out as in Gruen ("Some improvements for the PIOP for
/// ZeroCheck", 2024, §3): in round `j`,
/// `s_j(X) = c_j · eq(ρ_j, X) · h_j(X)`, `h_j(X) = Σ_{x'} eq(ρ_{>j}, x')·φ(r_{<j}, X, x')`,
/// where `c_j = Π_{i<j} eq(ρ_i, r_i)`. `h_j` has degree 2: the prover evaluates it at 0 and 2
/// and takes `h_j(1)` from the round's claim `s_j(0) + s_j(1)`, so each pair of entries costs
/// two evaluations of `φ` and the `eq` table is never folded (the next round's is the sum of
/// adjacent pairs of this one's). The messages are those of the plain sumcheck.
struct LayerOracle {
    /// `eq(ρ_{>j}, ·)`, one entry per pair of table entries.
    eq: Vec<E>,
    rho: Vec<E>,
    round: usize,
    c: E,
    p0: Vec<E>,
    p1: Vec<E>,
    q0: Vec<E>,
    q1: Vec<E>,
    lambda: E,
    /// `p₀ = p₁ = 1` throughout (the bottom layer of a lookup over whole tensors): the `p`
    /// tables are left empty.
    p_ones: bool,
}

#[allow(clippy::indexing_slicing)] // prover side: tables of one length
impl LayerOracle {
    /// The layer below a claim at `rho`: `lp`, `lq` hold `2h` entries, children `x` and `x + h`.
    fn new(rho: &[E], mut lp: Vec<E>, mut lq: Vec<E>, h: usize, lambda: E, p_ones: bool) -> Self {
        let q1 = lq.split_off(h);
        let (p0, p1) = if p_ones {
            (Vec::new(), Vec::new())
        } else {
            let p1 = lp.split_off(h);
            (lp, p1)
        };
        Self {
            eq: eq_table(rho.get(1..).unwrap_or(&[])),
            rho: rho.to_vec(),
            round: 0,
            c: E::ONE,
            p0,
            p1,
            q0: lq,
            q1,
            lambda,
            p_ones,
        }
    }

    fn final_values(&self) -> [E; 4] {
        if self.p_ones {
            [E::ONE, E::ONE, self.q0[0], self.q1[0]]
        } else {
            [self.p0[0], self.p1[0], self.q0[0], self.q1[0]]
        }
    }

    /// `(h(0), h(1), h(2))`, without `h(1)` (returned as zero) unless `with_one`.
    fn h(&self, with_one: bool) -> (E, E, E) {
        let lambda = self.lambda;
        let phi = |p0: E, p1: E, q0: E, q1: E| p0 * q1 + q0 * (p1 + lambda * q1);
        let phi1 = |q0: E, q1: E| q0 + q1 * (E::ONE + lambda * q0);
        let pairs = self.q0.len() / 2;
        let zero = (E::ZERO, E::ZERO, E::ZERO);
        (0..pairs)
            .into_par_iter()
            .with_min_len(1024)
            .fold(
                || zero,
                |(mut h0, mut h1, mut h2), i| {
                    let (a, b) = (2 * i, 2 * i + 1);
                    let e = self.eq[i];
                    let (qa0, qb0, qa1, qb1) = (self.q0[a], self.q0[b], self.q1[a], self.q1[b]);
                    let (q20, q21) = (qb0.double() - qa0, qb1.double() - qa1);
                    if self.p_ones {
                        h0 += e * phi1(qa0, qa1);
                        h2 += e * phi1(q20, q21);
                        if with_one {
                            h1 += e * phi1(qb0, qb1);
                        }
                    } else {
                        let (pa0, pb0, pa1, pb1) = (self.p0[a], self.p0[b], self.p1[a], self.p1[b]);
                        h0 += e * phi(pa0, pa1, qa0, qa1);
                        h2 += e * phi(pb0.double() - pa0, pb1.double() - pa1, q20, q21);
                        if with_one {
                            h1 += e * phi(pb0, pb1, qb0, qb1);
                        }
                    }
                    (h0, h1, h2)
                },
            )
            .reduce(|| zero, |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2))
    }

    /// `s(t) = c·eq(ρ_j, t)·h(t)` at `t = 0..=3` from `h(0), h(1), h(2)`.
    fn s(&self, h0: E, h1: E, h2: E) -> [E; 4] {
        let rj = self.rho[self.round];
        let h3 = h0 - (h1 - h2) * E::from(F::from_u64(3));
        // eq(ρ_j, t) = 1 − ρ_j + t·(2ρ_j − 1)
        let slope = rj.double() - E::ONE;
        let e0 = E::ONE - rj;
        let mut out = [E::ZERO; 4];
        for (t, (o, h)) in out.iter_mut().zip([h0, h1, h2, h3]).enumerate() {
            *o = self.c * (e0 + slope * E::from(F::from_u64(t as u64))) * h;
        }
        out
    }
}

#[allow(clippy::indexing_slicing)] // prover side: tables of one length
impl SumcheckOracle for LayerOracle {
    fn n_variables(&self) -> usize {
        self.rho.len() - self.round
    }
    fn degree(&self) -> usize {
        3
    }
    fn round_evals(&self) -> Vec<E> {
        let (h0, h1, h2) = self.h(true);
        self.s(h0, h1, h2).to_vec()
    }
    fn round_message(&self, claim: E) -> Vec<E> {
        let rj = self.rho[self.round];
        let (h0, _, h2) = self.h(false);
        // s(0) + s(1) = c·((1 − ρ_j)·h(0) + ρ_j·h(1)) = claim.
        let h1 = match (self.c * rj).try_inverse() {
            Some(inv) => (claim - self.c * (E::ONE - rj) * h0) * inv,
            None => self.h(true).1,
        };
        let [s0, _, s2, s3] = self.s(h0, h1, h2);
        vec![s0, s2, s3]
    }
    fn fix_first_variable(&mut self, r: E) {
        let rj = self.rho[self.round];
        self.c *= E::ONE - rj - r + (rj * r).double();
        for t in [&mut self.p0, &mut self.p1, &mut self.q0, &mut self.q1] {
            if t.len() > 1 {
                *t = t
                    .par_chunks(2)
                    .with_min_len(2048)
                    .map(|ab| ab[0] + r * (ab[1] - ab[0]))
                    .collect();
            }
        }
        // eq(ρ_{>j+1}, y) = Σ_b eq(ρ_{>j}, (b, y)).
        if self.eq.len() > 1 {
            self.eq = self
                .eq
                .par_chunks(2)
                .with_min_len(2048)
                .map(|ab| ab[0] + ab[1])
                .collect();
        }
        self.round += 1;
    }
}

/// Verifies a tree of `2^n_vars` leaves; returns its root and the claim on its leaves.
pub fn verify(n_vars: usize, t: &mut VerifierTranscript) -> Result<VerifiedTree, GkrError> {
    let root = t
        .read_es(b"gkr/root", 2)
        .map_err(|source| GkrError::Transcript { layer: 0, source })?;
    let (root_p, root_q) = match root.as_slice() {
        [a, b] => (*a, *b),
        _ => return Err(GkrError::LayerMismatch { layer: 0 }),
    };
    let mut point: Vec<E> = Vec::new();
    let (mut cp, mut cq) = (root_p, root_q);
    for layer in 0..n_vars {
        let lambda = t.challenge_e(b"gkr/lambda");
        let sub = zkgrad_sumcheck::verify(cp + lambda * cq, layer, 3, t)
            .map_err(|source| GkrError::Sumcheck { layer, source })?;
        let vals = t
            .read_es(b"gkr/layer", 4)
            .map_err(|source| GkrError::Transcript { layer, source })?;
        let [p0, p1, q0, q1] = match vals.as_slice() {
            [a, b, c, d] => [*a, *b, *c, *d],
            _ => return Err(GkrError::LayerMismatch { layer }),
        };
        let expect = eq_eval(&point, &sub.point) * (p0 * q1 + p1 * q0 + lambda * q0 * q1);
        if expect != sub.value {
            return Err(GkrError::LayerMismatch { layer });
        }
        let mu = t.challenge_e(b"gkr/mu");
        cp = p0 + mu * (p1 - p0);
        cq = q0 + mu * (q1 - q0);
        point = sub.point;
        point.push(mu);
    }
    Ok(VerifiedTree {
        root_p,
        root_q,
        leaves: LeafClaim {
            point,
            p: cp,
            q: cq,
        },
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use zkgrad_field::{Field, PrimeCharacteristicRing, F};
    use zkgrad_poly::eval_mle;

    fn leaves(n: usize) -> (Vec<E>, Vec<E>) {
        let p = (0..1u64 << n)
            .map(|i| E::from(F::from_u64(i % 3)))
            .collect();
        let q = (0..1u64 << n)
            .map(|i| E::from(F::from_u64(1000 + i * i)))
            .collect();
        (p, q)
    }

    #[test]
    fn root_is_the_fraction_sum_and_leaf_claim_is_true() {
        for n in 0..6 {
            let (p, q) = leaves(n);
            let mut t = ProverTranscript::new(&[3; 32]);
            let claim = prove(p.clone(), q.clone(), &mut t);
            let proof = t.finish();
            let mut v = VerifierTranscript::new(&[3; 32], &proof);
            let tree = verify(n, &mut v).unwrap();
            v.finish().unwrap();
            let sum: E = p.iter().zip(&q).map(|(a, b)| *a * b.inverse()).sum();
            assert_eq!(tree.root_p * tree.root_q.inverse(), sum);
            assert_eq!(tree.leaves, claim);
            assert_eq!(eval_mle(&p, &claim.point), claim.p);
            assert_eq!(eval_mle(&q, &claim.point), claim.q);
        }
    }

    #[test]
    fn every_flipped_byte_is_rejected_or_breaks_the_leaf_claim() {
        let n = 3;
        let (p, q) = leaves(n);
        let mut t = ProverTranscript::new(&[3; 32]);
        prove(p.clone(), q.clone(), &mut t);
        let proof = t.finish();
        for pos in 0..proof.len() {
            let mut b = proof.clone();
            b[pos] ^= 4;
            let mut v = VerifierTranscript::new(&[3; 32], &b);
            if let Ok(tree) = verify(n, &mut v) {
                // The root may be forged only together with a false leaf claim.
                let true_leaf = eval_mle(&p, &tree.leaves.point) == tree.leaves.p
                    && eval_mle(&q, &tree.leaves.point) == tree.leaves.q;
                assert!(!true_leaf, "byte {pos}: forged tree with a true leaf claim");
            }
        }
    }
}
