//! Multilinear extensions (MLEs), eq tables and univariate round polynomials.
//!
//! # Variable order (stated once, used everywhere)
//! A table `v` of length `2^n` is the hypercube evaluation of its MLE `ṽ(x_0, …, x_{n-1})`, and
//! **index bit i is variable i (little endian)**: index `0b1011` is `ṽ(1, 1, 0, 1)`, i.e.
//! `x_0 = 1, x_1 = 1, x_2 = 0, x_3 = 1`. Sumcheck binds `x_0` first, so folding pairs entries
//! `(2i, 2i+1)`. A row-major matrix with `2^c` columns has its column bits as variables
//! `0..c` and its row bits as variables `c..`, so a point on it is `(r_col ‖ r_row)`.
//!
//! Verifier side: no prover, IO or ONNX code may enter this crate.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod packed;

use rayon::prelude::*;
use zkgrad_field::{Field, PrimeCharacteristicRing, E, F};

/// `eq(a, b) = Π_i (a_i b_i + (1 - a_i)(1 - b_i))`.
pub fn eq_eval(a: &[E], b: &[E]) -> E {
    a.iter().zip(b).fold(E::ONE, |acc, (&x, &y)| {
        acc * (x * y + (E::ONE - x) * (E::ONE - y))
    })
}

/// `eq(point, x)` at the one hypercube point `x = bits(index)` (bit `i` of `index` is variable
/// `i`): the entry `index` of [`eq_table`], in O(n).
pub fn eq_at_index(point: &[E], index: usize) -> E {
    point
        .iter()
        .enumerate()
        .map(|(i, z)| {
            if (index >> i) & 1 == 1 {
                *z
            } else {
                E::ONE - *z
            }
        })
        .product()
}

/// The table `eq(point, x)` for all `x ∈ {0,1}^n`, in the stated variable order.
pub fn eq_table(point: &[E]) -> Vec<E> {
    if point.len() >= PARALLEL_EQ_FROM {
        return eq_table_scaled(point, E::ONE);
    }
    let mut t = Vec::with_capacity(1 << point.len());
    t.push(E::ONE);
    for &r in point {
        // Variable i is bit i: the new variable doubles the table, the upper half takes r.
        let len = t.len();
        t.resize(2 * len, E::ZERO);
        let (lo, hi) = t.split_at_mut(len);
        for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
            *h = *l * r;
            *l -= *h;
        }
    }
    t
}

/// Tables of at least `2^PARALLEL_EQ_FROM` entries are built as the product of two half
/// tables, in parallel ([`eq_table_into`]).
const PARALLEL_EQ_FROM: usize = 13;

/// `eq_table` scaled by `s`: `s · eq(point, x)` (the expansion starts from `s`, at no extra cost).
pub fn eq_table_scaled(point: &[E], s: E) -> Vec<E> {
    let mut t = E::zero_vec(1 << point.len());
    eq_table_into(point, s, &mut t);
    t
}

/// Writes `s · eq(point, x)` for all `x` into `out` (`out.len() == 2^point.len()`), in place.
#[allow(clippy::indexing_slicing)] // `out` has 2^n entries; every index is below the current length
pub fn eq_table_into(point: &[E], s: E, out: &mut [E]) {
    assert_eq!(out.len(), 1 << point.len(), "eq table of the wrong length");
    if point.len() >= PARALLEL_EQ_FROM {
        // eq(z, x) = eq(z_lo, x_lo)·eq(z_hi, x_hi): the two half tables, then their product
        // in parallel over the high half (one product per entry, as the doubling costs).
        let (lo, hi) = point.split_at(point.len() / 2);
        let (lo, hi) = (eq_table_scaled(lo, s), eq_table(hi));
        out.par_chunks_mut(lo.len())
            .zip(hi.par_iter())
            .with_min_len(16)
            .for_each(|(row, &h)| {
                for (o, &l) in row.iter_mut().zip(&lo) {
                    *o = l * h;
                }
            });
        return;
    }
    out[0] = s;
    for (i, &r) in point.iter().enumerate() {
        let len = 1usize << i;
        let (lo, hi) = out[..2 * len].split_at_mut(len);
        for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
            *h = *l * r;
            *l -= *h;
        }
    }
}

/// Evaluates the MLE of a base-field table at `point` (`table.len() == 2^point.len()`; shorter
/// tables are read as zero-padded).
pub fn eval_mle_base(table: &[F], point: &[E]) -> E {
    if table.len() >= 1 << 14 && point.len() >= 14 {
        return eval_mle_base_split(table, point);
    }
    let mut cur: Vec<E> = fold_base(
        table,
        point.first().copied().unwrap_or(E::ZERO),
        point.is_empty(),
    );
    for &r in point.iter().skip(1) {
        cur = fold(&cur, r);
    }
    cur.first().copied().unwrap_or(E::ZERO)
}

/// `Σ_hi eq(z_hi, hi)·Σ_lo eq(z_lo, lo)·table[hi·2^|z_lo| + lo]` with `z = (z_lo ‖ z_hi)`: one
/// pass of extension-by-base products over the table, in parallel over `hi`, and two tables of
/// `√(2^n)` entries instead of a folded copy of half the table.
///
/// The inner products run on packed words ([`packed`]: `LANES` extension-by-base products per
/// instruction sequence) where a row is whole words; GPT-2 124M's 2^27 weights: 0.21–0.24 → 0.12–0.13 s
/// (`examples/eval_time.rs`).
fn eval_mle_base_split(table: &[F], point: &[E]) -> E {
    use p3_field::PackedValue as _;
    let n_lo = point.len() / 2;
    let (z_lo, z_hi) = point.split_at(n_lo);
    let (eq_lo, eq_hi) = (eq_table(z_lo), eq_table(z_hi));
    let width = 1usize << n_lo;
    if width.is_multiple_of(packed::LANES) && table.len().is_multiple_of(width) {
        let eq_lo = packed::pack(&eq_lo);
        return table
            .par_chunks(width)
            .zip(eq_hi.par_iter())
            .with_min_len(16)
            .map(|(row, &e)| {
                let words = packed::FP::pack_slice(row);
                let inner = words
                    .iter()
                    .zip(&eq_lo)
                    .fold(packed::EP::ZERO, |acc, (&v, &w)| acc + w * v);
                e * packed::lane_sum(inner)
            })
            .sum();
    }
    table
        .par_chunks(width)
        .zip(eq_hi.par_iter())
        .with_min_len(16)
        .map(|(row, &e)| {
            let inner: E = row.iter().zip(&eq_lo).map(|(&v, &w)| w * v).sum();
            e * inner
        })
        .sum()
}

fn fold_base(table: &[F], r: E, no_vars: bool) -> Vec<E> {
    if no_vars {
        return vec![table.first().map(|&x| E::from(x)).unwrap_or(E::ZERO)];
    }
    let half = table.len().div_ceil(2);
    (0..half)
        .map(|i| {
            let a = table.get(2 * i).copied().unwrap_or(F::ZERO);
            let b = table.get(2 * i + 1).copied().unwrap_or(F::ZERO);
            r * (b - a) + a
        })
        .collect()
}

/// Evaluates the MLE of an extension table at `point` (zero-padded like [`eval_mle_base`]).
pub fn eval_mle(table: &[E], point: &[E]) -> E {
    let mut cur = table.to_vec();
    for &r in point {
        cur = fold(&cur, r);
    }
    cur.first().copied().unwrap_or(E::ZERO)
}

/// Binds variable 0 to `r`: `out[i] = v[2i] + r (v[2i+1] - v[2i])`.
pub fn fold(v: &[E], r: E) -> Vec<E> {
    let half = v.len().div_ceil(2);
    (0..half)
        .map(|i| {
            let a = v.get(2 * i).copied().unwrap_or(E::ZERO);
            let b = v.get(2 * i + 1).copied().unwrap_or(E::ZERO);
            a + r * (b - a)
        })
        .collect()
}

/// MLE of the indicator `[i < n]` over `2^point.len()` entries, in `O(len)`.
///
/// Scanning bits from the top: `i < n` iff at the highest bit where they differ, `i` has 0 and
/// `n` has 1.
pub fn prefix_indicator_eval(n: usize, point: &[E]) -> E {
    let k = point.len();
    if n >= (1usize << k.min(63)) && k < 64 {
        return E::ONE;
    }
    // sum over the bit position j where i first (from the top) drops below n.
    let mut acc = E::ZERO;
    let mut prefix_eq = E::ONE; // eq of the bits above j with n's bits
    for j in (0..k).rev() {
        let r = point.get(j).copied().unwrap_or(E::ZERO);
        let bit = (n >> j) & 1;
        if bit == 1 {
            acc += prefix_eq * (E::ONE - r);
            prefix_eq *= r;
        } else {
            prefix_eq *= E::ONE - r;
        }
    }
    acc
}

/// `Σ_{x < n} eq(a, x)·eq(b, x)` over `x ∈ {0,1}^k` (`k = a.len() = b.len()`), in `O(k)`: the
/// MLE at `b` of `x ↦ eq(a, x)·[x < n]`, which is `eq(a, b)` when `n ≥ 2^k`.
///
/// With `e_i(0) = (1 − a_i)(1 − b_i)`, `e_i(1) = a_i·b_i`, the summand is `Π_i e_i(x_i)`;
/// scanning bits from the top as in [`prefix_indicator_eval`], the bits below the first one
/// where `x` drops under `n` are free and sum to `Π_{i<j} (e_i(0) + e_i(1))`.
pub fn eq_product_prefix_eval(a: &[E], b: &[E], n: usize) -> E {
    let k = a.len().min(b.len());
    let e = |i: usize| {
        let (x, y) = (
            a.get(i).copied().unwrap_or(E::ZERO),
            b.get(i).copied().unwrap_or(E::ZERO),
        );
        ((E::ONE - x) * (E::ONE - y), x * y)
    };
    // free[j] = Π_{i<j} (e_i(0) + e_i(1))
    let mut free = Vec::with_capacity(k + 1);
    free.push(E::ONE);
    for i in 0..k {
        let (e0, e1) = e(i);
        let last = free.last().copied().unwrap_or(E::ONE);
        free.push(last * (e0 + e1));
    }
    if k >= 64 || n >= 1usize << k {
        return free.last().copied().unwrap_or(E::ONE);
    }
    let mut acc = E::ZERO;
    let mut prefix = E::ONE;
    for j in (0..k).rev() {
        let (e0, e1) = e(j);
        if (n >> j) & 1 == 1 {
            acc += prefix * e0 * free.get(j).copied().unwrap_or(E::ONE);
            prefix *= e1;
        } else {
            prefix *= e0;
        }
    }
    acc
}

/// MLE of `i ↦ i` (as a field element) over `2^point.len()` entries: `Σ_j 2^j r_j`.
pub fn identity_eval(point: &[E]) -> E {
    let mut acc = E::ZERO;
    let mut pow = E::ONE;
    for &r in point {
        acc += pow * r;
        pow = pow.double();
    }
    acc
}

/// Evaluates at `x` the unique polynomial of degree `< evals.len()` with `p(i) = evals[i]`.
pub fn interpolate_at(evals: &[E], x: E) -> E {
    let n = evals.len();
    let weights = lagrange_weights(n);
    let mut acc = E::ZERO;
    for i in 0..n {
        let mut num = E::ONE;
        for j in 0..n {
            if i != j {
                num *= x - E::from(F::from_u64(j as u64));
            }
        }
        let w = weights.get(i).copied().unwrap_or(F::ZERO);
        acc += evals.get(i).copied().unwrap_or(E::ZERO) * num * E::from(w);
    }
    acc
}

/// Nodes up to which the Lagrange weights are precomputed (sumchecks here have degree ≤ 3).
const MAX_PRECOMPUTED_NODES: usize = 8;

/// `1 / Π_{j≠i} (i − j)` for the nodes `0..n`: constants, computed once for small `n` (every
/// sumcheck round interpolates), on the fly otherwise.
fn lagrange_weights(n: usize) -> std::borrow::Cow<'static, [F]> {
    static TABLE: std::sync::OnceLock<Vec<Vec<F>>> = std::sync::OnceLock::new();
    let compute = |n: usize| -> Vec<F> {
        (0..n)
            .map(|i| {
                let den = (0..n).filter(|&j| j != i).fold(F::ONE, |d, j| {
                    d * (F::from_u64(i as u64) - F::from_u64(j as u64))
                });
                den.try_inverse().unwrap_or(F::ZERO)
            })
            .collect()
    };
    if n <= MAX_PRECOMPUTED_NODES {
        let table = TABLE.get_or_init(|| (0..=MAX_PRECOMPUTED_NODES).map(compute).collect());
        if let Some(w) = table.get(n) {
            return std::borrow::Cow::Borrowed(w.as_slice());
        }
    }
    std::borrow::Cow::Owned(compute(n))
}

/// Number of variables of a table holding `n` values: `ceil(log2(n))` (0 for n ≤ 1).
pub fn log2_ceil(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_field::f_from_i64;

    fn pt(v: &[u64]) -> Vec<E> {
        v.iter().map(|&x| E::from(F::from_u64(x))).collect()
    }

    #[test]
    fn variable_order_is_little_endian() {
        // index 0b1011 = 11 is P(1,1,0,1)
        let mut t = vec![F::ZERO; 16];
        t[11] = F::ONE;
        assert_eq!(eval_mle_base(&t, &pt(&[1, 1, 0, 1])), E::ONE);
        assert_eq!(eval_mle_base(&t, &pt(&[1, 0, 1, 1])), E::ZERO);
        let eq = eq_table(&pt(&[1, 1, 0, 1]));
        assert_eq!(eq[11], E::ONE);
        assert_eq!(eq.iter().copied().sum::<E>(), E::ONE);
    }

    #[test]
    fn large_eq_tables_are_the_half_tables_product() {
        // At and above PARALLEL_EQ_FROM the table is built from two halves: every entry is
        // eq(point, x), scaled too, at odd and even lengths.
        for n in [PARALLEL_EQ_FROM, PARALLEL_EQ_FROM + 1] {
            let p: Vec<E> = (0..n as u64)
                .map(|i| zkgrad_field::e_from_coords([F::from_u64(3 + i), F::from_u64(i * i)]))
                .collect();
            let s = E::from(F::from_u64(9));
            let (t, ts) = (eq_table(&p), eq_table_scaled(&p, s));
            for i in (0..1usize << n).step_by(97).chain([(1 << n) - 1]) {
                assert_eq!(t[i], eq_at_index(&p, i), "2^{n}, entry {i}");
                assert_eq!(ts[i], s * eq_at_index(&p, i));
            }
        }
    }

    #[test]
    fn eq_table_matches_eq_eval() {
        let p: Vec<E> = (0..3).map(|i| E::from(F::from_u64(17 + 5 * i))).collect();
        let t = eq_table(&p);
        for (i, v) in t.iter().enumerate() {
            let b: Vec<E> = (0..3)
                .map(|j| E::from(F::from_u64(((i >> j) & 1) as u64)))
                .collect();
            assert_eq!(*v, eq_eval(&p, &b));
            assert_eq!(*v, eq_at_index(&p, i));
        }
        let vals: Vec<F> = (0..8).map(|i| f_from_i64(i * i - 7)).collect();
        let direct: E = t.iter().zip(&vals).map(|(a, b)| *a * *b).sum();
        assert_eq!(direct, eval_mle_base(&vals, &p));
    }

    #[test]
    fn large_base_tables_evaluate_as_folded_and_scaled_eq_tables_match() {
        // eval_mle_base switches to the split-eq evaluation at 2^14 entries; a table shorter
        // than 2^n is read as zero-padded either way.
        // Points off the base field: the packed inner products carry both coordinates.
        let p: Vec<E> = (0..15)
            .map(|i| {
                zkgrad_field::BasedVectorSpace::from_basis_coefficients_fn(|j| {
                    F::from_u64(7 + 13 * i + 101 * j as u64)
                })
            })
            .collect();
        for len in [1usize << 15, (1 << 15) - 777, 1 << 14] {
            let t: Vec<F> = (0..len as u64).map(|i| F::from_u64(i * i % 1009)).collect();
            let folded = eval_mle(&t.iter().map(|&v| E::from(v)).collect::<Vec<_>>(), &p);
            assert_eq!(eval_mle_base(&t, &p), folded, "len {len}");
        }
        let s = E::from(F::from_u64(99));
        let scaled = eq_table_scaled(&p[..6], s);
        for (a, b) in scaled.iter().zip(eq_table(&p[..6])) {
            assert_eq!(*a, s * b);
        }
    }

    #[test]
    fn eq_product_prefix_matches_the_sum() {
        let a: Vec<E> = (0..5).map(|i| E::from(F::from_u64(3 + 7 * i))).collect();
        let mut b: Vec<E> = (0..5).map(|i| E::from(F::from_u64(11 + 5 * i))).collect();
        b[2] = E::ONE; // a boolean coordinate, as block bits are
        let (ea, eb) = (eq_table(&a), eq_table(&b));
        for n in [0usize, 1, 7, 16, 17, 31, 32, 40] {
            let sum: E = (0..n.min(32)).map(|x| ea[x] * eb[x]).sum();
            assert_eq!(eq_product_prefix_eval(&a, &b, n), sum, "n {n}");
        }
        assert_eq!(eq_product_prefix_eval(&a, &b, 32), eq_eval(&a, &b));
    }

    #[test]
    fn structured_mles() {
        let p: Vec<E> = (0..4).map(|i| E::from(F::from_u64(3 + 11 * i))).collect();
        let eq = eq_table(&p);
        for n in 0..=16 {
            let direct: E = eq.iter().take(n).copied().sum();
            assert_eq!(prefix_indicator_eval(n, &p), direct, "n = {n}");
        }
        let direct: E = eq
            .iter()
            .enumerate()
            .map(|(i, v)| *v * F::from_u64(i as u64))
            .sum();
        assert_eq!(identity_eval(&p), direct);
    }

    #[test]
    fn interpolation_past_the_precomputed_weights() {
        // A degree-9 polynomial: 10 nodes, more than are precomputed, so the weights are computed
        // on the fly.
        let poly = |t: E| {
            (1..=10u64)
                .rev()
                .fold(E::ZERO, |acc, k| acc * t + E::from(F::from_u64(k)))
        };
        let evals: Vec<E> = (0..10u64).map(|t| poly(E::from(F::from_u64(t)))).collect();
        let x = E::from(F::from_u64(12));
        assert_eq!(interpolate_at(&evals, x), poly(x));
    }

    #[test]
    fn interpolation() {
        // p(x) = 3x^2 + 2x + 1
        let evals: Vec<E> = (0..3u64)
            .map(|x| E::from(F::from_u64(3 * x * x + 2 * x + 1)))
            .collect();
        assert_eq!(
            interpolate_at(&evals, E::from(F::from_u64(10))),
            E::from(F::from_u64(321))
        );
    }
}
