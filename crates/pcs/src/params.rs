//! The commitment's parameters (part of every protocol id), the scheme of a proof, and the
//! layout each table is committed with: shared, since prover and verifier must choose alike.
//!
//! Small tables are cheaper to send than to open: when `8·2^n` bytes is below the Ligero opening
//! size, the layout is *clear*: the commitment is the hash of the values and the opening sends
//! them (binding by collision resistance; nothing is hidden — zkgrad does not claim zero
//! knowledge yet).

use crate::whir;

/// Parameters of the commitment; part of every protocol id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcsParams {
    pub log_inv_rate: usize,
    pub n_queries: usize,
    /// The scheme of the batched openings ([`crate::commit_batched`], [`crate::prove_batch`]):
    /// `None`, Ligero; `Some`, WHIR for the tables of at least `2^from_log_n` values
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
    /// WHIR for the large batched tables: openings of `O(log² n)` bytes, every one in the
    /// Johnson bound's list-decoding regime (the smallest openings).
    Whir,
    /// WHIR, its tables of at least `2^`[`UNIQUE_FROM_LOG_N`] values opened in the
    /// unique-decoding regime: the same security, more queries and far less proof of work
    /// (`whir_sizes`: GPT-2 124M's 2^24 witness opens in 0.40–0.49 s instead of 0.59–0.62 s
    /// for 351 KB instead of 228 KB), and a table of `2^27` values or more folding
    /// [`UNIQUE_LARGE_FIRST_FOLDING`] variables in its first round (GPT-2 124M's weights,
    /// side by side with `whir`: 1.09–1.11 s instead of 3.55–3.87 s, for 739 KB instead of
    /// 382 KB).
    WhirUnique,
}

/// [`Scheme::WhirUnique`]'s threshold: the tables whose Johnson-bound openings grind 20 bits
/// or more a round (2^24: 20, 2^26: 22, 2^27: 23).
pub const UNIQUE_FROM_LOG_N: usize = 24;

/// [`Scheme::WhirUnique`]'s first folding of a table of `2^27` values or more (`whir`'s is 7):
/// its proofs have no size target, so the first round folds one more variable, for rows twice
/// as wide and a first folded codeword half as long. `whir_sizes` at 2^27 in the unique
/// regime (`UNIQUE=27 FIRST=f`, two runs each): folding 7 opens in 2.11 and 1.87 s for
/// 534,977 B, 8 in 1.36 and 1.20 s for 739,393 B, 9 in 0.89 and 1.12 s for 1,165,257 B. In
/// `zkgrad generate` on GPT-2 124M (three runs each, alternating) the openings phase went
/// from 3.36–3.61 s to 2.96–3.42 s with 8 and 3.04–3.66 s with 9, and the weight commitment
/// from 3.85–4.2 s to 3.5–3.9 s with either: 8 has 9's gain for a third of its extra bytes.
pub const UNIQUE_LARGE_FIRST_FOLDING: usize = 8;

impl Scheme {
    /// Every scheme, in code order.
    pub const ALL: [Scheme; 3] = [Scheme::Ligero, Scheme::Whir, Scheme::WhirUnique];

    pub fn code(self) -> u8 {
        match self {
            Scheme::Ligero => 0,
            Scheme::Whir => 1,
            Scheme::WhirUnique => 2,
        }
    }
    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == c)
    }
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ligero => "ligero",
            Scheme::Whir => "whir",
            Scheme::WhirUnique => "whir-unique",
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
            Scheme::WhirUnique => Self {
                whir: Some(whir::WhirParams {
                    unique_from_log_n: UNIQUE_FROM_LOG_N,
                    large_first_folding: UNIQUE_LARGE_FIRST_FOLDING,
                    ..whir::WhirParams::default()
                }),
                ..Self::default()
            },
        }
    }
    pub fn scheme(&self) -> Scheme {
        match &self.whir {
            None => Scheme::Ligero,
            // As `WhirParams::to_bytes` tells them apart: any threshold is not `whir`'s.
            Some(w) if w.unique_from_log_n != whir::UNIQUE_NEVER => Scheme::WhirUnique,
            Some(_) => Scheme::Whir,
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
    /// The layout of a table opened by [`crate::prove_batch`]: WHIR where `params` enable it for a
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
            let w = params.whir.unwrap_or_default();
            whir::estimated_bytes(self.log_n, w.folding)
                + whir::wide_first_round_bytes(w.folding, w.first_folding(self.log_n))
        } else if self.clear {
            8 << self.log_n
        } else {
            2 * 16 * (1usize << self.log_cols)
                + params.n_queries * (8 * self.rows + 32 * (self.log_cols + params.log_inv_rate))
        }
    }
}
