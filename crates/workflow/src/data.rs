//! Training data: `{"x": [[...], ...], "y": [[...], ...]}` JSON, a CSV whose last `--targets K`
//! columns are y, or a directory holding `x.npy` and `y.npy` (2-D). One row per sample.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::files::{read_regular, MAX_INPUT_BYTES};

/// A data file's text, read as [`read_regular`] reads (at most [`MAX_INPUT_BYTES`]).
fn read_text(path: &Path) -> Result<String> {
    let bytes = read_regular(path, MAX_INPUT_BYTES).context("cannot read data file")?;
    String::from_utf8(bytes).map_err(|_| anyhow!("data file {}: not UTF-8 text", path.display()))
}

/// Samples as rows.
pub struct Dataset {
    pub x: Vec<Vec<f64>>,
    pub y: Vec<Vec<f64>>,
}

impl Dataset {
    pub fn load(path: &Path, targets: Option<usize>) -> Result<Self> {
        let d = if path.is_dir() {
            let x = npy_rows(&path.join("x.npy"))?;
            let y = npy_rows(&path.join("y.npy"))?;
            Self { x, y }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            let k = targets.ok_or_else(|| {
                anyhow!(
                    "data file {}: a CSV needs --targets K (the last K columns are y)",
                    path.display()
                )
            })?;
            csv(path, k)?
        } else {
            json(path)?
        };
        if d.x.is_empty() {
            bail!("data {}: no samples", path.display());
        }
        if d.x.len() != d.y.len() {
            bail!(
                "data {}: {} inputs but {} targets",
                path.display(),
                d.x.len(),
                d.y.len()
            );
        }
        for (name, rows) in [("x", &d.x), ("y", &d.y)] {
            let w = rows[0].len();
            for (i, r) in rows.iter().enumerate() {
                if r.len() != w {
                    bail!(
                        "data {}: {name} row {i} has {} values, row 0 has {w}",
                        path.display(),
                        r.len()
                    );
                }
                if let Some((j, v)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    bail!(
                        "data {}: {name} row {i} value {j} is {v}; data must be finite",
                        path.display()
                    );
                }
            }
        }
        Ok(d)
    }
}

fn rows_of(v: &serde_json::Value, what: &str) -> Result<Vec<Vec<f64>>> {
    let rows = v
        .as_array()
        .ok_or_else(|| anyhow!("\"{what}\" must be an array of rows"))?;
    rows.iter()
        .map(|r| {
            let r = r
                .as_array()
                .ok_or_else(|| anyhow!("\"{what}\" must be an array of rows"))?;
            r.iter()
                .map(|x| {
                    x.as_f64()
                        .ok_or_else(|| anyhow!("\"{what}\" holds a non-number {x}"))
                })
                .collect()
        })
        .collect()
}

fn json(path: &Path) -> Result<Dataset> {
    let text = read_text(path)?;
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) if text.contains("NaN") || text.contains("Infinity") => {
            bail!(
                "data file {}: holds NaN or Infinity; data must be finite ({e})",
                path.display()
            )
        }
        Err(e) => bail!("data file {}: not valid JSON: {e}", path.display()),
    };
    let get = |k: &str| {
        v.get(k)
            .ok_or_else(|| anyhow!("data file {}: no \"{k}\" field", path.display()))
    };
    Ok(Dataset {
        x: rows_of(get("x")?, "x").with_context(|| format!("data file {}", path.display()))?,
        y: rows_of(get("y")?, "y").with_context(|| format!("data file {}", path.display()))?,
    })
}

fn csv(path: &Path, k: usize) -> Result<Dataset> {
    let text = read_text(path)?;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        let Ok(vals) = parsed else {
            if ln == 0 {
                continue; // a header row
            }
            bail!(
                "data file {}: line {} is not numeric",
                path.display(),
                ln + 1
            );
        };
        if vals.len() <= k {
            bail!(
                "data file {}: line {} has {} columns, --targets is {k}",
                path.display(),
                ln + 1,
                vals.len()
            );
        }
        let (a, b) = vals.split_at(vals.len() - k);
        x.push(a.to_vec());
        y.push(b.to_vec());
    }
    Ok(Dataset { x, y })
}

fn npy_rows(path: &Path) -> Result<Vec<Vec<f64>>> {
    let bytes = read_regular(path, MAX_INPUT_BYTES).context("cannot read data file")?;
    let (vals, shape) =
        crate::input::read_npy_shaped(&bytes).with_context(|| format!("{}", path.display()))?;
    let [n, d] = shape[..] else {
        bail!(
            "{}: expected a 2-D array, found shape {shape:?}",
            path.display()
        );
    };
    if n.checked_mul(d) != Some(vals.len()) {
        bail!(
            "{}: {} values for shape {shape:?}",
            path.display(),
            vals.len()
        );
    }
    Ok(vals.chunks(d.max(1)).map(|c| c.to_vec()).collect())
}
