//! SIMD-packed extension elements: `LANES` values of `E` in Plonky3's packed words (2–3× the
//! scalar throughput of extension products with AVX2/AVX-512). Lane `l` of word `w` is element
//! `LANES·w + l`, so a table's halves `[0, n/2)` and `[n/2, n)` pair up lane by lane — which
//! is why the sumchecks that use them bind their top variable first.

use p3_field::{ExtensionField, PackedFieldExtension, PackedValue};
use rayon::prelude::*;
use zkgrad_field::{Field, E, F};

/// `LANES` extension elements.
pub type EP = <E as ExtensionField<F>>::ExtensionPacking;
/// Packed base-field elements.
pub type FP = <F as Field>::Packing;
/// Elements per packed word.
pub const LANES: usize = FP::WIDTH;

/// Packs a table (`v.len()` a multiple of `LANES`), on one thread when it is small.
pub fn pack(v: &[E]) -> Vec<EP> {
    if v.len() < 1 << 14 {
        v.chunks(LANES).map(EP::from_ext_slice).collect()
    } else {
        v.par_chunks(LANES).map(EP::from_ext_slice).collect()
    }
}

/// One word of `LANES` elements.
pub fn pack_word(vals: &[E]) -> EP {
    EP::from_ext_slice(vals)
}

/// The elements of packed words, in order.
pub fn unpack(v: &[EP]) -> Vec<E> {
    <EP as PackedFieldExtension<F, E>>::to_ext_iter(v.iter().copied()).collect()
}

/// The sum of a word's lanes.
pub fn lane_sum(x: EP) -> E {
    <EP as PackedFieldExtension<F, E>>::to_ext_iter([x]).sum()
}

/// A word's first lane.
pub fn first_lane(x: EP) -> E {
    <EP as PackedFieldExtension<F, E>>::to_ext_iter([x])
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgrad_field::PrimeCharacteristicRing;

    #[test]
    fn packing_round_trips_lane_by_lane() {
        let v: Vec<E> = (0..4 * LANES as u64)
            .map(|i| E::from(F::from_u64(i * i + 3)))
            .collect();
        let p = pack(&v);
        assert_eq!(p.len(), 4);
        assert_eq!(unpack(&p), v);
        assert_eq!(
            lane_sum(p[1]),
            v[LANES..2 * LANES].iter().copied().sum::<E>()
        );
        assert_eq!(first_lane(p[2]), v[2 * LANES]);
    }
}
