//! The model side of zkgrad: a typed graph IR for float models ([`graph`]), its fixed-point
//! quantization ([`quant`]), the integer forward pass that produces the witness, and the shared
//! description of what a proof commits to and looks up ([`layout`]); [`bounds`] states and
//! checks the integer bounds that make every relation a proof checks mod p an integer one.
//!
//! Op names as strings appear only in `zkgrad-onnx`; everything here is typed. The verifier
//! depends on this crate for the circuit description (no IO, no ONNX, no prover code here).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod bounds;
pub mod build;
pub mod conv;
pub mod describe;
pub mod graph;
pub mod index_map;
pub mod layout;
pub mod lora;
pub mod quant;
pub mod softmax;
pub mod table;
pub mod train;
pub mod zoo;
pub mod zoo_cnn;

pub use graph::{Graph, Node, Op};
pub use layout::{CommitRef, Lookup, Operand, WitnessLayout};
pub use quant::{QConfig, QGraph, QNode, QOp, QTensor, TensorKind, Witness};
pub use table::{ActKind, TableKind};
