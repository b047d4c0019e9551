//! Phase 2, write side: the lookups. One LogUp argument with a table column (see
//! `zkgrad-lookup` and `zkgrad_verifier::protocol::lookup_layouts`): the sparse multiplicities
//! of the tables read sparsely in clear, then a forest of fractional-sum GKRs over every
//! lookup's values (one exactly full tree per set bit of their total size) and, with WHIR, one
//! over the entries of the tables whose multiplicities are committed in the witness.

use rayon::prelude::*;
use zkgrad_circuit::layout::{CommitRef, Decomposition, Lookup};
use zkgrad_circuit::QGraph;
use zkgrad_field::{e_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::Witness;
use zkgrad_poly::eq_table;
use zkgrad_poly::eval_mle_base;
use zkgrad_poly::packed::{pack_word, EP, LANES};
use zkgrad_transcript::{Challenger, ProverTranscript};
use zkgrad_verifier::protocol::{lookup_layouts, table_id};

use crate::claims::{operand_ints_in, padded_in, Claims};
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
    let decomps = g.decompositions();
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
            table_multiplicities(g, w, lookups, &decomps, mine, t, bits, strict)
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
    decomps: &[Decomposition],
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
        .map(|l| g.operand_tensor_in(l.a, decomps).len())
        .sum();
    let mut dense: Vec<u64> = if bits <= 26 && reads << 4 >= 1usize << bits {
        vec![0; 1 << bits]
    } else {
        Vec::new()
    };
    let mut sparse: Vec<usize> = Vec::new();
    for &li in mine {
        let Some(l) = lookups.get(li) else { continue };
        for (i, &a) in operand_ints_in(w, l.a, decomps).iter().enumerate() {
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
    decomps: &[Decomposition],
    l: &Lookup,
    (a, b): (&'a [F], Option<&'a [F]>),
    c: E,
    gamma: E,
) -> impl Fn(usize) -> (E, E) + Sync + 'a {
    let shape = g.operand_tensor_in(l.a, decomps);
    let (rows, cols, log_cols) = (shape.rows, shape.cols, shape.log_cols());
    move |i| {
        let inside = (i >> log_cols) < rows && (i & ((1 << log_cols) - 1)) < cols;
        let bv = b.map_or(E::ZERO, |b| gamma * b[i]);
        (E::from(F::from_bool(inside)), c - E::from(a[i]) - bv)
    }
}

/// Trees of at least this many leaves (2^log) are built packed ([`packed_leaves`]).
const PACKED_FROM_LOG_N: usize = 12;

/// Leaves written per task of [`packed_leaves`].
const LEAF_CHUNK: usize = 1 << 12;

/// A tree's leaves `(p, q)`, written packed, in chunks of [`LEAF_CHUNK`] in parallel: each
/// chunk from the blocks it overlaps (`(offset, length, leaf)`, aligned and disjoint; blocks
/// are aligned, so a chunk lies within one block or holds whole ones), `(0, 1)` outside every
/// block. One write of each leaf: nanoGPT's 2^18 leaves took 10 ms as one small parallel loop
/// per block into unpacked tables, and the packed copy 2–3 ms more.
#[allow(clippy::indexing_slicing)] // chunks and blocks lie inside the tree, by construction
fn packed_leaves<L: Fn(usize) -> (E, E) + Sync>(
    log_n: usize,
    blocks: &[(usize, usize, L)],
) -> (Vec<EP>, Vec<EP>) {
    let n = 1usize << log_n;
    let chunk = LEAF_CHUNK.min(n);
    let mut order: Vec<&(usize, usize, L)> = blocks.iter().collect();
    order.sort_by_key(|b| b.0);
    let words = n / LANES;
    // Zeroed by the allocator: each page is first written by the task that fills its chunk.
    let (mut p, mut q) = (EP::zero_vec(words), EP::zero_vec(words));
    p.par_chunks_mut(chunk / LANES)
        .zip(q.par_chunks_mut(chunk / LANES))
        .enumerate()
        .for_each(|(ci, (pw, qw))| {
            let start = ci * chunk;
            let (mut pb, mut qb) = (vec![E::ZERO; chunk], vec![E::ONE; chunk]);
            // The first block ending after `start`, then every block starting before the end.
            let first = order.partition_point(|b| b.0 + b.1 <= start);
            for (off, len, at) in order[first..].iter().map(|b| (b.0, b.1, &b.2)) {
                if off >= start + chunk {
                    break;
                }
                let (lo, hi) = (off.max(start), (off + len).min(start + chunk));
                for j in lo..hi {
                    (pb[j - start], qb[j - start]) = at(j - off);
                }
            }
            for (k, (pw, qw)) in pw.iter_mut().zip(qw.iter_mut()).enumerate() {
                *pw = pack_word(&pb[k * LANES..(k + 1) * LANES]);
                *qw = pack_word(&qb[k * LANES..(k + 1) * LANES]);
            }
        });
    (p, q)
}

/// Each block's operand evaluations `(ã(z), b̃(z))` at `z = point[..log]`: the same as
/// `eval_mle_base` on each, from one `eq` table per block size.
#[allow(clippy::indexing_slicing)] // every block's log is at most the point's length
fn block_evals(
    blocks: &[(usize, usize, usize)],
    operands: &[(Vec<F>, Option<Vec<F>>)],
    point: &[E],
) -> Vec<(E, Option<E>)> {
    let mut logs: Vec<usize> = blocks.iter().map(|b| b.1).collect();
    logs.sort_unstable();
    logs.dedup();
    let eqs: Vec<(usize, Vec<E>)> = logs
        .into_iter()
        .map(|log| (log, eq_table(&point[..log])))
        .collect();
    let dot = |v: &[F], eq: &[E]| -> E {
        if v.len() >= 1 << 14 {
            v.par_iter().zip(eq).map(|(&v, &e)| e * v).sum()
        } else {
            v.iter().zip(eq).map(|(&v, &e)| e * v).sum()
        }
    };
    blocks
        .par_iter()
        .zip(operands)
        .map(|(&(_, log, _), (a, b))| {
            let eq = eqs
                .iter()
                .find(|(l, _)| *l == log)
                .map_or(&[][..], |(_, e)| &e[..]);
            (dot(a, eq), b.as_deref().map(|b| dot(b, eq)))
        })
        .collect()
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
    let decomps = g.decompositions();

    // The value side: in each tree, lookup l's block holds p = [inside its shape],
    // q = α − δ·table − offset − a − γ·b.
    for tree in &values {
        let operands: Vec<(Vec<F>, Option<Vec<F>>)> = tree
            .blocks
            .par_iter()
            .map(|&(li, _, _)| {
                let l = &lookups[li];
                let pad = |op| padded_in(g, w, op, &decomps);
                (pad(l.a), l.b.map(pad))
            })
            .collect();
        let leaves: Vec<_> = tree
            .blocks
            .iter()
            .zip(&operands)
            .map(|(&(li, log, block), (a, b))| {
                let l = &lookups[li];
                let c = alpha - delta * table_id(l.table) - e_from_i64(l.offset);
                (
                    block << log,
                    1usize << log,
                    leaf_at(g, &decomps, l, (a, b.as_deref()), c, gamma),
                )
            })
            .collect();
        let leaf = if tree.log_n >= PACKED_FROM_LOG_N {
            let (p, q) = packed_leaves(tree.log_n, &leaves);
            zkgrad_lookup::prove_packed(p, q, t)
        } else {
            let n = 1usize << tree.log_n;
            let (mut p, mut q) = (vec![E::ZERO; n], vec![E::ONE; n]);
            for (off, len, at) in &leaves {
                for (i, (p, q)) in p[*off..off + len]
                    .iter_mut()
                    .zip(&mut q[*off..off + len])
                    .enumerate()
                {
                    (*p, *q) = at(i);
                }
            }
            zkgrad_lookup::prove(p, q, t)
        };
        // Every block of one size is evaluated at the same point, the first `log` coordinates
        // of the leaf claim's: one eq table per size, one inner product per operand.
        let evals = block_evals(&tree.blocks, &operands, &leaf.point);
        for (&(li, log, _), (ea, eb)) in tree.blocks.iter().zip(evals) {
            let l = &lookups[li];
            let z = &leaf.point[..log];
            t.write_e(b"lookup/a", ea);
            claims.on_operand_valued(l.a, z.to_vec(), Some(ea));
            if let (Some(eb), Some(bo)) = (eb, l.b) {
                t.write_e(b"lookup/b", eb);
                claims.on_operand_valued(bo, z.to_vec(), Some(eb));
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
            let m = eval_mle_base(mults.get(ti).copied().unwrap_or_default(), z);
            t.write_e(b"lookup/m", m);
            claims.on_witness(CommitRef::Mult(ti), z.to_vec(), Some(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use zkgrad_poly::packed::unpack;

    use super::*;

    #[test]
    fn packed_leaves_are_the_blocks_leaves_and_zero_over_one_elsewhere() {
        // Blocks of 2^13 down to single leaves (inside one word, across chunk edges), and a
        // gap: leaves outside every block must be (0, 1).
        let log_n = 14;
        let sizes = [13usize, 11, 10, 3, 0, 0, 2, 1];
        let mut blocks = Vec::new();
        let mut off = 0;
        for (k, &log) in sizes.iter().enumerate() {
            let leaf = move |i: usize| {
                let x = E::from(F::from_u64((k * 1000 + i) as u64));
                (x, x + E::ONE)
            };
            blocks.push((off, 1usize << log, leaf));
            off += 1 << log;
        }
        // Listed out of order: the fill sorts them.
        blocks.reverse();
        let (p, q) = packed_leaves(log_n, &blocks);
        let (p, q) = (unpack(&p), unpack(&q));
        let mut want_p = vec![E::ZERO; 1 << log_n];
        let mut want_q = vec![E::ONE; 1 << log_n];
        for (off, len, leaf) in &blocks {
            for i in 0..*len {
                (want_p[off + i], want_q[off + i]) = leaf(i);
            }
        }
        assert!(off < 1 << log_n, "the test leaves a gap");
        assert_eq!(p, want_p);
        assert_eq!(q, want_q);
    }
}
