//! Adversarial checks of commit 2ae8632: the row walk of `IndexMap::for_each_source` against
//! the per-entry table `IndexMap::sources()` (and an independent i128 oracle of the spec), and
//! `Padder::at` against `QTensor::pad_index`.

use zkgrad_circuit::index_map::{AxisMap, IndexMap, MAX_COEFF, MAX_RANK};
use zkgrad_circuit::{QTensor, TensorKind};

const C: i64 = MAX_COEFF; // 2^32

/// A small seeded generator (PCG-style LCG, high bits).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = self.0;
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// `π(j)` straight from the module's spec, in i128 (no early overflow exits): coordinates by
/// division, each input coordinate `step·o + offset` checked against its dimension.
fn spec_source(m: &IndexMap, j: usize) -> Option<usize> {
    let mut coord = vec![0usize; m.out_shape.len()];
    let mut rest = j;
    for (c, &d) in coord.iter_mut().zip(&m.out_shape).rev() {
        *c = rest % d;
        rest /= d;
    }
    let mut flat = 0i128;
    for (a, &dim) in m.axes.iter().zip(&m.in_shape) {
        let o = *coord.get(a.out_axis)? as i128;
        let i = a.step as i128 * o + a.offset as i128;
        if i < 0 || i >= dim as i128 {
            return None;
        }
        flat = flat * dim as i128 + i;
    }
    Some(flat as usize)
}

/// The walk's calls, checked to come in strictly increasing `j` (so never twice for one `j`).
fn walked(m: &IndexMap) -> Vec<(usize, usize)> {
    let mut got: Vec<(usize, usize)> = Vec::new();
    m.for_each_source(|j, i| {
        if let Some(&(pj, _)) = got.last() {
            assert!(pj < j, "j not strictly increasing ({pj} then {j}) on {m:?}");
        }
        assert!(j < m.out_len().max(1), "j {j} out of range on {m:?}");
        got.push((j, i));
    });
    got
}

/// The walk equals the table (and the table equals the spec).
fn check(m: &IndexMap) -> usize {
    let table = m.sources();
    let want: Vec<(usize, usize)> = table
        .iter()
        .enumerate()
        .filter_map(|(j, s)| s.map(|i| (j, i)))
        .collect();
    let got = walked(m);
    assert_eq!(got, want, "walk differs from sources() on {m:?}");
    for (j, s) in table.iter().enumerate() {
        assert_eq!(
            *s,
            spec_source(m, j),
            "sources() differs from spec at {j} on {m:?}"
        );
    }
    want.len()
}

fn ax(out_axis: usize, step: i64, offset: i64) -> AxisMap {
    AxisMap {
        out_axis,
        step,
        offset,
    }
}

fn map(in_shape: &[usize], out_shape: &[usize], axes: &[AxisMap]) -> IndexMap {
    IndexMap {
        in_shape: in_shape.to_vec(),
        out_shape: out_shape.to_vec(),
        axes: axes.to_vec(),
    }
}

fn all_shapes(rank: usize, dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for _ in 0..rank {
        out = out
            .into_iter()
            .flat_map(|s| {
                dims.iter().map(move |&d| {
                    let mut t = s.clone();
                    t.push(d);
                    t
                })
            })
            .collect();
    }
    out
}

fn all_axes(in_rank: usize, out_rank: usize, steps: &[i64], offsets: &[i64]) -> Vec<Vec<AxisMap>> {
    let mut one = Vec::new();
    for a in 0..out_rank {
        for &s in steps {
            for &o in offsets {
                one.push(ax(a, s, o));
            }
        }
    }
    let mut out = vec![vec![]];
    for _ in 0..in_rank {
        out = out
            .into_iter()
            .flat_map(|v: Vec<AxisMap>| {
                one.iter().map(move |&a| {
                    let mut t = v.clone();
                    t.push(a);
                    t
                })
            })
            .collect();
    }
    out
}

#[test]
fn walk_matches_table_exhaustively_on_small_maps() {
    let mut maps = 0usize;
    // Ranks ≤ 2, dims ≤ 3, every axis assignment, steps in [−2, 2], offsets in [−2, 2].
    for in_rank in 1..=2 {
        for out_rank in 1..=2 {
            let axes = all_axes(in_rank, out_rank, &[-2, -1, 0, 1, 2], &[-2, -1, 0, 1, 2]);
            for is in all_shapes(in_rank, &[1, 2, 3]) {
                for os in all_shapes(out_rank, &[1, 2, 3]) {
                    for a in &axes {
                        let m = map(&is, &os, a);
                        m.validate(1 << 20).unwrap();
                        check(&m);
                        maps += 1;
                    }
                }
            }
        }
    }
    // Three input axes onto two or three output axes (diagonals, broadcasts, transposes).
    for out_rank in 2..=3 {
        let axes = all_axes(3, out_rank, &[-1, 0, 1, 2], &[-1, 0, 1]);
        for is in all_shapes(3, &[1, 2]) {
            for os in all_shapes(out_rank, &[1, 2]) {
                for a in &axes {
                    let m = map(&is, &os, a);
                    m.validate(1 << 20).unwrap();
                    check(&m);
                    maps += 1;
                }
            }
        }
    }
    assert!(maps > 500_000);
}

#[test]
fn walk_with_max_steps_and_offsets_matches_table() {
    let big = C as usize + 1; // 2^32 + 1: coordinates 0 and 2^32 both in range
    let cases = [
        // o = 1 → 0, o = 2 → 2^32; o = 0 → −2^32.
        map(&[big], &[3], &[ax(0, C, -C)]),
        // Reversed: o = 0 → 2^32, o = 1 → 0, then negative.
        map(&[big], &[3], &[ax(0, -C, C)]),
        // Max offset with step 0 (a broadcast of the last input entry).
        map(&[big], &[2, 3], &[ax(1, 0, C)]),
        map(&[big], &[2, 3], &[ax(0, 0, C)]),
        // Offsets one past each side.
        map(&[big], &[4], &[ax(0, 1, C - 2)]),
        map(&[big], &[4], &[ax(0, -1, -C)]),
        // A huge inner stride: the flat source leaps by 2^32·2^33 per step and starts
        // negative, with an in-range entry after.
        map(&[3, 1 << 33], &[4], &[ax(0, 1, -1), ax(0, C, -C)]),
        map(&[3, 1 << 33], &[4], &[ax(0, -C, C), ax(0, -1, 2)]),
        // Inputs of 2^62 and (2^64 − 2) entries: strides near 2^63, deltas near 2^95.
        map(&[1 << 31, 1 << 31], &[3, 3], &[ax(1, C, -C), ax(0, C, -C)]),
        map(&[1 << 31, 1 << 31], &[3], &[ax(0, C, -C), ax(0, C, -C)]),
        map(
            &[2, (1usize << 63) - 1],
            &[3],
            &[ax(0, -C, C), ax(0, C, -C)],
        ),
        map(&[2, (1usize << 63) - 1], &[3], &[ax(0, 1, 0), ax(0, -C, C)]),
        map(
            &[2, (1usize << 63) - 1],
            &[2, 3],
            &[ax(0, 1, 0), ax(1, C, 0)],
        ),
        // Every input axis of 2^7 (2^56 entries) on the last output axis with step ±2^32: only the first
        // (offset-chosen) entry can be in range.
        map(
            &[128; MAX_RANK],
            &[5],
            &[
                ax(0, C, 7),
                ax(0, -C, 9),
                ax(0, C, 0),
                ax(0, -C, 127),
                ax(0, C, 1),
                ax(0, -C, 3),
                ax(0, C, 2),
                ax(0, -C, 4),
            ],
        ),
    ];
    let mut hits = 0;
    for m in &cases {
        m.validate(usize::MAX).unwrap();
        hits += check(m);
    }
    assert!(hits >= 15, "{hits}");
}

#[test]
fn walk_on_long_rows_with_sparse_hits_matches_table() {
    let cases = [
        // A pad on a row of 2^20: only 5 in range at the end.
        map(&[5], &[1 << 20], &[ax(0, 1, -((1 << 20) - 5))]),
        // Step 2^32 on a long row into a 2^34 input: hits at o = 1..=4 only.
        map(&[(1 << 34) + 1], &[1 << 18], &[ax(0, C, -C)]),
        // Diagonal of a huge axis and a reversed small one on a long row.
        map(
            &[1 << 20, 1 << 19],
            &[2, 1 << 19],
            &[ax(1, 2, 0), ax(1, -1, (1 << 19) - 1)],
        ),
        // Whole rows outside (a fixed axis out of range on most rows).
        map(&[3, 7], &[1 << 10, 9], &[ax(0, 1, -500), ax(1, 1, -1)]),
    ];
    for m in &cases {
        m.validate(usize::MAX).unwrap();
        check(m);
    }
}

#[test]
fn walk_on_diagonals_broadcasts_and_rank_eight_matches_table() {
    let d = |k: usize, s: i64, o: i64| ax(k, s, o);
    let cases = [
        // Rank 8 both sides, a full reversal of every axis.
        map(
            &[2; 8],
            &[2; 8],
            &(0..8).map(|k| d(7 - k, -1, 1)).collect::<Vec<_>>(),
        ),
        // Rank 8 output, one input axis (broadcast over seven output axes), on each axis.
        map(&[3], &[2, 1, 3, 1, 2, 1, 1, 3], &[d(7, 1, 0)]),
        map(&[3], &[2, 1, 3, 1, 2, 1, 1, 3], &[d(2, 1, 0)]),
        map(&[3], &[2, 1, 3, 1, 2, 1, 1, 3], &[d(0, 2, -1)]),
        // No input axis on the last output axis (delta 0, no moving coordinates).
        map(&[2, 3], &[3, 2, 4], &[d(1, 1, 0), d(0, 1, 0)]),
        // Eight input axes all on one output axis (an 8-way diagonal), and all on the first.
        map(&[4; 8], &[5], &[d(0, 1, 0); 8]),
        map(&[4; 8], &[5, 2], &[d(0, 1, 0); 8]),
        map(
            &[4; 8],
            &[3, 6],
            &[
                d(1, 1, 0),
                d(1, -1, 3),
                d(0, 1, 0),
                d(1, 0, 2),
                d(1, 2, -4),
                d(0, -1, 2),
                d(1, 1, -1),
                d(0, 0, 0),
            ],
        ),
        // Shapes of size 1 everywhere.
        map(
            &[1; 8],
            &[1; 8],
            &(0..8).map(|k| d(k, 1, 0)).collect::<Vec<_>>(),
        ),
        map(&[1; 8], &[1; 8], &[d(7, C, 0); 8]),
        map(&[1], &[1], &[d(0, -C, -C)]),
        map(&[1], &[1], &[d(0, C, 1)]),
    ];
    for m in &cases {
        m.validate(1 << 20).unwrap();
        check(m);
    }
}

#[test]
fn walk_at_rank_zero_matches_table() {
    // Validation refuses rank 0, but both sides still agree on it.
    for m in [
        map(&[], &[], &[]),
        map(&[3], &[], &[ax(0, 1, 0)]),
        map(&[1], &[], &[ax(0, 0, 0)]),
    ] {
        assert!(m.validate(1 << 20).is_err());
        let want: Vec<(usize, usize)> = m
            .sources()
            .iter()
            .enumerate()
            .filter_map(|(j, s)| s.map(|i| (j, i)))
            .collect();
        assert_eq!(walked(&m), want, "{m:?}");
    }
}

#[test]
fn walk_matches_table_on_random_extreme_maps() {
    let mut rng = Rng(0x5eed_1dea_u64);
    let small_steps = [-2i64, -1, 0, 1, 2];
    let big_steps = [C, -C, C - 1, -(C - 1), 1 << 31, -(1 << 31), 3, -3];
    let big_dims = [
        1usize << 31,
        (1 << 32) - 1,
        1 << 32,
        (1 << 32) + 1,
        (1 << 33) + 5,
        1 << 40,
        7,
    ];
    let mut hits = 0usize;
    let mut maps = 0usize;
    for _ in 0..30_000 {
        let in_rank = 1 + rng.below(MAX_RANK as u64) as usize;
        let out_rank = 1 + rng.below(MAX_RANK as u64) as usize;
        // Output: at most 4096 entries.
        let mut out_shape = Vec::new();
        let mut n = 1usize;
        for _ in 0..out_rank {
            let cap = if rng.below(4) == 0 { 40 } else { 4 };
            let d = 1 + rng.below(cap) as usize;
            let d = if n * d > 4096 { 1 } else { d };
            n *= d;
            out_shape.push(d);
        }
        // Input: mostly small dims, some huge, the product within u64.
        let mut in_shape = Vec::new();
        let mut len = 1u128;
        for _ in 0..in_rank {
            let mut d = if rng.below(3) == 0 {
                rng.pick(&big_dims)
            } else {
                1 + rng.below(5) as usize
            };
            if len * d as u128 > u64::MAX as u128 {
                d = 1;
            }
            len *= d as u128;
            in_shape.push(d);
        }
        let axes: Vec<AxisMap> = in_shape
            .iter()
            .map(|&dim| {
                let a = rng.below(out_rank as u64) as usize;
                let step = if rng.below(3) == 0 {
                    rng.pick(&big_steps)
                } else {
                    rng.pick(&small_steps)
                };
                // Offsets: small, extreme, or aimed so that some output coordinate lands on
                // a chosen in-range (often boundary) input coordinate.
                let offset = match rng.below(4) {
                    0 => rng.below(7) as i64 - 3,
                    1 => rng.pick(&[C, -C, C - 1, -(C - 1), 0]),
                    _ => {
                        let o = rng.below(out_shape[a] as u64) as i128;
                        let target = match rng.below(3) {
                            0 => 0i128,
                            1 => dim as i128 - 1,
                            _ => rng.below(dim as u64) as i128,
                        };
                        let off = target - step as i128 * o;
                        off.clamp(-(C as i128), C as i128) as i64
                    }
                };
                ax(a, step, offset)
            })
            .collect();
        let m = IndexMap {
            in_shape,
            out_shape,
            axes,
        };
        m.validate(usize::MAX).unwrap();
        hits += check(&m);
        maps += 1;
    }
    assert_eq!(maps, 30_000);
    assert!(hits > 10_000, "{hits}");
}

fn tensor(cols: usize) -> QTensor {
    QTensor {
        name: String::new(),
        rows: 1,
        cols,
        frac: 0,
        kind: TensorKind::Virtual,
        bits: 20,
    }
}

#[test]
fn padder_matches_pad_index_on_wide_sample_of_widths() {
    let mut rng = Rng(0xfeed_beef);
    let mut widths: Vec<usize> = (1..=3000).collect();
    for k in 1..63 {
        let p = 1usize << k;
        widths.extend([p - 1, p, p + 1]);
    }
    widths.extend([
        (1 << 31) - 1,
        1 << 31,
        (1 << 31) + 1,
        (1 << 31) + 3,
        3 << 30,
        (1 << 32) - 3,
        (1 << 32) - 2,
        (1 << 32) - 1,
        1 << 32,
        (1 << 32) + 1,
        (1 << 33) - 1,
        4_294_967_291, // the largest prime below 2^32
        2_147_483_647,
        65_537,
        641,
        6_700_417,
        3 * 5 * 17 * 257, // divisors of 2^32 − 1
        (1 << 48) + 7,
        (1 << 62) + 1,
        1 << 63,
    ]);
    for _ in 0..2000 {
        widths.push(1 + rng.below(1 << 33) as usize);
        widths.push(1 + rng.below(1 << 20) as usize);
    }
    for &cols in &widths {
        let t = tensor(cols);
        let p = t.padder();
        let mut probes: Vec<usize> = (0..300).collect();
        // Around multiples of cols, including the last rows below 2^32 where the
        // multiply-high's error is largest.
        let top = ((1u64 << 32) - 1) / cols as u64;
        for k in [
            1u64,
            2,
            3,
            top.saturating_sub(2),
            top.saturating_sub(1),
            top,
            top + 1,
            top + 2,
        ] {
            if let Some(b) = k.checked_mul(cols as u64) {
                for d in [-2i64, -1, 0, 1, 2] {
                    probes.push((b as i64).wrapping_add(d) as u64 as usize);
                }
            }
        }
        for d in 0..8u64 {
            probes.push(((1u64 << 32) - 1 - d) as usize);
            probes.push(((1u64 << 32) + d) as usize);
        }
        probes.extend([1 << 40, (1 << 40) + 12_345, (1 << 52) - 1, 1 << 62]);
        for _ in 0..200 {
            probes.push(rng.below(1 << 32) as usize);
        }
        for _ in 0..20 {
            probes.push(rng.below(1 << 50) as usize);
        }
        for i in probes {
            assert_eq!(p.at(i), t.pad_index(i), "cols {cols}, i {i}");
        }
    }
}

#[test]
fn padder_matches_pad_index_on_dense_ranges() {
    // Every i < 2^22 for a few awkward widths, and every remainder boundary below 2^32 for
    // widths near 2^31 and 2^32.
    for cols in [3usize, 7, 641, 3072, 50_257, 65_537, (1 << 20) + 1] {
        let t = tensor(cols);
        let p = t.padder();
        for i in 0..(1usize << 22) {
            assert_eq!(p.at(i), t.pad_index(i), "cols {cols}, i {i}");
        }
    }
    for cols in [
        (1usize << 31) + 1,
        (1 << 31) - 1,
        (1 << 32) - 1,
        (1 << 32) - 5,
        1_431_655_765, // (2^32 − 1)/3
        858_993_459,   // (2^32 − 1)/5
        16_843_009,    // (2^32 − 1)/255
    ] {
        let t = tensor(cols);
        let p = t.padder();
        let mut k = 0u64;
        while k * cols as u64 <= (1 << 32) + cols as u64 {
            let b = k * cols as u64;
            for i in b.saturating_sub(1)..=b + 1 {
                assert_eq!(
                    p.at(i as usize),
                    t.pad_index(i as usize),
                    "cols {cols}, i {i}"
                );
            }
            k += 1;
        }
    }
}

/// The one divergence the review found: `sources()` computed `step·o + offset` in checked
/// i64 and returned `None` when `step·o` overflowed, even where the sum lands inside a huge
/// input axis, while the walk reads the entry. Reaching it needs an output axis of more than
/// 2^31 entries and an input axis of more than 2^63 − 2^32 (`validate(max_len)` with
/// `max_len ≥ 2^63`; the verifier validates against `max_tensor_elements`, 2^26 by default),
/// so no proof could reach it; `source_of` now computes in i128 like the walk. This checks
/// the walk against the spec at that entry (the table itself would be 2^31 entries).
/// Ignored: it walks 2^31 entries (~14 s in release).
#[test]
#[ignore = "walks 2^31 entries"]
fn walk_past_i64_overflow_reads_the_entry() {
    let o = 1usize << 31;
    let m = map(&[usize::MAX], &[o + 1], &[ax(0, C, -C)]);
    m.validate(usize::MAX).unwrap();
    let mut walk_at_o = None;
    m.for_each_source(|j, i| {
        if j == o {
            walk_at_o = Some(i);
        }
    });
    assert_eq!(walk_at_o, spec_source(&m, o));
    assert_eq!(walk_at_o, Some((1usize << 63) - (1 << 32)));
}
