//! The verifier's cache of values that are slow to recompute (a model's weight root, its
//! calibrated `act_frac` or per-tensor scales), authenticated so that it can never change a verdict.
//!
//! A cache directory may be shared, restored from a backup, or written by someone else, so an
//! entry is trusted only if this user's zkgrad wrote it for exactly this question. An entry is
//!
//! ```text
//! MAGIC (16 bytes) ‖ key (32) ‖ value (n) ‖ BLAKE3-keyed(secret, MAGIC ‖ kind ‖ key ‖ value) (32)
//! ```
//!
//! stored in `<cache dir>/<kind>/<hex key>`, where `key` is a hash of everything the value is
//! computed from (the caller's cache key: for a weight root, the quantized weights, circuit
//! description, PCS parameters and zkgrad version) and `secret` is 32 random bytes kept outside
//! the cache directory, in `$XDG_CONFIG_HOME/zkgrad/cache-key` (else
//! `~/.config/zkgrad/cache-key`), mode 0600. An entry copied from another key, edited, truncated
//! or of random bytes fails its check: the value is recomputed, the entry overwritten, and
//! stderr says so. Without a usable secret there is no cache: everything is recomputed.
//!
//! Reads are bounded (an entry is read up to its expected length plus one byte) and never block
//! on a FIFO or device: files are opened non-blocking, without following a symbolic link, and
//! must be regular files.

use std::path::{Path, PathBuf};

use crate::files::{open_regular, read_bounded};

/// Tags the entry format; a later format changes it.
const MAGIC: &[u8; 16] = b"zkgrad/cache/v1\0";
const MAC_LEN: usize = 32;
const SECRET_LEN: usize = 32;

/// How a command uses the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read a valid entry, else compute and store.
    Use,
    /// Always compute, and store the result (`commit`: it never prints an unchecked value).
    Refresh,
    /// Always compute; the cache is neither read nor written (`--no-cache`).
    Off,
}

/// The user's cache: a directory and the secret that authenticates its entries.
pub struct Cache {
    dir: PathBuf,
    secret: [u8; SECRET_LEN],
}

/// Where values are cached: `$ZKGRAD_CACHE_DIR`, else `$XDG_CACHE_HOME/zkgrad`, else
/// `~/.cache/zkgrad`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ZKGRAD_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Some(PathBuf::from(d).join("zkgrad"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("zkgrad"))
}

/// Where the secret lives: `$XDG_CONFIG_HOME/zkgrad/cache-key`, else
/// `~/.config/zkgrad/cache-key` — never inside the cache directory.
fn secret_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Some(PathBuf::from(d).join("zkgrad").join("cache-key"));
    }
    std::env::var_os("HOME").map(|h| {
        PathBuf::from(h)
            .join(".config")
            .join("zkgrad")
            .join("cache-key")
    })
}

/// The secret, if the file holds one that only its owner can read or write.
fn read_secret(path: &Path) -> std::io::Result<Result<[u8; SECRET_LEN], String>> {
    let f = open_regular(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Ok(Err(format!(
                "its mode is {:o}; it must be readable and writable by its owner only (0600)",
                mode & 0o777
            )));
        }
    }
    let bytes = read_bounded(f, SECRET_LEN + 1)?;
    Ok(<[u8; SECRET_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| format!("it holds {} bytes, not {SECRET_LEN}", bytes.len())))
}

/// Creates the secret atomically: 32 random bytes go to a private temporary file that is then
/// hard-linked into place, so that of several processes creating it at once, one wins and all
/// read the winner's.
fn create_secret(path: &Path) -> Result<(), String> {
    let dir = path.parent().ok_or("no directory")?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| e.to_string())?;
    let mut secret = [0u8; SECRET_LEN];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    let nonce = getrandom::u64().map_err(|e| format!("no randomness: {e}"))?;
    let tmp = dir.join(format!(".cache-key.{}.{nonce:016x}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&secret)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        // Another process won the race: its secret is the one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

impl Cache {
    /// The user's cache, or `None` (everything is recomputed) when there is no cache directory
    /// or no usable secret; the latter is said on stderr.
    pub fn open() -> Option<Self> {
        let dir = cache_dir()?;
        let path = secret_path()?;
        // Whoever can write the cache directory must not be able to replace the secret.
        let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let key_dir = path.parent().unwrap_or(&path);
        if resolved(key_dir).starts_with(resolved(&dir)) {
            eprintln!(
                "note: cache key {} lies inside the cache directory {}; not using the cache",
                path.display(),
                dir.display()
            );
            return None;
        }
        let secret = match read_secret(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_secret(&path)
                .and_then(|()| read_secret(&path).map_err(|e| e.to_string()))
                .and_then(|r| r),
            Err(e) => Err(e.to_string()),
        };
        match secret {
            Ok(secret) => Some(Self { dir, secret }),
            Err(why) => {
                eprintln!(
                    "note: cache key {} is unusable ({why}); not using the cache",
                    path.display()
                );
                None
            }
        }
    }

    fn entry_path(&self, kind: &str, key: &[u8; 32]) -> PathBuf {
        self.dir
            .join(kind)
            .join(blake3::Hash::from(*key).to_hex().as_str())
    }

    fn mac(&self, kind: &str, key: &[u8; 32], value: &[u8]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.secret);
        h.update(MAGIC);
        h.update(&(kind.len() as u64).to_le_bytes());
        h.update(kind.as_bytes());
        h.update(key);
        h.update(&(value.len() as u64).to_le_bytes());
        h.update(value);
        h.finalize()
    }

    /// The value stored for `key`, if an entry exists and passes its check. An entry that
    /// exists but fails is reported on stderr (the caller recomputes and overwrites it).
    fn get<const N: usize>(&self, kind: &str, key: &[u8; 32]) -> Option<[u8; N]> {
        self.get_len(kind, key, N)
            .and_then(|v| <[u8; N]>::try_from(v.as_slice()).ok())
    }

    /// [`Self::get`] of a value of `n` bytes, `n` known to the caller.
    fn get_len(&self, kind: &str, key: &[u8; 32], n: usize) -> Option<Vec<u8>> {
        let path = self.entry_path(kind, key);
        let len = MAGIC.len() + 32 + n + MAC_LEN;
        let bytes = match open_regular(&path).and_then(|f| read_bounded(f, len + 1)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => Vec::new(),
        };
        let checked = (bytes.len() == len)
            .then(|| {
                let (magic, rest) = bytes.split_at(MAGIC.len());
                let (stored_key, rest) = rest.split_at(32);
                let (value, mac) = rest.split_at(n);
                let mac = <[u8; MAC_LEN]>::try_from(mac).ok()?;
                // blake3::Hash compares in constant time.
                (magic == MAGIC
                    && stored_key == key
                    && self.mac(kind, key, value) == blake3::Hash::from(mac))
                .then(|| value.to_vec())
            })
            .flatten();
        if checked.is_none() {
            eprintln!(
                "cache entry {} failed its integrity check; recomputed",
                path.display()
            );
        }
        checked
    }

    /// Stores `value` for `key`. A cache that cannot be written is no error: the next run
    /// recomputes.
    fn put(&self, kind: &str, key: &[u8; 32], value: &[u8]) {
        let path = self.entry_path(kind, key);
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let mut entry = Vec::with_capacity(MAGIC.len() + 32 + value.len() + MAC_LEN);
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(key);
        entry.extend_from_slice(value);
        entry.extend_from_slice(self.mac(kind, key, value).as_bytes());
        // No randomness, no unique temporary name: skip storing (the next run recomputes).
        let Ok(nonce) = getrandom::u64() else { return };
        let tmp = dir.join(format!(".tmp.{}.{nonce:016x}", std::process::id()));
        if std::fs::write(&tmp, &entry).is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The value for `key` (a hash of everything it is computed from, domain-separated by the
/// caller): read from the cache if `mode` allows and the entry checks out, else computed (and
/// stored unless `mode` is [`Mode::Off`]).
pub fn cached<const N: usize>(
    kind: &str,
    key: impl FnOnce() -> [u8; 32],
    mode: Mode,
    compute: impl FnOnce() -> [u8; N],
) -> [u8; N] {
    static CACHE: std::sync::OnceLock<Option<Cache>> = std::sync::OnceLock::new();
    let cache = match mode {
        Mode::Off => None,
        Mode::Use | Mode::Refresh => CACHE.get_or_init(Cache::open).as_ref(),
    };
    let Some(cache) = cache else {
        return compute();
    };
    let key = key();
    if mode == Mode::Use {
        if let Some(v) = cache.get::<N>(kind, &key) {
            return v;
        }
    }
    let value = compute();
    cache.put(kind, &key, &value);
    value
}

/// [`cached`] of a value of `len` bytes (a length the caller knows from the key's inputs, e.g. one
/// byte per value of a graph); `compute` must return exactly `len` bytes, else nothing is stored.
pub fn cached_len(
    kind: &str,
    key: impl FnOnce() -> [u8; 32],
    mode: Mode,
    len: usize,
    compute: impl FnOnce() -> Vec<u8>,
) -> Vec<u8> {
    let cache = match mode {
        Mode::Off => None,
        Mode::Use | Mode::Refresh => Cache::open(),
    };
    let Some(cache) = cache else {
        return compute();
    };
    let key = key();
    if mode == Mode::Use {
        if let Some(v) = cache.get_len(kind, &key, len) {
            return v;
        }
    }
    let value = compute();
    if value.len() == len {
        cache.put(kind, &key, &value);
    }
    value
}
