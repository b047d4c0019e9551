//! zkgrad's field layer: the Goldilocks prime field `F` (p = 2^64 − 2^32 + 1) from Plonky3, its
//! degree-2 extension `E` (~128 bits, where every verifier challenge lives), conversions from the
//! signed machine integers the forward pass computes with, and the fixed-width byte codec that
//! proofs use.
//!
//! Verifier side: no prover, IO or ONNX code may enter this crate.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod codec;

pub use p3_field::{
    BasedVectorSpace, ExtensionField, Field, PrimeCharacteristicRing, PrimeField64, TwoAdicField,
};
pub use p3_goldilocks::Goldilocks as F;

/// The degree-2 extension of Goldilocks, `F[X]/(X^2 - 7)`.
pub type E = p3_field::extension::BinomialExtensionField<F, 2>;

/// The Goldilocks modulus.
pub const P: u64 = 0xffff_ffff_0000_0001;

/// `log₂ |E|` rounded down to two decimals: `|E| = p² = (2^64 − 2^32 + 1)² > 2^127.99`, so
/// `1/|E| < 2^-127.99`, the price of one Schwartz–Zippel evaluation of a degree-1 identity in
/// the soundness budget.
pub const EXT_FIELD_BITS: f64 = 127.99;

/// Embeds a signed integer into the field: `x` for `x >= 0`, `p - |x|` for `x < 0`.
#[inline]
pub fn f_from_i64(x: i64) -> F {
    if x >= 0 {
        F::from_u64(x as u64)
    } else {
        -F::from_u64(x.unsigned_abs())
    }
}

/// Reads a field element back as a signed integer in `(-p/2, p/2)`.
#[inline]
pub fn f_to_i64(x: F) -> i64 {
    let v = x.as_canonical_u64();
    if v > P / 2 {
        -((P - v) as i64)
    } else {
        v as i64
    }
}

/// Lifts a base-field element into the extension.
#[inline]
pub fn e(x: F) -> E {
    E::from(x)
}

/// Lifts a signed integer straight into the extension.
#[inline]
pub fn e_from_i64(x: i64) -> E {
    E::from(f_from_i64(x))
}

/// The two base-field coordinates of an extension element.
#[inline]
pub fn e_coords(x: &E) -> [F; 2] {
    let s = x.as_basis_coefficients_slice();
    let mut out = [F::ZERO; 2];
    for (o, v) in out.iter_mut().zip(s) {
        *o = *v;
    }
    out
}

/// Builds an extension element from its two coordinates.
#[inline]
pub fn e_from_coords(c: [F; 2]) -> E {
    E::from_basis_coefficients_fn(|i| if i == 0 { c[0] } else { c[1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_embedding_round_trips() {
        for x in [0i64, 1, -1, 12345, -98765, i32::MAX as i64, i32::MIN as i64] {
            assert_eq!(f_to_i64(f_from_i64(x)), x);
        }
        assert_eq!(f_from_i64(-1) + F::ONE, F::ZERO);
    }

    #[test]
    fn extension_coordinates_round_trip() {
        let x = e_from_coords([F::from_u64(3), F::from_u64(5)]);
        assert_eq!(e_coords(&x), [F::from_u64(3), F::from_u64(5)]);
        assert_eq!(x * x.inverse(), E::ONE);
    }
}
