//! Phase 2, write side: the lookups. One LogUp argument with a table column (see
//! `zkgrad-lookup` and `zkgrad_verifier::protocol::lookup_layouts`): the sparse multiplicities
//! of the tables read sparsely in clear, then a forest of fractional-sum GKRs over every
//! lookup's values (one exactly full tree per set bit of their total size) and, with WHIR, one
//! over the entries of the tables whose multiplicities are committed in the witness.

use rayon::prelude::*;
use zkgrad_circuit::layout::{CommitRef, Lookup};
use zkgrad_circuit::QGraph;
use zkgrad_field::{e_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::Witness;
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};
use zkgrad_verifier::protocol::{lookup_layouts, table_id};

use crate::claims::{operand_ints, padded, Claims};
use crate::ProveError;

/// How often each table entry is read, per table, as a sorted list of `(entry, count)` with
/// counts ≥ 1. `strict`: an entry outside its table is an error; otherwise it is skipped (the
/// proof then fails).
pub(crate) fn multiplicities(
    g: &QGraph,
    w: &Witness,
    lookups: &[Lookup],
    strict: bool,
) -> Result<Vec<Vec<(usize, u64)>>, ProveError> {
    let tables = g.used_tables();
    // Each table's reads, as positions in `lookups` (tables are counted in parallel: nanoGPT's
    // 18 tables took ~20 ms on one thread).
    let mut by_table: Vec<Vec<usize>> = vec![Vec::new(); tables.len()];
    for (i, l) in lookups.iter().enumerate() {
        if let Some(v) = by_table.get_mut(l.table) {
            v.push(i);
        }
    }
    let counted: Vec<Counted> = by_table
        .par_iter()
        .enumerate()
        .map(|(t, mine)| {
            let bits = tables
                .get(t)
                .map_or(0, |(_, k)| k.log_size(g.config.table_bits));
            table_multiplicities(g, w, lookups, mine, t, bits, strict)
        })
        .collect();
    let mut out = Vec::with_capacity(counted.len());
    let mut first_error: Option<(usize, ProveError)> = None;
    for c in counted {
        match c {
            Ok(m) => out.push(m),
            // The error of the earliest lookup, as a serial count would report it.
            Err((at, e)) => {
                if first_error.as_ref().is_none_or(|(f, _)| at < *f) {
                    first_error = Some((at, e));
                }
                out.push(Vec::new());
            }
        }
    }
    match first_error {
        Some((_, e)) => Err(e),
        None => Ok(out),
    }
}

/// One table's multiplicities, or the first read outside it (with its lookup's position).
type Counted = Result<Vec<(usize, u64)>, (usize, ProveError)>;

/// Table `t`'s multiplicities from its reads `mine` (positions in `lookups`), as a sorted list
/// of `(entry, count)` with counts ≥ 1. `strict`: an entry outside the table is an error,
/// returned with the position of its lookup; otherwise it is skipped (the proof then fails).
fn table_multiplicities(
    g: &QGraph,
    w: &Witness,
    lookups: &[Lookup],
    mine: &[usize],
    t: usize,
    bits: u32,
    strict: bool,
) -> Counted {
    // A table read at least 2^-4 of its size is counted densely (one pass, no sort); one read
    // sparsely has its reads sorted instead (allocating and scanning a 2^20-entry count array
    // would cost a small proof more than everything else).
    let reads: usize = mine
        .iter()
        .filter_map(|&i| lookups.get(i))
        .map(|l| g.operand_tensor(l.a).len())
        .sum();
    let mut dense: Vec<u64> = if bits <= 26 && reads << 4 >= 1usize << bits {
        vec![0; 1 << bits]
    } else {
        Vec::new()
    };
    let mut sparse: Vec<usize> = Vec::new();
    for &li in mine {
        let Some(l) = lookups.get(li) else { continue };
        for (i, &a) in operand_ints(g, w, l.a).iter().enumerate() {
            let j = a as i128 + l.offset as i128;
            if j < 0 || j >= 1i128 << bits {
                if strict {
                    let e = ProveError::LookupRange {
                        table: t,
                        index: i,
                        value: a,
                    };
                    return Err((li, e));
                }
                continue;
            }
            match dense.get_mut(j as usize) {
                Some(m) => *m += 1,
                None => sparse.push(j as usize),
            }
        }
    }
    if !dense.is_empty() {
        return Ok(dense
            .into_iter()
            .enumerate()
            .filter(|&(_, m)| m > 0)
            .collect());
    }
    sparse.sort_unstable();
    let mut out: Vec<(usize, u64)> = Vec::new();
    for j in sparse {
        match out.last_mut() {
            Some((k, m)) if *k == j => *m += 1,
            _ => out.push((j, 1)),
        }
    }
    Ok(out)
}

/// A lookup's leaf at padded index `i` (its padded operands `a`, `b`):
/// `(p, q) = ([i inside the operand's shape], c − a_i − γ·b_i)`, with `c = α − offset` (and
/// `− δ·table`).
fn leaf_at<'a>(
    g: &QGraph,
    l: &Lookup,
    (a, b): (&'a [F], Option<&'a [F]>),
    c: E,
    gamma: E,
) -> impl Fn(usize) -> (E, E) + Sync + 'a {
    let shape = g.operand_tensor(l.a);
    let (rows, cols, log_cols) = (shape.rows, shape.cols, shape.log_cols());
    move |i| {
        let inside = (i >> log_cols) < rows && (i & ((1 << log_cols) - 1)) < cols;
        let bv = b.map_or(E::ZERO, |b| gamma * b[i]);
        (E::from(F::from_bool(inside)), c - E::from(a[i]) - bv)
    }
}

/// The nonzero multiplicities of every used table not `committed`, in clear.
fn write_clear_multiplicities(
    g: &QGraph,
    mults: &[Vec<(usize, u64)>],
    committed: &[bool],
    t: &mut ProverTranscript,
) {
    for (ti, _) in g.used_tables() {
        if committed.get(ti).copied().unwrap_or(false) {
            continue;
        }
        let nz = mults.get(ti).map_or(&[][..], |m| &m[..]);
        // Sparse, compactly: the entries as gaps (j − previous − 1), then the counts less one,
        // all in canonical LEB128 (the verifier's phases/lookups.rs reads exactly this).
        t.write_varints(b"lookup/nnz", &[nz.len() as u64]);
        let mut msg: Vec<u64> = Vec::with_capacity(2 * nz.len());
        let mut next = 0u64;
        for &(j, _) in nz {
            msg.push(j as u64 - next);
            next = j as u64 + 1;
        }
        msg.extend(nz.iter().map(|&(_, m)| m - 1));
        t.write_varints(b"lookup/mult", &msg);
    }
}

/// The lookups (`zkgrad_verifier::protocol::lookup_layouts` has the maths): the clear
/// multiplicities, then every lookup's leaves in the value-side forest of GKR trees, and the
/// entries of the tables whose multiplicities are committed (WHIR only) in the table-side one.
pub(crate) fn prove(
    g: &QGraph,
    w: &Witness,
    lookups: &[Lookup],
    sparse: &[Vec<(usize, u64)>],
    mults: &[&[F]],
    committed: &[bool],
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let bits = g.config.table_bits;
    let tables = g.used_tables();
    write_clear_multiplicities(g, sparse, committed, t);
    let gamma = t.challenge_e(b"lookup/gamma");
    let delta = t.challenge_e(b"lookup/delta");
    let alpha = t.challenge_e(b"lookup/alpha");
    if lookups.is_empty() {
        return;
    }
    let (values, entries) = lookup_layouts(g, lookups, committed);

    // The value side: in each tree, lookup l's block holds p = [inside its shape],
    // q = α − δ·table − offset − a − γ·b.
    for tree in &values {
        let operands: Vec<(Vec<F>, Option<Vec<F>>)> = tree
            .blocks
            .par_iter()
            .map(|&(li, _, _)| {
                let l = &lookups[li];
                (padded(g, w, l.a), l.b.map(|b| padded(g, w, b)))
            })
            .collect();
        let n = 1usize << tree.log_n;
        let (mut p, mut q) = (vec![E::ZERO; n], vec![E::ONE; n]);
        for (&(li, log, block), (a, b)) in tree.blocks.iter().zip(&operands) {
            let l = &lookups[li];
            let c = alpha - delta * table_id(l.table) - e_from_i64(l.offset);
            let at = leaf_at(g, l, (a, b.as_deref()), c, gamma);
            let block = (block << log)..((block + 1) << log);
            p[block.clone()]
                .par_iter_mut()
                .zip(&mut q[block])
                .enumerate()
                .for_each(|(i, (p, q))| (*p, *q) = at(i));
        }
        let leaf = zkgrad_lookup::prove(p, q, t);
        for (&(li, log, _), (a, b)) in tree.blocks.iter().zip(&operands) {
            let l = &lookups[li];
            let z = &leaf.point[..log];
            t.write_e(b"lookup/a", eval_mle_base(a, z));
            claims.on_operand(l.a, z.to_vec());
            if let (Some(b), Some(bo)) = (b, l.b) {
                t.write_e(b"lookup/b", eval_mle_base(b, z));
                claims.on_operand(bo, z.to_vec());
            }
        }
    }

    // The table side: table ti's block holds p = m, q = α − δ·ti − entry(j) (none with
    // Ligero, or where every table is read sparsely: the verifier sums the clear
    // multiplicities itself).
    for tree in &entries {
        let n = 1usize << tree.log_n;
        let (mut p, mut q) = (vec![E::ZERO; n], vec![E::ONE; n]);
        for &(ti, log, block) in &tree.blocks {
            let Some((_, table)) = tables.get(ti) else {
                continue;
            };
            let off = block << log;
            let c = alpha - delta * table_id(ti);
            if let Some(&m) = mults.get(ti) {
                p[off..off + m.len()]
                    .par_iter_mut()
                    .zip(m)
                    .for_each(|(p, m)| *p = E::from(*m));
            }
            q[off..off + (1 << log)]
                .par_iter_mut()
                .enumerate()
                .for_each(|(j, q)| *q = c - table.entry(j, bits, gamma));
        }
        let leaf = zkgrad_lookup::prove(p, q, t);
        for &(ti, log, _) in &tree.blocks {
            let z = &leaf.point[..log];
            let m = mults.get(ti).copied().unwrap_or_default();
            t.write_e(b"lookup/m", eval_mle_base(m, z));
            claims.witness.push((CommitRef::Mult(ti), z.to_vec()));
        }
    }
}
