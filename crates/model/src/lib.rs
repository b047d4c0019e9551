//! The model side of zkgrad, used by the prover only: a typed graph IR for float models
//! ([`graph`], built with [`build`]), calibration ([`calibrate`]), the quantizer that turns a
//! float graph into the integer circuit of `zkgrad-circuit` ([`quantizer`]), the integer forward
//! pass that produces the witness ([`forward`]), the training and LoRA circuit builders
//! ([`train`], [`lora`]), and the built-in models ([`zoo`], [`zoo_cnn`]).
//!
//! Op names as strings appear only in `zkgrad-onnx`; everything here is typed. The verifier
//! does not depend on this crate.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod build;
pub mod calibrate;
pub mod forward;
pub mod generate;
pub mod graph;
pub mod lora;
pub mod quantizer;
pub mod train;
pub mod zoo;
pub mod zoo_cnn;

pub use calibrate::{calibrate, calibrate_per_tensor};
pub use forward::{forward, forward_with, Decoder, ForwardError, Witness};
pub use graph::{Graph, Node, Op};
pub use quantizer::{
    quantize, quantize_input, quantize_public_input, quantize_with_map,
    quantize_with_map_consuming, quantize_with_scales, quantize_with_scales_consuming,
};
