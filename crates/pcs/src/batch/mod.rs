//! Many claims on blocks of one committed table, opened together: folded with random weights
//! into one sumcheck, which ends in one claim on the table that its Ligero or WHIR opening
//! discharges ([`crate::Layout::choose_batched`] chooses which). A WHIR table in the Johnson
//! regime is also bound to one candidate right after the proof's roots ([`Binding`]), and its
//! opening proves that out-of-domain claim beside the sumcheck's.
//!
//! The prover side ([`commit_batched`], [`bind`], [`prove_batch`]) is in `prover`, built with
//! the `prover` feature; the verifier side ([`read_binding`], [`verify_batch`]) in `verifier`.

#[cfg(feature = "prover")]
mod prover;
mod verifier;

#[cfg(all(test, feature = "prover"))]
pub(crate) use prover::prove_batch_lazy;
#[cfg(feature = "prover")]
pub use prover::{bind, commit_batched, prove_batch};
pub use verifier::{read_binding, verify_batch};

use zkgrad_field::{PrimeCharacteristicRing, E};

use crate::{Layout, PcsParams};

/// The out-of-domain claim `T̃(z) = y` that binds a list-decoded WHIR commitment to one
/// candidate, drawn right after its root is absorbed (none for other commitments).
///
/// # Why
/// WHIR analysed under the Johnson bound (WHIR §4: mutual correlated agreement up to
/// `1 − √ρ − η`) proves the committed word close to *a* codeword of a list of at most
/// `L = 2^{list_size_bits}` candidates (`2^4.32` at rate 1/2), not to one. An opening at the
/// end of a proof checks its claims against whichever candidate the prover names then, after
/// every sumcheck, GKR and lookup challenge: each of those checks would err `L` times as often
/// (p3's `PrescribedOpeningSecurity::charge_reduction`), and the product over commitments.
///
/// # How
/// The commitment phase's out-of-domain sample (WHIR §5, Construction 5.1 step 1; STIR §5),
/// taken before any other challenge: right after the roots are written (and the table's root
/// absorbed once more), the verifier draws `z ∈ E^n` uniformly and the prover answers
/// `y = T̃(z)`, the multilinear extension of the whole committed table, padding included. Distinct candidates, multilinear
/// in `n` variables, agree at `z` with probability at most `n/|E|` (Schwartz–Zippel), so all
/// `L` take distinct values there except with probability `C(L, 2)·n/|E|`
/// ([`crate::whir::WhirParams::binding_error_log2`], `2^-115.6` at `2^27` values), and `y`
/// matches at most one. The opening then proves `T̃(z) = y` beside its batched claim (one
/// WHIR opening at both points), so every check made in between holds against that one
/// candidate. `z` is a uniform point of `E^n`, not WHIR's univariate `(α, α², α⁴, …)`, whose
/// collision bound `C(L, 2)·2^n/|E|` would be `2^-93.4` at `2^27` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// `(z, y)`, for a commitment that [`binds`].
    pub claim: Option<(Vec<E>, E)>,
}

/// Whether a batched commitment with this layout is bound ([`Binding`]): a WHIR table opened
/// in the Johnson bound's list-decoding regime. Both sides decide by this alone.
pub fn binds(layout: &Layout, params: &PcsParams) -> bool {
    layout.whir
        && !layout.clear
        && params
            .whir
            .as_ref()
            .is_some_and(|w| w.list_decoding(layout.log_n))
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
