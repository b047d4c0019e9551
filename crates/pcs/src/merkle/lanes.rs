//! BLAKE3 of [`LANES`] inputs of one length at once, each lane of every vector one input: the
//! digests are `blake3::hash`'s, byte for byte (the verifier hashes one leaf at a time with the
//! `blake3` crate; the tests compare the two on every length class).
//!
//! Why: a Merkle leaf here is a few hundred bytes (nanoGPT's witness: 88 values, 722 bytes with
//! the tag), one chunk, which `blake3::hash` compresses block after block with one state in
//! the vector registers (4 of its 16 words a vector); with 16 leaves side by side, each vector
//! holds one word of 16 states and every operation does 16 leaves' work. The loops over lanes
//! are written plainly and left to the compiler's vectorizer.
//!
//! The function follows the BLAKE3 specification (O'Connor, Aumasson, Neves, Wilcox-O'Hearn,
//! "BLAKE3: one function, fast everywhere", 2020, §2): 1024-byte chunks of 64-byte blocks,
//! each block compressed with the chunk's counter, the block's length and the flags
//! `CHUNK_START`, `CHUNK_END` (and `ROOT` when the input is one chunk); several chunks are
//! merged in a binary tree of `PARENT` nodes whose left subtree holds the largest power of two
//! of chunks below the total, the top one flagged `ROOT`.
#![allow(clippy::indexing_slicing)] // fixed-size state and message arrays, constant indices

use crate::Digest;

/// Inputs hashed side by side.
pub(crate) const LANES: usize = 16;

/// One 32-bit word of every lane.
type V = [u32; LANES];

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const PARENT: u32 = 4;
const ROOT: u32 = 8;

const BLOCK: usize = 64;
const CHUNK: usize = 1024;

/// The message word each round reads at each position: round `r + 1` permutes round `r`'s
/// words by the specification's `[2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]`.
const SCHEDULE: [[usize; 16]; 7] = {
    const PERM: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
    let mut s = [[0usize; 16]; 7];
    let mut i = 0;
    while i < 16 {
        s[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            s[r][i] = s[r - 1][PERM[i]];
            i += 1;
        }
        r += 1;
    }
    s
};

fn splat(x: u32) -> V {
    [x; LANES]
}

/// The quarter-round `G` on state words `a, b, c, d` with message words `x, y`, every lane.
#[inline(always)]
fn g(s: &mut [V; 16], [a, b, c, d]: [usize; 4], x: &V, y: &V) {
    for l in 0..LANES {
        let (mut va, mut vb, mut vc, mut vd) = (s[a][l], s[b][l], s[c][l], s[d][l]);
        va = va.wrapping_add(vb).wrapping_add(x[l]);
        vd = (vd ^ va).rotate_right(16);
        vc = vc.wrapping_add(vd);
        vb = (vb ^ vc).rotate_right(12);
        va = va.wrapping_add(vb).wrapping_add(y[l]);
        vd = (vd ^ va).rotate_right(8);
        vc = vc.wrapping_add(vd);
        vb = (vb ^ vc).rotate_right(7);
        (s[a][l], s[b][l], s[c][l], s[d][l]) = (va, vb, vc, vd);
    }
}

/// The compression function, every lane: the new chaining value of `cv` after block `m`.
fn compress(cv: &[V; 8], m: &[V; 16], counter: u64, block_len: u32, flags: u32) -> [V; 8] {
    let mut s: [V; 16] = [
        cv[0],
        cv[1],
        cv[2],
        cv[3],
        cv[4],
        cv[5],
        cv[6],
        cv[7],
        splat(IV[0]),
        splat(IV[1]),
        splat(IV[2]),
        splat(IV[3]),
        splat(counter as u32),
        splat((counter >> 32) as u32),
        splat(block_len),
        splat(flags),
    ];
    for w in &SCHEDULE {
        g(&mut s, [0, 4, 8, 12], &m[w[0]], &m[w[1]]);
        g(&mut s, [1, 5, 9, 13], &m[w[2]], &m[w[3]]);
        g(&mut s, [2, 6, 10, 14], &m[w[4]], &m[w[5]]);
        g(&mut s, [3, 7, 11, 15], &m[w[6]], &m[w[7]]);
        g(&mut s, [0, 5, 10, 15], &m[w[8]], &m[w[9]]);
        g(&mut s, [1, 6, 11, 12], &m[w[10]], &m[w[11]]);
        g(&mut s, [2, 7, 8, 13], &m[w[12]], &m[w[13]]);
        g(&mut s, [3, 4, 9, 14], &m[w[14]], &m[w[15]]);
    }
    let mut out = [[0u32; LANES]; 8];
    for (i, o) in out.iter_mut().enumerate() {
        for l in 0..LANES {
            o[l] = s[i][l] ^ s[i + 8][l];
        }
    }
    out
}

/// BLAKE3 of `LANES` inputs of `len` bytes each: input `l` is `data[l·len..(l+1)·len]`.
pub(crate) fn hash_lanes(data: &[u8], len: usize) -> [Digest; LANES] {
    assert_eq!(
        data.len(),
        LANES * len,
        "hash_lanes: LANES inputs of len bytes"
    );
    let chunks = len.div_ceil(CHUNK).max(1);
    let cvs: Vec<[V; 8]> = (0..chunks)
        .map(|c| chunk_cv(data, len, c, chunks == 1))
        .collect();
    let root = merge(&cvs, true);
    let mut out = [[0u8; 32]; LANES];
    for (l, d) in out.iter_mut().enumerate() {
        for (i, word) in root.iter().enumerate() {
            d[4 * i..4 * i + 4].copy_from_slice(&word[l].to_le_bytes());
        }
    }
    out
}

/// The chaining value (the output, when `root`) of chunk `c` of every lane.
fn chunk_cv(data: &[u8], len: usize, c: usize, root: bool) -> [V; 8] {
    let start = c * CHUNK;
    let chunk_len = len.saturating_sub(start).min(CHUNK);
    let blocks = chunk_len.div_ceil(BLOCK).max(1);
    let mut cv: [V; 8] = IV.map(splat);
    for b in 0..blocks {
        let off = start + b * BLOCK;
        let block_len = (chunk_len - b * BLOCK).min(BLOCK);
        let mut m = [[0u32; LANES]; 16];
        for l in 0..LANES {
            let input = &data[l * len + off..l * len + off + block_len];
            if block_len == BLOCK {
                for (w, word) in input.chunks_exact(4).enumerate() {
                    m[w][l] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                }
            } else {
                let mut padded = [0u8; BLOCK];
                padded[..block_len].copy_from_slice(input);
                for (w, word) in padded.chunks_exact(4).enumerate() {
                    m[w][l] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                }
            }
        }
        let mut flags = 0;
        if b == 0 {
            flags |= CHUNK_START;
        }
        if b + 1 == blocks {
            flags |= CHUNK_END;
            if root {
                flags |= ROOT;
            }
        }
        cv = compress(&cv, &m, c as u64, block_len as u32, flags);
    }
    cv
}

/// The root (or, not `root`, the chaining value) of the subtree over the chunks' `cvs`: the
/// left subtree takes the largest power of two of chunks below `cvs.len()`.
fn merge(cvs: &[[V; 8]], root: bool) -> [V; 8] {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let left_len = 1usize << (usize::BITS - 1 - (cvs.len() - 1).leading_zeros());
    let (left, right) = (
        merge(&cvs[..left_len], false),
        merge(&cvs[left_len..], false),
    );
    let mut m = [[0u32; LANES]; 16];
    m[..8].copy_from_slice(&left);
    m[8..].copy_from_slice(&right);
    let flags = PARENT | if root { ROOT } else { 0 };
    compress(&IV.map(splat), &m, 0, BLOCK as u32, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes (xorshift) for the comparisons.
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn lanes_equal_blake3_on_every_length_class() {
        // Empty, partial and whole blocks, one chunk and its edges, several chunks (2, 3, 4,
        // 5, 8, 9: balanced and unbalanced trees), and the leaf lengths the commitments use.
        let mut lens: Vec<usize> = (0..=130).collect();
        lens.extend([
            191, 192, 193, 700, 722, 1023, 1024, 1025, 1088, 2047, 2048, 2049, 2066, 3072, 3073,
            4096, 4097, 5000, 8192, 8193, 9300,
        ]);
        for len in lens {
            let data = bytes(LANES * len, len as u64 + 7);
            let got = hash_lanes(&data, len);
            for (l, d) in got.iter().enumerate() {
                let want = blake3::hash(&data[l * len..(l + 1) * len]);
                assert_eq!(d, want.as_bytes(), "length {len}, lane {l}");
            }
        }
    }

    #[test]
    fn lanes_differ_when_one_byte_of_one_lane_does() {
        let len = 722;
        let data = bytes(LANES * len, 3);
        let base = hash_lanes(&data, len);
        let mut changed = data.clone();
        changed[5 * len + 400] ^= 1;
        let after = hash_lanes(&changed, len);
        for l in 0..LANES {
            assert_eq!(base[l] == after[l], l != 5, "lane {l}");
        }
    }
}
