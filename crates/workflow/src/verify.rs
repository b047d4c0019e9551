//! Verifying an inference proof against the verifier's own statement: a model file at a
//! precision and scheme (the circuit built as `prove` builds it), or a model commitment.

use zkgrad_verifier::{verify_with_commitment, verify_with_model, ProofFile, VerifyError};

use crate::cache::Mode;
use crate::commitment::weight_root_cached;
use crate::model::LoadedModel;
use crate::output::{dequantize, split_outputs};
use crate::scheme::PcsChoice;
use crate::statement::Statement;

/// A proof that verified: the statement it was checked against and its public values.
pub struct Accepted {
    pub statement: Statement,
    /// The public input, dequantized.
    pub input: Vec<f64>,
    /// The public output, dequantized: one array per graph output where the graph is known
    /// (checked against a model file), else one array.
    pub output: Vec<Vec<f64>>,
}

/// Checks `proof` against the model `m` with the scheme `prove` would choose for it (`scheme`):
/// the statement is the verifier's, the proof's header only compared with it. The weight root is
/// read from or stored in the cache as `cache` says. `Err`: why the proof is invalid.
pub fn verify_against_model(
    proof: &ProofFile,
    m: &LoadedModel,
    scheme: &PcsChoice,
    cache: Mode,
) -> Result<Accepted, String> {
    let claimed = Statement {
        config: proof.config,
        scheme: proof.pcs,
    };
    let params = scheme.params_for(&m.q);
    let asked = Statement {
        config: m.q.config,
        scheme: params.scheme(),
    };
    if let Some(why) = claimed.differs_from(&asked, true) {
        return Err(why);
    }
    let root = weight_root_cached(&m.q, &params, cache);
    verify_with_model(proof, &m.q, &root, &params).map_err(|e| e.to_string())?;
    let y = dequantize(&proof.output, m.q.output_tensor().frac);
    Ok(Accepted {
        statement: asked,
        input: dequantize(&proof.input, m.q.input().frac),
        output: split_outputs(&m.graph, &y),
    })
}

/// Checks `proof` against the model commitment `commitment`, which binds the circuit (precision
/// included) and, through the weight root, the scheme: what is returned comes from the
/// validated circuit. `Err`: why the proof is invalid.
pub fn verify_against_commitment(
    proof: &ProofFile,
    commitment: &[u8; 32],
) -> Result<Accepted, crate::Failure> {
    let params = zkgrad_pcs::PcsParams::for_scheme(proof.pcs);
    // A description beyond the verifier's limits is refused unread (unusable, not invalid).
    let (g, _) = verify_with_commitment(proof, commitment, &params).map_err(|e| match e {
        VerifyError::OverLimits(why) => crate::Failure::Unusable(anyhow::anyhow!(
            "its circuit description exceeds the verifier's limits: {why}"
        )),
        e => crate::Failure::Invalid(e.to_string()),
    })?;
    Ok(Accepted {
        statement: Statement {
            config: g.config,
            scheme: params.scheme(),
        },
        input: dequantize(&proof.input, g.input().frac),
        output: vec![dequantize(&proof.output, g.output_tensor().frac)],
    })
}
