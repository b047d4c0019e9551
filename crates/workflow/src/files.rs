//! Files: reading those a verifier did not write (bounded, and never blocking on a FIFO or
//! device), and writing files so that none is ever left half-written.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, Context, Result};

/// Opens `path` for reading without blocking on a FIFO or device and without following a
/// symbolic link, and requires a regular file.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let f = opts.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// At most `limit` bytes of `f`.
pub fn read_bounded(f: std::fs::File, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(limit as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// At most `limit` bytes of the regular file at `path`.
pub fn read_at_most(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    read_bounded(open_regular(path)?, limit)
}

/// Writes every file or none: each goes to a temporary sibling first, then all are renamed.
pub fn write_all_or_nothing(files: &[(&Path, Vec<u8>)]) -> Result<()> {
    let mut temps = Vec::new();
    for (path, bytes) in files {
        let tmp = path.with_file_name(format!(
            ".{}.zkgrad-tmp-{}",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if let Err(e) = std::fs::write(&tmp, bytes) {
            for t in &temps {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(anyhow!("cannot write {}: {e}", path.display()));
        }
        temps.push(tmp);
    }
    for (tmp, (path, _)) in temps.iter().zip(files) {
        std::fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary sibling, so that `path` is never half-written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
