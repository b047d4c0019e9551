//! Digests as text: 64 lowercase hex digits, as commitments and weight roots are printed and
//! recorded in run manifests.

use anyhow::{bail, Result};

/// `b` as lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A 32-byte digest from exactly 64 hex digits (surrounding whitespace ignored).
pub fn parse_hex32(s: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("commitment must be 64 hex digits, got {s:?}");
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)?;
    }
    Ok(out)
}
