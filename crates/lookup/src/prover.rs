//! The prover: builds the tree of fractions bottom-up (packed while the layers are large) and
//! proves it layer by layer from the root, each layer's sumcheck with `eq` factored out.

use rayon::prelude::*;
use zkgrad_field::{Field, PrimeCharacteristicRing, E, F};
use zkgrad_poly::eq_table;
use zkgrad_poly::packed::{lane_sum, pack, unpack, EP, LANES};
use zkgrad_sumcheck::SumcheckOracle;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::LeafClaim;

/// Builds the tree and proves its root. `p.len() == q.len() == 2^n`.
///
/// Leaves with `p ≡ 1` (a lookup over a whole tensor) take a cheaper bottom layer: there
/// `p₀q₁ + p₁q₀ = q₀ + q₁`, and folding keeps `p ≡ 1`.
pub fn prove(p: Vec<E>, q: Vec<E>, t: &mut ProverTranscript) -> LeafClaim {
    assert_eq!(p.len(), q.len());
    assert!(p.len().is_power_of_two());
    if q.len() >= 2 * LANES {
        let (pp, qp) = (pack(&p), pack(&q));
        // The leaves are held once, packed (GPT-2 124M: 1 GiB of 2^25 leaves).
        drop((p, q));
        return prove_packed(pp, qp, t);
    }
    let p_ones = p.iter().all(|x| *x == E::ONE);
    let p = if p_ones { Vec::new() } else { p };
    prove_layers(Layer::Scalar(p, q), p_ones, t)
}

/// [`prove`] on leaves already packed in words of [`LANES`] (`zkgrad_poly::packed::pack`'s
/// layout): `p.len() == q.len()`, a power of two of at least two words. The same proof as
/// [`prove`] on the unpacked leaves, without their packed copy.
pub fn prove_packed(p: Vec<EP>, q: Vec<EP>, t: &mut ProverTranscript) -> LeafClaim {
    assert_eq!(p.len(), q.len());
    assert!(q.len().is_power_of_two() && q.len() >= 2);
    let p_ones = p.par_iter().all(|x| *x == EP::ONE);
    let p = if p_ones { Vec::new() } else { p };
    prove_layers(Layer::Packed(p, q), p_ones, t)
}

/// The tree above the leaves `below` (`p` empty when `p_ones`), proved from its root.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
fn prove_layers(mut below: Layer, p_ones: bool, t: &mut ProverTranscript) -> LeafClaim {
    let n = match &below {
        Layer::Scalar(_, q) => q.len(),
        Layer::Packed(_, q) => q.len() * LANES,
    }
    .trailing_zeros() as usize;
    let mut layers: Vec<Layer> = Vec::with_capacity(n + 1);
    for k in (0..n).rev() {
        let ones = p_ones && k + 1 == n;
        let next = match &below {
            Layer::Packed(cp, cq) if cq.len() >= 2 => {
                let (np, nq) = parent(cp, cq, ones);
                Layer::Packed(np, nq)
            }
            Layer::Packed(cp, cq) => {
                let (np, nq) = parent(&unpack(cp), &unpack(cq), ones);
                Layer::Scalar(np, nq)
            }
            Layer::Scalar(cp, cq) => {
                let (np, nq) = parent(cp, cq, ones);
                Layer::Scalar(np, nq)
            }
        };
        layers.push(std::mem::replace(&mut below, next));
    }
    layers.push(below);
    layers.reverse();
    // (A single leaf whose p was dropped as all ones has p = 1.)
    let (root_p, root_q) = match &layers[0] {
        Layer::Scalar(p, q) => (p.first().copied().unwrap_or(E::ONE), q[0]),
        Layer::Packed(p, q) => (unpack(p)[0], unpack(q)[0]),
    };
    t.write_es(b"gkr/root", &[root_p, root_q]);
    let mut point: Vec<E> = Vec::new();
    let (mut cp, mut cq) = (root_p, root_q);
    for k in 0..n {
        let h = 1usize << k;
        let lambda = t.challenge_e(b"gkr/lambda");
        let layer = std::mem::replace(&mut layers[k + 1], Layer::Scalar(Vec::new(), Vec::new()));
        let mut oracle = LayerOracle::new(&point, layer, h, lambda, p_ones && k + 1 == n);
        // The layer binds its variables from the top down: the challenges, reversed, are the
        // point in variable order.
        let mut rho = zkgrad_sumcheck::prove(&mut oracle, cp + lambda * cq, t);
        rho.reverse();
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

/// What the layer arithmetic needs of `E` and of its packing `EP`.
trait Lane:
    PrimeCharacteristicRing + Copy + Send + Sync + std::ops::Mul<E, Output = Self> + std::ops::AddAssign
{
}

impl<T> Lane for T where
    T: PrimeCharacteristicRing
        + Copy
        + Send
        + Sync
        + std::ops::Mul<E, Output = T>
        + std::ops::AddAssign
{
}

/// The layer's tables, the children `x` and `x + h` of each node as `p₀, p₁, q₀, q₁`, and
/// `eq(ρ_{<v}, ·)` for the variables still free below the one bound this round.
struct Tables<T> {
    eq: Vec<T>,
    p0: Vec<T>,
    p1: Vec<T>,
    q0: Vec<T>,
    q1: Vec<T>,
}

#[allow(clippy::indexing_slicing)] // prover side: tables of one length, eq of half of it
impl<T: Lane> Tables<T> {
    /// `(h(0), h(1), h(2))` of this round (`h(1)` zero unless `with_one`): pairs are entries
    /// `i` and `i + m` (the top free variable), `eq` has `m` entries.
    fn h(&self, lambda: E, p_ones: bool, with_one: bool, lane_sum: fn(T) -> E) -> (E, E, E) {
        let m = self.q0.len() / 2;
        let phi = |p0: T, p1: T, q0: T, q1: T| p0 * q1 + q0 * (p1 + q1 * lambda);
        let phi1 = |q0: T, q1: T| q0 + q1 * (T::ONE + q0 * lambda);
        let zero = (T::ZERO, T::ZERO, T::ZERO);
        let step = |(mut h0, mut h1, mut h2): (T, T, T), i: usize| {
            let e = self.eq[i];
            let (a0, b0, a1, b1) = (self.q0[i], self.q0[i + m], self.q1[i], self.q1[i + m]);
            let (c0, c1) = (b0.double() - a0, b1.double() - a1);
            if p_ones {
                h0 += e * phi1(a0, a1);
                h2 += e * phi1(c0, c1);
                if with_one {
                    h1 += e * phi1(b0, b1);
                }
            } else {
                let (pa0, pb0) = (self.p0[i], self.p0[i + m]);
                let (pa1, pb1) = (self.p1[i], self.p1[i + m]);
                h0 += e * phi(pa0, pa1, a0, a1);
                h2 += e * phi(pb0.double() - pa0, pb1.double() - pa1, c0, c1);
                if with_one {
                    h1 += e * phi(pb0, pb1, b0, b1);
                }
            }
            (h0, h1, h2)
        };
        // Small rounds run on one thread: waking the pool costs more than they do.
        let (h0, h1, h2) = if m < SEQUENTIAL_BELOW {
            (0..m).fold(zero, step)
        } else {
            (0..m)
                .into_par_iter()
                .with_min_len(512)
                .fold(|| zero, step)
                .reduce(|| zero, |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2))
        };
        (lane_sum(h0), lane_sum(h1), lane_sum(h2))
    }

    /// Binds the top free variable to `r` (in place: entry `i` takes `i + r·(i+m − i)`), and
    /// sums `eq` over it: `eq(ρ_{<v−1}, y) = eq(ρ_{<v}, y) + eq(ρ_{<v}, y + 2^(v−1))`.
    fn fold(&mut self, r: E) {
        for t in [&mut self.p0, &mut self.p1, &mut self.q0, &mut self.q1] {
            let m = t.len() / 2;
            if m == 0 {
                continue;
            }
            let (lo, hi) = t.split_at_mut(m);
            if m < SEQUENTIAL_BELOW {
                lo.iter_mut()
                    .zip(hi.iter())
                    .for_each(|(l, h)| *l += (*h - *l) * r);
            } else {
                lo.par_iter_mut()
                    .zip(hi.par_iter())
                    .with_min_len(1024)
                    .for_each(|(l, h)| *l += (*h - *l) * r);
            }
            t.truncate(m);
        }
        let m = self.eq.len() / 2;
        if m > 0 {
            let (lo, hi) = self.eq.split_at_mut(m);
            lo.iter_mut().zip(hi.iter()).for_each(|(l, h)| *l += *h);
            self.eq.truncate(m);
        }
    }
}

/// One layer of the tree, `(p_k, q_k)`, scalar or packed.
enum Layer {
    Scalar(Vec<E>, Vec<E>),
    Packed(Vec<EP>, Vec<EP>),
}

/// The layer above: node `x` combines children `x` and `x + h` (`p` ignored when `ones`).
#[allow(clippy::indexing_slicing)] // prover side: cq has 2h entries, cp too unless ones
fn parent<T: Lane>(cp: &[T], cq: &[T], ones: bool) -> (Vec<T>, Vec<T>) {
    let h = cq.len() / 2;
    let node = |x: usize| {
        let (q0, q1) = (cq[x], cq[x + h]);
        let p = if ones {
            q0 + q1
        } else {
            cp[x] * q1 + cp[x + h] * q0
        };
        (p, q0 * q1)
    };
    if h < SEQUENTIAL_BELOW {
        (0..h).map(node).unzip()
    } else {
        (0..h).into_par_iter().with_min_len(512).map(node).unzip()
    }
}

/// Tables (in words or elements) below this size are processed on one thread.
const SEQUENTIAL_BELOW: usize = 2048;

/// Scalar tables of at most this many entries per child evaluate a round's `h(1)` directly
/// rather than from the claim (one extension-field inversion, a base-field gcd).
const DIRECT_H1_BELOW: usize = 32;

/// The sumcheck of one GKR layer, `Σ_x eq(ρ,x)·φ(x)` with `φ = p₀q₁ + p₁q₀ + λq₀q₁`
/// (degree 3), binding the variables from the top (`x_{k−1}` first) so that a pair of
/// entries `i`, `i + 2^(k−1)` lies in matching lanes of packed words, and with `eq` factored
/// out as in Gruen ("Some improvements for the PIOP for ZeroCheck", 2024, §3): in the round
/// binding variable `v`,
/// `s(X) = c · eq(ρ_v, X) · h(X)`, `h(X) = Σ_{x'} eq(ρ_{<v}, x')·φ(x', X, r_{>v})`,
/// `c = Π_{u>v} eq(ρ_u, r_u)`. `h` has degree 2: the prover evaluates it at 0 and 2 and takes
/// `h(1)` from the round's claim `s(0) + s(1)`; the `eq` table is never folded, only summed
/// over its top variable. The messages are those of the plain sumcheck; the challenges, in
/// reverse, are the point in variable order (the verifier reverses them too).
struct LayerOracle {
    packed: Option<Tables<EP>>,
    scalar: Option<Tables<E>>,
    rho: Vec<E>,
    round: usize,
    c: E,
    lambda: E,
    /// `p₀ = p₁ = 1` throughout (the bottom layer of a lookup over whole tensors): the `p`
    /// tables are left empty.
    p_ones: bool,
}

#[allow(clippy::indexing_slicing)] // prover side: tables of one length
impl LayerOracle {
    /// The layer below a claim at `rho`, `2h` entries: children `x` and `x + h`.
    fn new(rho: &[E], layer: Layer, h: usize, lambda: E, p_ones: bool) -> Self {
        fn halves<T: Copy>(mut v: Vec<T>, at: usize) -> (Vec<T>, Vec<T>) {
            let hi = v.split_off(at.min(v.len()));
            (v, hi)
        }
        let eq = eq_table(&rho[..rho.len().saturating_sub(1)]);
        let (packed, scalar) = match layer {
            // Packed while a pair's halves are at least two words each.
            Layer::Packed(lp, lq) if h >= 2 * LANES => {
                let w = h / LANES;
                let (q0, q1) = halves(lq, w);
                let (p0, p1) = halves(lp, w);
                (
                    Some(Tables {
                        eq: pack(&eq),
                        p0,
                        p1,
                        q0,
                        q1,
                    }),
                    None,
                )
            }
            Layer::Packed(lp, lq) => {
                let (q0, q1) = halves(unpack(&lq), h);
                let (p0, p1) = halves(unpack(&lp), h);
                (None, Some(Tables { eq, p0, p1, q0, q1 }))
            }
            Layer::Scalar(lp, lq) => {
                let (q0, q1) = halves(lq, h);
                let (p0, p1) = halves(lp, h);
                (None, Some(Tables { eq, p0, p1, q0, q1 }))
            }
        };
        Self {
            packed,
            scalar,
            rho: rho.to_vec(),
            round: 0,
            c: E::ONE,
            lambda,
            p_ones,
        }
    }

    /// Back to scalar tables once `when` holds of the packed ones.
    fn unpack_when(&mut self, when: impl Fn(&Tables<EP>) -> bool) {
        if self.packed.as_ref().is_some_and(when) {
            if let Some(t) = self.packed.take() {
                self.scalar = Some(Tables {
                    eq: unpack(&t.eq),
                    p0: unpack(&t.p0),
                    p1: unpack(&t.p1),
                    q0: unpack(&t.q0),
                    q1: unpack(&t.q1),
                });
            }
        }
    }

    fn h(&self, with_one: bool) -> (E, E, E) {
        match (&self.packed, &self.scalar) {
            (Some(t), _) => t.h(self.lambda, self.p_ones, with_one, lane_sum),
            (None, Some(t)) => t.h(self.lambda, self.p_ones, with_one, |x| x),
            (None, None) => (E::ZERO, E::ZERO, E::ZERO),
        }
    }

    /// The variable this round binds.
    fn var(&self) -> usize {
        self.rho.len() - 1 - self.round
    }

    fn final_values(&self) -> [E; 4] {
        let first = |v: &Vec<E>| v.first().copied().unwrap_or(E::ZERO);
        match &self.scalar {
            Some(t) if self.p_ones => [E::ONE, E::ONE, first(&t.q0), first(&t.q1)],
            Some(t) => [first(&t.p0), first(&t.p1), first(&t.q0), first(&t.q1)],
            None => [E::ZERO; 4],
        }
    }

    /// `s(t) = c·eq(ρ_v, t)·h(t)` at `t = 0..=3` from `h(0), h(1), h(2)`.
    fn s(&self, h0: E, h1: E, h2: E) -> [E; 4] {
        let rv = self.rho[self.var()];
        let h3 = h0 - (h1 - h2) * E::from(F::from_u64(3));
        // eq(ρ_v, t) = 1 − ρ_v + t·(2ρ_v − 1)
        let slope = rv.double() - E::ONE;
        let e0 = E::ONE - rv;
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
        let rv = self.rho[self.var()];
        // A small round evaluates h(1) directly: cheaper than the field inversion below
        // (nanoGPT's proof spent ~8 ms of CPU in these inversions, by perf). Either way h(1) is
        // the same value, so the message is the same.
        if self
            .scalar
            .as_ref()
            .is_some_and(|t| t.q0.len() <= DIRECT_H1_BELOW)
        {
            let (h0, h1, h2) = self.h(true);
            let [s0, _, s2, s3] = self.s(h0, h1, h2);
            return vec![s0, s2, s3];
        }
        let (h0, _, h2) = self.h(false);
        // s(0) + s(1) = c·((1 − ρ_v)·h(0) + ρ_v·h(1)) = claim.
        let h1 = match (self.c * rv).try_inverse() {
            Some(inv) => (claim - self.c * (E::ONE - rv) * h0) * inv,
            None => self.h(true).1,
        };
        let [s0, _, s2, s3] = self.s(h0, h1, h2);
        vec![s0, s2, s3]
    }
    fn fix_first_variable(&mut self, r: E) {
        let rv = self.rho[self.var()];
        self.c *= E::ONE - rv - r + (rv * r).double();
        // Packed eq of one word cannot be summed over its top variable: unpack first.
        self.unpack_when(|t| t.eq.len() < 2);
        if let Some(t) = self.packed.as_mut() {
            t.fold(r);
        } else if let Some(t) = self.scalar.as_mut() {
            t.fold(r);
        }
        // Back to scalar once a pair's halves would share a word.
        self.unpack_when(|t| t.q0.len() < 2);
        self.round += 1;
    }
}
