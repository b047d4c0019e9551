//! Reading files a verifier did not write: bounded, and never blocking on a FIFO or device.

use std::io::Read;
use std::path::Path;

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
