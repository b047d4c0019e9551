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
use zkgrad_field::{PrimeCharacteristicRing, E};
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
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn prove(p: Vec<E>, q: Vec<E>, t: &mut ProverTranscript) -> LeafClaim {
    assert_eq!(p.len(), q.len());
    assert!(p.len().is_power_of_two());
    let n = p.len().trailing_zeros() as usize;
    // layers[k] = (p_k, q_k), k = n..0 built bottom-up.
    let mut layers: Vec<(Vec<E>, Vec<E>)> = vec![(Vec::new(), Vec::new()); n + 1];
    layers[n] = (p, q);
    for k in (0..n).rev() {
        let h = 1usize << k;
        let (cp, cq) = &layers[k + 1];
        let np: Vec<E> = (0..h)
            .map(|x| cp[x] * cq[x + h] + cp[x + h] * cq[x])
            .collect();
        let nq: Vec<E> = (0..h).map(|x| cq[x] * cq[x + h]).collect();
        layers[k] = (np, nq);
    }
    let (root_p, root_q) = (layers[0].0[0], layers[0].1[0]);
    t.write_es(b"gkr/root", &[root_p, root_q]);
    let mut point: Vec<E> = Vec::new();
    let (mut cp, mut cq) = (root_p, root_q);
    for k in 0..n {
        let h = 1usize << k;
        let lambda = t.challenge_e(b"gkr/lambda");
        let (lp, lq) = &layers[k + 1];
        let mut oracle = LayerOracle {
            eq: eq_table(&point),
            p0: lp[..h].to_vec(),
            p1: lp[h..].to_vec(),
            q0: lq[..h].to_vec(),
            q1: lq[h..].to_vec(),
            lambda,
        };
        let rho = zkgrad_sumcheck::prove(&mut oracle, cp + lambda * cq, t);
        let (p0, p1, q0, q1) = (oracle.p0[0], oracle.p1[0], oracle.q0[0], oracle.q1[0]);
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

/// The sumcheck of one GKR layer, `Σ_x eq(ρ,x)·[p₀q₁ + p₁q₀ + λq₀q₁](x)` (degree 3), written out
/// so each point costs four products and the tables step by additions.
struct LayerOracle {
    eq: Vec<E>,
    p0: Vec<E>,
    p1: Vec<E>,
    q0: Vec<E>,
    q1: Vec<E>,
    lambda: E,
}

#[allow(clippy::indexing_slicing)] // prover side: five tables of one length
impl LayerOracle {
    /// `g(t)` at `t = 0..=3`, without `t = 1` when `skip_one`.
    fn evals(&self, skip_one: bool) -> Vec<E> {
        let lambda = self.lambda;
        let zero = [E::ZERO; 4];
        let acc = (0..self.eq.len() / 2)
            .into_par_iter()
            .with_min_len(1024)
            .fold(
                || zero,
                |mut acc, i| {
                    let (a, b) = (2 * i, 2 * i + 1);
                    let mut v = [self.eq[a], self.p0[a], self.p1[a], self.q0[a], self.q1[a]];
                    let d = [
                        self.eq[b] - v[0],
                        self.p0[b] - v[1],
                        self.p1[b] - v[2],
                        self.q0[b] - v[3],
                        self.q1[b] - v[4],
                    ];
                    for (t, slot) in acc.iter_mut().enumerate() {
                        if t > 0 {
                            for (x, dx) in v.iter_mut().zip(&d) {
                                *x += *dx;
                            }
                        }
                        if !(skip_one && t == 1) {
                            *slot += v[0] * (v[1] * v[4] + v[3] * (v[2] + lambda * v[4]));
                        }
                    }
                    acc
                },
            )
            .reduce(
                || zero,
                |x, y| [x[0] + y[0], x[1] + y[1], x[2] + y[2], x[3] + y[3]],
            );
        if skip_one {
            vec![acc[0], acc[2], acc[3]]
        } else {
            acc.to_vec()
        }
    }
}

#[allow(clippy::indexing_slicing)] // prover side: five tables of one length
impl SumcheckOracle for LayerOracle {
    fn n_variables(&self) -> usize {
        self.eq.len().trailing_zeros() as usize
    }
    fn degree(&self) -> usize {
        3
    }
    fn round_evals(&self) -> Vec<E> {
        self.evals(false)
    }
    fn round_evals_except_one(&self) -> Vec<E> {
        self.evals(true)
    }
    fn fix_first_variable(&mut self, r: E) {
        for t in [
            &mut self.eq,
            &mut self.p0,
            &mut self.p1,
            &mut self.q0,
            &mut self.q1,
        ] {
            let half = t.len() / 2;
            for i in 0..half {
                let (a, b) = (t[2 * i], t[2 * i + 1]);
                t[i] = a + r * (b - a);
            }
            t.truncate(half.max(1));
        }
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
