//! What a proof commits to and what it looks up, derived from the [`QGraph`] alone so that
//! prover and verifier agree on it.
//!
//! Both commitments (the model's weights, the proof's witness) pack several tables into one
//! multilinear polynomial: each table of `2^k` values occupies an aligned block (its offset a
//! multiple of `2^k`), so a claim `T̃(r) = v` on a table is the claim `W̃(r ‖ bits(block)) = v`
//! on the packed polynomial.

use crate::ir::{QGraph, QOp, QTensor, TensorKind};
use crate::table::TableKind;

/// A table inside the witness commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitRef {
    /// A committed tensor.
    Tensor(usize),
    /// The remainder of the requantization at this node.
    Rem(usize),
    /// Limb `k` of decomposition `d`.
    Limb(usize, u32),
    /// The multiplicities of used table `t` (committed with WHIR only).
    Mult(usize),
}

/// One column a lookup reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Tensor(usize),
    Rem(usize),
    /// Limb `k` of decomposition `d` (see [`QGraph::decompositions`]).
    Limb(usize, u32),
}

/// A circuit whose wide range checks read at least `2^WIDE_LIMB_FROM_LOG` values takes 20-bit
/// limbs: a check up to 20 bits reads its own table, a wider one splits into 20-bit limbs and
/// a narrower top one. There a `2^20`-entry table is cheaper than the second lookup and the
/// second committed value of every 17–20-bit check: GPT-2 124M's 20-bit checks each took a
/// 16-bit and a 4-bit limb (15.8M of its 24.0M witness values, 10.5M lookups) and now take one
/// value and one lookup (prove 10.8 → 9.1 s: witness commitment 1.0 → 0.3 s, lookups 1.6 →
/// 0.9 s; BERT-6 with Ligero 1.8 → 1.0 s, its sparse multiplicities 3.86 → 4.78 MB).
pub const WIDE_LIMB_BITS: u32 = 20;
/// Below that the table would cost more than it saves (an SGD step of a 784-256-256-10 MLP at
/// batch 32 with 20-bit limbs: prove 233 → 380 ms, its Ligero proof 2.10 → 2.73 MiB — the
/// `2^20`-entry table's side and clear multiplicities outweigh its reads): 16-bit limbs, as
/// before proof format v9.
pub const NARROW_LIMB_BITS: u32 = 16;
/// See [`WIDE_LIMB_BITS`].
pub const WIDE_LIMB_FROM_LOG: u32 = 20;

/// The limb width of a circuit whose range checks wider than 16 bits, on tensors of more than
/// [`LIMB_MIN_LEN`] entries, read `wide_reads` values in all: a function of the circuit's
/// shapes, which the verifier rebuilds (the protocol id binds the circuit).
pub fn limb_bits_for(wide_reads: usize) -> u32 {
    if wide_reads >> WIDE_LIMB_FROM_LOG > 0 {
        WIDE_LIMB_BITS
    } else {
        NARROW_LIMB_BITS
    }
}
/// Range checks on tensors with more entries than this are split into limbs when wide.
pub const LIMB_MIN_LEN: usize = 1024;

/// A range check `a + offset ∈ [0, 2^bits)` done by limbs: `a + offset = Σ_k 2^(L·k)·limb_k`
/// (checked at a random point), each limb range-checked to `L = limb` bits (the top one to the
/// rest), `L` the circuit's limb width ([`limb_bits_for`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decomposition {
    pub a: Operand,
    pub offset: i64,
    pub bits: u32,
    pub rows: usize,
    pub cols: usize,
    /// The limbs' width: 16 or 20.
    pub limb: u32,
}

impl Decomposition {
    /// The requantization node whose remainder this decomposition *defines*: such a remainder
    /// is not committed itself, it is `Σ_k 2^(L·k)·limb_k` (its limbs are range-checked, so it
    /// lies in `[0, 2^shift)`), claims on it become claims on its limbs, and there is nothing
    /// to recompose.
    pub fn defined_rem(&self) -> Option<usize> {
        match self.a {
            Operand::Rem(n) if self.offset == 0 => Some(n),
            _ => None,
        }
    }
    pub fn n_limbs(&self) -> u32 {
        self.bits.div_ceil(self.limb)
    }
    /// Width of limb `k`.
    pub fn limb_bits(&self, k: u32) -> u32 {
        if k + 1 < self.n_limbs() {
            self.limb
        } else {
            self.bits - self.limb * (self.n_limbs() - 1)
        }
    }
    /// The weight of limb `k` in the sum: `2^(L·k)`.
    pub fn limb_shift(&self, k: u32) -> u32 {
        self.limb * k
    }
}

/// The decomposition that defines node `node`'s remainder ([`Decomposition::defined_rem`]),
/// and its limb count. A scan of `decomps`: a caller that asks for every node builds
/// [`rem_limbs_by_node`] once instead.
pub fn rem_limbs(decomps: &[Decomposition], node: usize) -> Option<(usize, u32)> {
    decomps
        .iter()
        .enumerate()
        .find(|(_, d)| d.defined_rem() == Some(node))
        .map(|(i, d)| (i, d.n_limbs()))
}

/// [`rem_limbs`] of every node `0..n_nodes` (with the decomposition itself), in one pass over
/// `decomps` (the first decomposition defining a remainder wins, as in [`rem_limbs`]).
pub fn rem_limbs_by_node(
    decomps: &[Decomposition],
    n_nodes: usize,
) -> Vec<Option<(usize, &Decomposition)>> {
    let mut out = vec![None; n_nodes];
    for (i, d) in decomps.iter().enumerate() {
        if let Some(slot) = d.defined_rem().and_then(|n| out.get_mut(n)) {
            if slot.is_none() {
                *slot = Some((i, d));
            }
        }
    }
    out
}

/// The lookups of a circuit, as [`QGraph::lookup_plan`] builds them.
struct Plan {
    tables: Vec<TableKind>,
    lookups: Vec<Lookup>,
    decomps: Vec<Decomposition>,
    /// The limb width of this plan.
    limb: u32,
    /// The values read by range checks wider than [`NARROW_LIMB_BITS`] on tensors of more than
    /// [`LIMB_MIN_LEN`] entries (what [`limb_bits_for`] decides by).
    wide_reads: usize,
}

impl Plan {
    fn table(&mut self, t: TableKind) -> usize {
        match self.tables.iter().position(|x| *x == t) {
            Some(i) => i,
            None => {
                self.tables.push(t);
                self.tables.len() - 1
            }
        }
    }
    fn new(limb: u32) -> Self {
        Self {
            tables: Vec::new(),
            lookups: Vec::new(),
            decomps: Vec::new(),
            limb,
            wide_reads: 0,
        }
    }
    fn range(&mut self, a: Operand, offset: i64, bits: u32, rows: usize, cols: usize) {
        let large = rows * cols > LIMB_MIN_LEN;
        if bits > NARROW_LIMB_BITS && large {
            self.wide_reads = self.wide_reads.saturating_add(rows * cols);
        }
        if bits > self.limb && large {
            let d = Decomposition {
                a,
                offset,
                bits,
                rows,
                cols,
                limb: self.limb,
            };
            let di = self.decomps.len();
            for k in 0..d.n_limbs() {
                let table = self.table(TableKind::Range {
                    bits: d.limb_bits(k),
                });
                self.lookups.push(Lookup {
                    table,
                    a: Operand::Limb(di, k),
                    offset: 0,
                    b: None,
                    rows,
                    cols,
                });
            }
            self.decomps.push(d);
        } else {
            let table = self.table(TableKind::Range { bits });
            self.lookups.push(Lookup {
                table,
                a,
                offset,
                b: None,
                rows,
                cols,
            });
        }
    }
}

/// One lookup: the values `a + offset + γ·b` (over `a`'s real entries) lie in `table`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub table: usize,
    pub a: Operand,
    pub offset: i64,
    pub b: Option<Operand>,
    /// The shape of the operands.
    pub rows: usize,
    pub cols: usize,
}

/// Blocks of a packed commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedLayout<K> {
    pub log_n: usize,
    /// `(what, log_size, block_index)`.
    pub blocks: Vec<(K, usize, usize)>,
}

impl<K: PartialEq + Copy> PackedLayout<K> {
    /// Packs tables of `2^log_size` values, largest first, each at an aligned offset.
    pub fn pack(mut items: Vec<(K, usize)>) -> Self {
        items.sort_by_key(|b| std::cmp::Reverse(b.1));
        let mut offset = 0usize;
        let mut blocks = Vec::with_capacity(items.len());
        for (k, log) in items {
            blocks.push((k, log, offset >> log));
            offset += 1 << log;
        }
        let log_n = zkgrad_poly::log2_ceil(offset.max(1));
        Self { log_n, blocks }
    }
    /// Packs tables of `2^log_size` values with no padding: into a *forest* of layouts, each
    /// exactly full. The tables, largest first, fill a layout of `2^b` values for each bit `b`
    /// of their total size, highest first (every prefix sum of descending powers of two is a
    /// multiple of the next one, so the blocks meet each layout's end exactly). A lookup GKR
    /// over one padded layout would also prove its padding: up to twice the leaves.
    pub fn pack_exact(mut items: Vec<(K, usize)>) -> Vec<Self> {
        items.sort_by_key(|b| std::cmp::Reverse(b.1));
        let size = |log: usize| 1u128 << log.min(120);
        let mut remaining: u128 = items.iter().map(|b| size(b.1)).sum();
        let mut forest = Vec::new();
        let mut rest = items.into_iter().peekable();
        while let Some(&(_, first)) = rest.peek() {
            // The highest bit of what remains (at least the next table: always, as the
            // remainder holds it).
            let log_n = (127 - remaining.max(1).leading_zeros() as usize).max(first);
            let mut offset = 0u128;
            let mut blocks = Vec::new();
            while let Some(&(k, log)) = rest.peek() {
                if offset + size(log) > size(log_n) {
                    break;
                }
                blocks.push((k, log, (offset >> log) as usize));
                offset += size(log);
                rest.next();
            }
            remaining = remaining.saturating_sub(offset);
            forest.push(Self { log_n, blocks });
        }
        forest
    }

    /// Values up to the end of the last block: the packing fills this prefix, the rest of
    /// the `2^log_n` table is zero (the commitment's *used* length, `zkgrad_pcs::commit_used`).
    pub fn used(&self) -> usize {
        self.blocks
            .iter()
            .map(|&(_, log, block)| (block + 1) << log)
            .max()
            .unwrap_or(0)
    }
    /// A scan of the blocks: a caller that looks up many uses [`Self::index`].
    pub fn find(&self, k: K) -> Option<(usize, usize)> {
        self.blocks.iter().find(|b| b.0 == k).map(|b| (b.1, b.2))
    }
}

impl<K: Eq + std::hash::Hash + Copy> PackedLayout<K> {
    /// [`Self::find`] for every block at once: `what → (log_size, block_index)` (the first
    /// block of a key wins, as in `find`).
    pub fn index(&self) -> std::collections::HashMap<K, (usize, usize)> {
        let mut m = std::collections::HashMap::with_capacity(self.blocks.len());
        for &(k, log, block) in &self.blocks {
            m.entry(k).or_insert((log, block));
        }
        m
    }
}

/// The witness commitment's layout.
pub type WitnessLayout = PackedLayout<CommitRef>;

impl QGraph {
    /// The shape of an operand.
    /// The shape of an operand. A limb's is its decomposition's, which this computes
    /// ([`Self::decompositions`], linear in the circuit): a caller that asks for many operands
    /// computes the decompositions once and calls [`Self::operand_tensor_in`].
    pub fn operand_tensor(&self, op: Operand) -> &QTensor {
        match op {
            Operand::Limb(..) => self.operand_tensor_in(op, &self.decompositions()),
            _ => self.operand_tensor_in(op, &[]),
        }
    }

    /// The shape of an operand, a limb's read from `decomps` (this circuit's
    /// [`Self::decompositions`]).
    pub fn operand_tensor_in(&self, op: Operand, decomps: &[Decomposition]) -> &QTensor {
        match op {
            Operand::Tensor(t) => &self.tensors[t],
            Operand::Rem(n) => &self.tensors[n + 1],
            Operand::Limb(d, _) => match decomps.get(d).map(|dec| dec.a) {
                // A decomposition's operand is a tensor or a remainder, never a limb.
                Some(a @ (Operand::Tensor(_) | Operand::Rem(_))) => self.operand_tensor_in(a, &[]),
                _ => &self.tensors[0],
            },
        }
    }

    /// Every lookup of the circuit, in proof order; `Lookup::table` indexes [`Self::used_tables`].
    pub fn lookups(&self) -> Vec<Lookup> {
        self.lookup_plan().lookups
    }

    /// The range checks split into limbs, in proof order.
    pub fn decompositions(&self) -> Vec<Decomposition> {
        self.lookup_plan().decomps
    }

    /// The tables the lookups read (each distinct kind once, in order of first use), the
    /// lookups, and the decompositions. A range check of `b` bits reads the table
    /// `{0, …, 2^b − 1}` of exactly that width — with multiplicities sent sparsely a table's width
    /// costs nothing — unless it is wide (`b` above the circuit's limb width) on a large tensor,
    /// where the values could be nearly all distinct and the sparse multiplicities as large as
    /// the tensor: then the value is split into limbs, each read from the one shared table. The
    /// limb width is [`limb_bits_for`] the plan with 16-bit limbs: planned again with 20-bit
    /// limbs where the wide checks read enough values.
    fn lookup_plan(&self) -> Plan {
        let narrow = self.lookup_plan_with(NARROW_LIMB_BITS);
        match limb_bits_for(narrow.wide_reads) {
            NARROW_LIMB_BITS => narrow,
            wide => self.lookup_plan_with(wide),
        }
    }

    /// The lookup plan with limbs of `limb` bits.
    fn lookup_plan_with(&self, limb: u32) -> Plan {
        let k = self.config.table_bits;
        let mut p = Plan::new(limb);
        // Which tensors an activation reads, in one pass (not a scan of the nodes per node).
        let mut by_act = vec![false; self.tensors.len()];
        for node in &self.nodes {
            if let QOp::Act { x, .. } = node.op {
                if let Some(a) = by_act.get_mut(x) {
                    *a = true;
                }
            }
        }
        for (ni, node) in self.nodes.iter().enumerate() {
            let t = &self.tensors[ni + 1];
            let (rows, cols) = (t.rows, t.cols);
            match &node.op {
                QOp::Requant { shift, .. } => {
                    if *shift > 0 {
                        p.range(Operand::Rem(ni), 0, *shift, rows, cols);
                    }
                    if t.kind == TensorKind::Committed
                        && !by_act.get(ni + 1).copied().unwrap_or(false)
                    {
                        p.range(
                            Operand::Tensor(ni + 1),
                            1 << (t.bits - 1),
                            t.bits,
                            rows,
                            cols,
                        );
                    }
                }
                QOp::Act { x, table, .. } => {
                    let Some(kind) = self.tables.get(*table) else {
                        continue;
                    };
                    let table = p.table(*kind);
                    p.lookups.push(Lookup {
                        table,
                        a: Operand::Tensor(*x),
                        offset: 1 << (k - 1),
                        b: Some(Operand::Tensor(ni + 1)),
                        rows,
                        cols,
                    })
                }
                QOp::LogSumExp { .. } => p.range(
                    Operand::Tensor(ni + 1),
                    1 << (t.bits - 1),
                    t.bits,
                    rows,
                    cols,
                ),
                QOp::Update { bits, .. } => {
                    p.range(Operand::Tensor(ni + 1), 1 << (bits - 1), *bits, rows, cols)
                }
                QOp::Gemm { .. }
                | QOp::Add { .. }
                | QOp::Sub { .. }
                | QOp::Mul { .. }
                | QOp::Scale { .. }
                | QOp::Input { .. }
                | QOp::MatMul { .. }
                | QOp::Transpose { .. }
                | QOp::RowSum { .. }
                | QOp::Broadcast { .. }
                | QOp::AddConst { .. }
                | QOp::Gather { .. }
                | QOp::Conv { .. }
                | QOp::Embed { .. }
                | QOp::Const { .. }
                | QOp::BatchMatMul { .. }
                | QOp::PickCol { .. }
                | QOp::PrefixMask { .. }
                | QOp::ArgMax { .. } => {}
            }
        }
        p
    }

    /// The witness commitment: committed tensors, remainders and limbs.
    pub fn witness_layout(&self) -> WitnessLayout {
        self.witness_layout_with(&[])
    }

    /// The witness layout, with a block for the multiplicities of each used table `ti` with
    /// `committed[ti]` (WHIR proofs commit those rather than sending them).
    pub fn witness_layout_with(&self, committed: &[bool]) -> WitnessLayout {
        let mut items = Vec::new();
        let k = self.config.table_bits;
        for (ti, table) in self.used_tables() {
            if committed.get(ti).copied().unwrap_or(false) {
                items.push((CommitRef::Mult(ti), table.log_size(k) as usize));
            }
        }
        for (i, t) in self.tensors.iter().enumerate() {
            if t.kind == TensorKind::Committed {
                items.push((CommitRef::Tensor(i), t.log_size()));
            }
        }
        let decomps = self.decompositions();
        let limbs_of = rem_limbs_by_node(&decomps, self.nodes.len());
        for (ni, node) in self.nodes.iter().enumerate() {
            if let QOp::Requant { shift, .. } = node.op {
                let by_limbs = limbs_of.get(ni).copied().flatten().is_some();
                if shift > 0 && !by_limbs {
                    items.push((CommitRef::Rem(ni), self.tensors[ni + 1].log_size()));
                }
            }
        }
        for (d, dec) in decomps.iter().enumerate() {
            let log = self.operand_tensor_in(dec.a, &decomps).log_size();
            for k in 0..dec.n_limbs() {
                items.push((CommitRef::Limb(d, k), log));
            }
        }
        PackedLayout::pack(items)
    }

    /// The tables some lookup reads, in proof order.
    pub fn used_tables(&self) -> Vec<(usize, TableKind)> {
        self.lookup_plan().tables.into_iter().enumerate().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup forest proves no padding leaf: on random multisets of block sizes, every
    /// tree is exactly covered by its blocks (aligned, disjoint), there is one tree per set
    /// bit of the total size, and every item lands in exactly one tree.
    #[test]
    fn exact_packing_fills_every_tree_with_no_padding_leaf() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..300 {
            let items: Vec<(usize, usize)> = (0..1 + next(40) as usize)
                .map(|i| (i, next(12) as usize))
                .collect();
            let total: usize = items.iter().map(|&(_, log)| 1usize << log).sum();
            let forest = PackedLayout::pack_exact(items.clone());
            assert_eq!(forest.len(), total.count_ones() as usize, "{items:?}");
            let mut seen = vec![false; items.len()];
            for tree in &forest {
                let mut used = vec![false; 1 << tree.log_n];
                for &(k, log, block) in &tree.blocks {
                    assert_eq!(items[k].1, log);
                    assert!(!std::mem::replace(&mut seen[k], true), "item {k} twice");
                    for u in &mut used[block << log..(block + 1) << log] {
                        assert!(!std::mem::replace(u, true), "overlap in {tree:?}");
                    }
                }
                assert!(used.iter().all(|&u| u), "padding in {tree:?}");
            }
            assert!(seen.iter().all(|&s| s));
        }
        assert!(PackedLayout::<usize>::pack_exact(Vec::new()).is_empty());
    }

    #[test]
    fn packing_is_aligned_and_disjoint() {
        let l = PackedLayout::pack(vec![(0usize, 3), (1, 5), (2, 3), (3, 0)]);
        let mut used = vec![false; 1 << l.log_n];
        for (_, log, block) in &l.blocks {
            let off = block << log;
            for i in off..off + (1 << log) {
                assert!(!used[i]);
                used[i] = true;
            }
        }
        assert_eq!(l.log_n, 6);
        // 32 + 8 + 8 + 1 values, packed largest first.
        assert_eq!(l.used(), 49);
    }
}

#[cfg(test)]
mod limb_tests {
    use super::*;

    /// Range checks up to 20 bits read their own table; wider ones on a large tensor take
    /// 20-bit limbs and a narrower top one whose widths add up to the check's, so the limbs'
    /// sum spans exactly `[0, 2^bits)` (SECURITY.md R2).
    #[test]
    fn wide_checks_take_twenty_bit_limbs_that_add_up_to_the_width() {
        let mut p = Plan::new(WIDE_LIMB_BITS);
        for bits in [16u32, 20, 21, 24, 40, 41, 62] {
            p.range(Operand::Tensor(bits as usize), 0, bits, 2, 1024);
        }
        let direct: Vec<u32> = p
            .lookups
            .iter()
            .filter(|l| matches!(l.a, Operand::Tensor(_)))
            .map(|l| match p.tables[l.table] {
                TableKind::Range { bits } => bits,
                _ => 0,
            })
            .collect();
        assert_eq!(direct, [16, 20]);
        let widths: Vec<Vec<u32>> = p
            .decomps
            .iter()
            .map(|d| (0..d.n_limbs()).map(|k| d.limb_bits(k)).collect())
            .collect();
        assert_eq!(
            widths,
            [
                vec![20, 1],
                vec![20, 4],
                vec![20, 20],
                vec![20, 20, 1],
                vec![20, 20, 20, 2]
            ]
        );
        for (d, w) in p.decomps.iter().zip(&widths) {
            assert_eq!(w.iter().sum::<u32>(), d.bits);
            assert!(w.iter().all(|&b| (1..=WIDE_LIMB_BITS).contains(&b)));
            assert_eq!(d.limb_shift(1), 20);
        }
        // Every check wider than 16 bits on a large tensor counts its values.
        assert_eq!(p.wide_reads, 6 * 2048);
        // A small tensor is never split.
        let mut small = Plan::new(WIDE_LIMB_BITS);
        small.range(Operand::Tensor(0), 0, 40, 1, LIMB_MIN_LEN);
        assert!(small.decomps.is_empty());
    }

    /// The limb width is 16 bits until the wide checks read 2^20 values, then 20.
    #[test]
    fn limbs_widen_where_the_wide_checks_read_a_table_of_values() {
        assert_eq!(limb_bits_for(0), NARROW_LIMB_BITS);
        assert_eq!(limb_bits_for((1 << 20) - 1), NARROW_LIMB_BITS);
        assert_eq!(limb_bits_for(1 << 20), WIDE_LIMB_BITS);
        let mut p = Plan::new(NARROW_LIMB_BITS);
        p.range(Operand::Tensor(0), 0, 20, 4, 1024);
        let widths: Vec<u32> = (0..p.decomps[0].n_limbs())
            .map(|k| p.decomps[0].limb_bits(k))
            .collect();
        assert_eq!(widths, [16, 4]);
        assert_eq!(p.decomps[0].limb_shift(1), 16);
    }
}
