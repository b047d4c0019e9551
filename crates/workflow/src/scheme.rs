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
}

/// "auto" (`None`), "ligero" or "whir".
pub fn parse_scheme(s: &str) -> std::result::Result<PcsChoice, String> {
    use zkgrad_pcs::Scheme;
    if s == "auto" {
        return Ok(PcsChoice(None));
    }
    [Scheme::Ligero, Scheme::Whir]
        .into_iter()
        .find(|scheme| scheme.name() == s)
        .map(|scheme| PcsChoice(Some(scheme)))
        .ok_or_else(|| format!("unknown scheme {s:?} (expected \"auto\", \"ligero\" or \"whir\")"))
}
