//! Appending nodes to a circuit: the primitives the quantizer, the training and LoRA builders
//! and the softmax template share (the kind of a new tensor follows from its op).

use crate::ir::{QGraph, QNode, QOp, QTensor, TensorKind};
use crate::table::TableKind;

impl QGraph {
    /// Appends `op` (its result at `2^-(frac + shift)`) and its rounding by `shift` bits to
    /// `2^-frac` (a Requant named `{name}/requant`); returns the rounded tensor.
    pub fn push_rounded(
        &mut self,
        name: &str,
        op: QOp,
        rows: usize,
        cols: usize,
        frac: u32,
        shift: u32,
    ) -> usize {
        let x = self.push(name, op, rows, cols, frac + shift);
        self.push(
            &format!("{name}/requant"),
            QOp::Requant { x, shift },
            rows,
            cols,
            frac,
        )
    }

    /// Appends a node writing a new tensor; returns the tensor.
    pub fn push_node(&mut self, name: &str, op: QOp, rows: usize, cols: usize, frac: u32) -> usize {
        self.push(name, op, rows, cols, frac)
    }

    /// The index of an activation table, added if new.
    pub fn table_index(&mut self, t: TableKind) -> usize {
        match self.tables.iter().position(|x| *x == t) {
            Some(i) => i,
            None => {
                self.tables.push(t);
                self.tables.len() - 1
            }
        }
    }

    /// `t` itself if its values are bounded (public or committed), else a committed copy: the
    /// operands of products must be range-bounded for the no-wrap-around argument.
    pub fn committed(&mut self, t: usize, name: &str) -> usize {
        let tensor = &self.tensors[t];
        if tensor.kind != TensorKind::Virtual {
            return t;
        }
        let (rows, cols, frac) = (tensor.rows, tensor.cols, tensor.frac);
        self.push(
            &format!("{name}/commit{t}"),
            QOp::Requant { x: t, shift: 0 },
            rows,
            cols,
            frac,
        )
    }

    fn push(&mut self, name: &str, op: QOp, rows: usize, cols: usize, frac: u32) -> usize {
        let kind = match op {
            QOp::Requant { .. } | QOp::Act { .. } | QOp::LogSumExp { .. } => TensorKind::Committed,
            QOp::Input { .. } | QOp::Const { .. } | QOp::PrefixMask { .. } | QOp::ArgMax { .. } => {
                TensorKind::Public
            }
            QOp::Update { .. } => TensorKind::After,
            _ => TensorKind::Virtual,
        };
        self.nodes.push(QNode {
            name: name.to_string(),
            op,
        });
        self.tensors.push(QTensor {
            name: name.to_string(),
            rows,
            cols,
            frac,
            kind,
            bits: self.config.table_bits,
        });
        self.tensors.len() - 1
    }
}
