//! Files: reading those a verifier did not write (bounded, and never blocking on a FIFO or
//! device), and writing files so that none is ever left half-written.
//!
//! Every file zkgrad reads goes through [`read_regular`]: the path (after following symbolic
//! links) must name a regular file, and no more than a stated limit is read. The limits:
//!
//! | what                                  | limit                                   |
//! |---------------------------------------|-----------------------------------------|
//! | inputs, calibration and data files    | [`MAX_INPUT_BYTES`] (1 GiB)             |
//! | models (and their external data)      | [`MAX_MODEL_BYTES`] (2 GiB, ONNX's own) |
//! | proof files                           | [`MAX_PROOF_BYTES`] (256 MiB)           |
//! | run manifests, run files, cache files | the size their format implies           |
//!
//! A refusal reads `FILE: not a regular file` or `FILE: larger than N bytes`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

/// The largest input, calibration or training-data file read (JSON, CSV or `.npy`).
pub const MAX_INPUT_BYTES: usize = 1 << 30;
/// The largest model file read, and the largest total of its external data: protobuf's own
/// limit on one message.
pub const MAX_MODEL_BYTES: usize = 2 << 30;
/// The largest proof file read (zkgrad's proofs are a few MB at most).
pub const MAX_PROOF_BYTES: usize = 256 << 20;

/// Opens `path` for reading without blocking on a FIFO or device and without following a
/// symbolic link, and requires a regular file (the cache's entries and key: nothing there is
/// ever a link).
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    open_checked(path, false)
}

fn open_checked(path: &Path, follow: bool) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        opts.custom_flags(libc::O_NONBLOCK | nofollow);
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

/// At most `limit` bytes of the regular file at `path` (not following a link).
pub fn read_at_most(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    read_bounded(open_regular(path)?, limit)
}

/// The bytes of the file at `path`, which (after following symbolic links) must be a regular
/// file of at most `limit` bytes: `FILE: not a regular file`, `FILE: larger than N bytes`, or
/// `FILE: <the system's error>` otherwise. Never blocks on a FIFO or device, and never reads
/// more than `limit + 1` bytes, whatever the file grows to meanwhile.
pub fn read_regular(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{shown}: {e}"))?;
    if !meta.is_file() {
        if meta.is_dir() {
            bail!("{shown}: is a directory, not a regular file");
        }
        bail!("{shown}: not a regular file");
    }
    if meta.len() > limit as u64 {
        bail!("{shown}: larger than {limit} bytes");
    }
    let f = open_checked(path, true).map_err(|e| anyhow!("{shown}: {e}"))?;
    let bytes = read_bounded(f, limit.saturating_add(1)).map_err(|e| anyhow!("{shown}: {e}"))?;
    if bytes.len() > limit {
        bail!("{shown}: larger than {limit} bytes");
    }
    Ok(bytes)
}

/// A random 64-bit nonce for a temporary file's name.
fn nonce() -> Result<u64> {
    getrandom::u64().map_err(|e| anyhow!("no randomness for a temporary file name: {e}"))
}

/// A new, empty temporary file next to `path` (created with `create_new`, so it never replaces
/// anything, a user's `X.tmp` included), and its path.
fn create_temp(path: &Path, tag: &str) -> Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for _ in 0..16 {
        let tmp = path.with_file_name(format!(
            ".{name}.zkgrad-{tag}-{}-{:016x}",
            std::process::id(),
            nonce()?
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!("cannot write {}: {e}", path.display()),
        }
    }
    bail!("cannot write {}: no free temporary name", path.display())
}

/// Writes `bytes` to a new temporary sibling of `path`; its path.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let (tmp, mut f) = create_temp(path, "tmp")?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        bail!("cannot write {}: {e}", path.display());
    }
    Ok(tmp)
}

/// Checks, before any work is done, that each of `paths` can be an output file: not a
/// directory (nor a link to one), in a directory that exists, no two the same file, and none of
/// the files `reads` (the command's inputs, as flag and path).
pub fn check_outputs(paths: &[(&str, &Path)], reads: &[(&str, &Path)]) -> Result<()> {
    let mut seen: Vec<(&str, PathBuf)> = reads
        .iter()
        .filter_map(|(f, p)| Some((*f, std::fs::canonicalize(p).ok()?)))
        .collect();
    for (flag, p) in paths {
        if p.is_dir() {
            bail!("{flag} {}: is a directory", p.display());
        }
        let Some(name) = p.file_name() else {
            bail!("{flag} {}: not a file name", p.display());
        };
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            bail!(
                "{flag} {}: directory {} does not exist",
                p.display(),
                parent.display()
            );
        }
        let canon = std::fs::canonicalize(p)
            .unwrap_or_else(|_| std::fs::canonicalize(parent).unwrap_or_default().join(name));
        if let Some((other, _)) = seen.iter().find(|(_, c)| *c == canon) {
            bail!(
                "{flag} {}: the same file as {other}; give each output its own path",
                p.display()
            );
        }
        seen.push((flag, canon));
    }
    Ok(())
}

/// Writes every file or none: each goes to a temporary sibling first, then all are renamed into
/// place. If a rename fails, the files already renamed are put back as they were (an existing
/// file restored from a hard-linked backup, a new one removed) and every temporary file is
/// removed.
pub fn write_all_or_nothing(files: &[(&Path, Vec<u8>)]) -> Result<()> {
    let mut temps: Vec<PathBuf> = Vec::new();
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for (path, bytes) in files {
        match write_temp(path, bytes) {
            Ok(t) => temps.push(t),
            Err(e) => {
                cleanup(&temps);
                return Err(e);
            }
        }
    }
    // Backups of the files about to be replaced, so that a failed rename can undo the others.
    let mut backups: Vec<Option<PathBuf>> = Vec::new();
    for (path, _) in files {
        let backup = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
            let b = match create_temp(path, "bak") {
                Ok((b, _)) => b,
                Err(e) => {
                    cleanup(&temps);
                    cleanup(&backups.iter().flatten().cloned().collect::<Vec<_>>());
                    return Err(e);
                }
            };
            let _ = std::fs::remove_file(&b);
            match std::fs::hard_link(path, &b) {
                Ok(()) => Some(b),
                Err(e) => {
                    cleanup(&temps);
                    cleanup(&backups.iter().flatten().cloned().collect::<Vec<_>>());
                    bail!("cannot write {}: {e}", path.display());
                }
            }
        } else {
            None
        };
        backups.push(backup);
    }
    for (i, (tmp, (path, _))) in temps.iter().zip(files).enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            // Undo the renames done so far.
            for ((done, _), backup) in files[..i].iter().zip(&backups) {
                match backup {
                    Some(b) => {
                        let _ = std::fs::rename(b, done);
                    }
                    None => {
                        let _ = std::fs::remove_file(done);
                    }
                }
            }
            cleanup(&temps[i..]);
            cleanup(&backups[i..].iter().flatten().cloned().collect::<Vec<_>>());
            bail!("cannot write {}: {e}", path.display());
        }
    }
    cleanup(&backups.into_iter().flatten().collect::<Vec<_>>());
    Ok(())
}

/// Writes `bytes` to `path` through a new temporary sibling of a unique name, so that `path` is
/// never half-written and nothing else is ever replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_temp(path, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test's own directory, removed when the test ends (passed or failed).
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl AsRef<std::path::Path> for Scratch {
        fn as_ref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("zkgrad-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    #[test]
    fn read_regular_refuses_devices_directories_and_large_files() {
        let d = dir("read");
        let f = d.join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        let e = read_regular(&f, 4).unwrap_err().to_string();
        assert!(e.contains("larger than 4 bytes"), "{e}");
        let e = read_regular(&d, 4).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev/zero: not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let l = d.join("link");
            std::os::unix::fs::symlink(&f, &l).unwrap();
            assert_eq!(read_regular(&l, 5).unwrap(), b"12345");
        }
    }

    #[test]
    fn write_atomic_never_touches_a_users_tmp_file() {
        let d = dir("atomic");
        let p = d.join("out.json");
        std::fs::write(d.join("out.tmp"), b"mine").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(d.join("out.tmp")).unwrap(), b"mine");
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_rename_undoes_the_others() {
        let d = dir("all-or-nothing");
        let a = d.join("a");
        std::fs::write(&a, b"old").unwrap();
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x"), b"x").unwrap();
        // `sub` is a non-empty directory: renaming a file onto it fails, after `a` was renamed.
        let e = write_all_or_nothing(&[(&a, b"new".to_vec()), (&sub, b"s".to_vec())]);
        assert!(e.is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "sub"]);
        let b = d.join("b");
        let e = write_all_or_nothing(&[(&b, b"new".to_vec()), (&sub, b"s".to_vec())]);
        assert!(e.is_err());
        assert!(!b.exists());
    }

    #[test]
    fn outputs_are_checked_up_front() {
        let d = dir("outputs");
        let e = check_outputs(&[("--proof", &d)], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
        let p = d.join("p");
        let e = check_outputs(
            &[("--proof", &p), ("--output", &d.join(".").join("p"))],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("same file as --proof"), "{e}");
        let e = check_outputs(&[("--proof", &d.join("no/p"))], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        check_outputs(&[("--proof", &p), ("--output", &d.join("o"))], &[]).unwrap();
        std::fs::write(&p, b"in").unwrap();
        let e = check_outputs(&[("--output", &p)], &[("--input", &p)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("same file as --input"), "{e}");
    }
}
