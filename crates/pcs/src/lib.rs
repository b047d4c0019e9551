//! The multilinear polynomial commitment: a Ligero-style tensor code over Plonky3's radix-2 DFT
//! with BLAKE3 Merkle trees, and a batched multi-point opening.
//!
//! # Scheme (Ames et al., "Ligero", CCS 2017, §4; Golovnev et al., "Brakedown", §3 and §4)
//! A table `v` of `2^n` base-field values is laid out as a matrix `M` with `2^a` rows and `2^b`
//! columns, `v[row·2^b + col] = M[row][col]`, so in the little-endian order of `zkgrad-poly` a
//! point splits as `z = (z_lo ‖ z_hi)` with `|z_lo| = b`, and
//! `ṽ(z) = eq(z_hi)ᵀ · M · eq(z_lo)`.
//! Each row is encoded with the Reed–Solomon code of rate `ρ = 2^-log_inv_rate` (the row is the
//! coefficient vector, evaluated on the subgroup of order `2^(b + log_inv_rate)`); the Merkle
//! tree's leaf `j` is column `j` of the encoded matrix; the commitment is the root.
//!
//! Opening at `z`: the verifier draws `r ∈ E^(2^a)`; the prover sends `u_r = rᵀM` and
//! `u_z = eq(z_hi)ᵀM`; the verifier draws `t` column indices and the prover sends each column
//! with its Merkle path. The verifier checks the paths, `Enc(u_r)_j = ⟨r, col_j⟩`,
//! `Enc(u_z)_j = ⟨eq(z_hi), col_j⟩` and `ṽ(z) = ⟨u_z, eq(z_lo)⟩`.
//!
//! Soundness: by correlated agreement for Reed–Solomon codes up to the unique-decoding radius
//! δ = (1 − ρ)/2 (Ben-Sasson et al., "Proximity Gaps for Reed–Solomon Codes", FOCS 2020, Thm
//! 1.2), a matrix with a row δ-far from the code makes `u_r` δ-far except with probability
//! ≤ 2^b·2^(log_inv_rate)/|E|, and then each column query catches it with probability ≥ δ; so
//! a cheating opening survives with probability ≤ (1 − δ)^t + n_cols/|E|. With ρ = 1/4
//! (δ = 3/8) and t = 160 queries, (5/8)^160 < 2^-108.4 ([`PcsParams::ligero_opening_error`]).
//!
//! A table of which only the first `used` values may be nonzero ([`commit_used`]: the
//! witness, whose packed blocks fill a prefix) encodes and hashes only its first
//! `⌈used/2^b⌉` rows; the others are zero by definition (Ligero on the smaller matrix), and
//! columns open with that many values.
//!
//! Small tables are cheaper to send than to open: when `8·2^n` bytes is below the Ligero opening
//! size, the layout is *clear*: the commitment is the hash of the values and the opening sends
//! them (binding by collision resistance; nothing is hidden — zkgrad does not claim zero
//! knowledge yet).
//!
//! The WHIR scheme ([`whir`], [`Scheme::Whir`]) opens the large batched tables with WHIR
//! instead: [`commit_batched`] and [`verify_batch`] choose by [`Layout::choose_batched`].
//!
//! Verifier side: `verify*` never panics on proof bytes.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod merkle;
pub mod whir;

pub use merkle::MerkleTree;

use p3_dft::{Radix2DFTSmallBatch, TwoAdicSubgroupDft};
use p3_matrix::dense::RowMajorMatrix;
use rayon::prelude::*;
use zkgrad_field::{PrimeCharacteristicRing, E, F};
use zkgrad_poly::packed::{pack_word, EP, LANES};
use zkgrad_poly::{eq_product_prefix_eval, eq_table, eq_table_scaled, eval_mle_base};
use zkgrad_sumcheck::{BaseExtProduct, SumcheckError};
use zkgrad_transcript::{Challenger, ProverTranscript, TranscriptError, VerifierTranscript};

/// A 32-byte digest.
pub type Digest = [u8; 32];

/// Parameters of the commitment; part of every protocol id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcsParams {
    pub log_inv_rate: usize,
    pub n_queries: usize,
    /// The scheme of the batched openings ([`commit_batched`], [`prove_batch`]): `None`,
    /// Ligero; `Some`, WHIR for the tables of at least `2^from_log_n` values
    /// ([`Layout::choose_batched`]).
    pub whir: Option<whir::WhirParams>,
}

impl Default for PcsParams {
    /// Rate 1/4, 160 queries: (1 − 3/8)^160 < 2^-108.4 per opening, so that a proof's
    /// openings together stay below 2^-102 (docs/SECURITY.md, "Soundness budget"); Ligero only
    /// (the fast prover).
    fn default() -> Self {
        Self {
            log_inv_rate: 2,
            n_queries: 160,
            whir: None,
        }
    }
}

/// Which scheme opens the large batched tables: a proof file says which it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Ligero throughout: the fastest prover, openings of `O(√n)` bytes.
    Ligero,
    /// WHIR for the large batched tables: openings of `O(log² n)` bytes.
    Whir,
}

impl Scheme {
    pub fn code(self) -> u8 {
        match self {
            Scheme::Ligero => 0,
            Scheme::Whir => 1,
        }
    }
    pub fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(Scheme::Ligero),
            1 => Some(Scheme::Whir),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ligero => "ligero",
            Scheme::Whir => "whir",
        }
    }
}

impl PcsParams {
    /// The default parameters of `scheme`.
    pub fn for_scheme(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Ligero => Self::default(),
            Scheme::Whir => Self {
                whir: Some(whir::WhirParams::default()),
                ..Self::default()
            },
        }
    }
    pub fn scheme(&self) -> Scheme {
        if self.whir.is_some() {
            Scheme::Whir
        } else {
            Scheme::Ligero
        }
    }
    /// Bits of security of the query phase, `−t·log2(1 − δ)` with `δ = (1 − ρ)/2`.
    pub fn query_security_bits(&self) -> f64 {
        let rho = 0.5f64.powi(self.log_inv_rate as i32);
        let delta = (1.0 - rho) / 2.0;
        -(self.n_queries as f64) * (1.0 - delta).log2()
    }

    /// The soundness error of one Ligero opening of `layout` (not clear, not WHIR): the
    /// column queries, `(1 − δ)^t`, plus the proximity test's `n/|E|` for codewords of length
    /// `n = 2^(log_cols + log_inv_rate)` (correlated agreement in the unique-decoding regime,
    /// Ben-Sasson et al. FOCS 2020, Thm 1.2).
    pub fn ligero_opening_error(&self, layout: &Layout) -> f64 {
        let queries = (-self.query_security_bits()).exp2();
        let code =
            ((layout.log_cols + self.log_inv_rate) as f64 - zkgrad_field::EXT_FIELD_BITS).exp2();
        queries + code
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = b"ligero-rs-blake3".to_vec();
        b.extend_from_slice(&(self.log_inv_rate as u32).to_le_bytes());
        b.extend_from_slice(&(self.n_queries as u32).to_le_bytes());
        if let Some(w) = &self.whir {
            b.extend_from_slice(&w.to_bytes());
        }
        b
    }
}

/// How a table of `2^log_n` values is committed: clear, or a `2^log_rows × 2^log_cols` matrix
/// of which only the first `rows` rows may be nonzero (the table's *used* prefix).
///
/// Rows at or past `rows` are zero by definition: they are neither encoded nor hashed, and a
/// column opening sends `rows` values. `ṽ(z) = eq(z_hi)ᵀ·M·eq(z_lo)` is unchanged, its sum
/// over rows stopping at `rows`; the Ligero argument is the one for an `rows × 2^log_cols`
/// matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub log_n: usize,
    pub log_rows: usize,
    pub log_cols: usize,
    /// Committed rows, `⌈used / 2^log_cols⌉` (at least 1).
    pub rows: usize,
    /// Values that may be nonzero: the first `used` of the `2^log_n`.
    pub used: usize,
    pub clear: bool,
    /// Committed and opened with WHIR ([`whir`]); the matrix shape is then unused.
    pub whir: bool,
}

impl Layout {
    /// The layout with the smallest opening for a whole table, a deterministic function of
    /// `log_n` and `params`.
    pub fn choose(log_n: usize, params: &PcsParams) -> Self {
        Self::choose_used(log_n, 1 << log_n, params)
    }

    /// The layout with the smallest opening for a table of which only the first `used` values
    /// may be nonzero, a deterministic function of `log_n`, `used` and `params`.
    pub fn choose_used(log_n: usize, used: usize, params: &PcsParams) -> Self {
        let used = used.clamp(1, 1 << log_n);
        let mut best = Layout {
            log_n,
            log_rows: 0,
            log_cols: log_n,
            rows: 1,
            used,
            clear: true,
            whir: false,
        };
        let mut best_bytes = best.opening_bytes(params);
        for a in 1..log_n {
            let b = log_n - a;
            let candidate = Layout {
                log_n,
                log_rows: a,
                log_cols: b,
                rows: used.div_ceil(1 << b),
                used,
                clear: false,
                whir: false,
            };
            let bytes = candidate.opening_bytes(params);
            if bytes < best_bytes {
                best_bytes = bytes;
                best = candidate;
            }
        }
        best
    }
    /// The layout of a table opened by [`prove_batch`]: WHIR where `params` enable it for a
    /// table of this size (`2^log_n ≥ 2^from_log_n` values, not sent in clear, and within the
    /// sizes its parameters reach their target for: all up to 2^30), else
    /// [`Layout::choose_used`]. A deterministic function of `log_n`, `used` and `params`.
    pub fn choose_batched(log_n: usize, used: usize, params: &PcsParams) -> Self {
        let ligero = Self::choose_used(log_n, used, params);
        match &params.whir {
            Some(w)
                if !ligero.clear
                    && log_n >= w.from_log_n.max(w.min_log_n())
                    && whir::params_are_sound(w, log_n) =>
            {
                Layout {
                    whir: true,
                    ..ligero
                }
            }
            _ => ligero,
        }
    }

    pub fn opening_bytes(&self, params: &PcsParams) -> usize {
        if self.whir {
            whir::estimated_bytes(self.log_n)
        } else if self.clear {
            8 << self.log_n
        } else {
            2 * 16 * (1usize << self.log_cols)
                + params.n_queries * (8 * self.rows + 32 * (self.log_cols + params.log_inv_rate))
        }
    }
}

/// Everything the prover keeps between commit and open.
pub struct ProverData {
    pub layout: Layout,
    /// The committed values, unless WHIR holds them ([`ProverData::values`]).
    values: Vec<F>,
    /// Encoded matrix, one leaf (a column of `2^log_rows` values) per row of this matrix.
    leaves: Vec<F>,
    tree: Option<MerkleTree>,
    whir: Option<whir::WhirData>,
    pub root: Digest,
}

impl ProverData {
    /// The committed values, `2^log_n` of them.
    pub fn values(&self) -> &[F] {
        match &self.whir {
            Some(wd) => wd.values(),
            None => &self.values,
        }
    }
}

/// Errors of an opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcsError {
    #[error("malformed opening: {0}")]
    Transcript(#[from] TranscriptError),
    #[error("the opened values do not hash to the commitment")]
    ClearMismatch,
    #[error("query {query}: Merkle path does not reach the commitment")]
    MerklePath { query: usize },
    #[error("query {query}: column is not consistent with the {which} combination")]
    Proximity { query: usize, which: &'static str },
    #[error("opened value does not match the claimed evaluation")]
    WrongEvaluation,
    #[error("batched opening: {0}")]
    Sumcheck(#[from] SumcheckError),
    #[error("WHIR opening: {0}")]
    Whir(String),
    #[error("claim {index} does not fit the committed table ({why})")]
    ClaimShape { index: usize, why: &'static str },
}

fn clear_root(log_n: usize, values: &[F]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"zkgrad/pcs/clear");
    h.update(&(log_n as u64).to_le_bytes());
    for v in values {
        h.update(&zkgrad_field::PrimeField64::as_canonical_u64(v).to_le_bytes());
    }
    *h.finalize().as_bytes()
}

/// Commits to `values` (padded with zeros to `2^log_n`).
pub fn commit(values: Vec<F>, log_n: usize, params: &PcsParams) -> ProverData {
    commit_used(values, log_n, 1 << log_n, params)
}

/// Commits to `values` (padded with zeros to `2^log_n`), of which only the first `used` may be
/// nonzero ([`Layout::choose_used`]); the verifier must be given the same `used`.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn commit_used(
    mut values: Vec<F>,
    log_n: usize,
    used: usize,
    params: &PcsParams,
) -> ProverData {
    assert!(values.len() <= 1 << log_n, "table larger than 2^log_n");
    values.resize(1 << log_n, F::ZERO);
    let layout = Layout::choose_used(log_n, used, params);
    debug_assert!(
        values[layout.used..].iter().all(|v| *v == F::ZERO),
        "values past the used prefix"
    );
    if layout.clear {
        let root = clear_root(log_n, &values);
        return ProverData {
            layout,
            values,
            leaves: Vec::new(),
            tree: None,
            whir: None,
            root,
        };
    }
    let b = layout.log_cols;
    let width = layout.rows;
    let height = 1usize << (b + params.log_inv_rate);
    // Column-major DFT input: entry [i][row] = M[row][i] for the committed rows; zero rows
    // above 2^b. Zeroed by both threads (the fresh pages' faults are much of the cost).
    let mut mat: Vec<F> = (0..height * width)
        .into_par_iter()
        .with_min_len(1 << 16)
        .map(|_| F::ZERO)
        .collect();
    // Transposed in blocks of `TILE` columns, so that each row's values are read in runs.
    const TILE: usize = 64;
    let tile = TILE.min(1 << b);
    mat.par_chunks_mut(width * tile)
        .take((1 << b) / tile)
        .enumerate()
        .for_each(|(blk, out)| {
            let i0 = blk * tile;
            for row in 0..width {
                let src = &values[(row << b) + i0..(row << b) + i0 + tile];
                for (ii, v) in src.iter().enumerate() {
                    out[ii * width + row] = *v;
                }
            }
        });
    let dft = Radix2DFTSmallBatch::<F>::default();
    let leaves = dft.dft_batch(RowMajorMatrix::new(mat, width)).values;
    let tree = MerkleTree::new(&leaves, width);
    let root = tree.root();
    ProverData {
        layout,
        values,
        leaves,
        tree: Some(tree),
        whir: None,
        root,
    }
}

/// Commits to a table that [`prove_batch`] will open: as [`commit_used`], or with WHIR where
/// [`Layout::choose_batched`] says so. The verifier's [`verify_batch`] makes the same choice.
pub fn commit_batched(values: Vec<F>, log_n: usize, used: usize, params: &PcsParams) -> ProverData {
    let layout = Layout::choose_batched(log_n, used, params);
    match (&params.whir, layout.whir) {
        (Some(wp), true) => {
            // WHIR keeps the values (its table); they are not held twice.
            let wd = whir::commit(values, log_n, wp);
            ProverData {
                layout,
                values: Vec::new(),
                leaves: Vec::new(),
                tree: None,
                root: wd.root,
                whir: Some(wd),
            }
        }
        _ => commit_used(values, log_n, used, params),
    }
}

/// `Σ_row weights[row] · M[row, ·]` for a row-major matrix `M` with `cols` columns, walking `M`
/// in memory order (each thread owns a band of columns).
pub fn row_combination(m: &[F], cols: usize, weights: &[E]) -> Vec<E> {
    let chunk = 512.min(cols).max(1);
    let mut out = vec![E::ZERO; cols];
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(ci, band)| {
            let c0 = ci * chunk;
            for (row, &w) in weights.iter().enumerate() {
                if w == E::ZERO {
                    continue;
                }
                let Some(src) = m.get(row * cols + c0..row * cols + c0 + band.len()) else {
                    continue;
                };
                for (o, &v) in band.iter_mut().zip(src) {
                    *o += w * v;
                }
            }
        });
    out
}

/// [`row_combination`] for several weight vectors in one pass over `M` (each value is read
/// once for all of them): `out[k] = Σ_row weights[k][row] · M[row, ·]`.
pub fn row_combinations(m: &[F], cols: usize, weights: &[&[E]]) -> Vec<Vec<E>> {
    let chunk = 512.min(cols).max(1);
    let n_rows = weights.iter().map(|w| w.len()).max().unwrap_or(0);
    let bands: Vec<Vec<Vec<E>>> = (0..cols.div_ceil(chunk))
        .into_par_iter()
        .map(|ci| {
            let c0 = ci * chunk;
            let len = chunk.min(cols - c0);
            let mut acc = vec![vec![E::ZERO; len]; weights.len()];
            for row in 0..n_rows {
                let Some(src) = m.get(row * cols + c0..row * cols + c0 + len) else {
                    continue;
                };
                for (w, out) in weights.iter().zip(acc.iter_mut()) {
                    let Some(&w) = w.get(row) else { continue };
                    if w == E::ZERO {
                        continue;
                    }
                    for (o, &v) in out.iter_mut().zip(src) {
                        *o += w * v;
                    }
                }
            }
            acc
        })
        .collect();
    let mut out: Vec<Vec<E>> = vec![Vec::with_capacity(cols); weights.len()];
    for band in bands {
        for (o, b) in out.iter_mut().zip(band) {
            o.extend(b);
        }
    }
    out
}

/// `Enc(u)`: the row polynomial with coefficients `u` at every `ω^j`, `ω` of order
/// `2^log_len` — the encoding `commit` applies to each row, computed for several extension-field
/// rows at once by one base-field DFT of their coordinates (cheaper than evaluating at each
/// queried position once the queries outnumber the DFT's layers).
fn encode_all(us: &[&[E]], log_len: usize) -> Vec<Vec<E>> {
    let width = 2 * us.len();
    let height = 1usize << log_len;
    let mut mat = vec![F::ZERO; height * width];
    for (k, u) in us.iter().enumerate() {
        for (i, v) in u.iter().enumerate().take(height) {
            let [c0, c1] = zkgrad_field::e_coords(v);
            if let Some(cell) = mat.get_mut(i * width + 2 * k..i * width + 2 * k + 2) {
                cell.copy_from_slice(&[c0, c1]);
            }
        }
    }
    let evals = Radix2DFTSmallBatch::<F>::default()
        .dft_batch(RowMajorMatrix::new(mat, width))
        .values;
    (0..us.len())
        .map(|k| {
            evals
                .chunks(width)
                .map(|row| match row.get(2 * k..2 * k + 2) {
                    Some([c0, c1]) => zkgrad_field::e_from_coords([*c0, *c1]),
                    _ => E::ZERO,
                })
                .collect()
        })
        .collect()
}

/// Opens the committed table at `point` (the value itself is the caller's claim).
pub fn open(pd: &ProverData, point: &[E], params: &PcsParams, t: &mut ProverTranscript) {
    open_multi(pd, &[point.to_vec()], params, t)
}

/// Opens the committed table at several points with one set of column queries: one random
/// combination `u_r`, one `u_z` per point, every queried column checked against all of them.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn open_multi(
    pd: &ProverData,
    points: &[Vec<E>],
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let layout = pd.layout;
    assert!(!layout.whir, "a WHIR commitment is opened by prove_batch");
    if layout.clear {
        t.write_fs(b"pcs/clear", &pd.values);
        return;
    }
    let b = layout.log_cols;
    let rows = layout.rows;
    let cols = 1usize << b;
    let r = t.challenge_vec(b"pcs/r", rows);
    // u_r and every u_z in one pass over the table.
    let eq_his: Vec<Vec<E>> = points
        .iter()
        .map(|point| {
            let mut eq_hi = eq_table(&point[b..]);
            eq_hi.truncate(rows);
            eq_hi
        })
        .collect();
    let mut weights: Vec<&[E]> = vec![&r];
    weights.extend(eq_his.iter().map(|e| e.as_slice()));
    let combos = row_combinations(&pd.values, cols, &weights);
    t.write_es(b"pcs/u_r", &combos[0]);
    for u_z in &combos[1..] {
        t.write_es(b"pcs/u_z", u_z);
    }
    let n_leaves = 1usize << (b + params.log_inv_rate);
    let Some(tree) = pd.tree.as_ref() else {
        unreachable!("Ligero layout always has a tree")
    };
    for _ in 0..params.n_queries {
        let j = t.challenge_index(b"pcs/query", n_leaves);
        t.write_fs(b"pcs/column", &pd.leaves[j * rows..(j + 1) * rows]);
        for d in tree.path(j) {
            t.write_digest(b"pcs/path", &d);
        }
    }
}

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

/// Checks an [`open_multi`] opening of `root` at every `(point, value)` claim.
pub fn verify_multi(
    root: &Digest,
    log_n: usize,
    claims: &[(Vec<E>, E)],
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    verify_multi_used(root, log_n, 1 << log_n, claims, params, t)
}

/// [`verify_multi`] for a commitment made by [`commit_used`] with this `used`.
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
        if !MerkleTree::verify_path(root, j, &col, &path) {
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

/// A claim `T̃(point) = value` about one aligned block of a committed table: the block holds
/// `2^point.len()` values starting at `block_index · 2^point.len()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockClaim {
    pub block_index: usize,
    pub point: Vec<E>,
    pub value: E,
}

impl BlockClaim {
    /// The claim's point on the whole table: `(point ‖ bits of block_index)`.
    pub fn full_point(&self, log_n: usize) -> Vec<E> {
        let k = self.point.len();
        let mut p = self.point.clone();
        for i in 0..log_n.saturating_sub(k) {
            p.push(if (self.block_index >> i) & 1 == 1 {
                E::ONE
            } else {
                E::ZERO
            });
        }
        p
    }
}

/// Opens many claims on one committed table with one opening.
///
/// Clear layout: the values are sent and every claim is checked directly. Otherwise the
/// claims are folded with random `β_i` into one sumcheck
/// `Σ_i β_i v_i = Σ_x T(x) · Σ_i β_i eq(z_i, x)` (degree 2), which ends in one claim `T(ρ)`
/// that the Ligero opening discharges.
#[allow(clippy::indexing_slicing)] // Prover side: indexes its own tables, whose sizes it built.
pub fn prove_batch(
    pd: &ProverData,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut ProverTranscript,
) {
    let log_n = pd.layout.log_n;
    if pd.layout.clear {
        open(pd, &[], params, t);
        return;
    }
    let betas = t.challenge_vec(b"pcs/batch/beta", claims.len());
    let claim: E = claims.iter().zip(&betas).map(|(c, b)| *b * c.value).sum();
    // Only the used prefix takes part: the values are zero past it, and g is taken as zero
    // there too (the verifier evaluates this truncated g, eq_product_prefix_eval). The prefix
    // is taken to a whole number of SIMD words (both tables zero past `used`).
    let used = pd.layout.used;
    let len = used.next_multiple_of(64).min(1 << log_n);
    let values = &pd.values()[..len];
    let mut oracle = match batch_weights(log_n, used, len, claims, &betas) {
        Weights::Packed(g) => {
            BaseExtProduct::new_prefix_packed(std::borrow::Cow::Borrowed(values), g, log_n)
        }
        Weights::Scalar(g) => {
            BaseExtProduct::new_prefix(std::borrow::Cow::Borrowed(values), g, log_n)
        }
    };
    // The sumcheck binds the top variable first: its challenges, reversed, are the point.
    let mut rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
    rho.reverse();
    let at_rho = oracle.final_values().0;
    t.write_e(b"pcs/batch/value", at_rho);
    match (&pd.whir, &params.whir) {
        (Some(wd), Some(wp)) => whir::open(wd, &rho, wp, t),
        _ => open(pd, &rho, params, t),
    }
}

/// The batching weights, packed into SIMD words when the table is large enough.
enum Weights {
    Packed(Vec<EP>),
    Scalar(Vec<E>),
}

/// `g(x) = Σ_i β_i · eq(z_i, x − off_i)` on each claim's block, zero elsewhere and past
/// `used`, for the first `len` entries; written once, in parallel chunks of `2^c` entries:
/// within an aligned chunk of claim `i`'s block,
/// `eq(z_i, x) = eq(z_i,lo, x_lo) · eq(z_i,hi, chunk)`, so each claim contributes its
/// `2^c`-entry low table scaled by one number per chunk. Large tables are written straight
/// into packed words (no second copy of a table that can reach hundreds of MB).
#[allow(clippy::indexing_slicing)] // Prover side: blocks lie inside the table (checked by the caller's layout)
fn batch_weights(
    log_n: usize,
    used: usize,
    len: usize,
    claims: &[BlockClaim],
    betas: &[E],
) -> Weights {
    const LOG_CHUNK: usize = 12;
    let c = LOG_CHUNK.min(log_n);
    // Per claim: `β·eq(z_lo, ·)` over the first min(k, c) variables.
    let lows: Vec<Vec<E>> = claims
        .iter()
        .zip(betas)
        .map(|(cl, b)| eq_table_scaled(&cl.point[..cl.point.len().min(c)], *b))
        .collect();
    // The claims on each chunk (an honest prover's claims lie inside the used prefix).
    let mut by_chunk: Vec<Vec<usize>> = vec![Vec::new(); len.div_ceil(1 << c)];
    for (i, cl) in claims.iter().enumerate() {
        let k = cl.point.len();
        let off = cl.block_index << k;
        let (first, n) = (off >> c, (1usize << k).div_ceil(1 << c));
        for list in by_chunk.iter_mut().skip(first).take(n) {
            list.push(i);
        }
    }
    // Chunk `chunk` of g into `out` (2^c entries, zeroed by the caller).
    let fill = |chunk: usize, out: &mut [E]| {
        for &i in &by_chunk[chunk] {
            let cl = &claims[i];
            let k = cl.point.len();
            if k <= c {
                // A block within the chunk.
                let at = (cl.block_index << k) - (chunk << c);
                for (o, v) in out[at..at + (1 << k)].iter_mut().zip(&lows[i]) {
                    *o += *v;
                }
            } else {
                // The chunk within the block: its index in the block gives the high bits.
                let idx = chunk - ((cl.block_index << k) >> c);
                let hi = zkgrad_poly::eq_at_index(&cl.point[c..], idx);
                for (o, v) in out.iter_mut().zip(&lows[i]) {
                    *o += hi * *v;
                }
            }
        }
        // Zero past the used prefix.
        let (start, n) = (chunk << c, out.len());
        if start + n > used {
            out[used.saturating_sub(start).min(n)..].fill(E::ZERO);
        }
    };
    let packable = log_n >= 1 && (1usize << (log_n - 1)) >= LANES && len.is_multiple_of(LANES);
    if packable && (1usize << c).is_multiple_of(LANES) {
        let words_per_chunk = (1usize << c) / LANES;
        // Zeroed in parallel, so that both threads take the page faults of the fresh table.
        let mut g: Vec<EP> = (0..len / LANES)
            .into_par_iter()
            .with_min_len(1 << 12)
            .map(|_| EP::ZERO)
            .collect();
        g.par_chunks_mut(words_per_chunk).enumerate().for_each_init(
            || vec![E::ZERO; 1 << c],
            |scratch, (chunk, words)| {
                scratch.fill(E::ZERO);
                let n = words.len() * LANES;
                fill(chunk, &mut scratch[..]);
                for (w, vals) in words.iter_mut().zip(scratch[..n].chunks(LANES)) {
                    *w = pack_word(vals);
                }
            },
        );
        Weights::Packed(g)
    } else {
        let mut g: Vec<E> = vec![E::ZERO; by_chunk.len() << c];
        g.par_chunks_mut(1 << c)
            .enumerate()
            .for_each(|(chunk, out)| fill(chunk, out));
        g.truncate(len);
        Weights::Scalar(g)
    }
}

/// Verifies a [`prove_batch`] opening of `claims` against `root`, a [`commit_used`] commitment
/// with this `used`.
pub fn verify_batch(
    root: &Digest,
    log_n: usize,
    used: usize,
    claims: &[BlockClaim],
    params: &PcsParams,
    t: &mut VerifierTranscript,
) -> Result<(), PcsError> {
    for (index, c) in claims.iter().enumerate() {
        if c.point.len() > log_n {
            return Err(PcsError::ClaimShape {
                index,
                why: "block larger than the table",
            });
        }
        if c.block_index >= 1usize << (log_n - c.point.len()) {
            return Err(PcsError::ClaimShape {
                index,
                why: "block outside the table",
            });
        }
    }
    let layout = Layout::choose_batched(log_n, used, params);
    if layout.clear {
        let values = t.read_fs(b"pcs/clear", 1 << log_n)?;
        if clear_root(log_n, &values) != *root {
            return Err(PcsError::ClearMismatch);
        }
        for c in claims {
            let k = c.point.len();
            let off = c.block_index << k;
            let block = values
                .get(off..off + (1 << k))
                .ok_or(PcsError::ClaimShape {
                    index: 0,
                    why: "block outside the table",
                })?;
            if eval_mle_base(block, &c.point) != c.value {
                return Err(PcsError::WrongEvaluation);
            }
        }
        return Ok(());
    }
    let betas = t.challenge_vec(b"pcs/batch/beta", claims.len());
    let claim: E = claims.iter().zip(&betas).map(|(c, b)| *b * c.value).sum();
    let sub = zkgrad_sumcheck::verify(claim, log_n, 2, t)?;
    // The prover binds the top variable first: the challenges, reversed, are the point.
    let mut rho = sub.point;
    rho.reverse();
    let at_rho = t.read_e(b"pcs/batch/value")?;
    let g_at_rho: E = claims
        .iter()
        .zip(&betas)
        .map(|(c, b)| *b * eq_product_prefix_eval(&c.full_point(log_n), &rho, used))
        .sum();
    if sub.value != at_rho * g_at_rho {
        return Err(PcsError::WrongEvaluation);
    }
    match (&params.whir, layout.whir) {
        (Some(wp), true) => whir::verify(root, log_n, &rho, at_rho, wp, t),
        _ => verify_multi_used(root, log_n, used, &[(rho, at_rho)], params, t),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
