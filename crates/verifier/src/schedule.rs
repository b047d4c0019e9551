//! The transcript schedule, read side: a proof body is read in five phases ([`crate::phases`]),
//! and the prover in `zkgrad-prover` writes exactly this order.
//!
//! 1. **Statement and header** ([`phases::header`]): check the public input and output
//!    against the circuit, observe them; read the weight roots, the witness root and the
//!    updated weights' roots;
//! 2. **lookups** ([`phases::lookups`]): read the clear multiplicities of each used table,
//!    draw `γ`, `δ`, `α`, and check every lookup by LogUp with fractional-sum GKRs;
//! 3. **limb recompositions** ([`phases::limbs`]) of the range checks split into limbs (16 or 20 bits);
//! 4. **layers** ([`phases::layers`]), outputs first: each requantization is checked at a fresh
//!    random point, and every claim on a virtual tensor is reduced through the op that produced
//!    it ([`crate::ops`]: a sumcheck for a Gemm, linear algebra for Add/Sub/Scale, …);
//! 5. **openings** ([`phases::openings`]): one batched opening of the witness commitment, the
//!    weight openings, the updated weights' openings;
//!
//! and no bytes may remain.

use zkgrad_circuit::QGraph;
use zkgrad_pcs::{Digest, PcsParams};
use zkgrad_transcript::VerifierTranscript;

use crate::claims::Claims;
use crate::error::VerifyError;
use crate::phases;
use crate::protocol::public_bytes;

/// What a valid proof establishes beyond its public input and output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The weight commitment after the step (the model's own root when nothing is updated).
    pub weight_root_after: [u8; 32],
}

/// Verifies a proof `body` that `g` (committed as `weight_root`) maps `input` to `output`.
pub fn verify(
    g: &QGraph,
    weight_root: &Digest,
    input: &[i64],
    output: &[i64],
    body: &[u8],
    params: &PcsParams,
) -> Result<Verified, VerifyError> {
    phases::header::check_statement(g, input, output, params)?;
    let id = crate::protocol::protocol_id(g, params, weight_root);
    let mut t = VerifierTranscript::new(&id, body);
    t.observe(b"public/input", &public_bytes(input));
    t.observe(b"public/output", &public_bytes(output));
    let header = phases::header::read(g, weight_root, params, &mut t)?;

    let mut claims = Claims::new(g, input, output);
    phases::lookups::verify(g, &header, &mut claims, &mut t)?;
    phases::limbs::verify(g, &mut claims, &mut t)?;
    phases::layers::verify(g, &mut claims, &mut t)?;
    phases::openings::verify(g, &header, claims, params, &mut t)?;
    t.finish()?;
    Ok(Verified {
        weight_root_after: header.weight_root_after,
    })
}
