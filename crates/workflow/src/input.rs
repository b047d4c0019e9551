//! Reading inputs: EZKL-style JSON `{"input_data": [[...], ...]}`, a plain (nested) JSON array,
//! or a `.npy` file (float32/float64/int32/int64, little-endian, C order).
//!
//! Only well-formed files are read: JSON arrays must be rectangular (at every depth, all rows
//! of one length and all leaves numbers), and a `.npy` file must follow the format's
//! specification exactly (<https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>):
//! version 1.0, 2.0 or 3.0, a header that is a Python dict literal with exactly the keys
//! `descr`, `fortran_order` and `shape`, and exactly `product(shape) × itemsize` bytes of data.
//! Files are read through [`crate::files::read_regular`], at most
//! [`crate::files::MAX_INPUT_BYTES`].

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::files::{read_regular, MAX_INPUT_BYTES};

/// The flat input values, and how many samples the file held (one per graph input row).
pub fn read_input(path: &Path) -> Result<Vec<Vec<f64>>> {
    let bytes = read_regular(path, MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read input file {}", path.display()))?;
    let samples = if path.extension().is_some_and(|e| e == "npy") {
        vec![read_npy(&bytes).with_context(|| format!("input file {}", path.display()))?]
    } else {
        read_json(&bytes).with_context(|| format!("input file {}", path.display()))?
    };
    for (s, vals) in samples.iter().enumerate() {
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            bail!(
                "input file {}: value {i} of sample {s} is {v}; inputs must be finite numbers",
                path.display()
            );
        }
    }
    Ok(samples)
}

/// `[i][j]…` for an index path.
fn at(index: &[usize]) -> String {
    index.iter().map(|i| format!("[{i}]")).collect()
}

/// The shape of `v`, which must be a rectangular array of numbers (or a number: shape `[]`),
/// its values appended to `out` in row-major order. `name` and `index` say where `v` sits.
fn rectangular(
    v: &serde_json::Value,
    name: &str,
    index: &mut Vec<usize>,
    out: &mut Vec<f64>,
) -> Result<Vec<usize>> {
    match v {
        serde_json::Value::Number(n) => {
            let x = n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| anyhow!("{name}{} is {n}, not a finite number", at(index)))?;
            out.push(x);
            Ok(Vec::new())
        }
        serde_json::Value::Array(a) => {
            let mut first: Option<Vec<usize>> = None;
            for (i, x) in a.iter().enumerate() {
                index.push(i);
                let shape = rectangular(x, name, index, out)?;
                match &first {
                    None => first = Some(shape),
                    Some(f) if *f != shape => {
                        let mut i0 = index.clone();
                        if let Some(last) = i0.last_mut() {
                            *last = 0;
                        }
                        let what = |s: &[usize]| match s.first() {
                            None => "a number".to_string(),
                            Some(n) => format!("an array of {n}"),
                        };
                        let shape_of = |s: &[usize]| {
                            if s.len() > 1 {
                                format!(" (shape {s:?})")
                            } else {
                                String::new()
                            }
                        };
                        bail!(
                            "ragged array: {name}{} is {}{} but {name}{} is {}{}; every row must have the same length at every depth",
                            at(index),
                            what(&shape),
                            shape_of(&shape),
                            at(&i0),
                            what(f),
                            shape_of(f)
                        );
                    }
                    Some(_) => {}
                }
                index.pop();
            }
            let mut shape = vec![a.len()];
            shape.extend(first.unwrap_or_default());
            Ok(shape)
        }
        serde_json::Value::String(s) => {
            bail!(
                "{name}{} is the string {s:?}; inputs must be finite numbers",
                at(index)
            )
        }
        other => bail!("{name}{} is {other}, not a number", at(index)),
    }
}

/// JSON input: `{"input_data": [[...]]}` (each inner array is one graph input; zkgrad models have
/// one) or a nested array of numbers. Each graph input's array must be rectangular.
pub fn read_json(bytes: &[u8]) -> Result<Vec<Vec<f64>>> {
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("not UTF-8 text"))?;
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            for bad in ["NaN", "Infinity"] {
                if text.contains(bad) {
                    bail!("holds {bad}; inputs must be finite numbers");
                }
            }
            bail!("not valid JSON: {e}");
        }
    };
    let (data, name) = match &v {
        serde_json::Value::Object(o) => (
            o.get("input_data")
                .ok_or_else(|| anyhow!("JSON object without an \"input_data\" field"))?,
            "input_data",
        ),
        other => (other, ""),
    };
    let groups: Vec<&serde_json::Value> = match data {
        serde_json::Value::Array(a) if a.iter().all(|x| x.is_array()) && !a.is_empty() => {
            a.iter().collect()
        }
        serde_json::Value::Array(_) => vec![data],
        _ => bail!("\"input_data\" must be an array"),
    };
    let grouped = groups.len() > 1 || !std::ptr::eq(groups[0], data);
    groups
        .into_iter()
        .enumerate()
        .map(|(g, v)| {
            let mut out = Vec::new();
            let mut index = if grouped { vec![g] } else { Vec::new() };
            rectangular(v, name, &mut index, &mut out)?;
            Ok(out)
        })
        .collect()
}

/// A `.npy` array, flattened.
pub fn read_npy(bytes: &[u8]) -> Result<Vec<f64>> {
    read_npy_shaped(bytes).map(|(v, _)| v)
}

/// A value of the `.npy` header's dict: the literals the format uses.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A strict parser of the Python literal a `.npy` header holds: a dict of string keys whose
/// values are strings, `True`/`False` or tuples of non-negative integers, with the whitespace
/// Python allows between tokens.
struct Header<'a> {
    s: &'a [u8],
    at: usize,
}

impl Header<'_> {
    fn ws(&mut self) {
        while self
            .s
            .get(self.at)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.at += 1;
                Ok(())
            }
            Some(x) => bail!(
                "bad .npy header: expected '{}' at byte {}, found '{}'",
                c as char,
                self.at,
                (x as char).escape_default()
            ),
            None => bail!("bad .npy header: expected '{}', found its end", c as char),
        }
    }

    fn string(&mut self) -> Result<String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => bail!("bad .npy header: expected a string at byte {}", self.at),
        };
        self.at += 1;
        let start = self.at;
        while let Some(&c) = self.s.get(self.at) {
            if c == q {
                self.at += 1;
                return std::str::from_utf8(&self.s[start..self.at - 1])
                    .map(String::from)
                    .map_err(|_| anyhow!("bad .npy header: a string is not UTF-8"));
            }
            if c == b'\\' || c == b'\n' {
                bail!(
                    "bad .npy header: unsupported character in a string at byte {}",
                    self.at
                );
            }
            self.at += 1;
        }
        bail!("bad .npy header: unterminated string")
    }

    fn int(&mut self) -> Result<u64> {
        self.ws();
        if self.s.get(self.at) == Some(&b'-') {
            bail!(".npy shape holds a negative dimension");
        }
        let start = self.at;
        while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.at]).unwrap_or_default();
        if digits.is_empty() {
            bail!("bad .npy header: expected a dimension at byte {}", self.at);
        }
        if digits.len() > 1 && digits.starts_with('0') {
            bail!("bad .npy header: dimension {digits} has a leading zero");
        }
        digits
            .parse()
            .map_err(|_| anyhow!(".npy shape dimension {digits} is too large"))
    }

    fn value(&mut self) -> Result<Lit> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Lit::Str),
            Some(b'(') => {
                self.at += 1;
                let mut dims = Vec::new();
                loop {
                    if self.peek() == Some(b')') {
                        self.at += 1;
                        break;
                    }
                    dims.push(self.int()?);
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b')') if dims.len() > 1 => {}
                        Some(b')') => bail!(
                            "bad .npy header: shape ({}) is not a tuple (a 1-D shape is written ({},))",
                            dims[0],
                            dims[0]
                        ),
                        _ => bail!("bad .npy header: malformed shape tuple at byte {}", self.at),
                    }
                }
                Ok(Lit::Tuple(dims))
            }
            _ => {
                let rest = &self.s[self.at..];
                for (word, b) in [(&b"True"[..], true), (&b"False"[..], false)] {
                    if rest.starts_with(word)
                        && !rest
                            .get(word.len())
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        self.at += word.len();
                        return Ok(Lit::Bool(b));
                    }
                }
                bail!("bad .npy header: unsupported value at byte {}", self.at)
            }
        }
    }

    /// The dict, as (key, value) pairs in order.
    fn dict(&mut self) -> Result<Vec<(String, Lit)>> {
        if self.peek() != Some(b'{') {
            bail!("bad .npy header: not a Python dict literal");
        }
        self.at += 1;
        let mut out: Vec<(String, Lit)> = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.at += 1;
                break;
            }
            let k = self.string()?;
            self.expect(b':')?;
            let v = self.value()?;
            if out.iter().any(|(x, _)| *x == k) {
                bail!("bad .npy header: key '{k}' given twice");
            }
            out.push((k, v));
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {}
                _ => bail!("bad .npy header: expected ',' or '}}' at byte {}", self.at),
            }
        }
        if self.peek().is_some() {
            bail!("bad .npy header: bytes after the dict at byte {}", self.at);
        }
        Ok(out)
    }
}

/// A `.npy` array, flattened, with its shape.
pub fn read_npy_shaped(bytes: &[u8]) -> Result<(Vec<f64>, Vec<usize>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start) = match (major, minor) {
        (1, 0) => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        (2 | 3, 0) => {
            if bytes.len() < 12 {
                bail!("truncated .npy header");
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => bail!(".npy version {major}.{minor} is not one of 1.0, 2.0 and 3.0"),
    };
    let header = start
        .checked_add(hlen)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| anyhow!("truncated .npy header"))?;
    if major < 3 && !header.is_ascii() {
        bail!("bad .npy header: not ASCII (version {major}.0)");
    }
    let dict = Header { s: header, at: 0 }.dict()?;
    let get = |k: &str| dict.iter().find(|(x, _)| x == k).map(|(_, v)| v);
    if let Some((k, _)) = dict
        .iter()
        .find(|(k, _)| !["descr", "fortran_order", "shape"].contains(&k.as_str()))
    {
        bail!("bad .npy header: unknown key '{k}' (the keys are descr, fortran_order and shape)");
    }
    let Some(Lit::Str(descr)) = get("descr") else {
        bail!("bad .npy header: no 'descr' string");
    };
    let Some(&Lit::Bool(fortran)) = get("fortran_order") else {
        bail!("bad .npy header: no 'fortran_order' True or False");
    };
    let Some(Lit::Tuple(dims)) = get("shape") else {
        bail!("bad .npy header: no 'shape' tuple");
    };
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!(".npy shape {dims:?} is too large"))?;
    let shown = || {
        let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
        if parts.len() == 1 {
            format!("({},)", parts[0])
        } else {
            format!("({})", parts.join(", "))
        }
    };
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        bail!(".npy in Fortran order is not supported (save it in C order)");
    }
    let itemsize = match descr.as_str() {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        other => {
            bail!(".npy dtype {other} is not supported (use float32, float64, int32 or int64, little-endian)")
        }
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|n| n.checked_mul(itemsize).is_some())
        .ok_or_else(|| anyhow!(".npy shape {} is too large", shown()))?;
    let data = &bytes[start + hlen..];
    if data.len() != count * itemsize {
        bail!(
            ".npy shape {} of {descr} needs {} bytes of data, the file holds {}{}",
            shown(),
            count * itemsize,
            data.len(),
            if data.len() < count * itemsize {
                " (truncated)"
            } else {
                " (trailing bytes)"
            }
        );
    }
    let vals: Vec<f64> = match descr.as_str() {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        "<f8" => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        "<i8" => data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64)
            .collect(),
        _ => data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
    };
    Ok((vals, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = b"\x93NUMPY".to_vec();
        b.extend_from_slice(&[version, 0]);
        if version == 1 {
            b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn json_forms() {
        assert_eq!(
            read_json(br#"{"input_data": [[1, 2.5, -3]]}"#).unwrap(),
            vec![vec![1.0, 2.5, -3.0]]
        );
        assert_eq!(
            read_json(b"[[1, 2], [3, 4]]").unwrap(),
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
        assert_eq!(read_json(b"[1, 2, 3]").unwrap(), vec![vec![1.0, 2.0, 3.0]]);
        assert_eq!(
            read_json(b"[[[1, 2], [3, 4]]]").unwrap(),
            vec![vec![1.0, 2.0, 3.0, 4.0]]
        );
        assert!(read_json(b"[NaN, 1]")
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        assert!(read_json(b"not json").is_err());
        assert!(read_json(br#"{"x": 1}"#).is_err());
    }

    #[test]
    fn ragged_and_mixed_depth_json_is_refused_naming_the_index() {
        let e = read_json(br#"{"input_data": [[[1, 2], [3]]]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ragged") && e.contains("input_data[0][1]"),
            "{e}"
        );
        let e = read_json(b"[1, [2, 3]]").unwrap_err().to_string();
        assert!(e.contains("ragged") && e.contains("[1]"), "{e}");
        let e = read_json(br#"[[1, "2"]]"#).unwrap_err().to_string();
        assert!(e.contains("[0][1]") && e.contains("string"), "{e}");
        let e = read_json(b"[[1, null]]").unwrap_err().to_string();
        assert!(e.contains("[0][1]"), "{e}");
    }

    #[test]
    fn npy_float32() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        let b = npy(1, header, &f32s(&[1.0, -2.0, 0.5]));
        assert_eq!(read_npy(&b).unwrap(), vec![1.0, -2.0, 0.5]);
        // Whitespace Python allows, keys in any order, version 2 and 3.
        let h = "{ \"shape\" :(1 ,3) ,'fortran_order':False,'descr':'<f4'}\n   ";
        assert_eq!(
            read_npy_shaped(&npy(2, h, &f32s(&[1.0, 2.0, 3.0]))).unwrap(),
            (vec![1.0, 2.0, 3.0], vec![1, 3])
        );
        assert!(read_npy(&npy(3, h, &f32s(&[1.0, 2.0, 3.0]))).is_ok());
    }

    #[test]
    fn malformed_npy_is_refused() {
        let d = f32s(&[1.0, 2.0, 3.0]);
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        let bad = |b: Vec<u8>, want: &str| {
            let e = read_npy(&b).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?}: {e}");
        };
        let mut v0 = npy(1, ok, &d);
        v0[6] = 0;
        bad(v0, "version 0.0");
        let mut v99 = npy(1, ok, &d);
        v99[6] = 99;
        bad(v99, "version 99.0");
        bad(
            npy(1, "{'descr': '<f4', 'fortran_order': False}", &d),
            "shape",
        );
        bad(npy(1, "['descr', '<f4']", &d), "dict");
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
                &d[..8],
            ),
            "truncated",
        );
        let mut long = d.clone();
        long.push(0);
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
                &long,
            ),
            "trailing",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}",
                &d,
            ),
            "needs 4000000000000 bytes",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
                &d,
            ),
            "negative",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (7,)}",
                &d,
            ),
            "shape (7,)",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",
                &d,
            ),
            "not a tuple",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order':False, 'shape': (3,), 'x': 1}",
                &d,
            ),
            "unsupported value",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,)}",
                &d,
            ),
            "unsupported value",
        );
        bad(
            npy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", &d),
            "unsupported value",
        );
        bad(
            npy(
                1,
                "{'descr': '>f4', 'fortran_order': False, 'shape': (3,)}",
                &d,
            ),
            "not supported",
        );
        bad(
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 2)}",
                &d,
            ),
            "too large",
        );
    }
}
