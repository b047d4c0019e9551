//! What a proof claims beyond its model and public data: its precision and commitment scheme.

use zkgrad_circuit::QConfig;

/// What a proof claims beyond its model and public data: the precision and the commitment
/// scheme. The verifier's own statement is built from its arguments; a proof's is only compared
/// with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    pub config: QConfig,
    pub scheme: zkgrad_pcs::Scheme,
}

impl Statement {
    /// `activations 2^-A, weights 2^-W, tables 2^K; scheme S`, as `verify` prints it.
    pub fn precision_line(&self) -> String {
        format!("{}; scheme {}", self.precision(), self.scheme.name())
    }

    fn precision(&self) -> String {
        let c = &self.config;
        format!(
            "activations 2^-{}, weights 2^-{}, tables 2^{}",
            c.act_frac, c.weight_frac, c.table_bits
        )
    }

    /// `None` if `self` (a proof's) is `asked` (the verifier's), else one line naming both and
    /// the flags that would check the proof's statement instead (`--pcs` only where `pcs_flag`:
    /// training steps are always Ligero).
    pub fn differs_from(&self, asked: &Statement, pcs_flag: bool) -> Option<String> {
        if self == asked {
            return None;
        }
        let (p, q) = (&self.config, &asked.config);
        let mut flags = Vec::new();
        for (name, got, want) in [
            ("--act-frac", p.act_frac, q.act_frac),
            ("--weight-frac", p.weight_frac, q.weight_frac),
            ("--table-bits", p.table_bits, q.table_bits),
        ] {
            if got != want {
                flags.push(format!("{name} {got}"));
            }
        }
        if self.scheme != asked.scheme && pcs_flag {
            flags.push(format!("--pcs {}", self.scheme.name()));
        }
        let hint = if flags.is_empty() {
            String::new()
        } else {
            format!(" — pass {} to check that statement", flags.join(" "))
        };
        Some(format!(
            "the proof is for {} ({}); you asked about {} ({}){hint}",
            self.precision(),
            self.scheme.name(),
            asked.precision(),
            asked.scheme.name()
        ))
    }
}
