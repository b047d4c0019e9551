//! What the `zkgrad` CLI, a proving server and the Python bindings share, as library calls with
//! no argument parsing and nothing printed to stdout: reading inputs and data sets, loading a
//! model at a precision (with its calibration), the authenticated cache, proving and verifying
//! inference, run directories, the training-run driver and the verification of a run.
//!
//! - Inference: [`model::LoadedModel::load`], then [`prove::InferenceProver`] to prove, and
//!   [`verify::verify_against_model`] or [`verify::verify_against_commitment`] to check;
//!   [`commitment`] for a model's commitment.
//! - Training: [`train::train`] makes a run directory from [`train::TrainOptions`], reporting
//!   each step through a callback; [`verify_run::verify_run`] checks one against the verifier's
//!   statement; [`merge_lora::merge_lora`] writes a LoRA run's merged model.
//!
//! Failures are `anyhow` errors whose messages are what the CLI prints; checks that can find a
//! proof invalid return a [`Failure`] telling invalid from unusable. The cache notes (an unusable
//! cache key, an entry that failed its integrity check) go to stderr.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cache;
pub mod calibration;
pub mod commitment;
pub mod data;
pub mod failure;
pub mod files;
pub mod generate;
pub mod hex;
pub mod input;
pub mod layer_errors;
pub mod limits;
pub mod merge_lora;
pub mod model;
pub mod output;
pub mod prove;
pub mod run_circuit;
pub mod run_dir;
pub mod run_spec;
pub mod scheme;
pub mod statement;
pub mod steps;
pub mod train;
pub mod verify;
pub mod verify_run;
pub mod weights_file;

pub use failure::Failure;
