//! The commitment scheme a proof is made with: chosen, or "auto" (`zkgrad prove`'s choice for
//! the model). The model commitment depends on it.

/// A scheme, or `None` for "auto".
#[derive(Clone, Copy, Debug)]
pub struct PcsChoice(pub Option<zkgrad_pcs::Scheme>);

impl PcsChoice {
    /// The parameters for `q`: the chosen scheme's, or `auto`'s choice for `q`.
    pub fn params_for(&self, q: &zkgrad_circuit::QGraph) -> zkgrad_pcs::PcsParams {
        zkgrad_pcs::PcsParams::for_scheme(
            self.0
                .unwrap_or_else(|| zkgrad_verifier::protocol::auto_scheme(q)),
        )
    }

    /// The choice for a generation proof of `q` (the model with its greedy check; `zkgrad
    /// generate` and the verifier of its proofs alike): "auto" takes `whir-unique` where
    /// [`Self::params_for`] would take `whir`. A generation proof has no size target and
    /// verified generation has a time target: GPT-2 124M's 2^27 weights then open in 1.35 s
    /// instead of 2.74 s (1.28 s of it was grinding) for ~150 KB more bytes, its 2^24 witness
    /// 0.1–0.2 s faster for ~120 KB; below 2^24 values the openings are the same.
    pub fn for_generation(&self, q: &zkgrad_circuit::QGraph) -> PcsChoice {
        PcsChoice(Some(self.0.unwrap_or_else(|| {
            generation_auto(zkgrad_verifier::protocol::auto_scheme(q))
        })))
    }
}

/// A generation's "auto": `whir-unique` for `whir`, any other scheme as it is.
fn generation_auto(auto: zkgrad_pcs::Scheme) -> zkgrad_pcs::Scheme {
    match auto {
        zkgrad_pcs::Scheme::Whir => zkgrad_pcs::Scheme::WhirUnique,
        other => other,
    }
}

/// "auto" (`None`), "ligero", "whir" or "whir-unique".
pub fn parse_scheme(s: &str) -> std::result::Result<PcsChoice, String> {
    use zkgrad_pcs::Scheme;
    if s == "auto" {
        return Ok(PcsChoice(None));
    }
    Scheme::ALL
        .into_iter()
        .find(|scheme| scheme.name() == s)
        .map(|scheme| PcsChoice(Some(scheme)))
        .ok_or_else(|| {
            format!(
                "unknown scheme {s:?} (expected \"auto\", \"ligero\", \"whir\" or \"whir-unique\")"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_pcs::Scheme;

    #[test]
    fn generation_auto_takes_whir_unique_for_whir_only() {
        assert_eq!(generation_auto(Scheme::Whir), Scheme::WhirUnique);
        assert_eq!(generation_auto(Scheme::Ligero), Scheme::Ligero);
        assert_eq!(generation_auto(Scheme::WhirUnique), Scheme::WhirUnique);
        for s in Scheme::ALL {
            assert_eq!(parse_scheme(s.name()).ok().and_then(|c| c.0), Some(s));
        }
        assert!(parse_scheme("whir-johnson").is_err());
    }
}
