//! The phases of the transcript schedule, read side, in order ([`crate::schedule`] runs them):
//! the statement's public checks and the commitments ([`header`]), the lookups
//! ([`lookups`]), the limb recompositions of range checks ([`limbs`]), the layers from output
//! to input ([`layers`], through the per-op reductions of [`crate::ops`]), and the openings
//! that discharge every claim ([`openings`]). The prover's `phases/` writes the same schedule.

// These modules index only the verifier's own circuit description (built from the model or
// checked by `from_description`, not read from the proof); no value read from the proof is
// ever used as an index.
#![allow(clippy::indexing_slicing)]

pub(crate) mod header;
pub(crate) mod layers;
pub(crate) mod limbs;
pub(crate) mod lookups;
pub(crate) mod openings;
