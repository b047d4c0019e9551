//! Initializers whose data lies in external files (ONNX `external_data`), moved into the model.

use std::collections::HashMap;
use std::path::{Component, Path};

use onnx_protobuf::{Message, TensorProto};

use crate::proto::parse_model;
use crate::tensor::{element_size, elements};
use crate::{Limits, OnnxError};

/// Where a tensor's external data lies: the file, the offset, and the number of bytes — exactly
/// what the tensor's shape and data type need.
struct Extent {
    location: String,
    offset: u64,
    len: usize,
}

/// Reads a tensor's `external_data` entries, refusing a `length` other than the tensor's size.
fn extent(t: &TensorProto, limits: &Limits) -> Result<Extent, String> {
    let field = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    let location = field("location").ok_or("external data without a location")?;
    let num = |k: &str| -> Result<Option<u64>, String> {
        field(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("external data {k} {v:?}"))
            })
            .transpose()
    };
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<_, _>>()?;
    let n = if dims.contains(&0) {
        0
    } else {
        elements(&dims, limits)?
    };
    let size = element_size(t.data_type)
        .ok_or_else(|| format!("unsupported data type {}", t.data_type))?;
    let len = n
        .checked_mul(size)
        .ok_or("the tensor's byte size overflows")?;
    let offset = num("offset")?.unwrap_or(0);
    if let Some(l) = num("length")? {
        if l != len as u64 {
            return Err(format!(
                "external data length {l} is not the tensor's size ({len} bytes for shape {:?})",
                t.dims
            ));
        }
    }
    Ok(Extent {
        location,
        offset,
        len,
    })
}

/// A model with its initializers' external data read in, parsed once: what
/// [`inline_external_data_in_dir`] encodes, kept as the parsed model so that importing it
/// ([`crate::import_inlined`]) neither encodes nor parses it again, and its bytes are hashed
/// ([`InlinedModel::write_bytes`]) without being held (GPT-2 124M: 0.5 GB twice).
pub struct InlinedModel {
    pub(crate) proto: onnx_protobuf::ModelProto,
    /// The file's own bytes when no initializer was external: they are what
    /// [`inline_external_data_in_dir`] returns then (an encoding of the parsed model need not
    /// repeat them byte for byte).
    original: Option<Vec<u8>>,
}

impl InlinedModel {
    /// The length of the bytes [`inline_external_data_in_dir`] returns for this model.
    pub fn byte_len(&self) -> u64 {
        match &self.original {
            Some(b) => b.len() as u64,
            None => self.proto.compute_size(),
        }
    }

    /// The bytes [`inline_external_data_in_dir`] returns for this model.
    fn into_bytes(self) -> Result<Vec<u8>, OnnxError> {
        match self.original {
            Some(b) => Ok(b),
            None => self
                .proto
                .write_to_bytes()
                .map_err(|e| OnnxError::Parse(format!("re-encoding the model: {e}"))),
        }
    }

    /// Writes the bytes [`inline_external_data_in_dir`] returns for this model into `w`.
    pub fn write_bytes(&self, w: &mut dyn std::io::Write) -> Result<(), OnnxError> {
        match &self.original {
            Some(b) => w
                .write_all(b)
                .map_err(|e| OnnxError::Parse(format!("writing the model: {e}"))),
            None => self
                .proto
                .write_to_writer(w)
                .map_err(|e| OnnxError::Parse(format!("re-encoding the model: {e}"))),
        }
    }
}

/// Moves initializer data stored in external files into the model, asking `read` for exactly
/// the bytes each tensor needs (`location`, `offset`, `length`) — the caller decides where a
/// location may point and must return exactly that many bytes.
fn inline_with(
    bytes: &[u8],
    limits: &Limits,
    read: impl FnMut(&str, u64, usize) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, OnnxError> {
    inline_parsed(bytes.to_vec(), limits, read)?.into_bytes()
}

/// [`inline_with`], the model kept parsed.
fn inline_parsed(
    bytes: Vec<u8>,
    limits: &Limits,
    mut read: impl FnMut(&str, u64, usize) -> Result<Vec<u8>, String>,
) -> Result<InlinedModel, OnnxError> {
    let mut m = parse_model(&bytes)?;
    let as_is = |proto| {
        Ok(InlinedModel {
            proto,
            original: Some(bytes),
        })
    };
    let Some(g) = m.graph.as_mut() else {
        return as_is(m);
    };
    if g.initializer.iter().all(|t| t.external_data.is_empty()) {
        return as_is(m);
    }
    if g.initializer.len() > limits.max_nodes {
        return Err(OnnxError::Graph(format!(
            "{} initializers: more than the limit of {}",
            g.initializer.len(),
            limits.max_nodes
        )));
    }
    for t in g
        .initializer
        .iter_mut()
        .filter(|t| !t.external_data.is_empty())
    {
        let bad = |why: String| OnnxError::Graph(format!("tensor {}: {why}", t.name));
        let e = extent(t, limits).map_err(bad)?;
        let data = read(&e.location, e.offset, e.len)
            .map_err(|why| bad(format!("external data {}: {why}", e.location)))?;
        if data.len() != e.len {
            return Err(bad(format!(
                "external data {} gave {} bytes, not {}",
                e.location,
                data.len(),
                e.len
            )));
        }
        t.raw_data = data;
        t.external_data.clear();
        t.data_location = onnx_protobuf::tensor_proto::DataLocation::DEFAULT.into();
    }
    Ok(InlinedModel {
        proto: m,
        original: None,
    })
}

/// Moves initializer data stored in external files (ONNX `external_data`: `location`, `offset`,
/// `length`) into the model, reading each file once through `read` (the caller decides where a
/// location may point). Returns the model's bytes with every initializer inline — the same
/// bytes if none was external. A `length` must be the tensor's size; only
/// `offset..offset + size` of the file is used. Prefer [`inline_external_data_in_dir`], which
/// reads only those bytes, and only from regular files inside the model's directory.
pub fn inline_external_data(
    bytes: &[u8],
    mut read: impl FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, OnnxError> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    inline_with(bytes, &Limits::default(), |location, offset, len| {
        if !files.contains_key(location) {
            files.insert(location.to_string(), read(location)?);
        }
        let data = files.get(location).map(Vec::as_slice).unwrap_or_default();
        usize::try_from(offset)
            .ok()
            .and_then(|o| Some(o..o.checked_add(len)?))
            .and_then(|r| data.get(r))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "is shorter than offset + length".to_string())
    })
}

/// Moves initializer data stored in external files into the model, reading the files from
/// `dir` (the model's directory). A location must be a relative path that, with every symbolic
/// link resolved, lies inside `dir` and names a regular file (not a FIFO, a device or a
/// directory) holding at least `offset + size` bytes; exactly the tensor's `size` bytes from
/// `offset` are read (its shape, within `limits`, times its element size).
pub fn inline_external_data_in_dir(
    bytes: &[u8],
    dir: &Path,
    limits: &Limits,
) -> Result<Vec<u8>, OnnxError> {
    inline_external_data_in_dir_parsed(bytes.to_vec(), dir, limits)?.into_bytes()
}

/// [`inline_external_data_in_dir`], the model kept parsed: for [`crate::import_inlined`].
pub fn inline_external_data_in_dir_parsed(
    bytes: Vec<u8>,
    dir: &Path,
    limits: &Limits,
) -> Result<InlinedModel, OnnxError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    inline_parsed(bytes, limits, |location, offset, len| {
        read_extent(dir, location, offset, len)
    })
}

/// Reads `len` bytes at `offset` of `location`, a regular file inside `dir`.
fn read_extent(dir: &Path, location: &str, offset: u64, len: usize) -> Result<Vec<u8>, String> {
    let rel = Path::new(location);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err("must be a relative path inside the model's directory".into());
    }
    let root = dir
        .canonicalize()
        .map_err(|e| format!("the model's directory: {e}"))?;
    let path = root.join(rel).canonicalize().map_err(|e| e.to_string())?;
    if !path.starts_with(&root) {
        return Err("resolves (through a symbolic link) outside the model's directory".into());
    }
    let regular = |m: &std::fs::Metadata| {
        if m.is_file() {
            Ok(())
        } else {
            Err("is not a regular file (a FIFO, device or directory is refused)".to_string())
        }
    };
    let meta = std::fs::metadata(&path).map_err(|e| e.to_string())?;
    regular(&meta)?;
    let end = offset
        .checked_add(len as u64)
        .ok_or("offset + length overflows")?;
    if meta.len() < end {
        return Err(format!(
            "is shorter ({} bytes) than offset + length ({end})",
            meta.len()
        ));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(target_os = "linux")]
    {
        // O_NONBLOCK: should the file have been replaced by a FIFO since, opening it does not
        // wait for a writer.
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(0o4000);
    }
    let mut f = opts.open(&path).map_err(|e| e.to_string())?;
    regular(&f.metadata().map_err(|e| e.to_string())?)?;
    let mut buf = vec![0u8; len];
    read_at(&mut f, &mut buf, offset)
        .map_err(|e| format!("reading {len} bytes at offset {offset}: {e}"))?;
    Ok(buf)
}

/// Reads `buf.len()` bytes of `f` at `offset`, in chunks on the thread pool: the buffer's
/// fresh pages are faulted in by both threads instead of one (GPT-2 124M's 0.5 GB of weights
/// took 1.1 s on one core after an idle minute, when this VM's fresh pages are slowest).
#[cfg(unix)]
fn read_at(f: &mut std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    const CHUNK: usize = 4 << 20;
    let f = &*f;
    buf.par_chunks_mut(CHUNK)
        .enumerate()
        .try_for_each(|(i, chunk)| f.read_exact_at(chunk, offset + (i * CHUNK) as u64))
}

/// [`read_at`] elsewhere: one read from `offset`.
#[cfg(not(unix))]
fn read_at(f: &mut std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    /// Several 4 MiB pieces and a partial last one, from an offset inside the file: the bytes
    /// read in parallel are the file's, in order; a read past the end is an error.
    #[test]
    fn read_at_in_pieces_gives_the_files_bytes() {
        let path = std::env::temp_dir().join(format!("zkgrad-read-at-{}", std::process::id()));
        let data: Vec<u8> = (0..(9 << 20) + 12345u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mut f = std::fs::File::open(&path).unwrap();
        let (offset, len) = (1001usize, (8 << 20) + 777);
        let mut buf = vec![0u8; len];
        super::read_at(&mut f, &mut buf, offset as u64).unwrap();
        assert!(buf == data[offset..offset + len]);
        let mut past = vec![0u8; data.len()];
        assert!(super::read_at(&mut f, &mut past, 1).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
