//! The circuit side of zkgrad: the quantized circuit a proof is about ([`ir`]), appended to by
//! [`builder`]; its activation and range tables ([`table`]); the index maps of layout ops
//! ([`index_map`]) and the geometry of convolutions ([`conv`]); what a proof commits to and looks
//! up ([`layout`]); the integer bounds that make every relation a proof checks mod p an integer
//! one ([`bounds`]); the softmax template ([`softmax`]); and the byte description a proof binds
//! ([`describe`]).
//!
//! This is everything a verifier needs to know about a model, and nothing more: float graphs,
//! the quantizer, calibration, the forward pass and the training builders live in
//! `zkgrad-model`, on the prover's side.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod argmax;
pub mod bounds;
pub mod builder;
pub mod conv;
pub mod describe;
pub mod index_map;
pub mod ir;
pub mod layout;
pub mod softmax;
pub mod table;

pub use ir::{MatRhs, QConfig, QGraph, QNode, QOp, QTensor, QWeight, QuantError, TensorKind};
pub use layout::{CommitRef, Lookup, Operand, WitnessLayout};
pub use table::{ActKind, TableKind};
