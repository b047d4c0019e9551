//! LogUp arguments, write side: multiplicities, then per table one table-side and one
//! value-side fractional-sum GKR per lookup (see `zkgrad-lookup` and `zkgrad-verifier`).

use rayon::prelude::*;
use zkgrad_field::{e_from_i64, f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::layout::{Lookup, Operand};
use zkgrad_model::quant::{QGraph, Witness};
use zkgrad_poly::eval_mle_base;
use zkgrad_transcript::{Challenger, ProverTranscript};

use crate::{padded, Claims, ProveError};

fn operand_values<'a>(w: &'a Witness, op: Operand) -> &'a [i64] {
    match op {
        Operand::Tensor(t) => &w.values[t],
        Operand::Rem(n) => w.rems[n].as_deref().unwrap_or(&[]),
    }
}

/// How often each table entry is read, per table (empty for unused tables). `strict`: an entry
/// outside its table is an error; otherwise it is skipped (the proof then fails).
pub(crate) fn multiplicities(
    g: &QGraph,
    w: &Witness,
    lookups: &[Lookup],
    strict: bool,
) -> Result<Vec<Vec<u64>>, ProveError> {
    let size = 1usize << g.config.table_bits;
    let mut m = vec![Vec::new(); g.tables.len()];
    for l in lookups {
        if m[l.table].is_empty() {
            m[l.table] = vec![0u64; size];
        }
        for (i, &a) in operand_values(w, l.a).iter().enumerate() {
            let j = l.scale * a + l.offset;
            if j < 0 || j >= size as i64 {
                if strict {
                    return Err(ProveError::LookupRange { table: l.table, index: i, value: a });
                }
                continue;
            }
            m[l.table][j as usize] += 1;
        }
    }
    Ok(m)
}

pub(crate) fn prove(
    g: &QGraph,
    w: &Witness,
    lookups: &[Lookup],
    mults: &[Vec<u64>],
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let gamma = t.challenge_e(b"lookup/gamma");
    let alpha = t.challenge_e(b"lookup/alpha");
    let bits = g.config.table_bits;
    for (ti, table) in g.used_tables() {
        let size = 1usize << bits;
        let p: Vec<E> = mults[ti].iter().map(|&m| E::from(F::from_u64(m))).collect();
        let q: Vec<E> = (0..size).into_par_iter().map(|j| alpha - table.entry(j, bits, gamma)).collect();
        let leaf = zkgrad_lookup::prove(p, q, t);
        t.write_e(b"lookup/mult", leaf.p);
        claims.witness.push((zkgrad_model::CommitRef::Mult(ti), leaf.point));
        for l in lookups.iter().filter(|l| l.table == ti) {
            let shape = g.operand_tensor(l.a);
            let a = padded(g, w, l.a);
            let b = l.b.map(|b| padded(g, w, b));
            let ind: Vec<i64> = shape.pad(&vec![1i64; shape.len()]);
            let (scale, offset) = (f_from_i64(l.scale), e_from_i64(l.offset));
            let p: Vec<E> = ind.iter().map(|&x| E::from(f_from_i64(x))).collect();
            let q: Vec<E> = (0..a.len())
                .map(|i| {
                    let bv = b.as_ref().map_or(E::ZERO, |b| gamma * b[i]);
                    alpha - (E::from(scale * a[i]) + offset + bv)
                })
                .collect();
            let leaf = zkgrad_lookup::prove(p, q, t);
            t.write_e(b"lookup/a", eval_mle_base(&a, &leaf.point));
            if let Some(b) = &b {
                t.write_e(b"lookup/b", eval_mle_base(b, &leaf.point));
            }
            claims.on_operand(l.a, leaf.point.clone());
            if let Some(bo) = l.b {
                claims.on_operand(bo, leaf.point);
            }
        }
    }
}
