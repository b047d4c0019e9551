//! Phase 2, read side: the lookups. After the clear multiplicities and the challenges `γ`
//! (folding a two-column lookup), `δ` (separating tables) and `α` (the LogUp point): the
//! value-side forest of fractional-sum GKR trees over every lookup's leaves
//! `[i real] / (α − δT − v_i)`, and (WHIR only) the table-side forest over the committed
//! multiplicities, whose root fractions, with the clear tables' side `Σ_j m_j / (α − δT − t_j)`
//! that the verifier computes itself, must add up to the same sum
//! ([`crate::protocol::lookup_layouts`] has the layout).
//!
//! The leaves' values become claims on the witness. LogUp: Haböck, ePrint 2022/1530; the
//! fractional-sum GKR: Papini and Haböck, ePrint 2023/1284.

use zkgrad_circuit::layout::{CommitRef, Decomposition, Lookup, PackedLayout};
use zkgrad_circuit::{QGraph, TableKind};
use zkgrad_field::{e_from_i64, Field, PrimeCharacteristicRing, E, F};
use zkgrad_poly::eq_at_index;
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::header::Header;
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::protocol::{lookup_layouts, real_indicator, table_id};

/// Draws the lookup challenges and checks every lookup of the circuit.
pub(crate) fn verify(
    g: &QGraph,
    h: &Header,
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    let mults = read_multiplicities(g, h, t)?;
    let gamma = t.challenge_e(b"lookup/gamma");
    let delta = t.challenge_e(b"lookup/delta");
    let alpha = t.challenge_e(b"lookup/alpha");
    check_lookups(
        g,
        &h.lookups,
        &h.committed,
        &h.decomps,
        &mults,
        [gamma, delta, alpha],
        claims,
        t,
    )
}

/// Reads the clear multiplicities of each used table: a sparse list of strictly increasing
/// entries `j < 2^K` as gaps, then the counts `m_j ≥ 1` less one, all in canonical LEB128 (an
/// empty list stands for a table whose multiplicities are committed in the witness).
fn read_multiplicities(
    g: &QGraph,
    h: &Header,
    t: &mut VerifierTranscript,
) -> Result<Vec<Vec<(usize, u64)>>, VerifyError> {
    let committed = &h.committed;
    let mut mults = Vec::new();
    for (ti, table) in g.used_tables() {
        if committed.get(ti).copied().unwrap_or(false) {
            mults.push(Vec::new());
            continue;
        }
        let bad = |why| VerifyError::Lookup {
            table: ti,
            name: table.describe(),
            why,
        };
        let n_lookups = h.reads.get(ti).copied().unwrap_or(0);
        let nnz = t.read_varints(b"lookup/nnz", 1)?;
        let nnz = nnz.first().copied().unwrap_or(u64::MAX);
        let bits = table.log_size(g.config.table_bits);
        if nnz > n_lookups as u64 || bits > 62 {
            return Err(bad("more table entries than lookups"));
        }
        let msg = t.read_varints(b"lookup/mult", 2 * nnz as usize)?;
        let (gaps, cnt) = msg.split_at(nnz as usize);
        let mut next: u64 = 0;
        let mut total: u64 = 0;
        let mut entries = Vec::with_capacity(nnz as usize);
        for (gap, m) in gaps.iter().zip(cnt) {
            // Entries strictly increasing below 2^bits; counts ≥ 1.
            let j = next.saturating_add(*gap);
            if j >= 1u64 << bits || *m >= n_lookups as u64 {
                return Err(bad("malformed multiplicities"));
            }
            total = total.saturating_add(m + 1);
            next = j + 1;
            entries.push((j as usize, m + 1));
        }
        if total != n_lookups as u64 {
            return Err(bad("multiplicities do not count every lookup"));
        }
        mults.push(entries);
    }
    Ok(mults)
}

/// The value-side and table-side forests of [`crate::protocol::lookup_layouts`], their leaves
/// checked against the values the prover sends (which become claims on the witness), and the
/// sums of their root fractions compared.
fn check_lookups(
    g: &QGraph,
    lookups: &[Lookup],
    committed: &[bool],
    decomps: &[Decomposition],
    clear_mults: &[Vec<(usize, u64)>],
    [gamma, delta, alpha]: [E; 3],
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<(), VerifyError> {
    if lookups.is_empty() {
        return Ok(());
    }
    let bits = g.config.table_bits;
    let tables = g.used_tables();
    let (values, entries) = lookup_layouts(g, lookups, committed);

    // Σ over the value-side trees of P/Q.
    let mut value_side = E::ZERO;
    for tree in &values {
        let vt =
            zkgrad_lookup::verify(tree.log_n, t).map_err(|source| VerifyError::LookupsGkr {
                side: "value",
                source,
            })?;
        let z = &vt.leaves.point;
        let (mut p, mut q, mut covered) = (E::ZERO, E::ZERO, E::ZERO);
        for &(li, log, block) in &tree.blocks {
            let (Some(l), Some((lo, hi))) = (lookups.get(li), z.split_at_checked(log)) else {
                return Err(VerifyError::Lookups("lookup layout out of range"));
            };
            let sel = eq_at_index(hi, block);
            let a = t.read_e(b"lookup/a")?;
            let b = match l.b {
                Some(_) => t.read_e(b"lookup/b")?,
                None => E::ZERO,
            };
            p += sel * real_indicator(g.operand_tensor_in(l.a, decomps), lo);
            q += sel * (alpha - delta * table_id(l.table) - e_from_i64(l.offset) - a - gamma * b);
            covered += sel;
            claims.on_operand(l.a, lo.to_vec(), a)?;
            if let Some(bo) = l.b {
                claims.on_operand(bo, lo.to_vec(), b)?;
            }
        }
        if vt.leaves.p != p || vt.leaves.q != q + (E::ONE - covered) {
            return Err(VerifyError::Lookups(
                "value leaves do not match the committed values",
            ));
        }
        value_side += root_fraction(vt.root_p, vt.root_q)?;
    }

    // The clear tables' side: Σ_T Σ_j m_T[j]/(α − δT − t_T[j]) (committed tables' lists are
    // empty).
    let terms = tables
        .iter()
        .zip(clear_mults)
        .flat_map(|((ti, table), entries)| {
            let c = alpha - delta * table_id(*ti);
            entries
                .iter()
                .map(move |&(j, m)| (c - table.entry(j, bits, gamma), m))
        });
    let Some(mut table_side) = fraction_sum(terms) else {
        return Err(VerifyError::Lookups("zero denominator"));
    };
    table_side += committed_side(&tables, bits, &entries, [gamma, delta, alpha], claims, t)?;
    if value_side != table_side {
        return Err(VerifyError::Lookups(
            "looked-up values are not all in their tables",
        ));
    }
    Ok(())
}

/// Σ over the table-side trees (the committed multiplicities) of P/Q.
fn committed_side(
    tables: &[(usize, TableKind)],
    bits: u32,
    entries: &[PackedLayout<usize>],
    [gamma, delta, alpha]: [E; 3],
    claims: &mut Claims,
    t: &mut VerifierTranscript,
) -> Result<E, VerifyError> {
    let mut side = E::ZERO;
    for tree in entries {
        let tt =
            zkgrad_lookup::verify(tree.log_n, t).map_err(|source| VerifyError::LookupsGkr {
                side: "table",
                source,
            })?;
        let z = &tt.leaves.point;
        let (mut p, mut q, mut covered) = (E::ZERO, E::ZERO, E::ZERO);
        for &(ti, log, block) in &tree.blocks {
            let (Some((_, table)), Some((lo, hi))) = (tables.get(ti), z.split_at_checked(log))
            else {
                return Err(VerifyError::Lookups("table layout out of range"));
            };
            let sel = eq_at_index(hi, block);
            let m = t.read_e(b"lookup/m")?;
            p += sel * m;
            q += sel * (alpha - delta * table_id(ti) - table.mle(lo, bits, gamma));
            covered += sel;
            claims.witness.push((CommitRef::Mult(ti), lo.to_vec(), m));
        }
        if tt.leaves.p != p || tt.leaves.q != q + (E::ONE - covered) {
            return Err(VerifyError::Lookups(
                "table leaves do not match the committed multiplicities",
            ));
        }
        side += root_fraction(tt.root_p, tt.root_q)?;
    }
    Ok(side)
}

/// A tree's root `P/Q`; a zero `Q` is refused (an honest tree's `Q` is a product of nonzero
/// denominators).
fn root_fraction(p: E, q: E) -> Result<E, VerifyError> {
    match q.try_inverse() {
        Some(inv) => Ok(p * inv),
        None => Err(VerifyError::Lookups("zero denominator")),
    }
}

/// `Σ m/d` over `(d, m)` pairs by one batch inversion; `None` if some `d` is zero (batch
/// inversion would panic on it, so it is checked first).
fn fraction_sum(terms: impl Iterator<Item = (E, u64)>) -> Option<E> {
    let (dens, counts): (Vec<E>, Vec<u64>) = terms.unzip();
    if dens.contains(&E::ZERO) {
        return None;
    }
    Some(
        p3_field::batch_multiplicative_inverse(&dens)
            .iter()
            .zip(&counts)
            .map(|(inv, m)| *inv * E::from(F::from_u64(*m)))
            .sum(),
    )
}
