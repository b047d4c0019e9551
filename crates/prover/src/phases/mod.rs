//! The phases of the transcript schedule, write side, in order ([`crate::schedule`] runs
//! them), mirroring `zkgrad-verifier/src/phases/`: the commitments ([`header`]), the lookups
//! ([`lookups`]), the limb recompositions ([`limbs`]), the layers from output to input
//! ([`layers`], through the per-op reductions of [`crate::ops`]) and the openings
//! ([`openings`]).

pub(crate) mod header;
pub(crate) mod layers;
pub(crate) mod limbs;
pub(crate) mod lookups;
pub(crate) mod openings;
