//! Reading inputs: EZKL-style JSON `{"input_data": [[...], ...]}`, a plain (nested) JSON array,
//! or a `.npy` file (float32/float64/int, little-endian, C order).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

/// The flat input values, and how many samples the file held (one per graph input row).
pub fn read_input(path: &Path) -> Result<Vec<Vec<f64>>> {
    let bytes = std::fs::read(path)
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

fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        serde_json::Value::Number(n) => out.push(
            n.as_f64()
                .ok_or_else(|| anyhow!("number {n} is not representable"))?,
        ),
        serde_json::Value::Array(a) => {
            for x in a {
                flatten(x, out)?;
            }
        }
        other => bail!("expected numbers, found {other}"),
    }
    Ok(())
}

/// JSON input: `{"input_data": [[...]]}` (each inner array is one graph input; zkgrad models have
/// one) or a nested array of numbers.
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
    let data = match &v {
        serde_json::Value::Object(o) => o
            .get("input_data")
            .ok_or_else(|| anyhow!("JSON object without an \"input_data\" field"))?,
        other => other,
    };
    let groups: Vec<&serde_json::Value> = match data {
        serde_json::Value::Array(a) if a.iter().all(|x| x.is_array()) && !a.is_empty() => {
            a.iter().collect()
        }
        serde_json::Value::Array(_) => vec![data],
        _ => bail!("\"input_data\" must be an array"),
    };
    groups
        .into_iter()
        .map(|g| {
            let mut out = Vec::new();
            flatten(g, &mut out)?;
            Ok(out)
        })
        .collect()
}

/// A `.npy` array, flattened.
pub fn read_npy(bytes: &[u8]) -> Result<Vec<f64>> {
    read_npy_shaped(bytes).map(|(v, _)| v)
}

/// A `.npy` array, flattened, with its shape.
pub fn read_npy_shaped(bytes: &[u8]) -> Result<(Vec<f64>, Vec<usize>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file");
    }
    let major = bytes[6];
    let (hlen, start) = if major == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        if bytes.len() < 12 {
            bail!("truncated .npy header");
        }
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or_else(|| anyhow!("truncated .npy header"))?;
    let header = std::str::from_utf8(header).map_err(|_| anyhow!("bad .npy header"))?;
    if header.contains("'fortran_order': True") {
        bail!(".npy in Fortran order is not supported");
    }
    let descr = header
        .split("'descr':")
        .nth(1)
        .and_then(|s| s.split('\'').nth(1))
        .ok_or_else(|| anyhow!("bad .npy header: no descr"))?;
    let data = &bytes[start + hlen..];
    let vals: Vec<f64> = match descr {
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
        "<i4" => data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        other => {
            bail!(".npy dtype {other} is not supported (use float32, float64, int32 or int64)")
        }
    };
    let shape: Vec<usize> = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .map(|s| s.split(',').filter_map(|d| d.trim().parse().ok()).collect())
        .unwrap_or_default();
    Ok((vals, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(read_json(b"[NaN, 1]")
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        assert!(read_json(b"not json").is_err());
        assert!(read_json(br#"{"x": 1}"#).is_err());
    }

    #[test]
    fn npy_float32() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        for v in [1.0f32, -2.0, 0.5] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(read_npy(&b).unwrap(), vec![1.0, -2.0, 0.5]);
    }
}
