//! What a proof commits to and what it looks up, derived from the [`QGraph`] alone so that
//! prover and verifier agree on it.
//!
//! Both commitments (the model's weights, the proof's witness) pack several tables into one
//! multilinear polynomial: each table of `2^k` values occupies an aligned block (its offset a
//! multiple of `2^k`), so a claim `T̃(r) = v` on a table is the claim `W̃(r ‖ bits(block)) = v`
//! on the packed polynomial.

use crate::quant::{QGraph, QOp, QTensor, TensorKind};
use crate::table::TableKind;

/// A table inside the witness commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitRef {
    /// A committed tensor.
    Tensor(usize),
    /// The remainder of the requantization at this node.
    Rem(usize),
}

/// One column a lookup reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Tensor(usize),
    Rem(usize),
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
    pub fn find(&self, k: K) -> Option<(usize, usize)> {
        self.blocks.iter().find(|b| b.0 == k).map(|b| (b.1, b.2))
    }
}

/// The witness commitment's layout.
pub type WitnessLayout = PackedLayout<CommitRef>;

impl QGraph {
    /// The shape of an operand.
    pub fn operand_tensor(&self, op: Operand) -> &QTensor {
        match op {
            Operand::Tensor(t) => &self.tensors[t],
            Operand::Rem(n) => &self.tensors[n + 1],
        }
    }

    /// Every lookup of the circuit, in proof order; `Lookup::table` indexes [`Self::used_tables`].
    pub fn lookups(&self) -> Vec<Lookup> {
        self.lookup_plan().1
    }

    /// The tables the lookups read (each distinct kind once, in order of first use), and the
    /// lookups. A range check of `b` bits reads the table `{0, …, 2^b − 1}` of exactly that
    /// width: with multiplicities sent sparsely a table's width costs nothing, and one lookup
    /// per check needs no limb decomposition.
    fn lookup_plan(&self) -> (Vec<TableKind>, Vec<Lookup>) {
        let k = self.config.table_bits;
        let mut tables: Vec<TableKind> = Vec::new();
        let mut index = |t: TableKind| match tables.iter().position(|x| *x == t) {
            Some(i) => i,
            None => {
                tables.push(t);
                tables.len() - 1
            }
        };
        let mut out = Vec::new();
        for (ni, node) in self.nodes.iter().enumerate() {
            let t = &self.tensors[ni + 1];
            let (rows, cols) = (t.rows, t.cols);
            match &node.op {
                QOp::Requant { shift, .. } => {
                    if *shift > 0 {
                        out.push(Lookup {
                            table: index(TableKind::Range { bits: *shift }),
                            a: Operand::Rem(ni),
                            offset: 0,
                            b: None,
                            rows,
                            cols,
                        });
                    }
                    if t.kind == TensorKind::Committed
                        && !self.read_by_act(ni + 1)
                        && !self.read_by_update(ni + 1)
                    {
                        out.push(Lookup {
                            table: index(TableKind::Range { bits: t.bits }),
                            a: Operand::Tensor(ni + 1),
                            offset: 1 << (t.bits - 1),
                            b: None,
                            rows,
                            cols,
                        });
                    }
                }
                QOp::Act { x, table, .. } => {
                    let Some(kind) = self.tables.get(*table) else {
                        continue;
                    };
                    out.push(Lookup {
                        table: index(*kind),
                        a: Operand::Tensor(*x),
                        offset: 1 << (k - 1),
                        b: Some(Operand::Tensor(ni + 1)),
                        rows,
                        cols,
                    })
                }
                QOp::Update { bits, .. } => out.push(Lookup {
                    table: index(TableKind::Range { bits: *bits }),
                    a: Operand::Tensor(ni + 1),
                    offset: 1 << (bits - 1),
                    b: None,
                    rows,
                    cols,
                }),
                QOp::Gemm { .. }
                | QOp::Add { .. }
                | QOp::Sub { .. }
                | QOp::Mul { .. }
                | QOp::Scale { .. }
                | QOp::Input { .. }
                | QOp::MatMul { .. }
                | QOp::Transpose { .. }
                | QOp::RowSum { .. } => {}
            }
        }
        (tables, out)
    }

    /// The witness commitment: committed tensors and remainders.
    pub fn witness_layout(&self) -> WitnessLayout {
        let mut items = Vec::new();
        for (i, t) in self.tensors.iter().enumerate() {
            if t.kind == TensorKind::Committed {
                items.push((CommitRef::Tensor(i), t.log_size()));
            }
        }
        for (ni, node) in self.nodes.iter().enumerate() {
            if let QOp::Requant { shift, .. } = node.op {
                if shift > 0 {
                    items.push((CommitRef::Rem(ni), self.tensors[ni + 1].log_size()));
                }
            }
        }
        PackedLayout::pack(items)
    }

    /// The tables some lookup reads, in proof order.
    pub fn used_tables(&self) -> Vec<(usize, TableKind)> {
        self.lookup_plan().0.into_iter().enumerate().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
