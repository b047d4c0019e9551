//! A proven argmax over the rows of a tensor, and the check that a circuit holds it exactly as
//! [`check_rows`] builds it.
//!
//! For `x` `[R, C]` (committed or public, K-bit) and public ids `a` (`a[r] = ids[offset + r]`):
//!
//! ```text
//! m[r]      = x[r, a[r]]                         (QOp::PickCol: wiring from the public ids)
//! gap[r, c] = m[r] − x[r, c] − [c < a[r]]        (Broadcast, Sub, QOp::PrefixMask, Sub)
//! gap − 2^(K−1) ∈ [−2^(K−1), 2^(K−1))            (AddConst, a K-bit committed rounding)
//! ```
//!
//! so `gap[r, c] ∈ [0, 2^K)` at every real entry: `x[r, a[r]] ≥ x[r, c]` for all `c`, strictly
//! for `c < a[r]`. Over the integers (|x| < 2^(K−1), so |gap| < 2^(K+1), far below p) that
//! makes `a[r]` the first maximal column — `argmax`'s tie-break — with no slack; the verifier
//! refuses an id outside `[0, C)`. The ids are the public output of a [`QOp::ArgMax`] hint
//! (`zkgrad prove` on a model ending in ArgMax) or token ids of the public input
//! (`zkgrad generate`).

use crate::ir::{QGraph, QOp, TensorKind};

/// Appends the check that `ids[offset + r]` is the first maximal column of row `r` of `x`
/// (committed or public, `[R, C]`); returns the range-checked gap's tensor.
pub fn check_rows(g: &mut QGraph, name: &str, x: usize, ids: usize, offset: usize) -> usize {
    let (r, c, fa) = (g.tensors[x].rows, g.tensors[x].cols, g.tensors[x].frac);
    let k = g.config.table_bits;
    let m = g.push_node(
        &format!("{name}/pick"),
        QOp::PickCol { x, ids, offset },
        r,
        1,
        fa,
    );
    let mb = g.push_node(
        &format!("{name}/pick/rows"),
        QOp::Broadcast { x: m },
        r,
        c,
        fa,
    );
    let d = g.push_node(&format!("{name}/gap"), QOp::Sub { a: mb, b: x }, r, c, fa);
    let before = g.push_node(
        &format!("{name}/before"),
        QOp::PrefixMask { ids, offset },
        r,
        c,
        fa,
    );
    let d = g.push_node(
        &format!("{name}/gap/strict"),
        QOp::Sub { a: d, b: before },
        r,
        c,
        fa,
    );
    let d = g.push_node(
        &format!("{name}/gap/shift"),
        QOp::AddConst {
            x: d,
            c: -(1i64 << (k - 1)),
        },
        r,
        c,
        fa,
    );
    g.push_node(
        &format!("{name}/gap/range"),
        QOp::Requant { x: d, shift: 0 },
        r,
        c,
        fa,
    )
}

/// An [`QOp::ArgMax`] hint at node `ni`: its output is public at scale 2^0, one value per row
/// of its committed or public operand — the circuit's output (`at = 0`), or `rows` values of
/// it from `at` on ([`placed_ids`]) — and the seven nodes after it are exactly [`check_rows`]
/// of that operand against it — so the hint is pinned.
pub fn check_template(g: &QGraph, ni: usize) -> Result<(), String> {
    let bad = |why: &str| Err(format!("node {ni}: argmax {why}"));
    let o = ni + 1;
    let Some(&QOp::ArgMax { x, at }) = g.nodes.get(ni).map(|n| &n.op) else {
        return bad("expected");
    };
    let (Some(xt), Some(ot), Some(out)) =
        (g.tensors.get(x), g.tensors.get(o), g.tensors.get(g.output))
    else {
        return bad("operands out of range");
    };
    let placed = if o == g.output {
        at == 0
    } else {
        at.checked_add(ot.rows).is_some_and(|end| end <= out.len())
    };
    if !placed || ot.frac != 0 || (ot.rows, ot.cols) != (xt.rows, 1) {
        return bad(
            "must be the circuit's output or a slice of it, one integer per row of its \
                    operand",
        );
    }
    if !matches!(xt.kind, TensorKind::Committed | TensorKind::Public) {
        return bad("must read a committed or public tensor");
    }
    let k = g.config.table_bits;
    let t = |i: usize| o + i;
    let expect = [
        QOp::PickCol {
            x,
            ids: o,
            offset: 0,
        },
        QOp::Broadcast { x: t(1) },
        QOp::Sub { a: t(2), b: x },
        QOp::PrefixMask { ids: o, offset: 0 },
        QOp::Sub { a: t(3), b: t(4) },
        QOp::AddConst {
            x: t(5),
            c: -(1i64 << (k - 1)),
        },
        QOp::Requant { x: t(6), shift: 0 },
    ];
    for (i, want) in expect.iter().enumerate() {
        if g.nodes.get(ni + 1 + i).map(|n| &n.op) != Some(want) {
            return bad("is not followed by its check");
        }
    }
    match g.tensors.get(t(7)) {
        Some(gap) if gap.kind == TensorKind::Committed && gap.bits == k => Ok(()),
        _ => bad("check's gap must be committed and range-checked to K bits"),
    }
}

/// The public values of the [`QOp::ArgMax`] hint at node `ni` whose tensor is not the circuit's
/// output: `output[at + r] / 2^f` for each row `r`, `f` the output's scale (the output
/// assembly scales the integer label up to the other outputs' scale). `None` when an entry is
/// not an exact multiple of `2^f` or the slice is out of range — the verifier refuses the proof.
pub fn placed_ids(g: &QGraph, ni: usize, output: &[i64]) -> Option<Vec<i64>> {
    let &QOp::ArgMax { at, .. } = &g.nodes.get(ni)?.op else {
        return None;
    };
    let rows = g.tensors.get(ni + 1)?.rows;
    let f = g.tensors.get(g.output)?.frac;
    if f >= 62 {
        return None;
    }
    let unit = 1i64 << f;
    output
        .get(at..at.checked_add(rows)?)?
        .iter()
        .map(|&v| (v % unit == 0).then_some(v / unit))
        .collect()
}
