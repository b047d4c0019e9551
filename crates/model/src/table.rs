//! Lookup tables: the range table and the quantized activation functions.
//!
//! A table of `K` bits has `2^K` entries indexed by `j`. A range table holds `j` (its width is
//! its own, the width of the check it serves). An
//! activation table holds the pairs `(x, f_q(x))` for `x = j − 2^(K−1)`, folded with the lookup
//! challenge `γ` into `j + γ·f_q(x)` (the first column is the index `j = x + 2^(K−1)`, so that a
//! lookup of `(x, y)` reads `x + 2^(K−1) + γ·y`); `f_q(x) = round(f(x / 2^in_frac) · 2^out_frac)`.

use zkgrad_field::{e_from_i64, f_from_i64, PrimeCharacteristicRing, E};

/// A scalar activation, or the derivative of one (for backward passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActKind {
    Relu,
    Sigmoid,
    Tanh,
    /// `[x > 0]`.
    ReluGrad,
    /// `σ(x)(1 − σ(x))`.
    SigmoidGrad,
    /// `1 − tanh²(x)`.
    TanhGrad,
    /// `exp(x)`, saturating below 2^30 (softmax reads it at x ≤ 0).
    Exp,
}

impl ActKind {
    pub fn eval_f64(self, x: f64) -> f64 {
        match self {
            ActKind::Relu => x.max(0.0),
            ActKind::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            ActKind::Tanh => x.tanh(),
            ActKind::ReluGrad => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            ActKind::SigmoidGrad => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            }
            ActKind::TanhGrad => 1.0 - x.tanh() * x.tanh(),
            ActKind::Exp => x.exp(),
        }
    }
    /// The derivative's kind, for the activations that have one.
    pub fn grad(self) -> Option<ActKind> {
        match self {
            ActKind::Relu => Some(ActKind::ReluGrad),
            ActKind::Sigmoid => Some(ActKind::SigmoidGrad),
            ActKind::Tanh => Some(ActKind::TanhGrad),
            ActKind::ReluGrad | ActKind::SigmoidGrad | ActKind::TanhGrad | ActKind::Exp => None,
        }
    }
    /// The quantized function: input at `in_frac` fractional bits, output at `out_frac`.
    pub fn eval_q(self, x: i64, in_frac: u32, out_frac: u32) -> i64 {
        match self {
            ActKind::Relu => x.max(0) << out_frac.saturating_sub(in_frac),
            ActKind::ReluGrad => i64::from(x > 0) << out_frac,
            ActKind::Exp => {
                let xf = x as f64 / (1u64 << in_frac) as f64;
                let v = (xf.exp() * (1u64 << out_frac) as f64).round();
                if v.is_finite() && v < (1u64 << 30) as f64 {
                    v as i64
                } else {
                    (1 << 30) - 1
                }
            }
            ActKind::Sigmoid | ActKind::Tanh | ActKind::SigmoidGrad | ActKind::TanhGrad => {
                let xf = x as f64 / (1u64 << in_frac) as f64;
                (self.eval_f64(xf) * (1u64 << out_frac) as f64).round() as i64
            }
        }
    }
    pub fn code(self) -> u8 {
        match self {
            ActKind::Relu => 1,
            ActKind::Sigmoid => 2,
            ActKind::Tanh => 3,
            ActKind::ReluGrad => 4,
            ActKind::SigmoidGrad => 5,
            ActKind::TanhGrad => 6,
            ActKind::Exp => 7,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ActKind::Relu => "ReLU",
            ActKind::Sigmoid => "Sigmoid",
            ActKind::Tanh => "Tanh",
            ActKind::ReluGrad => "ReLU'",
            ActKind::SigmoidGrad => "Sigmoid'",
            ActKind::TanhGrad => "Tanh'",
            ActKind::Exp => "Exp",
        }
    }
}

/// Which table a lookup reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// `{0, …, 2^bits − 1}`.
    Range { bits: u32 },
    /// `{(x + 2^(K−1), f_q(x)) : −2^(K−1) ≤ x < 2^(K−1)}`.
    Act {
        kind: ActKind,
        in_frac: u32,
        out_frac: u32,
    },
}

impl TableKind {
    /// Entries of this table (`2^bits`; `bits` is the activation tables' width `K`).
    pub fn log_size(&self, act_bits: u32) -> u32 {
        match self {
            TableKind::Range { bits } => *bits,
            TableKind::Act { .. } => act_bits,
        }
    }
    /// The `j`-th entry folded with `γ`.
    pub fn entry(&self, j: usize, bits: u32, gamma: E) -> E {
        match *self {
            TableKind::Range { .. } => E::from(f_from_i64(j as i64)),
            TableKind::Act {
                kind,
                in_frac,
                out_frac,
            } => {
                let x = j as i64 - (1i64 << (bits - 1));
                e_from_i64(j as i64) + gamma * e_from_i64(kind.eval_q(x, in_frac, out_frac))
            }
        }
    }
    /// The MLE of the folded table at `point` (`point.len() == bits`).
    pub fn mle(&self, point: &[E], bits: u32, gamma: E) -> E {
        match self {
            TableKind::Range { .. } => zkgrad_poly::identity_eval(point),
            TableKind::Act { .. } => {
                let eq = zkgrad_poly::eq_table(point);
                eq.iter()
                    .enumerate()
                    .map(|(j, w)| *w * self.entry(j, bits, gamma))
                    .fold(E::ZERO, |a, b| a + b)
            }
        }
    }
    pub fn describe(&self) -> String {
        match self {
            TableKind::Range { bits } => format!("range 2^{bits}"),
            TableKind::Act {
                kind,
                in_frac,
                out_frac,
            } => {
                format!("{}(in 2^-{in_frac}, out 2^-{out_frac})", kind.name())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_field::F;

    #[test]
    fn table_mle_matches_entries() {
        let bits = 6;
        let gamma = E::from(F::from_u64(12345));
        let point: Vec<E> = (0..bits)
            .map(|i| E::from(F::from_u64(7 + i as u64)))
            .collect();
        for t in [
            TableKind::Range { bits },
            TableKind::Act {
                kind: ActKind::Sigmoid,
                in_frac: 3,
                out_frac: 4,
            },
        ] {
            let entries: Vec<E> = (0..1 << bits).map(|j| t.entry(j, bits, gamma)).collect();
            assert_eq!(
                t.mle(&point, bits, gamma),
                zkgrad_poly::eval_mle(&entries, &point)
            );
        }
    }

    #[test]
    fn quantized_activations() {
        assert_eq!(ActKind::Relu.eval_q(-5, 8, 8), 0);
        assert_eq!(ActKind::Relu.eval_q(5, 8, 8), 5);
        assert_eq!(ActKind::Sigmoid.eval_q(0, 8, 8), 128);
        assert_eq!(ActKind::Tanh.eval_q(0, 8, 8), 0);
    }
}
