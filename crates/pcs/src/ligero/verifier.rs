//! The Ligero verifier: checks a clear or Ligero opening of one table at one or more points;
//! never panics on proof bytes.

use zkgrad_field::E;
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_transcript::{Challenger, VerifierTranscript};

use super::{clear_root, encode_all};
use crate::{merkle, Digest, Layout, PcsError, PcsParams};

/// Checks an opening of the commitment `root` (of a table of `2^log_n` values) at `point`
/// with the claimed value `value`.
pub fn verify(
    root: &Digest,
    log_n: usize,
    point: &[E],
    value: E,
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    verify_multi(root, log_n, &[(point.to_vec(), value)], params, t)
}

/// Checks an [`crate::open_multi`] opening of `root` at every `(point, value)` claim.
pub fn verify_multi(
    root: &Digest,
    log_n: usize,
    claims: &[(Vec<E>, E)],
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    verify_multi_used(root, log_n, 1 << log_n, claims, params, t)
}

/// [`verify_multi`] for a commitment made by [`crate::commit_used`] with this `used`.
pub fn verify_multi_used(
    root: &Digest,
    log_n: usize,
    used: usize,
    claims: &[(Vec<E>, E)],
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    let layout = Layout::choose_used(log_n, used, params);
    for (index, (point, _)) in claims.iter().enumerate() {
        if point.len() != log_n {
            return Err(PcsError::ClaimShape {
                index,
                why: "point has the wrong number of variables",
            });
        }
    }
    if layout.clear {
        let values = t.read_fs(b"pcs/clear", 1 << log_n)?;
        if clear_root(log_n, &values) != *root {
            return Err(PcsError::ClearMismatch);
        }
        return if claims.iter().all(|(p, v)| eval_mle_base(&values, p) == *v) {
            Ok(())
        } else {
            Err(PcsError::WrongEvaluation)
        };
    }
    let b = layout.log_cols;
    let rows = layout.rows;
    let cols = 1usize << b;
    let r = t.challenge_vec(b"pcs/r", rows);
    let u_r = t.read_es(b"pcs/u_r", cols)?;
    let mut evals = Vec::with_capacity(claims.len());
    for (point, value) in claims {
        let u_z = t.read_es(b"pcs/u_z", cols)?;
        let (z_lo, z_hi) = point.split_at(b);
        let at_z: E = u_z.iter().zip(&eq_table(z_lo)).map(|(u, e)| *u * *e).sum();
        if at_z != *value {
            return Err(PcsError::WrongEvaluation);
        }
        let mut eq_hi = eq_table(z_hi);
        eq_hi.truncate(rows);
        evals.push((u_z, eq_hi));
    }
    let log_len = b + params.log_inv_rate;
    // The codewords of u_r and every u_z, once.
    let mut rows_to_encode: Vec<&[E]> = vec![&u_r];
    rows_to_encode.extend(evals.iter().map(|(u_z, _)| u_z.as_slice()));
    let codewords = encode_all(&rows_to_encode, log_len);
    let at = |k: usize, j: usize| codewords.get(k).and_then(|c| c.get(j)).copied();
    for query in 0..params.n_queries {
        let j = t.challenge_index(b"pcs/query", 1 << log_len);
        let col = t.read_fs(b"pcs/column", rows)?;
        let mut path = Vec::with_capacity(log_len);
        for _ in 0..log_len {
            path.push(t.read_digest(b"pcs/path")?);
        }
        if !merkle::verify_path(root, j, &col, &path) {
            return Err(PcsError::MerklePath { query });
        }
        let dot = |w: &[E]| -> E { w.iter().zip(&col).map(|(x, c)| *x * *c).sum() };
        if at(0, j) != Some(dot(&r)) {
            return Err(PcsError::Proximity {
                query,
                which: "random",
            });
        }
        for (k, (_, eq_hi)) in evals.iter().enumerate() {
            if at(k + 1, j) != Some(dot(eq_hi)) {
                return Err(PcsError::Proximity {
                    query,
                    which: "evaluation",
                });
            }
        }
    }
    Ok(())
}
