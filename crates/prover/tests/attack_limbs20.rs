//! Adversarial review of proof format v9: 20-bit limbs (16-bit before).
//!
//! Since v9 a range check `a + offset ∈ [0, 2^b)` of up to 20 bits reads its own table
//! `Range{b}` by one lookup (a 17–20-bit check on a large tensor used to take a 16-bit and a
//! narrower limb), and a wider one on a tensor of more than 1,024 entries is split into limbs of
//! 20 bits and a top limb of `b − 20(n−1)` (`layout::Decomposition`), recomposed by
//! `a + offset = Σ_k 2^(20k)·limb_k` at a random point; a remainder so split is *defined* by its
//! limbs. The 2^20 table is read densely, so with WHIR its multiplicities are committed.
//!
//! Every circuit that must have 20-bit limbs carries a *booster*: a second public input of
//! 2^20 zeros rounded by 20 bits (the public output), so that its wide range checks read 2^20
//! values — the circuits then take 20-bit limbs whether the limb width is fixed at 20 or chosen
//! per circuit by the number of values its wide checks read (16 below 2^20). Each such test
//! asserts the widths it attacks. The tests without a booster read the widths from the
//! decompositions and hold for any width.
//!
//! Each test is a cheating prover named for the attack it shows rejected, with the honest proof
//! of the same setup as a control. Cheating witnesses go through the honest prover's mechanics
//! (`prove_witness`). Limbs are computed by the prover from the value they split
//! (`((v + offset) >> shift_k) & mask_k`), so a cheater's limbs are *planted* over the real
//! entries with `Witness::padding` (it writes any index of the committed block); the clear or
//! committed multiplicities are counted from the integer witness, so a cheater also chooses
//! which table entry an out-of-table value is counted as (or none) by the integer value it
//! leaves there. Every cheat satisfies the recomposition (and, where stated, the rounding) mod
//! p — checked here with the field's arithmetic — so what rejects it is the lookup binding
//! each limb to its table: the LogUp identity, or with clear multiplicities their count.
//!
//! Schemes: Ligero (multiplicities sparse, in clear) and WHIR (at the small test parameters; the
//! 2^20 table's multiplicities committed where it is read 2^20 times, or with `whir_dense20`).
//!
//! Not reached from here: committed multiplicities that are not counts (any field element):
//! the prover's API commits counts of the integer witness. They cannot help either: a value
//! `v` outside the table read `c < p` times is a pole of the value side with residue `c ≠ 0`,
//! which no combination of the table side's poles (its entries) cancels (SECURITY.md R7).

mod common;
use common::*;
use zkgrad_circuit::layout::{Decomposition, Operand, LIMB_MIN_LEN};
use zkgrad_circuit::table::{ActKind, TableKind};
use zkgrad_circuit::{QConfig, QGraph, QNode, QOp, QTensor, TensorKind};
use zkgrad_field::codec::{Reader, Writer};
use zkgrad_model::train::{sgd_step, Loss, SgdSpec, TrainConfig};
use zkgrad_model::{quantize_input, Witness};
use zkgrad_pcs::{PcsParams, Scheme};
use zkgrad_prover::{prove_witness, CommittedModel, ProveOutput};
use zkgrad_verifier::protocol::committed_tables;
use zkgrad_verifier::VerifyError;

const P: i128 = 0xFFFF_FFFF_0000_0001;
const E20: i128 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Field arithmetic on canonical representatives in [0, p).

fn fmod(v: i128) -> i128 {
    v.rem_euclid(P)
}

fn fmul(a: i128, b: i128) -> i128 {
    ((fmod(a) as u128 * fmod(b) as u128) % P as u128) as i128
}

fn finv(a: i128) -> i128 {
    let (mut r, mut b, mut e) = (1, fmod(a), (P - 2) as u128);
    while e > 0 {
        if e & 1 == 1 {
            r = fmul(r, b);
        }
        b = fmul(b, b);
        e >>= 1;
    }
    r
}

/// The signed representative of `v mod p`, as the witness stores field elements.
fn fe(v: i128) -> i64 {
    let r = fmod(v);
    (if r > P / 2 { r - P } else { r }) as i64
}

/// Whether the field element `v` is an entry of `Range{bits}`.
fn in_table(v: i128, bits: u32) -> bool {
    fmod(v) < 1i128 << bits
}

/// A decomposition's limb widths and their weights' exponents (`Σ_{j<k} width_j`).
#[derive(Clone, Debug)]
struct Limbs {
    widths: Vec<u32>,
    shifts: Vec<u32>,
}

impl Limbs {
    fn of(dec: &Decomposition) -> Self {
        let widths: Vec<u32> = (0..dec.n_limbs()).map(|k| dec.limb_bits(k)).collect();
        let shifts = widths
            .iter()
            .scan(0, |s, &w| {
                let at = *s;
                *s += w;
                Some(at)
            })
            .collect();
        Limbs { widths, shifts }
    }
    fn top(&self) -> usize {
        self.widths.len() - 1
    }
    /// `Σ_k 2^shift_k·limb_k mod p`.
    fn recompose(&self, limbs: &[i128]) -> i128 {
        limbs
            .iter()
            .zip(&self.shifts)
            .fold(0, |acc, (&l, &s)| fmod(acc + fmul(l, 1i128 << s)))
    }
    /// `limbs` with limb `j` solved (a field element) so that they recompose `target` mod p.
    fn solve(&self, target: i128, limbs: &[i128], j: usize) -> Vec<i128> {
        let mut l = limbs.to_vec();
        l[j] = 0;
        let rest = self.recompose(&l);
        l[j] = fmul(target - rest, finv(1i128 << self.shifts[j]));
        l
    }
    /// The honest limbs of `v + offset`.
    fn honest(&self, dec: &Decomposition, v: i64) -> Vec<i128> {
        let x = v as i128 + dec.offset as i128;
        self.widths
            .iter()
            .zip(&self.shifts)
            .map(|(&w, &s)| (x >> s) & ((1 << w) - 1))
            .collect()
    }
    fn outside(&self, limbs: &[i128]) -> bool {
        limbs
            .iter()
            .zip(&self.widths)
            .any(|(&l, &w)| !in_table(l, w))
    }
}

// ---------------------------------------------------------------------------------------------
// Setups.

/// WHIR committing the multiplicities of the 2^20 table of small circuits (a few thousand
/// reads): `commit_mults_ratio` 10 commits a table of up to 2^10 times its reads (the default
/// ratio, 4, does so from 2^18 reads).
fn whir_dense20() -> PcsParams {
    let mut p = whir_small();
    if let Some(w) = p.whir.as_mut() {
        w.commit_mults_ratio = 10;
    }
    p
}

fn both_schemes() -> [(PcsParams, &'static str); 2] {
    [(small_params(), "Ligero"), (whir_small(), "WHIR")]
}

struct Case {
    q: QGraph,
    params: PcsParams,
    model: CommittedModel,
    public: Vec<i64>,
}

impl Case {
    fn new(q: QGraph, params: PcsParams, public: Vec<i64>) -> Self {
        let model = CommittedModel::new(&q, &params);
        Case {
            q,
            params,
            model,
            public,
        }
    }
    fn honest(&self) -> Witness {
        zkgrad_model::forward(&self.q, &self.public).unwrap()
    }
    fn prove(&self, w: Witness) -> ProveOutput {
        prove_witness(&self.q, &self.model, w, &self.params)
    }
    fn check_body(&self, out: &ProveOutput, body: &[u8]) -> Result<(), VerifyError> {
        let p = &out.proof;
        zkgrad_verifier::verify(
            &self.q,
            &self.model.root(),
            &p.input,
            &p.output,
            body,
            &self.params,
        )
        .map(|_| ())
    }
    fn verify(&self, w: Witness) -> Result<(), VerifyError> {
        let out = self.prove(w);
        self.check_body(&out, &out.proof.body)
    }
    fn decomp(&self, d: usize) -> (Decomposition, Limbs) {
        let dec = self.q.decompositions()[d].clone();
        let l = Limbs::of(&dec);
        (dec, l)
    }
    /// Whether used table `Range{bits}` has its multiplicities committed.
    fn committed(&self, bits: u32) -> bool {
        let committed = committed_tables(&self.q, &self.q.lookups(), &self.params);
        self.q
            .used_tables()
            .iter()
            .any(|(ti, t)| *t == TableKind::Range { bits } && committed[*ti])
    }
    /// The operands the lookups into `Range{bits}` read.
    fn readers(&self, bits: u32) -> Vec<Operand> {
        let tables = self.q.used_tables();
        self.q
            .lookups()
            .iter()
            .filter(|l| tables[l.table].1 == TableKind::Range { bits })
            .map(|l| l.a)
            .collect()
    }
    /// Plants the field element `v` as operand `op`'s real entry `i` (row-major).
    fn plant(&self, w: &mut Witness, op: Operand, i: usize, v: i128) {
        let t = self.q.operand_tensor(op);
        assert!(i < t.len());
        w.padding.push((op, t.pad_index(i), fe(v)));
    }
    /// Plants `limbs` as decomposition `d`'s limbs of entry `i`.
    fn plant_limbs(&self, w: &mut Witness, d: usize, i: usize, limbs: &[i128]) {
        for (k, &l) in limbs.iter().enumerate() {
            self.plant(w, Operand::Limb(d, k as u32), i, l);
        }
    }
}

fn config() -> QConfig {
    QConfig {
        act_frac: 10,
        weight_frac: 20,
        table_bits: 20,
    }
}

/// The booster's shape: 2^20 values, whose rounding by 20 bits is a wide range check.
const BOOST: (usize, usize) = (1024, 1024);

/// A circuit built as a proof file would describe it: every tensor `rows × cols` but the
/// booster's; tensor 0 the public input.
struct Builder {
    q: QGraph,
}

impl Builder {
    fn new(rows: usize, cols: usize) -> Self {
        let mut b = Builder {
            q: QGraph {
                config: config(),
                tensors: Vec::new(),
                nodes: Vec::new(),
                weights: vec![],
                tables: vec![],
                output: 0,
            },
        };
        b.tensor(rows, cols, TensorKind::Public, 20);
        b
    }
    fn tensor(&mut self, rows: usize, cols: usize, kind: TensorKind, bits: u32) -> usize {
        self.q.tensors.push(QTensor {
            name: String::new(),
            rows,
            cols,
            frac: 10,
            kind,
            bits,
        });
        self.q.tensors.len() - 1
    }
    fn node(&mut self, op: QOp, kind: TensorKind, bits: u32) -> usize {
        let (rows, cols) = (self.q.tensors[0].rows, self.q.tensors[0].cols);
        self.q.nodes.push(QNode {
            name: format!("n{}", self.q.nodes.len()),
            op,
        });
        self.tensor(rows, cols, kind, bits)
    }
    /// The kind of the last tensor of the attacked part: the public output, or committed
    /// (range-checked to 20 bits) when the booster is the output.
    fn out_kind(boost: bool) -> TensorKind {
        if boost {
            TensorKind::Committed
        } else {
            TensorKind::Public
        }
    }
    /// With `boost`, appends a second public input of [`BOOST`] values and its rounding by 20
    /// bits as the public output. Encoded and decoded by the validator, which must accept it.
    fn finish(mut self, out: usize, boost: bool) -> QGraph {
        self.q.output = out;
        if boost {
            self.q.nodes.push(QNode {
                name: "boost".into(),
                op: QOp::Input { index: 1 },
            });
            let z = self.tensor(BOOST.0, BOOST.1, TensorKind::Public, 20);
            self.q.nodes.push(QNode {
                name: "boost/round".into(),
                op: QOp::Requant { x: z, shift: 20 },
            });
            self.q.output = self.tensor(BOOST.0, BOOST.1, TensorKind::Public, 20);
        }
        QGraph::from_description(&self.q.describe()).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The public data: the attacked part's input, then the booster's zeros.
fn public(x: Vec<i64>, boost: bool) -> Vec<i64> {
    let mut v = x;
    if boost {
        v.resize(v.len() + BOOST.0 * BOOST.1, 0);
    }
    v
}

/// `y = round(x / 2^shift)` of the input: the remainder `x + 2^(shift−1) − 2^shift·y` is the
/// only committed value (with `boost`, `y` too). On a large tensor, a remainder up to the limb
/// width is read by `Range{shift}` directly; wider, it is defined by its limbs.
fn round_circuit(shift: u32, rows: usize, cols: usize, boost: bool) -> QGraph {
    let mut b = Builder::new(rows, cols);
    let y = b.node(QOp::Requant { x: 0, shift }, Builder::out_kind(boost), 20);
    b.finish(y, boost)
}

/// `t2 = 2^41·x` committed with a 62-bit range check (20-bit limbs: 20, 20, 20, 2 bits), and
/// `t3 = round(t2 / 2^41)` (= x), its 41-bit remainder defined by limbs (20, 20, 1).
fn wide_circuit(boost: bool) -> QGraph {
    let mut b = Builder::new(2, 1000);
    let t1 = b.node(QOp::Scale { x: 0, c: 1 << 41 }, TensorKind::Virtual, 20);
    let t2 = b.node(QOp::Requant { x: t1, shift: 0 }, TensorKind::Committed, 62);
    let t3 = b.node(
        QOp::Requant { x: t2, shift: 41 },
        Builder::out_kind(boost),
        20,
    );
    b.finish(t3, boost)
}

/// A committed tensor range-checked to `bits` (the input rounded by 0), and its rounding by
/// `bits − 20`.
fn range_circuit(bits: u32, rows: usize, cols: usize, boost: bool) -> QGraph {
    let mut b = Builder::new(rows, cols);
    let t1 = b.node(QOp::Requant { x: 0, shift: 0 }, TensorKind::Committed, bits);
    let shift = bits.saturating_sub(20);
    let t2 = b.node(QOp::Requant { x: t1, shift }, Builder::out_kind(boost), 20);
    b.finish(t2, boost)
}

/// `n` values in `[−2^19, 2^19)`, starting with `first`.
fn input_with(first: &[i64], n: usize) -> Vec<i64> {
    let mut v = first.to_vec();
    v.extend(
        rnd(99, n - first.len())
            .into_iter()
            .map(|f| (f * (1 << 19) as f64) as i64),
    );
    v
}

fn is_identity_failure(r: &Result<(), VerifyError>) -> bool {
    matches!(
        r,
        Err(VerifyError::Lookups(
            "looked-up values are not all in their tables"
        ))
    )
}

fn is_count_failure(r: &Result<(), VerifyError>) -> bool {
    matches!(
        r,
        Err(VerifyError::Lookup {
            why: "multiplicities do not count every lookup",
            ..
        })
    )
}

/// A cheat whose every table read is counted (its out-of-table values counted as some table
/// entry by the integer witness): rejected by the LogUp identity, whatever the scheme.
fn assert_identity_rejects(r: &Result<(), VerifyError>, what: &str) {
    assert!(
        is_identity_failure(r),
        "{what}: expected the LogUp identity to refuse it, got {r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. The plan: which checks are direct lookups, which are limbs, and their widths.

#[test]
fn plan_reads_checks_up_to_20_bits_directly_and_splits_wider_ones_into_20_bit_limbs_below_p() {
    for bits in 2..=62u32 {
        for (rows, cols, boost) in [
            (2, 1000, true),
            (1, LIMB_MIN_LEN, true),
            (1, LIMB_MIN_LEN + 1, true),
            (2, 1000, false),
        ] {
            let q = range_circuit(bits, rows, cols, boost);
            let what = format!("{bits} bits, {rows}x{cols}, boost {boost}");
            let tables = q.used_tables();
            let lookups = q.lookups();
            let decomps = q.decompositions();
            let mine: Vec<(usize, &Decomposition)> = decomps
                .iter()
                .enumerate()
                .filter(|(_, d)| d.a == Operand::Tensor(1))
                .collect();
            // The booster's remainder (20 bits on 2^20 values) is read directly.
            if boost {
                assert!(decomps.iter().all(|d| d.rows * d.cols < 1 << 20), "{what}");
            }
            let large = rows * cols > LIMB_MIN_LEN;
            let [(d, dec)] = mine[..] else {
                // One lookup of the value itself into the table of exactly its width: for a
                // booster circuit, every check up to 20 bits (v9), and any on a small tensor.
                assert!(mine.is_empty(), "{what}");
                assert!(!large || bits <= 20, "{what}: not split");
                let l = lookups.iter().find(|l| l.a == Operand::Tensor(1)).unwrap();
                assert_eq!(tables[l.table].1, TableKind::Range { bits }, "{what}");
                assert_eq!(l.offset, 1i64 << (bits - 1));
                continue;
            };
            assert!(large, "{what}: a small tensor is never split");
            assert_eq!((dec.offset, dec.bits), (1i64 << (bits - 1), bits));
            let l = Limbs::of(dec);
            let w = &l.widths;
            let limb = w[0].max(*w.last().unwrap());
            if boost {
                assert_eq!(limb, 20, "{what}: 20-bit limbs where 2^20 values are read");
            }
            assert!(bits > limb, "{what}: split only past the limb width");
            assert_eq!(w.len() as u32, bits.div_ceil(limb), "{what}");
            assert!(w[..l.top()].iter().all(|&x| x == limb), "{w:?}");
            assert!((1..=limb).contains(&w[l.top()]), "{w:?}");
            assert_eq!(w.iter().sum::<u32>(), bits);
            // Each limb k is read from Range{width_k}, by exactly one lookup, in full.
            for (k, &wk) in w.iter().enumerate() {
                let ls: Vec<_> = lookups
                    .iter()
                    .filter(|l| l.a == Operand::Limb(d, k as u32))
                    .collect();
                assert_eq!(ls.len(), 1, "{what}");
                assert_eq!(tables[ls[0].table].1, TableKind::Range { bits: wk });
                assert_eq!((ls[0].offset, ls[0].b), (0, None));
            }
            // Every limb at its table's last entry recomposes 2^bits − 1 < 2^62 < p, so the
            // limbs' sum is an integer in [0, 2^bits); the first value past the top limb's
            // table, 2^top at weight 2^shift_top, is exactly 2^bits.
            let max: Vec<i128> = w.iter().map(|&x| (1i128 << x) - 1).collect();
            assert_eq!(l.recompose(&max), (1i128 << bits) - 1);
            assert_eq!((1i128 << w[l.top()]) << l.shifts[l.top()], 1i128 << bits);
            assert!((1i128 << bits) <= 1i128 << 62 && (1i128 << 62) < P);
        }
    }
}

#[test]
fn hostile_descriptions_past_62_bits_are_refused() {
    // A width or shift past 62 would let the limbs (four of 20 bits and a top limb of 3 or 4
    // bits) sum past p: the validator refuses them before any plan is made.
    let ok = range_circuit(62, 2, 1000, true);
    for bits in [63u32, 64, 80, u32::MAX] {
        let mut q = ok.clone();
        q.tensors[1].bits = bits;
        assert!(
            QGraph::from_description(&q.describe()).is_err(),
            "a {bits}-bit range check accepted"
        );
    }
    for shift in [61u32, 62, 63, 64, 100] {
        let mut q = round_circuit(20, 2, 1000, true);
        q.nodes[0].op = QOp::Requant { x: 0, shift };
        assert!(
            QGraph::from_description(&q.describe()).is_err(),
            "a rounding by {shift} bits of a 20-bit output accepted"
        );
    }
    // shift + width ≤ 62 (R1): a 20-bit output allows a 42-bit remainder (20, 20, 2), not 43.
    let q = round_circuit(42, 2, 1000, true);
    let d = &q.decompositions()[0];
    assert_eq!(d.defined_rem(), Some(0));
    assert_eq!(Limbs::of(d).widths, vec![20, 20, 2]);
    let mut bad = q.clone();
    bad.nodes[0].op = QOp::Requant { x: 0, shift: 43 };
    assert!(bad.check_relations().is_err());
    assert!(QGraph::from_description(&bad.describe()).is_err());
    // Every remainder width accepted on a large tensor: read directly up to 20 bits, else
    // limbs of 20 bits and a top limb.
    for shift in 1..=42u32 {
        let q = round_circuit(shift, 2, 1000, true);
        let decomps = q.decompositions();
        if shift <= 20 {
            assert!(decomps.is_empty());
            assert_eq!(q.used_tables()[0].1, TableKind::Range { bits: shift });
        } else {
            let l = Limbs::of(&decomps[0]);
            assert_eq!(l.widths.iter().sum::<u32>(), shift);
            assert!(l.widths[..l.top()].iter().all(|&w| w == 20));
            assert_eq!(decomps[0].defined_rem(), Some(0));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Direct lookups of 17–20 bits (v8: a 16-bit limb and a narrower one).

/// `round_circuit(shift)` over 2^20 values (a direct lookup into `Range{shift}`) whose rounding
/// is moved by one at entry 0 (`x = −2^(shift−1)`, remainder 0: `y − 1` needs `rem = 2^shift`)
/// and entry 1 (`x = 2^(shift−1) − 1`, remainder `2^shift − 1`: `y + 1` needs `rem = −1`): the
/// values just past each edge of the table. The rounding holds over the integers (the output
/// is public, the claimed `round(x/2^shift)` false); the remainder is counted as the integer
/// witness says: not at all (the prover's own count skips it), or as the table's entry 0 or
/// `2^shift − 1` (its low bits, or the other edge).
fn edge_remainders_rejected(shift: u32, params: PcsParams, name: &str) {
    let half = 1i64 << (shift - 1);
    let mut x = vec![0; BOOST.0 * BOOST.1];
    x[..2].copy_from_slice(&[-half, half - 1]);
    let c = Case::new(round_circuit(shift, BOOST.0, BOOST.1, false), params, x);
    assert!(c.q.decompositions().is_empty(), "read directly, not split");
    assert_eq!(c.readers(shift), vec![Operand::Rem(0)]);
    let honest = c.honest();
    let rem = honest.rems[0].as_ref().unwrap();
    assert_eq!((rem[0], rem[1]), (0, (1 << shift) - 1), "the table's edges");
    c.verify(honest.clone())
        .unwrap_or_else(|e| panic!("{name}: honest proof at the edges: {e}"));
    let committed = c.committed(shift);
    for (i, dy, cheat) in [(0usize, -1i64, 1i64 << shift), (1, 1, -1)] {
        let y = honest.values[1][i] + dy;
        assert_eq!(
            c.public[i] + half,
            (y << shift) + cheat,
            "the rounding holds"
        );
        for counted_as in [None, Some(0i64), Some((1 << shift) - 1)] {
            let mut w = honest.clone();
            w.values[1][i] = y;
            match counted_as {
                None => w.rems[0].as_mut().unwrap()[i] = cheat,
                Some(j) => {
                    w.rems[0].as_mut().unwrap()[i] = j;
                    c.plant(&mut w, Operand::Rem(0), i, cheat as i128);
                }
            }
            let r = c.verify(w);
            let what = format!("{name}: shift {shift}, rem {cheat} counted as {counted_as:?}");
            if counted_as.is_none() && !committed {
                assert!(is_count_failure(&r), "{what}: {r:?}");
            } else {
                assert_identity_rejects(&r, &what);
            }
        }
    }
}

#[test]
fn remainder_at_2_pow_20_or_minus_1_in_a_direct_range20_lookup_rejected() {
    for (params, name) in both_schemes() {
        edge_remainders_rejected(20, params, name);
    }
}

#[test]
fn remainder_just_past_a_direct_17_bit_table_rejected() {
    // 2^17 and −1 are not in Range17 (2^17 is in the wider tables other checks read).
    edge_remainders_rejected(17, small_params(), "Ligero");
}

#[test]
fn range20_committed_multiplicities_cannot_absorb_a_value_outside_the_table() {
    // With WHIR the 2^20 table's multiplicities are field elements in the witness, with no
    // count to match: a remainder of rem + 2^(20+k) — its low 20 bits the honest remainder —
    // counted at the honest entry (what a lookup binding only the low bits would accept) or at
    // the table's last entry is refused by the identity itself.
    let mut x = vec![0; BOOST.0 * BOOST.1];
    x[..3].copy_from_slice(&[-(1 << 19), (1 << 19) - 1, 12345]);
    let c = Case::new(round_circuit(20, BOOST.0, BOOST.1, false), whir_small(), x);
    assert_eq!(c.params.scheme(), Scheme::Whir);
    assert!(c.committed(20), "Range20's multiplicities are committed");
    assert!(c.q.decompositions().is_empty());
    let honest = c.honest();
    c.verify(honest.clone()).unwrap();
    let i = 2;
    let rem = honest.rems[0].as_ref().unwrap()[i];
    // (The output is public: y − 2^k stays within its 20 bits.)
    for (k, counted) in [(0u32, rem), (0, (1 << 20) - 1), (1, rem), (18, rem)] {
        let cheat = rem as i128 + (1i128 << (20 + k));
        let mut w = honest.clone();
        w.values[1][i] -= 1i64 << k;
        w.rems[0].as_mut().unwrap()[i] = counted;
        c.plant(&mut w, Operand::Rem(0), i, cheat);
        let r = c.verify(w);
        assert_identity_rejects(&r, &format!("y − 2^{k}, rem {cheat} counted at {counted}"));
    }
}

#[test]
fn mlp_off_by_one_rounding_into_a_relu_rejected() {
    // Linear(64 → 1500) at K = 20: its rounding by 20 bits (1500 remainders: read directly by
    // Range20 with 20-bit limbs, split into limbs where the circuit takes narrower ones). The
    // pre-activation moved by ±1 through the forward hook (the ReLU and the head recomputed),
    // the remainder by ∓2^20 — counted by the prover's own mechanics, or with the committed
    // remainder (or its limbs) planted over an in-range integer one.
    let g = zkgrad_model::zoo::mlp(&[64, 1500, 4], ActKind::Relu, 3);
    for (params, name) in [(small_params(), "Ligero"), (whir_dense20(), "WHIR dense")] {
        let s = setup_with(g.clone(), 20, 5, params);
        let rn = 1;
        assert_eq!(s.q.nodes[rn].op, QOp::Requant { x: 1, shift: 20 });
        assert_eq!(s.q.tensors[rn + 1].len(), 1500);
        let c = Case::new(s.q.clone(), s.params, s.input.clone());
        let decomps = c.q.decompositions();
        let split = decomps.iter().position(|d| d.defined_rem() == Some(rn));
        match split {
            None => assert!(c.readers(20).contains(&Operand::Rem(rn))),
            Some(d) => assert!(c
                .readers(Limbs::of(&decomps[d]).widths[0])
                .contains(&Operand::Limb(d, 0))),
        }
        c.verify(c.honest()).unwrap();
        for (at, sign) in [(0usize, 1i64), (700, -1), (1499, 1)] {
            for plant in [false, true] {
                let mut rem_honest = 0;
                let mut w = lenient_forward(&c.q, &c.public, |ni, out, rem| {
                    if ni == rn {
                        let rem = rem.as_mut().unwrap();
                        rem_honest = rem[at];
                        out[at] += sign;
                        rem[at] -= sign << 20;
                    }
                });
                let cheat = (rem_honest - (sign << 20)) as i128;
                if plant {
                    w.rems[rn].as_mut().unwrap()[at] = rem_honest;
                    match split {
                        None => c.plant(&mut w, Operand::Rem(rn), at, cheat),
                        Some(d) => {
                            let (dec, l) = c.decomp(d);
                            let h = l.honest(&dec, rem_honest);
                            let limbs = l.solve(cheat, &h, l.top());
                            assert!(l.outside(&limbs));
                            c.plant_limbs(&mut w, d, at, &limbs);
                        }
                    }
                }
                let r = c.verify(w);
                let what = format!("{name}: fc1[{at}] {sign:+}, planted {plant}");
                assert!(r.is_err(), "FORGERY {what}");
                if plant {
                    assert_identity_rejects(&r, &what);
                } else if split.is_none() && !c.committed(20) {
                    assert!(is_count_failure(&r), "{what}: {r:?}");
                } else if split.is_none() {
                    assert_identity_rejects(&r, &what);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. 20-bit limbs: remainders defined by limbs, recompositions, the top limb's edge, and
// substitutions wrapping around p.

fn wide_case(params: PcsParams) -> Case {
    // Entries 2 and 3: x = 0 and −1, with room for ±1.
    Case::new(
        wide_circuit(true),
        params,
        public(input_with(&[-(1 << 19), (1 << 19) - 1, 0, -1], 2000), true),
    )
}

/// The wide circuit's decompositions: (the 62-bit check, the 41-bit remainder), in 20-bit limbs.
fn wide_decomps(c: &Case) -> (usize, usize) {
    let d = c.q.decompositions();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].a, d[0].bits, d[0].offset),
        (Operand::Tensor(2), 62, 1 << 61)
    );
    assert_eq!(Limbs::of(&d[0]).widths, vec![20, 20, 20, 2]);
    assert_eq!((d[1].defined_rem(), d[1].bits), (Some(2), 41));
    assert_eq!(Limbs::of(&d[1]).widths, vec![20, 20, 1]);
    assert!(c.readers(20).contains(&Operand::Limb(0, 2)));
    assert!(c.readers(2).contains(&Operand::Limb(0, 3)));
    assert!(c.readers(1).contains(&Operand::Limb(1, 2)));
    (0, 1)
}

#[test]
fn honest_wide_limbs_verify() {
    for (params, name) in both_schemes() {
        let c = wide_case(params);
        let (d62, d41) = wide_decomps(&c);
        assert_eq!(c.committed(20), name == "WHIR");
        let w = c.honest();
        // The remainder is 2^40: limbs (0, 0, 1), the top limb at its table's last entry.
        let (dec, l) = c.decomp(d41);
        assert_eq!(w.rems[2].as_ref().unwrap()[0], 1 << 40);
        assert_eq!(l.honest(&dec, 1 << 40), vec![0, 0, 1]);
        // x = −2^19: t2 + 2^61 = 2^60, the 62-bit check's limbs (0, 0, 0, 1).
        let (dec, l) = c.decomp(d62);
        assert_eq!(l.honest(&dec, w.values[2][0]), vec![0, 0, 0, 1]);
        c.verify(w).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn rounding_off_by_one_with_remainder_limbs_at_their_tables_edges_rejected() {
    // The committed t3 = round(2^41·x / 2^41) moved by dy = ∓1, its remainder
    // 2^40 ± 2^41 = 3·2^40 or −2^40 planted as 20-bit limbs (20, 20, 1): the middle and top
    // limbs exactly one past their tables (2^20, 2^1), the top limb 3 or −1, a Range20 limb
    // −2^20, the top limb solved under maximal lower limbs. The rounding holds over the
    // integers, the recomposition mod p.
    for (params, name) in both_schemes() {
        let c = wide_case(params);
        let (_, d41) = wide_decomps(&c);
        let (_, l) = c.decomp(d41);
        let honest = c.honest();
        for (i, dy, target, reps) in [
            (
                2usize,
                -1i64,
                3i128 << 40,
                vec![
                    vec![0, E20, 2],
                    vec![0, 0, 3],
                    l.solve(3 << 40, &[E20 - 1, E20 - 1, 0], 2),
                ],
            ),
            (3, 1, -(1i128 << 40), vec![vec![0, 0, -1], vec![0, -E20, 0]]),
        ] {
            let x = c.public[i];
            assert_eq!(honest.values[3][i], x);
            assert_eq!(
                (x as i128) * (1 << 41) + (1 << 40),
                ((x + dy) as i128) * (1 << 41) + target,
                "the rounding holds"
            );
            for limbs in reps {
                assert_eq!(l.recompose(&limbs), fmod(target), "{limbs:?}");
                assert!(l.outside(&limbs), "{limbs:?}");
                let mut w = honest.clone();
                w.values[3][i] = x + dy;
                w.rems[2].as_mut().unwrap()[i] = target as i64;
                c.plant_limbs(&mut w, d41, i, &limbs);
                assert_identity_rejects(
                    &c.verify(w),
                    &format!("{name}: y {dy:+} at x = {x}, limbs {limbs:?}"),
                );
            }
        }
    }
}

#[test]
fn no_in_table_limbs_recompose_a_value_outside_its_range() {
    // R2 for the 41-bit remainder's 20-bit limbs (20, 20, 1), exhaustively over the low limb:
    // for each value just outside [0, 2^41) (and the cheats above), every low limb in
    // [0, 2^20) and top limb in {0, 1}, the middle limb that recomposes it mod p lies outside
    // Range20.
    let inv = finv(E20);
    for target in [3i128 << 40, -(1i128 << 40), 1i128 << 41, -1] {
        for top in [0i128, 1] {
            let rest = fmod(target - (top << 40));
            for l0 in 0..E20 {
                let l1 = fmul(rest - l0, inv);
                assert!(!in_table(l1, 20), "rem {target}: ({l0}, {l1}, {top})");
            }
        }
    }
}

#[test]
fn limb_substitutions_wrapping_around_p_and_top_limb_edges_rejected() {
    // 2^(20k)·2^(64−20k) = 2^64 ≡ 2^32 − 1 (mod p): limb k of the 62-bit check raised by
    // 2^(64−20k) (the 2-bit top limb by 16) recomposes the value plus 2^32 − 1.
    // (a) An alias of the honest value: limb k + 2^(64−20k), the low limb − (2^32 − 1).
    // (b) The committed value itself moved by 2^32 − 1, limb k + 2^(64−20k) alone.
    // (c) The top limb at 2^2 (its table's edge): t2 = 2^61, so t2 + 2^61 = 2^62, the first
    //     value past the 62-bit range; and t2 + 2^61 = −1: lower limbs at 2^20 − 1, the top −1.
    let wrap = (1i128 << 32) - 1;
    for (params, name) in both_schemes() {
        let c = wide_case(params);
        let (d62, _) = wide_decomps(&c);
        let (dec, l) = c.decomp(d62);
        let honest = c.honest();
        let i = 2; // x = 0: t2 = 0, t2 + 2^61 has limbs (0, 0, 0, 2)
        let a = honest.values[2][i] as i128;
        let base = l.honest(&dec, a as i64);
        assert_eq!(base, vec![0, 0, 0, 2]);
        let mut cheats: Vec<(i128, Vec<i128>, &str)> = Vec::new();
        for k in [1usize, 3] {
            let mut alias = base.clone();
            alias[k] += 1i128 << (64 - 20 * k);
            alias[0] -= wrap;
            cheats.push((a, alias, "alias"));
            let mut moved = base.clone();
            moved[k] += 1i128 << (64 - 20 * k);
            cheats.push((a + wrap, moved, "moved"));
        }
        cheats.push((1i128 << 61, vec![0, 0, 0, 4], "2^62"));
        cheats.push((
            -(1i128 << 61) - 1,
            vec![E20 - 1, E20 - 1, E20 - 1, -1],
            "-1",
        ));
        for (value, limbs, kind) in cheats {
            assert_eq!(
                l.recompose(&limbs),
                fmod(value + dec.offset as i128),
                "{kind}"
            );
            assert!(l.outside(&limbs));
            let mut w = honest.clone();
            w.values[2][i] = fe(value);
            c.plant_limbs(&mut w, d62, i, &limbs);
            assert_identity_rejects(&c.verify(w), &format!("{name}: {kind} {limbs:?}"));
        }
    }
}

#[test]
fn limbs_outside_their_tables_in_the_padding_carry_no_mass() {
    // Padding is the prover's (only the identities over the whole padded domain bind it):
    // limbs (2^20, −1, 0) and (0, −2^21, 2) sum to 0 there, as the recomposition and the
    // rounding need, with values outside Range20, Range2 and Range1. Padded reads are masked
    // out of the LogUp sums, so this proof of the honest computation verifies; the same kind of
    // alias over a real entry (the recomposition unchanged) is counted and refused.
    for (params, name) in both_schemes() {
        let c = wide_case(params);
        let (d62, d41) = wide_decomps(&c);
        let honest = c.honest();
        let mut w = honest.clone();
        // Entry (row, col ≥ 1000) of a 2 × 1000 tensor padded to 2 × 1024.
        for (d, n) in [(d62, 4usize), (d41, 3)] {
            let (_, l) = c.decomp(d);
            for (row, col, limbs) in [
                (0usize, 1000usize, [E20, -1, 0]),
                (1, 1023, [0, -2 * E20, 2]),
            ] {
                let mut v = limbs.to_vec();
                v.resize(n, 0);
                assert_eq!(l.recompose(&v), 0);
                assert!(l.outside(&v));
                for (k, &x) in v.iter().enumerate() {
                    w.padding
                        .push((Operand::Limb(d, k as u32), row * 1024 + col, fe(x)));
                }
            }
        }
        c.verify(w)
            .unwrap_or_else(|e| panic!("{name}: padding carries no mass: {e}"));
        // The planted padding is really committed: a lone 2^20 there passes the lookups (no
        // mass) and breaks the recomposition, which refuses it.
        let mut w = honest.clone();
        w.padding.push((Operand::Limb(d62, 0), 1000, E20 as i64));
        let r = c.verify(w);
        assert!(
            matches!(
                r,
                Err(VerifyError::Node {
                    why: "limbs do not recompose the value",
                    ..
                })
            ),
            "{name}: {r:?}"
        );
        for (d, i) in [(d62, 5usize), (d41, 6)] {
            let (dec, l) = c.decomp(d);
            let v = match dec.a {
                Operand::Tensor(t) => honest.values[t][i],
                _ => honest.rems[2].as_ref().unwrap()[i],
            };
            let mut limbs = l.honest(&dec, v);
            limbs[0] += E20;
            limbs[1] -= 1;
            assert_eq!(l.recompose(&limbs), fmod(v as i128 + dec.offset as i128));
            let mut w = honest.clone();
            c.plant_limbs(&mut w, d, i, &limbs);
            assert_identity_rejects(&c.verify(w), &format!("{name}: real entry alias {limbs:?}"));
        }
    }
}

#[test]
fn remainder_limbs_of_20_and_1_bits_at_both_edges_rejected() {
    // round by 21: the remainder's limbs are (20, 1). x = 0: rem = 2^20, limbs (0, 1) (the top
    // limb at its last entry); x = −1: rem = 2^20 − 1, limbs (2^20 − 1, 0). y moved by dy,
    // rem by −dy·2^21, planted as limbs exactly at or past their tables' edges.
    for (params, name) in both_schemes() {
        let c = Case::new(
            round_circuit(21, 2, 1000, true),
            params,
            public(input_with(&[0, -1], 2000), true),
        );
        let decs = c.q.decompositions();
        assert_eq!(decs.len(), 1);
        let (dec, l) = c.decomp(0);
        assert_eq!(
            (dec.defined_rem(), l.widths.clone()),
            (Some(0), vec![20, 1])
        );
        let honest = c.honest();
        assert_eq!(
            &honest.rems[0].as_ref().unwrap()[..2],
            &[1 << 20, (1 << 20) - 1]
        );
        c.verify(honest.clone()).unwrap();
        let cheats: [(usize, i64, [i128; 2]); 5] = [
            (0, -1, [E20, 2]),     // 3·2^20: both limbs exactly one past their tables
            (0, 1, [0, -1]),       // −2^20: the top limb −1
            (0, 1, [-E20, 0]),     // the low limb −2^20
            (1, -1, [E20 - 1, 2]), // 2^21 + 2^20 − 1: the top limb at 2^1
            (1, 1, [-1, -1]),      // −2^20 − 1: both −1
        ];
        for (i, dy, limbs) in cheats {
            let rem = honest.rems[0].as_ref().unwrap()[i] as i128;
            let target = rem - ((dy as i128) << 21);
            assert_eq!(l.recompose(&limbs), fmod(target));
            let mut w = honest.clone();
            w.values[1][i] += dy;
            w.rems[0].as_mut().unwrap()[i] = target as i64;
            c.plant_limbs(&mut w, 0, i, &limbs);
            assert_identity_rejects(
                &c.verify(w),
                &format!("{name}: entry {i} y {dy:+} limbs {limbs:?}"),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A training step: the update's remainder by limbs, W' by limbs (at the limb width the
// step's circuit takes).

/// One SGD step of a 40 → 32 → 4 MLP (lr 10^-3, batch 1): the first layer's update
/// `u = round(lr·∇W)` (32 × 40, shift 26) has its remainder defined by limbs, and
/// `W' = W − u` is range-checked to 33 bits by limbs.
fn sgd_case(params: PcsParams) -> Case {
    let base = zkgrad_model::zoo::mlp(&[40, 32, 4], ActKind::Relu, 13);
    let cfg = TrainConfig {
        table_bits: 20,
        act_frac: 12,
        weight_frac: TrainConfig::WEIGHT_FRAC,
    };
    let spec = SgdSpec {
        batch: 1,
        lr: 1e-3,
        loss: Loss::Mse,
    };
    let q = sgd_step(&base, &spec, cfg).unwrap();
    let x = rnd(3, 40);
    let y: Vec<f64> = rnd(5, 4).iter().map(|v| v * 0.5).collect();
    let public: Vec<i64> = [x, y]
        .concat()
        .iter()
        .map(|&v| quantize_input(v, 12).unwrap())
        .collect();
    Case::new(q, params, public)
}

struct SgdLimbs {
    /// The update's rounding node, whose remainder decomposition `d_rem` defines.
    rn: usize,
    d_rem: usize,
    /// W' (an updated weight) and its decomposition.
    wt: usize,
    d_w: usize,
}

fn sgd_limbs(c: &Case) -> SgdLimbs {
    let decs = c.q.decompositions();
    let (d_rem, rn) = decs
        .iter()
        .enumerate()
        .find_map(|(d, dec)| dec.defined_rem().map(|n| (d, n)))
        .expect("a remainder defined by limbs");
    let (d_w, wt) = decs
        .iter()
        .enumerate()
        .find_map(|(d, dec)| match dec.a {
            Operand::Tensor(t) if c.q.tensors[t].kind == TensorKind::After => Some((d, t)),
            _ => None,
        })
        .expect("an updated weight checked by limbs");
    let QOp::Update { u, bits, .. } = c.q.nodes[wt - 1].op else {
        panic!("W' is not an update")
    };
    assert_eq!(u, rn + 1, "W' = W − u with u the limb-defined rounding");
    assert_eq!(c.q.nodes[rn].op, QOp::Requant { x: rn, shift: 26 });
    assert_eq!(decs[d_rem].bits, 26);
    assert_eq!(Limbs::of(&decs[d_rem]).widths.len(), 2);
    assert_eq!((bits, decs[d_w].bits), (33, 33));
    assert_eq!(c.q.tensors[wt].len(), 1280);
    SgdLimbs { rn, d_rem, wt, d_w }
}

/// Checks `x + 2^(s−1) ≡ 2^s·u + rem (mod p)` at entry `i` of rounding `rn`.
fn assert_rounding_holds(c: &Case, w: &Witness, rn: usize, i: usize, rem: i128) {
    let QOp::Requant { x, shift } = c.q.nodes[rn].op else {
        panic!()
    };
    let lhs = fmod(w.values[x][i] as i128 + (1i128 << (shift - 1)));
    let rhs = fmod(fmul(1i128 << shift, w.values[rn + 1][i] as i128) + rem);
    assert_eq!(lhs, rhs, "the rounding holds mod p");
}

#[test]
fn update_wraparound_with_w_prime_limbs_planted_rejected() {
    // For s = 26, p = 2^26·q + 1: u → u ± q, rem → rem ± 1 keeps the rounding mod p with the
    // remainder in range; W' = W − u then moves by ∓q (≈ 2^38), far outside its 33 bits. The
    // prover's own limbs of that W' do not recompose it (audit_update_wraparound.rs stops
    // there); here they are solved mod p so that they do, and only their tables stand in the
    // way: the low limb right and the top one ∓2^18-ish, or the top limb at its last entry (or
    // 0) and the low limb solved.
    let s_q = (P - 1) >> 26;
    for (params, name) in [
        (small_params(), "Ligero"),
        (whir_small(), "WHIR"),
        (whir_dense20(), "WHIR dense"),
    ] {
        let c = sgd_case(params);
        let sl = sgd_limbs(&c);
        let (dec, l) = c.decomp(sl.d_w);
        let honest = c.honest();
        c.verify(honest.clone())
            .unwrap_or_else(|e| panic!("{name}: honest step: {e}"));
        let mut cases = 0;
        for i in [0usize, 1279] {
            for (du, dr) in [(s_q, 1i128), (-s_q, -1)] {
                let rem = honest.rems[sl.rn].as_ref().unwrap()[i] as i128 + dr;
                if !(0..1i128 << 26).contains(&rem) {
                    continue;
                }
                let mut w = honest.clone();
                w.values[sl.rn + 1][i] = fe(w.values[sl.rn + 1][i] as i128 + du);
                w.rems[sl.rn].as_mut().unwrap()[i] = rem as i64;
                let wp = w.values[sl.wt][i] as i128 - du;
                w.values[sl.wt][i] = fe(wp);
                assert_rounding_holds(&c, &w, sl.rn, i, rem);
                let v = wp + dec.offset as i128; // an integer about ∓2^38
                assert!(!(0..1i128 << 33).contains(&v));
                // R2 exhaustively where W' has two limbs: no low limb in its table has a high
                // limb in its table.
                if l.widths.len() == 2 {
                    let inv = finv(1i128 << l.shifts[1]);
                    for l0 in 0..1i128 << l.widths[0] {
                        assert!(!in_table(fmul(v - l0, inv), l.widths[1]));
                    }
                }
                let low = v.rem_euclid(1 << l.widths[0]);
                let mut right_low = l.solve(v, &vec![0; l.widths.len()], l.top());
                right_low[0] = low;
                let right_low = l.solve(v, &right_low, l.top());
                let mut top_max = vec![0; l.widths.len()];
                top_max[l.top()] = (1 << l.widths[l.top()]) - 1;
                for limbs in [
                    right_low,
                    l.solve(v, &top_max, 0),
                    l.solve(v, &vec![0; l.widths.len()], 0),
                ] {
                    assert_eq!(l.recompose(&limbs), fmod(v));
                    assert!(l.outside(&limbs));
                    let mut w = w.clone();
                    c.plant_limbs(&mut w, sl.d_w, i, &limbs);
                    assert_identity_rejects(
                        &c.verify(w),
                        &format!("{name}: W'[{i}] moved by {} with limbs {limbs:?}", -du),
                    );
                    cases += 1;
                }
            }
        }
        assert!(cases >= 6, "{cases}");
    }
}

#[test]
fn update_rounding_moved_by_one_with_remainder_limbs_compensating_rejected() {
    // u → u ± 1 (so W' → W' ∓ 1, in range, its limbs honest), rem → rem ∓ 2^26 spread over the
    // remainder's two limbs (w0, w1): on the top limb (∓2^w1); across the low table's edge (an
    // entry whose top limb is 0 takes (L0 + 2^w0, 2^w1 − 1), one whose top limb is at its last
    // entry takes (L0 − 2^w0, 0)); or the top limb at its last entry (or 0) and the low limb
    // solved.
    for (params, name) in both_schemes() {
        let c = sgd_case(params);
        let sl = sgd_limbs(&c);
        let (dec, l) = c.decomp(sl.d_rem);
        let (w0, w1) = (l.widths[0], l.widths[1]);
        let honest = c.honest();
        let rems = honest.rems[sl.rn].as_ref().unwrap().clone();
        let top = |r: i64| r >> w0;
        // Entries whose top limb is 0, or at its last entry (20-bit limbs: 6-bit top limbs,
        // so both occur among the 1,280 remainders).
        let zero_top = rems.iter().position(|&r| top(r) == 0);
        let full_top = rems.iter().position(|&r| top(r) == (1 << w1) - 1);
        if w0 == 20 {
            assert!(zero_top.is_some() && full_top.is_some());
        }
        let mut at = vec![(100usize, 1i64), (100, -1)];
        at.extend(zero_top.map(|i| (i, -1)));
        at.extend(full_top.map(|i| (i, 1)));
        for (i, du) in at {
            let cheat = rems[i] as i128 - ((du as i128) << 26);
            let h = l.honest(&dec, rems[i]);
            let mut reps = vec![
                vec![h[0], h[1] - ((du as i128) << w1)],
                l.solve(cheat, &[0, (1 << w1) - 1], 0),
                l.solve(cheat, &[0, 0], 0),
            ];
            if Some(i) == zero_top && du == -1 {
                reps.push(vec![h[0] + (1 << w0), (1 << w1) - 1]);
            }
            if Some(i) == full_top && du == 1 {
                reps.push(vec![h[0] - (1 << w0), 0]);
            }
            for limbs in reps {
                assert_eq!(l.recompose(&limbs), fmod(cheat));
                assert!(l.outside(&limbs));
                let mut w = honest.clone();
                w.values[sl.rn + 1][i] += du;
                w.values[sl.wt][i] -= du;
                w.rems[sl.rn].as_mut().unwrap()[i] = cheat as i64;
                assert_rounding_holds(&c, &w, sl.rn, i, cheat);
                c.plant_limbs(&mut w, sl.d_rem, i, &limbs);
                assert_identity_rejects(
                    &c.verify(w),
                    &format!("{name}: u[{i}] {du:+}, remainder limbs {limbs:?}"),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The clear multiplicities of the 2^20 table and of the top limbs' narrow tables.

/// One table's clear multiplicities in a proof body: where the list lies, its entries and its
/// counts (less one, as sent).
struct ClearList {
    table: usize,
    start: usize,
    end: usize,
    entries: Vec<u64>,
    counts: Vec<u64>,
}

/// The clear multiplicities of every table, parsed from the start of the lookup section.
fn clear_lists(c: &Case, out: &ProveOutput) -> Vec<ClearList> {
    let committed = committed_tables(&c.q, &c.q.lookups(), &c.params);
    let body = &out.proof.body;
    let mut pos = out.timings.bytes[0];
    let next = |pos: &mut usize| {
        let mut r = Reader::new(&body[*pos..]);
        let v = r.varint().unwrap();
        *pos += r.position();
        v
    };
    let mut lists = Vec::new();
    for (ti, _) in c.q.used_tables() {
        if committed[ti] {
            continue;
        }
        let start = pos;
        let nnz = next(&mut pos) as usize;
        let gaps: Vec<u64> = (0..nnz).map(|_| next(&mut pos)).collect();
        let counts: Vec<u64> = (0..nnz).map(|_| next(&mut pos)).collect();
        let entries = gaps
            .iter()
            .scan(0, |j, g| {
                let e = *j + g;
                *j = e + 1;
                Some(e)
            })
            .collect();
        lists.push(ClearList {
            table: ti,
            start,
            end: pos,
            entries,
            counts,
        });
    }
    lists
}

/// `out`'s body with list `l` replaced by `entries` and `counts`.
fn with_list(out: &ProveOutput, l: &ClearList, entries: &[u64], counts: &[u64]) -> Vec<u8> {
    let mut w = Writer::new();
    w.varint(entries.len() as u64);
    let mut next = 0;
    for &e in entries {
        w.varint(e - next);
        next = e + 1;
    }
    for &m in counts {
        w.varint(m);
    }
    let body = &out.proof.body;
    [&body[..l.start], &w.bytes[..], &body[l.end..]].concat()
}

#[test]
fn clear_multiplicities_past_the_2_pow_20_table_or_the_top_limbs_tables_refused() {
    let malformed = |r: &Result<(), VerifyError>| {
        matches!(
            r,
            Err(VerifyError::Lookup {
                why: "malformed multiplicities",
                ..
            })
        )
    };
    // Range20 read directly by 2^20 remainders, including both edges; and Range20, Range2,
    // Range1 read by 20-bit limbs.
    let mut x = vec![0; BOOST.0 * BOOST.1];
    x[..2].copy_from_slice(&[-(1 << 19), (1 << 19) - 1]);
    let round = Case::new(
        round_circuit(20, BOOST.0, BOOST.1, false),
        small_params(),
        x,
    );
    let wide = wide_case(small_params());
    wide_decomps(&wide);
    let mut seen = Vec::new();
    for c in [&round, &wide] {
        assert_eq!(c.params.scheme(), Scheme::Ligero);
        let out = c.prove(c.honest());
        c.check_body(&out, &out.proof.body).unwrap();
        let tables = c.q.used_tables();
        for l in clear_lists(c, &out) {
            let TableKind::Range { bits } = tables[l.table].1 else {
                panic!("only range tables here")
            };
            seen.push(bits);
            let size = 1u64 << bits;
            let last = *l.entries.last().unwrap();
            assert!(last < size);
            if bits == 20 && std::ptr::eq(c, &round) {
                assert_eq!((l.entries[0], last), (0, size - 1), "both edges read");
            }
            let what = format!("table {} (Range{bits})", l.table);
            let check = |entries: &[u64], counts: &[u64]| {
                c.check_body(&out, &with_list(&out, &l, entries, counts))
            };
            // The last entry moved to 2^bits (one past the table), or far past it.
            for past in [size, size + 1, 1 << 40] {
                let mut e = l.entries.clone();
                *e.last_mut().unwrap() = past;
                let r = check(&e, &l.counts);
                assert!(malformed(&r), "{what}: an entry at {past}: {r:?}");
            }
            // One more entry at 2^bits, read once.
            let mut e = l.entries.clone();
            e.push(size);
            let mut m = l.counts.clone();
            m.push(0);
            let r = check(&e, &m);
            assert!(malformed(&r), "{what}: an extra entry at 2^{bits}: {r:?}");
            // A count moved to the last entry (the total still the reads): the identity.
            if l.counts.len() > 1 && l.counts[0] > 0 {
                let mut m = l.counts.clone();
                m[0] -= 1;
                *m.last_mut().unwrap() += 1;
                assert!(check(&l.entries, &m).is_err(), "{what}: a count moved");
            }
            // One count more than the reads.
            let mut m = l.counts.clone();
            *m.last_mut().unwrap() += 1;
            assert!(check(&l.entries, &m).is_err(), "{what}: a count too many");
        }
    }
    for bits in [20, 2, 1] {
        assert!(seen.contains(&bits), "Range{bits} exercised: {seen:?}");
    }
}
