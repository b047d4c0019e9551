//! A training run's directory as one download: an uncompressed POSIX ustar archive (what `tar
//! -xf` reads), regular files and directories only, names relative to the run.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The archive of every file under `dir`, named `prefix/…`, in sorted order.
pub fn archive(dir: &Path, prefix: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    add_dir(&mut out, dir, prefix)?;
    out.extend_from_slice(&[0u8; 1024]); // two zero blocks end the archive
    Ok(out)
}

fn add_dir(out: &mut Vec<u8>, dir: &Path, name: &str) -> Result<()> {
    out.extend_from_slice(&header(&format!("{name}/"), 0, b'5', 0o755)?);
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let file_name = e.file_name();
        let child = format!("{name}/{}", file_name.to_string_lossy());
        let kind = e.file_type()?;
        if kind.is_dir() {
            add_dir(out, &e.path(), &child)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(e.path())
                .with_context(|| format!("cannot read {}", e.path().display()))?;
            out.extend_from_slice(&header(&child, bytes.len() as u64, b'0', 0o644)?);
            out.extend_from_slice(&bytes);
            out.resize(out.len().next_multiple_of(512), 0);
        }
    }
    Ok(())
}

/// One 512-byte ustar header.
fn header(name: &str, size: u64, kind: u8, mode: u32) -> Result<[u8; 512]> {
    let mut h = [0u8; 512];
    let n = name.as_bytes();
    if n.len() > 100 {
        bail!("archive member name longer than 100 bytes: {name}");
    }
    h[..n.len()].copy_from_slice(n);
    let octal = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
        let s = format!("{v:0w$o}", w = width - 1);
        h[at..at + width - 1].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, u64::from(mode));
    octal(&mut h, 108, 8, 0); // uid
    octal(&mut h, 116, 8, 0); // gid
    octal(&mut h, 124, 12, size);
    octal(&mut h, 136, 12, 0); // mtime
    h[148..156].copy_from_slice(b"        "); // checksum counted as spaces
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Ok(h)
}
