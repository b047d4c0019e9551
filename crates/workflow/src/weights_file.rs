//! `final-weights.bin`: the exact final weights of a full-SGD run, the integers the last step's
//! proof commits to (`final.onnx` holds them rounded to float32).
//!
//! Little endian throughout:
//!
//! ```text
//! magic "ZKGRADFW" (8 bytes) ‖ version u16 = 1 ‖ weight_frac u32 ‖ n_tensors u32
//! per tensor, in the step circuit's order:
//!     name_len u32 ‖ name (UTF-8) ‖ rows u64 ‖ cols u64 ‖ rows·cols values i64 (row-major)
//! ```
//!
//! A weight's value is `v / 2^weight_frac`. Nothing may follow the last tensor. The reader
//! checks every name and shape against the circuit the verifier built before it reads any
//! values, so a file's sizes never drive an allocation.

use zkgrad_circuit::QGraph;

pub const FILE_NAME: &str = "final-weights.bin";
const MAGIC: &[u8; 8] = b"ZKGRADFW";
const VERSION: u16 = 1;

/// The file holding `ints` (one vector per weight of `q`, in order) at 2^-`weight_frac`.
pub fn encode(q: &QGraph, ints: &[Vec<i64>], weight_frac: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(expected_len(q));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&weight_frac.to_le_bytes());
    out.extend_from_slice(&(q.weights.len() as u32).to_le_bytes());
    for (w, vals) in q.weights.iter().zip(ints) {
        out.extend_from_slice(&(w.name.len() as u32).to_le_bytes());
        out.extend_from_slice(w.name.as_bytes());
        out.extend_from_slice(&(w.rows as u64).to_le_bytes());
        out.extend_from_slice(&(w.cols as u64).to_le_bytes());
        for v in vals {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// The size of the file for `q`'s weights: a reader needs no more bytes than this (plus one to
/// see that nothing follows).
pub fn expected_len(q: &QGraph) -> usize {
    8 + 2
        + 4
        + 4
        + q.weights
            .iter()
            .map(|w| 4 + w.name.len() + 16 + 8 * w.data.len())
            .sum::<usize>()
}

/// A cursor over the file's bytes that fails, with the offset, instead of reading past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {} (reading {what})", self.at));
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let s = self.take(N, what)?;
        <[u8; N]>::try_from(s).map_err(|_| format!("truncated (reading {what})"))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
}

/// The weights a file holds, which must be `q`'s tensors (names and shapes, in order) at
/// 2^-`weight_frac`.
pub fn decode(bytes: &[u8], q: &QGraph, weight_frac: u32) -> Result<Vec<Vec<i64>>, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8, "the magic")? != MAGIC {
        return Err("not a zkgrad weights file (bad magic)".into());
    }
    let version = u16::from_le_bytes(r.array("the version")?);
    if version != VERSION {
        return Err(format!(
            "unsupported weights file version {version} (expected {VERSION})"
        ));
    }
    let frac = r.u32("weight_frac")?;
    if frac != weight_frac {
        return Err(format!(
            "weights at 2^-{frac}; the run's weights are at 2^-{weight_frac}"
        ));
    }
    let n = r.u32("the tensor count")?;
    if n as usize != q.weights.len() {
        return Err(format!(
            "{n} tensors; the step circuit has {}",
            q.weights.len()
        ));
    }
    let mut out = Vec::with_capacity(q.weights.len());
    for w in &q.weights {
        let len = r.u32("a name length")? as usize;
        if len != w.name.len() || r.take(len, "a name")? != w.name.as_bytes() {
            return Err(format!("tensor {} is not where the file has it", w.name));
        }
        let (rows, cols) = (r.u64("rows")?, r.u64("cols")?);
        if (rows, cols) != (w.rows as u64, w.cols as u64) {
            return Err(format!(
                "tensor {} is {rows}×{cols}; the step circuit's is {}×{}",
                w.name, w.rows, w.cols
            ));
        }
        let vals = r.take(8 * w.data.len(), &w.name)?;
        out.push(
            vals.chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    i64::from_le_bytes(b)
                })
                .collect(),
        );
    }
    if r.at != bytes.len() {
        return Err(format!(
            "{} bytes follow the last tensor",
            bytes.len() - r.at
        ));
    }
    Ok(out)
}
