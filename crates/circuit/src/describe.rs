//! Decoding a circuit description ([`QGraph::describe`]) back into a [`QGraph`] without its
//! weight values, for verifying against a model commitment alone.
//!
//! The bytes come from a proof file, so everything is validated: indices in range, operands
//! defined before use, shapes consistent with each op, sizes bounded, tensor kinds as the
//! quantizer assigns them. A description that passes is safe for the verifier to index.
#![deny(clippy::indexing_slicing)]

use zkgrad_field::codec::{CodecError, Reader, Writer};

use crate::conv::ConvGeom;
use crate::index_map::{AxisMap, IndexMap, MAX_RANK};
use crate::ir::{MatRhs, QConfig, QGraph, QNode, QOp, QTensor, QWeight, TensorKind};
use crate::table::{ActKind, TableKind};

/// Largest tensor a description may declare (values): [`DescLimits::default`]'s
/// `max_tensor_elements`.
pub const MAX_TENSOR: usize = 1 << 26;
const MAX_ITEMS: usize = 1 << 16;

/// Limits on the circuit a description may declare, checked while it is decoded, before
/// anything proportional to a declared size is allocated or computed (docs/SECURITY.md,
/// "Limits on what a proof may describe"). A description is a few bytes per node, but each
/// node may declare a tensor of many values, and verifying a proof of it costs time and memory
/// in proportion to those values (the wiring sums of index maps and convolutions, the public
/// tensors' evaluations): these limits bound that work before any of it is done.
///
/// The defaults hold every built-in model and training step (docs/SECURITY.md lists their
/// sizes: the largest total, the 4096×4096 SGD step's, is 2^26.1 values, a fourth of the
/// default; the largest tensor, the 8192×8192 LoRA base weight, is 2^26, the tensor limit
/// this crate has always had); a service that verifies proofs for clients may set its own
/// ([`QGraph::from_description_with_limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescLimits {
    /// Nodes (the circuit then has one more tensor).
    pub max_nodes: usize,
    /// Weight tensors.
    pub max_weights: usize,
    /// Activation tables.
    pub max_tables: usize,
    /// Values of one tensor or weight (`rows·cols`), of one side of an index map, and of a
    /// convolution's im2col matrix (`|P|·|J|`) or output.
    pub max_tensor_elements: usize,
    /// Values of all weights together (the verifier never reads them, they enter through
    /// their commitment, but a model of more is not one this verifier was sized for).
    pub max_weight_elements: usize,
    /// The verifier's work on the circuit, in values: every tensor, plus each index map's
    /// input and output and each convolution's `|P|·|J|` im2col entries (what the verifier's
    /// wiring sums stream over). Weights are not counted: the verifier never reads them.
    pub max_total_elements: usize,
}

impl Default for DescLimits {
    fn default() -> Self {
        Self {
            max_nodes: MAX_ITEMS,
            max_weights: MAX_ITEMS,
            max_tables: 256,
            max_tensor_elements: MAX_TENSOR,
            max_weight_elements: 1 << 28,
            max_total_elements: 1 << 28,
        }
    }
}

/// What a circuit declares, in the units of [`DescLimits`] ([`QGraph::declared_sizes`]): a
/// service sizes its limits from the models it serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescSizes {
    pub nodes: usize,
    pub weights: usize,
    pub tables: usize,
    /// The largest of the values [`DescLimits::max_tensor_elements`] bounds.
    pub max_tensor_elements: usize,
    pub weight_elements: usize,
    pub total_elements: usize,
}

impl DescSizes {
    /// Whether a description of these sizes decodes within `limits`.
    pub fn within(&self, limits: &DescLimits) -> bool {
        self.nodes <= limits.max_nodes
            && self.weights <= limits.max_weights
            && self.tables <= limits.max_tables
            && self.max_tensor_elements <= limits.max_tensor_elements
            && self.weight_elements <= limits.max_weight_elements
            && self.total_elements <= limits.max_total_elements
    }
}

impl QGraph {
    /// The sizes [`QGraph::from_description_with_limits`] checks against its limits, counted
    /// as it counts them.
    pub fn declared_sizes(&self) -> DescSizes {
        let mut s = DescSizes {
            nodes: self.nodes.len(),
            weights: self.weights.len(),
            tables: self.tables.len(),
            ..DescSizes::default()
        };
        let tensor = |n: usize, s: &mut DescSizes| {
            s.max_tensor_elements = s.max_tensor_elements.max(n);
            s.total_elements = s.total_elements.saturating_add(n);
        };
        for t in &self.tensors {
            tensor(t.rows.saturating_mul(t.cols), &mut s);
        }
        for w in &self.weights {
            let n = w.rows.saturating_mul(w.cols);
            s.weight_elements = s.weight_elements.saturating_add(n);
            s.max_tensor_elements = s.max_tensor_elements.max(n);
        }
        for n in &self.nodes {
            match &n.op {
                QOp::Gather { map, .. } => {
                    let (i, o) = (map.in_len(), map.out_len());
                    s.max_tensor_elements = s.max_tensor_elements.max(i).max(o);
                    s.total_elements = s.total_elements.saturating_add(i).saturating_add(o);
                }
                QOp::Conv { geom, .. } => {
                    let pj = geom.p_len().saturating_mul(geom.j_len());
                    s.max_tensor_elements = s.max_tensor_elements.max(pj);
                    s.total_elements = s.total_elements.saturating_add(pj);
                }
                _ => {}
            }
        }
        s
    }
}

/// What a description declares, summed as it is decoded and checked against [`DescLimits`].
struct Totals<'l> {
    limits: &'l DescLimits,
    weights: usize,
    total: usize,
}

impl Totals<'_> {
    fn add(&mut self, n: usize, what: &str) -> Result<(), DescError> {
        self.total = self.total.saturating_add(n);
        if self.total > self.limits.max_total_elements {
            return over(format!(
                "{what}: the circuit declares more than {} values in all (max_total_elements)",
                self.limits.max_total_elements
            ));
        }
        Ok(())
    }
    fn add_weight(&mut self, n: usize, what: &str) -> Result<(), DescError> {
        self.weights = self.weights.saturating_add(n);
        if self.weights > self.limits.max_weight_elements {
            return over(format!(
                "{what}: the weights declare more than {} values in all (max_weight_elements)",
                self.limits.max_weight_elements
            ));
        }
        Ok(())
    }
}

/// A count of items of at least `min_bytes` bytes each, checked against the limit and against
/// the bytes left before anything is allocated for them.
fn count(
    r: &mut Reader,
    (limit, name): (usize, &str),
    min_bytes: usize,
    what: &'static str,
) -> Result<usize, DescError> {
    let n = r.len(u32::MAX as usize, what)?;
    if n > limit {
        return over(format!("{what} {n} is over the limit of {limit} ({name})"));
    }
    if n.saturating_mul(min_bytes) > r.remaining() {
        return bad(format!(
            "{what} {n} needs more bytes than the description holds"
        ));
    }
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescError {
    #[error("circuit description: {0}")]
    Codec(#[from] CodecError),
    #[error("circuit description: {0}")]
    Invalid(String),
    /// The description may be well formed, but it declares more than the verifier's
    /// [`DescLimits`] allow.
    #[error("circuit description over the verifier's limits: {0}")]
    OverLimit(String),
}

fn bad<T>(why: impl Into<String>) -> Result<T, DescError> {
    Err(DescError::Invalid(why.into()))
}

fn over<T>(why: impl Into<String>) -> Result<T, DescError> {
    Err(DescError::OverLimit(why.into()))
}

fn act_kind(code: u8, r: &mut Reader) -> Result<ActKind, DescError> {
    let mut params_ok = true;
    let kind = ActKind::from_code(code, || match r.u32() {
        Ok(v) => Some(v),
        Err(_) => {
            params_ok = false;
            None
        }
    });
    match kind {
        Some(k) if params_ok => Ok(k),
        _ => bad(format!("unknown or truncated activation {code}")),
    }
}

fn dims(r: &mut Reader, max: usize) -> Result<(usize, usize), DescError> {
    let rows = r.u64()?;
    let cols = r.u64()?;
    if rows == 0 || cols == 0 {
        return bad(format!("tensor shape [{rows}, {cols}] is empty"));
    }
    if rows.checked_mul(cols).is_none_or(|n| n > max as u64) {
        return over(format!(
            "tensor shape [{rows}, {cols}] over {max} values (max_tensor_elements)"
        ));
    }
    Ok((rows as usize, cols as usize))
}

/// A bias weight index, `u64::MAX` for none.
fn optional_index(r: &mut Reader, below: usize, ni: usize) -> Result<Option<usize>, DescError> {
    match r.u64()? {
        u64::MAX => Ok(None),
        b if b < below as u64 => Ok(Some(b as usize)),
        _ => bad(format!("node {ni}: bias index out of range")),
    }
}

fn index(r: &mut Reader, below: usize, what: &str) -> Result<usize, DescError> {
    let v = r.u64()?;
    if v >= below as u64 {
        return bad(format!("{what} index {v} out of range (< {below})"));
    }
    Ok(v as usize)
}

impl QGraph {
    /// Rebuilds the circuit from its description, within the default [`DescLimits`]; weight
    /// tensors come back with empty data.
    pub fn from_description(bytes: &[u8]) -> Result<Self, DescError> {
        Self::from_description_with_limits(bytes, &DescLimits::default())
    }

    /// Rebuilds the circuit from its description, refusing one that declares more than
    /// `limits` allow. Linear in the description's bytes: every count is checked against the
    /// limits and the bytes left before anything is allocated for it, and no declared size
    /// is expanded (index maps and convolution geometries stay in their compact form).
    pub fn from_description_with_limits(
        bytes: &[u8],
        limits: &DescLimits,
    ) -> Result<Self, DescError> {
        let max_t = limits.max_tensor_elements;
        let mut totals = Totals {
            limits,
            weights: 0,
            total: 0,
        };
        let mut r = Reader::new(bytes);
        if r.raw(16)? != b"zkgrad/qgraph/v1" {
            return bad("unknown description version");
        }
        let act_frac = r.u32()?;
        let weight_frac = r.u32()?;
        let table_bits = r.u32()?;
        if !(4..=20).contains(&table_bits) || weight_frac > 40 || act_frac >= table_bits - 1 {
            return bad("invalid precision settings");
        }
        let config = QConfig {
            act_frac,
            weight_frac,
            table_bits,
        };
        // A tensor takes 25 bytes, a weight 16, a table at least 9, a node at least 9.
        let n_tensors = count(
            &mut r,
            (limits.max_nodes.saturating_add(1), "max_nodes + 1"),
            25,
            "tensor count",
        )?;
        let mut tensors = Vec::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let (rows, cols) = dims(&mut r, max_t)?;
            totals.add(rows * cols, &format!("tensor {i}"))?;
            let frac = r.u32()?;
            // A product's scale is the sum of its operands' (an update's reaches 2·fa + fl).
            if frac > 126 {
                return bad(format!("tensor {i}: scale 2^-{frac} out of range"));
            }
            let kind = match r.u8()? {
                0 => TensorKind::Public,
                1 => TensorKind::Committed,
                2 => TensorKind::Virtual,
                3 => TensorKind::After,
                k => return bad(format!("tensor {i}: unknown kind {k}")),
            };
            let bits = r.u32()?;
            if !(2..=62).contains(&bits) {
                return bad(format!("tensor {i}: range width {bits} out of bounds"));
            }
            tensors.push(QTensor {
                name: format!("t{i}"),
                rows,
                cols,
                frac,
                kind,
                bits,
            });
        }
        let n_weights = count(
            &mut r,
            (limits.max_weights, "max_weights"),
            16,
            "weight count",
        )?;
        let mut weights = Vec::with_capacity(n_weights);
        for i in 0..n_weights {
            let (rows, cols) = dims(&mut r, max_t)?;
            totals.add_weight(rows * cols, &format!("weight {i}"))?;
            weights.push(QWeight {
                name: format!("w{i}"),
                rows,
                cols,
                data: Vec::new(),
            });
        }
        let n_tables = count(
            &mut r,
            (limits.max_tables.min(256), "max_tables"),
            9,
            "table count",
        )?;
        let mut tables = Vec::with_capacity(n_tables);
        for i in 0..n_tables {
            let t = match r.u8()? {
                0 => return bad(format!("table {i}: range tables are implied, not listed")),
                code => {
                    let kind = act_kind(code, &mut r)?;
                    let in_frac = r.u32()?;
                    let out_frac = r.u32()?;
                    if in_frac > 40 || out_frac > 40 {
                        return bad(format!("table {i}: scales out of range"));
                    }
                    TableKind::Act {
                        kind,
                        in_frac,
                        out_frac,
                    }
                }
            };
            tables.push(t);
        }
        let n_nodes = count(&mut r, (limits.max_nodes, "max_nodes"), 9, "node count")?;
        if n_nodes + 1 != n_tensors {
            return bad("every node must write exactly one tensor");
        }
        let mut nodes = Vec::with_capacity(n_nodes);
        let shape = |t: usize| tensors.get(t).map(|t| (t.rows, t.cols));
        for ni in 0..n_nodes {
            let out = ni + 1;
            let o = shape(out);
            let same = |t: usize| shape(t) == o;
            let op = match r.u8()? {
                1 => {
                    let x = index(&mut r, out, "operand")?;
                    let w = index(&mut r, n_weights, "weight")?;
                    let bias = optional_index(&mut r, n_weights, ni)?;
                    let bias_shift = r.u32()?;
                    let (Some(xs), Some(ws), Some(os)) = (shape(x), weights.get(w), o) else {
                        return bad(format!("node {ni}: operands out of range"));
                    };
                    if xs.1 != ws.cols || os.1 != ws.rows || os.0 != xs.0 || bias_shift > 40 {
                        return bad(format!("node {ni}: Gemm shapes do not agree"));
                    }
                    if let Some(b) = bias {
                        match weights.get(b) {
                            Some(bw) if bw.rows == 1 && bw.cols == ws.rows => {}
                            _ => return bad(format!("node {ni}: bias shape does not agree")),
                        }
                    }
                    QOp::Gemm {
                        x,
                        w,
                        bias,
                        bias_shift,
                    }
                }
                code @ (2 | 3) => {
                    let a = index(&mut r, out, "operand")?;
                    let b = index(&mut r, out, "operand")?;
                    if !same(a) || !same(b) {
                        return bad(format!("node {ni}: operand shapes differ"));
                    }
                    if code == 2 {
                        QOp::Add { a, b }
                    } else {
                        QOp::Sub { a, b }
                    }
                }
                7 => {
                    let a = index(&mut r, out, "operand")?;
                    let b = index(&mut r, out, "operand")?;
                    if !same(a) || !same(b) {
                        return bad(format!("node {ni}: operand shapes differ"));
                    }
                    QOp::Mul { a, b }
                }
                13 => {
                    let x = index(&mut r, out, "operand")?;
                    match (shape(x), o) {
                        (Some(xs), Some(os)) if os == (xs.0, 1) => {}
                        _ => return bad(format!("node {ni}: log-sum-exp shapes do not agree")),
                    }
                    QOp::LogSumExp { x }
                }
                14 => {
                    let x = index(&mut r, out, "operand")?;
                    match (shape(x), o) {
                        (Some(xs), Some(os)) if xs.1 == 1 && os.0 == xs.0 => {}
                        _ => return bad(format!("node {ni}: broadcast shapes do not agree")),
                    }
                    QOp::Broadcast { x }
                }
                15 => {
                    let x = index(&mut r, out, "operand")?;
                    let c = r.u64()? as i64;
                    if !same(x) || c.unsigned_abs() >= 1 << 40 {
                        return bad(format!("node {ni}: invalid constant addition"));
                    }
                    QOp::AddConst { x, c }
                }
                12 => {
                    let w = index(&mut r, n_weights, "weight")?;
                    let u = index(&mut r, out, "operand")?;
                    let bits = r.u32()?;
                    let ws = weights.get(w).map(|w| (w.rows, w.cols));
                    if ws != o || shape(u) != o || !(2..=62).contains(&bits) {
                        return bad(format!("node {ni}: invalid update"));
                    }
                    QOp::Update { w, u, bits }
                }
                8 => {
                    let index = r.u64()?;
                    if index == 0 || index > MAX_ITEMS as u64 {
                        return bad(format!("node {ni}: invalid input index"));
                    }
                    QOp::Input {
                        index: index as usize,
                    }
                }
                9 => {
                    let a = index(&mut r, out, "operand")?;
                    let rhs = match r.u8()? {
                        0 => MatRhs::Tensor(index(&mut r, out, "operand")?),
                        1 => MatRhs::Weight(index(&mut r, n_weights, "weight")?),
                        _ => return bad(format!("node {ni}: unknown matrix operand")),
                    };
                    let (Some(sa), Some(os)) = (shape(a), o) else {
                        return bad(format!("node {ni}: operands out of range"));
                    };
                    let sb = match rhs {
                        MatRhs::Tensor(t) => shape(t),
                        MatRhs::Weight(w) => weights.get(w).map(|w| (w.rows, w.cols)),
                    };
                    match sb {
                        Some(sb) if sa.1 == sb.0 && os == (sa.0, sb.1) => {}
                        _ => return bad(format!("node {ni}: matrix product shapes do not agree")),
                    }
                    QOp::MatMul { a, b: rhs }
                }
                10 => {
                    let x = index(&mut r, out, "operand")?;
                    match (shape(x), o) {
                        (Some(xs), Some(os)) if os == (xs.1, xs.0) => {}
                        _ => return bad(format!("node {ni}: transpose shapes do not agree")),
                    }
                    QOp::Transpose { x }
                }
                11 => {
                    let x = index(&mut r, out, "operand")?;
                    match (shape(x), o) {
                        (Some(xs), Some(os)) if os == (1, xs.1) => {}
                        _ => return bad(format!("node {ni}: row sum shapes do not agree")),
                    }
                    QOp::RowSum { x }
                }
                4 => {
                    let x = index(&mut r, out, "operand")?;
                    let c = r.u64()? as i64;
                    if !same(x) {
                        return bad(format!("node {ni}: operand shape differs"));
                    }
                    QOp::Scale { x, c }
                }
                5 => {
                    let x = index(&mut r, out, "operand")?;
                    let shift = r.u32()?;
                    if !same(x) || shift > 62 {
                        return bad(format!("node {ni}: invalid requantization"));
                    }
                    QOp::Requant { x, shift }
                }
                6 => {
                    let x = index(&mut r, out, "operand")?;
                    let code = r.u8()?;
                    let kind = act_kind(code, &mut r)?;
                    let table = index(&mut r, n_tables, "table")?;
                    match tables.get(table) {
                        Some(TableKind::Act { kind: k, .. }) if *k == kind && same(x) => {}
                        _ => return bad(format!("node {ni}: activation does not match its table")),
                    }
                    QOp::Act { x, kind, table }
                }
                17 => {
                    let x = index(&mut r, out, "operand")?;
                    let w = index(&mut r, n_weights, "weight")?;
                    let bias = optional_index(&mut r, n_weights, ni)?;
                    let bias_shift = r.u32()?;
                    let mut v = [0usize; 14];
                    for slot in v.iter_mut() {
                        let x = r.u64()?;
                        if x > max_t as u64 {
                            return bad(format!("node {ni}: convolution geometry out of range"));
                        }
                        *slot = x as usize;
                    }
                    let [c_in, h, wd, c_out, kh, kw, sy, sx, dy, dx, py, px, oh, ow] = v;
                    let geom = ConvGeom {
                        c_in,
                        h,
                        w: wd,
                        c_out,
                        kh,
                        kw,
                        stride: [sy, sx],
                        dilation: [dy, dx],
                        pad: [py, px],
                        oh,
                        ow,
                    };
                    if let Err(why) = geom.validate(max_t) {
                        return bad(format!("node {ni}: {why}"));
                    }
                    // validate bounds |P|·|J| by max_t: the product cannot overflow.
                    totals.add(
                        geom.p_len() * geom.j_len(),
                        &format!("node {ni}: convolution"),
                    )?;
                    let ws = weights.get(w).map(|w| (w.rows, w.cols));
                    let xs = shape(x).map(|s| s.0 * s.1);
                    if ws != Some((c_out, geom.j_len()))
                        || xs != Some(c_in * h * wd)
                        || o != Some((c_out, geom.p_len()))
                        || bias_shift > 40
                    {
                        return bad(format!("node {ni}: convolution shapes do not agree"));
                    }
                    if let Some(b) = bias {
                        match weights.get(b) {
                            Some(bw) if bw.rows == 1 && bw.cols == c_out => {}
                            _ => return bad(format!("node {ni}: bias shape does not agree")),
                        }
                    }
                    QOp::Conv {
                        x,
                        w,
                        bias,
                        bias_shift,
                        geom,
                    }
                }
                16 => {
                    let x = index(&mut r, out, "operand")?;
                    let read_shape = |r: &mut Reader| -> Result<Vec<usize>, DescError> {
                        let rank = r.u8()? as usize;
                        if rank == 0 || rank > MAX_RANK {
                            return bad(format!("node {ni}: index map rank {rank}"));
                        }
                        (0..rank)
                            .map(|_| {
                                let d = r.u64()?;
                                if d == 0 || d > max_t as u64 {
                                    return bad(format!("node {ni}: index map dimension {d}"));
                                }
                                Ok(d as usize)
                            })
                            .collect()
                    };
                    let in_shape = read_shape(&mut r)?;
                    let out_shape = read_shape(&mut r)?;
                    let mut axes = Vec::with_capacity(in_shape.len());
                    for _ in 0..in_shape.len() {
                        axes.push(AxisMap {
                            out_axis: r.u8()? as usize,
                            step: r.u64()? as i64,
                            offset: r.u64()? as i64,
                        });
                    }
                    let map = IndexMap {
                        in_shape,
                        out_shape,
                        axes,
                    };
                    // The map stays in its compact form (one axis map per input axis): its sides
                    // are bounded here, and the verifier streams over them, never expanding it.
                    if let Err(why) = map.validate(max_t) {
                        return bad(format!("node {ni}: {why}"));
                    }
                    totals.add(
                        map.in_len() + map.out_len(),
                        &format!("node {ni}: index map"),
                    )?;
                    match (shape(x), o) {
                        (Some(xs), Some(os))
                            if map.in_len() == xs.0 * xs.1 && map.out_len() == os.0 * os.1 => {}
                        _ => return bad(format!("node {ni}: index map sizes do not agree")),
                    }
                    QOp::Gather { x, map }
                }
                18 => {
                    let ids = index(&mut r, out, "operand")?;
                    let w = index(&mut r, n_weights, "weight")?;
                    // Shapes and the ids' kind and scale: `check_relations`.
                    QOp::Embed { ids, w }
                }
                19 => {
                    let n = r.u64()?;
                    let len = o.map_or(0, |(rows, cols)| rows * cols);
                    if n != len as u64 || n.saturating_mul(8) > r.remaining() as u64 {
                        return bad(format!("node {ni}: constant of {n} values"));
                    }
                    let data = (0..len)
                        .map(|_| r.u64().map(|v| v as i64))
                        .collect::<Result<Vec<_>, _>>()?;
                    QOp::Const { data }
                }
                20 => {
                    let a = index(&mut r, out, "operand")?;
                    let b = index(&mut r, out, "operand")?;
                    let batch = r.u64()?;
                    if batch == 0 || batch > max_t as u64 {
                        return bad(format!("node {ni}: batch {batch}"));
                    }
                    // Shapes: `check_relations`.
                    QOp::BatchMatMul {
                        a,
                        b,
                        batch: batch as usize,
                    }
                }
                21 => {
                    let x = index(&mut r, out, "operand")?;
                    let ids = index(&mut r, out, "ids")?;
                    let offset = index(&mut r, max_t, "offset")?;
                    // The ids' tensor, kind and range, and the shapes: `check_relations`.
                    QOp::PickCol { x, ids, offset }
                }
                22 => {
                    let ids = index(&mut r, out, "ids")?;
                    let offset = index(&mut r, max_t, "offset")?;
                    QOp::PrefixMask { ids, offset }
                }
                23 => {
                    let x = index(&mut r, out, "operand")?;
                    let at = index(&mut r, max_t, "output offset")?;
                    // Its output, shape and check: `check_relations` (crate::argmax).
                    QOp::ArgMax { x, at }
                }
                c => return bad(format!("node {ni}: unknown op {c}")),
            };
            nodes.push(QNode {
                name: format!("node{ni}"),
                op,
            });
        }
        let output = index(&mut r, n_tensors, "output")?;
        if r.remaining() != 0 {
            return bad("trailing bytes");
        }
        // Kinds must be the ones the quantizer assigns (an update's rounding may be virtual:
        // `check_relations` decides when).
        let mut update_rounding = vec![false; tensors.len()];
        for n in &nodes {
            if let QOp::Update { u, .. } = n.op {
                if let Some(f) = update_rounding.get_mut(u) {
                    *f = true;
                }
            }
        }
        let update_rounding = |t: usize| update_rounding.get(t).copied().unwrap_or(false);
        for (t, tensor) in tensors.iter().enumerate() {
            let expect = if t == 0 || t == output {
                TensorKind::Public
            } else {
                match nodes.get(t - 1).map(|n| &n.op) {
                    Some(QOp::Requant { .. })
                        if update_rounding(t) && tensor.kind == TensorKind::Virtual =>
                    {
                        TensorKind::Virtual
                    }
                    Some(QOp::Requant { .. } | QOp::Act { .. } | QOp::LogSumExp { .. }) => {
                        TensorKind::Committed
                    }
                    Some(
                        QOp::Input { .. }
                        | QOp::Const { .. }
                        | QOp::PrefixMask { .. }
                        | QOp::ArgMax { .. },
                    ) => TensorKind::Public,
                    Some(QOp::Update { .. }) => TensorKind::After,
                    _ => TensorKind::Virtual,
                }
            };
            if tensor.kind != expect {
                return bad(format!("tensor {t} has the wrong kind"));
            }
        }
        let g = QGraph {
            config,
            tensors,
            nodes,
            weights,
            tables,
            output,
        };
        // Every relation unique over the integers, every hint pinned (crate::bounds).
        g.check_relations().map_err(DescError::Invalid)?;
        Ok(g)
    }
}

impl QGraph {
    /// Every parameter that shapes a proof of this circuit, as bytes (weights excluded: they
    /// enter through their commitment).
    pub fn describe(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(b"zkgrad/qgraph/v1");
        w.u32(self.config.act_frac);
        w.u32(self.config.weight_frac);
        w.u32(self.config.table_bits);
        w.u32(self.tensors.len() as u32);
        for t in &self.tensors {
            w.u64(t.rows as u64);
            w.u64(t.cols as u64);
            w.u32(t.frac);
            w.u8(match t.kind {
                TensorKind::Public => 0,
                TensorKind::Committed => 1,
                TensorKind::Virtual => 2,
                TensorKind::After => 3,
            });
            w.u32(t.bits);
        }
        w.u32(self.weights.len() as u32);
        for t in &self.weights {
            w.u64(t.rows as u64);
            w.u64(t.cols as u64);
        }
        w.u32(self.tables.len() as u32);
        for t in &self.tables {
            match t {
                TableKind::Range { bits } => {
                    w.u8(0);
                    w.u32(*bits);
                }
                TableKind::Act {
                    kind,
                    in_frac,
                    out_frac,
                } => {
                    w.u8(kind.code());
                    for v in kind.params() {
                        w.u32(v);
                    }
                    w.u32(*in_frac);
                    w.u32(*out_frac);
                }
            }
        }
        w.u32(self.nodes.len() as u32);
        for n in &self.nodes {
            w.u8(n.op.code());
            match &n.op {
                QOp::Gemm {
                    x,
                    w: wi,
                    bias,
                    bias_shift,
                } => {
                    w.u64(*x as u64);
                    w.u64(*wi as u64);
                    w.u64(bias.map_or(u64::MAX, |b| b as u64));
                    w.u32(*bias_shift);
                }
                QOp::Add { a, b } | QOp::Sub { a, b } | QOp::Mul { a, b } => {
                    w.u64(*a as u64);
                    w.u64(*b as u64);
                }
                QOp::Transpose { x }
                | QOp::RowSum { x }
                | QOp::LogSumExp { x }
                | QOp::Broadcast { x } => w.u64(*x as u64),
                QOp::Input { index } => w.u64(*index as u64),
                QOp::MatMul { a, b } => {
                    w.u64(*a as u64);
                    let (tag, i) = match b {
                        MatRhs::Tensor(t) => (0, *t),
                        MatRhs::Weight(i) => (1, *i),
                    };
                    w.u8(tag);
                    w.u64(i as u64);
                }
                QOp::Update { w: wi, u, bits } => {
                    w.u64(*wi as u64);
                    w.u64(*u as u64);
                    w.u32(*bits);
                }
                QOp::AddConst { x, c } | QOp::Scale { x, c } => {
                    w.u64(*x as u64);
                    w.u64(*c as u64);
                }
                QOp::Requant { x, shift } => {
                    w.u64(*x as u64);
                    w.u32(*shift);
                }
                QOp::Act { x, kind, table } => {
                    w.u64(*x as u64);
                    w.u8(kind.code());
                    for v in kind.params() {
                        w.u32(v);
                    }
                    w.u64(*table as u64);
                }
                QOp::Conv {
                    x,
                    w: wi,
                    bias,
                    bias_shift,
                    geom,
                } => {
                    w.u64(*x as u64);
                    w.u64(*wi as u64);
                    w.u64(bias.map_or(u64::MAX, |b| b as u64));
                    w.u32(*bias_shift);
                    for v in [
                        geom.c_in,
                        geom.h,
                        geom.w,
                        geom.c_out,
                        geom.kh,
                        geom.kw,
                        geom.stride[0],
                        geom.stride[1],
                        geom.dilation[0],
                        geom.dilation[1],
                        geom.pad[0],
                        geom.pad[1],
                        geom.oh,
                        geom.ow,
                    ] {
                        w.u64(v as u64);
                    }
                }
                QOp::Gather { x, map } => {
                    w.u64(*x as u64);
                    for shape in [&map.in_shape, &map.out_shape] {
                        w.u8(shape.len() as u8);
                        for &d in shape.iter() {
                            w.u64(d as u64);
                        }
                    }
                    for a in &map.axes {
                        w.u8(a.out_axis as u8);
                        w.u64(a.step as u64);
                        w.u64(a.offset as u64);
                    }
                }
                QOp::Embed { ids, w: wi } => {
                    w.u64(*ids as u64);
                    w.u64(*wi as u64);
                }
                QOp::Const { data } => {
                    w.u64(data.len() as u64);
                    for &v in data {
                        w.u64(v as u64);
                    }
                }
                QOp::BatchMatMul { a, b, batch } => {
                    w.u64(*a as u64);
                    w.u64(*b as u64);
                    w.u64(*batch as u64);
                }
                QOp::PickCol { x, ids, offset } => {
                    w.u64(*x as u64);
                    w.u64(*ids as u64);
                    w.u64(*offset as u64);
                }
                QOp::PrefixMask { ids, offset } => {
                    w.u64(*ids as u64);
                    w.u64(*offset as u64);
                }
                QOp::ArgMax { x, at } => {
                    w.u64(*x as u64);
                    w.u64(*at as u64);
                }
            }
        }
        w.u64(self.output as u64);
        w.bytes
    }
}
