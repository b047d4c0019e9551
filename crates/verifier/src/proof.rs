//! The proof file: a small versioned header, the public data, then the proof body (the
//! transcript's messages, in schedule order).
//!
//! ```text
//! magic "ZKGRADPF" | version u16 | act_frac u32 | weight_frac u32 | table_bits u32
//! | pcs u8 (0 Ligero, 1 WHIR: `zkgrad_pcs::Scheme`) | weight root [32] | protocol id [32] | circuit_len u32 | circuit description
//! | n_in u32 | input i64 × n_in
//! | n_out u32 | output i64 × n_out | body_len u64 | body
//! ```
//! All integers little-endian. Nothing may follow the body.

use zkgrad_circuit::QConfig;
use zkgrad_field::codec::{CodecError, Reader, Writer};
use zkgrad_pcs::Scheme;

pub const MAGIC: &[u8; 8] = b"ZKGRADPF";
/// The version this build writes and reads.
pub const FORMAT_VERSION: u16 = 11;
/// Largest public input or output a proof file may declare.
const MAX_PUBLIC: usize = 1 << 26;
/// Largest circuit description a proof file may declare.
const MAX_CIRCUIT: usize = 1 << 24;

/// A parsed proof file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofFile {
    pub config: QConfig,
    /// The commitment scheme of the large batched openings (bound by the protocol id).
    pub pcs: Scheme,
    pub weight_root: [u8; 32],
    pub protocol_id: [u8; 32],
    /// The quantized circuit's description (`QGraph::describe`), weights excluded.
    pub circuit: Vec<u8>,
    pub input: Vec<i64>,
    pub output: Vec<i64>,
    pub body: Vec<u8>,
}

/// Why a file is not a usable proof (as opposed to a proof that fails verification).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFormatError {
    #[error("not a zkgrad proof file (bad magic)")]
    BadMagic,
    #[error("unsupported proof version {found} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion { found: u16 },
    #[error("truncated proof file: {0}")]
    Truncated(CodecError),
    #[error("proof file has {0} bytes after the proof body")]
    TrailingBytes(usize),
    #[error("proof header holds invalid precision settings")]
    BadConfig,
    #[error("proof header names an unknown commitment scheme ({0})")]
    BadScheme(u8),
}

impl ProofFile {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(MAGIC);
        w.raw(&FORMAT_VERSION.to_le_bytes());
        w.u32(self.config.act_frac);
        w.u32(self.config.weight_frac);
        w.u32(self.config.table_bits);
        w.u8(self.pcs.code());
        w.raw(&self.weight_root);
        w.raw(&self.protocol_id);
        w.u32(self.circuit.len() as u32);
        w.raw(&self.circuit);
        // Public values as zigzag LEB128 (small magnitudes take few bytes).
        for vals in [&self.input, &self.output] {
            w.u32(vals.len() as u32);
            for v in vals.iter() {
                w.varint(((v << 1) ^ (v >> 63)) as u64);
            }
        }
        w.u64(self.body.len() as u64);
        w.raw(&self.body);
        w.bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofFormatError> {
        let mut r = Reader::new(bytes);
        let magic = r.array::<8>().map_err(|_| ProofFormatError::BadMagic)?;
        if &magic != MAGIC {
            return Err(ProofFormatError::BadMagic);
        }
        let t = ProofFormatError::Truncated;
        let version = u16::from_le_bytes(r.array::<2>().map_err(t)?);
        if version != FORMAT_VERSION {
            return Err(ProofFormatError::UnsupportedVersion { found: version });
        }
        let act_frac = r.u32().map_err(t)?;
        let weight_frac = r.u32().map_err(t)?;
        let table_bits = r.u32().map_err(t)?;
        // act_frac < table_bits − 1, written without `act_frac + 1` (which wraps at u32::MAX).
        if !(4..=20).contains(&table_bits) || weight_frac > 40 || act_frac >= table_bits - 1 {
            return Err(ProofFormatError::BadConfig);
        }
        let config = QConfig {
            act_frac,
            weight_frac,
            table_bits,
        };
        let code = r.u8().map_err(t)?;
        let pcs = Scheme::from_code(code).ok_or(ProofFormatError::BadScheme(code))?;
        let weight_root = r.array::<32>().map_err(t)?;
        let protocol_id = r.array::<32>().map_err(t)?;
        let n = r
            .len(MAX_CIRCUIT, "circuit description length")
            .map_err(t)?;
        let circuit = r.raw(n).map_err(t)?.to_vec();
        let read_vals = |r: &mut Reader| -> Result<Vec<i64>, ProofFormatError> {
            let n = r.len(MAX_PUBLIC, "public data length").map_err(t)?;
            // At least one byte a value: bound the count before allocating.
            if n > r.remaining() {
                return Err(t(CodecError::UnexpectedEnd {
                    offset: r.position(),
                    needed: n - r.remaining(),
                }));
            }
            (0..n)
                .map(|_| {
                    r.varint()
                        .map(|z| ((z >> 1) as i64) ^ -((z & 1) as i64))
                        .map_err(t)
                })
                .collect()
        };
        let input = read_vals(&mut r)?;
        let output = read_vals(&mut r)?;
        let body_len = r.u64().map_err(t)?;
        if body_len > r.remaining() as u64 {
            return Err(t(CodecError::UnexpectedEnd {
                offset: r.position(),
                needed: (body_len - r.remaining() as u64) as usize,
            }));
        }
        let body = r.raw(body_len as usize).map_err(t)?.to_vec();
        if r.remaining() > 0 {
            return Err(ProofFormatError::TrailingBytes(r.remaining()));
        }
        Ok(Self {
            config,
            pcs,
            weight_root,
            protocol_id,
            circuit,
            input,
            output,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProofFile {
        ProofFile {
            config: QConfig {
                act_frac: 10,
                weight_frac: 16,
                table_bits: 16,
            },
            pcs: Scheme::Whir,
            weight_root: [1; 32],
            protocol_id: [2; 32],
            circuit: vec![5; 20],
            input: vec![1, -2, 3],
            output: vec![-4],
            body: vec![9; 40],
        }
    }

    #[test]
    fn round_trip() {
        let p = sample();
        assert_eq!(ProofFile::from_bytes(&p.to_bytes()).unwrap(), p);
    }

    /// A tampered header whose `act_frac + 1` would wrap (u32::MAX) is refused, never read as a
    /// small number (a panic with overflow checks, an accepted header without).
    #[test]
    fn tampered_header_act_frac_overflow_rejected() {
        for act_frac in [u32::MAX, u32::MAX - 1, 15, 16] {
            let mut p = sample();
            p.config.act_frac = act_frac;
            assert_eq!(
                ProofFile::from_bytes(&p.to_bytes()),
                Err(ProofFormatError::BadConfig),
                "act_frac {act_frac}"
            );
        }
        let mut p = sample();
        p.config.act_frac = 14; // the finest a 2^16 table allows
        assert!(ProofFile::from_bytes(&p.to_bytes()).is_ok());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample().to_bytes();
        for n in 0..b.len() {
            assert!(
                ProofFile::from_bytes(&b[..n]).is_err(),
                "prefix of {n} bytes accepted"
            );
        }
    }

    #[test]
    fn foreign_and_future_files_are_refused() {
        let mut b = sample().to_bytes();
        let future = FORMAT_VERSION + 1;
        b[8..10].copy_from_slice(&future.to_le_bytes());
        assert_eq!(
            ProofFile::from_bytes(&b),
            Err(ProofFormatError::UnsupportedVersion { found: future })
        );
        assert_eq!(
            ProofFile::from_bytes(b"not a proof at all"),
            Err(ProofFormatError::BadMagic)
        );
    }
}
