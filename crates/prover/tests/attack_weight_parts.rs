//! Adversarial review of the packed weights' power-of-two parts (`weight_parts`,
//! `split_weight_claim`, the verifier's `part_claims`).

mod common;
use common::*;
use zkgrad_field::{e_from_coords, f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_model::graph::{Graph, Node, Op};
use zkgrad_poly::{eval_mle_base, log2_ceil};
use zkgrad_prover::{prove, CommittedModel};
use zkgrad_verifier::protocol::{
    split_weight_claim, weight_packing, weight_parts, weight_values, weights_root,
};
use zkgrad_verifier::{verify, VerifyError};

/// Linear layers of widths `dims` with tanh between them.
fn chain(dims: &[usize], bias: bool) -> Graph {
    let mut nodes = Vec::new();
    for (i, w) in dims.windows(2).enumerate() {
        let x = nodes.len();
        nodes.push(linear_with(
            &format!("fc{i}"),
            x,
            w[0],
            w[1],
            10 + i as u64,
            bias,
        ));
        if i + 2 < dims.len() {
            let x = nodes.len();
            nodes.push(Node {
                name: format!("act{i}"),
                op: Op::Act {
                    x,
                    kind: zkgrad_circuit::table::ActKind::Tanh,
                },
                shape: vec![1, w[1]],
            });
        }
    }
    Graph {
        input_name: "x".into(),
        input_shape: vec![1, dims[0]],
        output: nodes.len(),
        nodes,
        output_parts: Vec::new(),
    }
}

/// Pseudo-random extension elements.
fn rnd_e(seed: u64, n: usize) -> Vec<E> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        F::from_u64(x >> 1)
    };
    (0..n).map(|_| e_from_coords([next(), next()])).collect()
}

const SHAPES: &[(usize, usize)] = &[
    (1, 1),
    (1, 7),
    (7, 1),
    (3, 5),
    (7, 7),
    (13, 12),
    (16, 8),
    (600, 24),
    (31, 33),
];

#[test]
fn parts_partition_exactly_the_real_entries() {
    // Every real entry in exactly one part, no padded entry in any; each part aligned.
    for &(rows, cols) in SHAPES
        .iter()
        .chain(&[(50257, 768), (768, 3072), (1, 50257)])
    {
        let parts = weight_parts(rows, cols);
        let mut seen = vec![0u8; rows * cols];
        for p in &parts {
            assert_eq!(p.row0 % (1 << p.log_rows), 0);
            assert_eq!(p.col0 % (1 << p.log_cols), 0);
            assert!(p.row0 + (1 << p.log_rows) <= rows && p.col0 + (1 << p.log_cols) <= cols);
            if rows * cols <= 1 << 20 {
                for r in p.row0..p.row0 + (1 << p.log_rows) {
                    for c in p.col0..p.col0 + (1 << p.log_cols) {
                        seen[r * cols + c] += 1;
                    }
                }
            }
        }
        let total: usize = parts.iter().map(|p| 1usize << p.log_size()).sum();
        assert_eq!(total, rows * cols, "{rows}x{cols}");
        if rows * cols <= 1 << 20 {
            assert!(
                seen.iter().all(|&k| k == 1),
                "{rows}x{cols} not a partition"
            );
        }
        assert_eq!(
            parts.len(),
            (rows.count_ones() * cols.count_ones()) as usize
        );
    }
}

#[test]
fn split_claim_is_the_padded_mle_and_wrong_sizes_are_refused() {
    // Σ coef_p · W̃_p(local_p) = W̃(z) for zero padding, at random extension points; a point
    // of another length is refused (None), not a panic.
    for (k, &(rows, cols)) in SHAPES.iter().enumerate() {
        let (lr, lc) = (log2_ceil(rows), log2_ceil(cols));
        let data: Vec<i64> = rnd(k as u64 + 1, rows * cols)
            .iter()
            .map(|v| (v * 1000.0) as i64)
            .collect();
        let mut padded = vec![F::ZERO; 1 << (lr + lc)];
        for r in 0..rows {
            for c in 0..cols {
                padded[(r << lc) + c] = f_from_i64(data[r * cols + c]);
            }
        }
        for trial in 0..3 {
            let z = rnd_e(100 * k as u64 + trial, lr + lc);
            let want = eval_mle_base(&padded, &z);
            let split = split_weight_claim(rows, cols, &z).unwrap();
            let parts = weight_parts(rows, cols);
            assert_eq!(split.len(), parts.len());
            let mut got = E::ZERO;
            for ((local, coef), p) in split.iter().zip(&parts) {
                assert_eq!(local.len(), p.log_size());
                let mut block = Vec::new();
                for r in p.row0..p.row0 + (1 << p.log_rows) {
                    for c in p.col0..p.col0 + (1 << p.log_cols) {
                        block.push(f_from_i64(data[r * cols + c]));
                    }
                }
                got += *coef * eval_mle_base(&block, local);
            }
            assert_eq!(got, want, "{rows}x{cols}");
            // A shift δ between two parts changes the sum unless δ·(coef_0 − coef_1·c) = 0:
            // with both coefficients nonzero at a random point, only the one compensating
            // shift keeps the sum — that is what the batched opening (betas drawn after
            // the part values) has to catch.
            if split.len() >= 2 {
                assert!(split.iter().all(|(_, c)| *c != E::ZERO));
            }
        }
        for bad in [0, lr + lc + 1, lr + lc + 7] {
            if bad != lr + lc {
                assert!(split_weight_claim(rows, cols, &rnd_e(9, bad)).is_none());
            }
        }
    }
}

fn packed_setup(graph: Graph, params: zkgrad_pcs::PcsParams) -> Setup {
    let s = setup_with(graph, 12, 3, params);
    let l = weight_packing(&s.q, &s.params).expect("packed");
    let parts: usize =
        s.q.weights
            .iter()
            .map(|w| weight_parts(w.rows, w.cols).len())
            .sum();
    assert_eq!(l.blocks.len(), parts);
    s
}

/// A 600 × 24 embedding table read by the embedding and a tied LM head: one weight of 8 parts
/// (600 = 512 + 64 + 16 + 8, 24 = 16 + 8), packed with `whir_small`.
fn tied_setup() -> Setup {
    // Folding 4 (not the default 5): its smaller opening estimate at 2^14 values packs this
    // single tensor, which is the case under attack.
    let mut params = whir_small();
    if let Some(w) = &mut params.whir {
        w.folding = 4;
    }
    let mut s = packed_setup(common::transformer::embedding(4, 600, 24, true), params);
    assert_eq!(s.q.weights.len(), 1);
    s.input = vec![599, 0, 517, 583];
    s.input_f = s.input.iter().map(|&v| v as f64).collect();
    s
}

/// Powers of two, binary digits, biases with one row: (256, 300), (1, 256), (128, 256),
/// (1, 128), (100, 128), (1, 100) — packed by Ligero's rule (many tensors).
fn chain_setup() -> Setup {
    packed_setup(chain(&[300, 256, 128, 100], true), small_params())
}

/// The real entries at the corners of every part of weight `wi` (row-major indices).
fn part_corners(s: &Setup, wi: usize) -> Vec<usize> {
    let w = &s.q.weights[wi];
    let mut out = Vec::new();
    for p in weight_parts(w.rows, w.cols) {
        let (r1, c1) = (
            p.row0 + (1 << p.log_rows) - 1,
            p.col0 + (1 << p.log_cols) - 1,
        );
        out.push(p.row0 * w.cols + p.col0);
        if (r1, c1) != (p.row0, p.col0) {
            out.push(r1 * w.cols + c1);
        }
    }
    out
}

/// A weight changed by one quantum at `at`: proving with it, whether committed honestly to
/// its own root or proven against the original's, never verifies against the original root.
fn changed_weight_rejected(s: &Setup, wi: usize, at: usize) {
    let mut q2 = s.q.clone();
    q2.weights[wi].data[at] += 1;
    let m2 = CommittedModel::new(&q2, &s.params);
    assert_ne!(
        m2.root(),
        s.model.root(),
        "weight {wi} entry {at} not committed"
    );
    let root = s.model.root();
    for (q, m) in [(&q2, &m2), (&s.q, &m2)] {
        let p = prove(q, m, &s.input, &s.params).unwrap().proof;
        assert!(
            verify(&s.q, &root, &p.input, &p.output, &p.body, &s.params).is_err(),
            "FORGERY: weight {wi} entry {at} +1 accepted"
        );
    }
}

#[test]
fn tied_table_every_part_binds() {
    let s = tied_setup();
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    for at in part_corners(&s, 0) {
        changed_weight_rejected(&s, 0, at);
    }
}

#[test]
fn chain_every_part_binds() {
    let s = chain_setup();
    let p = prove_ok(&s).proof;
    check(&s, &p).unwrap();
    for wi in 0..s.q.weights.len() {
        let corners = part_corners(&s, wi);
        // The last corners are those of the smallest parts.
        for &at in corners.iter().rev().take(4) {
            changed_weight_rejected(&s, wi, at);
        }
    }
}

#[test]
fn planted_padding_is_not_committed_in_packed_weights() {
    // An owner who plants values where a tensor's padding used to be stored: packed, the
    // padding is not in the table at all — the root is the honest one, and proofs are about
    // the zero-padded weights (the prover reads them back from the parts).
    for s in [tied_setup(), chain_setup()] {
        let planted = CommittedModel::from_padded(&s.q, &s.params, &|wi| {
            let w = &s.q.weights[wi];
            let lc = log2_ceil(w.cols);
            let mut v = weight_values(&s.q, wi).0;
            for (i, x) in v.iter_mut().enumerate() {
                if i >> lc >= w.rows || i & ((1 << lc) - 1) >= w.cols {
                    *x = f_from_i64(1 << 20);
                }
            }
            v
        });
        assert_eq!(
            planted.root(),
            s.model.root(),
            "padding reached the commitment"
        );
        let p = prove(&s.q, &planted, &s.input, &s.params).unwrap().proof;
        check(&s, &p).unwrap();
        assert_eq!(p.output, prove_ok(&s).proof.output);
    }
}

#[test]
fn single_packed_tensor_hashes_the_packed_label() {
    // A circuit of ONE weight tensor packed (here with whir_small) has as many roots as
    // tensors: the root's preimage names the layout from `weight_packing`, not from the count,
    // so it is not the per-tensor commitment of the same table.
    let s = tied_setup();
    assert_eq!(s.model.tensors.len(), 1);
    assert_eq!(s.q.weights.len(), 1);
    assert!(zkgrad_verifier::protocol::weight_packing(&s.q, &s.params).is_some());
    let r = weights_root(&s.q, &[s.model.tensors[0].root], &s.params);
    assert_eq!(r, s.model.root());
    let mut h = blake3::Hasher::new();
    h.update(zkgrad_verifier::WEIGHTS_DOMAIN);
    h.update(&s.params.to_bytes());
    h.update(b"per-tensor");
    h.update(&1u64.to_le_bytes());
    h.update(&1u64.to_le_bytes());
    let w = &s.q.weights[0];
    h.update(&(w.rows as u64).to_le_bytes());
    h.update(&(w.cols as u64).to_le_bytes());
    h.update(&s.model.tensors[0].root);
    assert_ne!(*h.finalize().as_bytes(), r);
}

fn is_parts_error(e: &VerifyError) -> bool {
    matches!(e, VerifyError::Node { why, .. } if *why == "its parts do not sum to the claim")
}

fn is_weight_opening(e: &VerifyError) -> bool {
    matches!(
        e,
        VerifyError::Opening {
            which: "weight",
            ..
        }
    )
}

/// Verifies `body` without letting a panic escape: `Err(())` for a panic.
fn verify_body(
    s: &Setup,
    p: &zkgrad_verifier::ProofFile,
    body: &[u8],
) -> Result<Result<(), VerifyError>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verify(&s.q, &p.weight_root, &p.input, &p.output, body, &s.params).map(|_| ())
    }))
    .map_err(|_| ())
}

/// Byte ranges of the proof's part values ("pcs/weights/part"), located by flipping bytes:
/// a flip there fails the verifier's Σ coef_p·v_p = v check.
fn part_value_bytes(s: &Setup, p: &zkgrad_verifier::ProofFile) -> Vec<usize> {
    let n = p.body.len();
    let flipped = |i: usize| {
        let mut b = p.body.clone();
        b[i] ^= 0x01;
        verify_body(s, p, &b).expect("verifier panicked on a flipped byte")
    };
    // The part values lie just before the weight opening: binary search for its start
    // (flips after it fail in the weight opening), then scan back.
    let (mut lo, mut hi) = (0usize, n - 1);
    assert!(flipped(n - 1).as_ref().err().is_some_and(is_weight_opening));
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if flipped(mid).as_ref().err().is_some_and(is_weight_opening) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut out = Vec::new();
    let mut i = hi;
    let mut miss = 0;
    while i > 0 && miss < 64 {
        i -= 1;
        let r = flipped(i);
        assert!(r.is_err(), "FORGERY: flipped byte {i} accepted");
        if r.as_ref().err().is_some_and(is_parts_error) {
            out.push(i);
            miss = 0;
        } else if !out.is_empty() {
            miss += 1;
        }
    }
    out.sort();
    out
}

#[test]
fn tampered_or_truncated_part_values_are_rejected_without_panic() {
    for s in [tied_setup(), chain_setup()] {
        let p = prove_ok(&s).proof;
        let bytes = part_value_bytes(&s, &p);
        // Expected: 16 bytes (one extension element) per part of every claim on a tensor of
        // several parts.
        assert!(!bytes.is_empty(), "no part value found");
        let (first, last) = (bytes[0], *bytes.last().unwrap());
        eprintln!(
            "part values: {} bytes in {first}..={last} of {}",
            bytes.len(),
            p.body.len()
        );
        assert_eq!(bytes.len() % 16, 0);
        // Truncation anywhere around them (and a sample elsewhere): an error, never a panic.
        let n = p.body.len();
        let mut cuts: Vec<usize> = (first.saturating_sub(64)..(last + 64).min(n)).collect();
        cuts.extend((0..n).step_by((n / 300).max(1)));
        for cut in cuts {
            let r = verify_body(&s, &p, &p.body[..cut]);
            assert!(matches!(r, Ok(Err(_))), "cut at {cut}: {r:?}");
        }
        // Swapping two part values (a shift between parts that keeps their multiset), or
        // moving one part's value into another claim's slot: rejected.
        for k in 0..bytes.len() / 16 - 1 {
            let (a, b) = (first + 16 * k, first + 16 * (k + 1));
            let mut body = p.body.clone();
            let va: Vec<u8> = body[a..a + 16].to_vec();
            let vb: Vec<u8> = body[b..b + 16].to_vec();
            if va == vb {
                continue;
            }
            body[a..a + 16].copy_from_slice(&vb);
            body[b..b + 16].copy_from_slice(&va);
            let r = verify_body(&s, &p, &body).expect("panic");
            assert!(
                r.is_err(),
                "FORGERY: parts {k} and {} swapped accepted",
                k + 1
            );
        }
        // Extra bytes after the proof are refused too.
        let mut longer = p.body.clone();
        longer.extend_from_slice(&[0; 16]);
        assert!(verify_body(&s, &p, &longer).expect("panic").is_err());
    }
}

#[test]
fn in_place_combinations_equal_the_padded_definition() {
    // The prover combines packed weights' rows and columns straight from their parts
    // (`weight_row_combination`, `weight_col_combination`): equal, entry for entry, to the
    // combinations of the gathered padded tensor, for every weight of both packed setups
    // (binary-digit parts, one-row biases, a 600 × 24 table of 8 parts, a part of two row
    // bands).
    // (600, 300)'s 512 x 256 part spans two bands of rows (ROW_BAND = 2^16 entries).
    let wide = packed_setup(chain(&[300, 600, 100, 50], true), small_params());
    for s in [chain_setup(), tied_setup(), wide] {
        for (wi, w) in s.q.weights.iter().enumerate() {
            let (lr, lc) = (log2_ceil(w.rows), log2_ceil(w.cols));
            let padded = s.model.weight_values(wi, w.rows, w.cols);
            let by_row = rnd_e(wi as u64 + 3, 1 << lr);
            let by_col = rnd_e(wi as u64 + 5, 1 << lc);
            let mut want_rows = vec![E::ZERO; 1 << lc];
            let mut want_cols = vec![E::ZERO; 1 << lr];
            for r in 0..1usize << lr {
                for c in 0..1usize << lc {
                    let v = padded[(r << lc) + c];
                    want_rows[c] += by_row[r] * v;
                    want_cols[r] += by_col[c] * v;
                }
            }
            let got_rows = s.model.weight_row_combination(wi, w.rows, w.cols, &by_row);
            let got_cols = s.model.weight_col_combination(wi, w.rows, w.cols, &by_col);
            assert_eq!(got_rows, want_rows, "weight {wi}: {} x {}", w.rows, w.cols);
            assert_eq!(got_cols, want_cols, "weight {wi}: {} x {}", w.rows, w.cols);
        }
    }
}

#[test]
fn packed_table_from_unpadded_rows_is_the_padded_definition() {
    // `commit_weights` reads the packed parts straight from each tensor's unpadded rows; the
    // root must be the one committed from the padded tables (`commit_weight_tables`).
    use zkgrad_verifier::protocol::{commit_weight_tables, commit_weights};
    for s in [chain_setup(), tied_setup()] {
        let (direct, l1) = commit_weights(&s.q, &s.params);
        let (padded, l2) = commit_weight_tables(&s.q, &s.params, &|wi| weight_values(&s.q, wi).0);
        assert!(l1.is_some() && l1 == l2);
        assert_eq!(direct.len(), 1);
        assert_eq!(direct[0].root, padded[0].root);
        assert_eq!(direct[0].values(), padded[0].values());
    }
}
