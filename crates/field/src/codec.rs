//! Fixed-width little-endian encoding of field elements and small integers.
//!
//! A base element is 8 bytes and must be canonical (`< p`); an extension element is two base
//! elements. Decoding never panics: every malformed byte string is a [`CodecError`].

use crate::{e_coords, e_from_coords, PrimeCharacteristicRing, PrimeField64, E, F, P};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unexpected end of data: needed {needed} more bytes at offset {offset}")]
    UnexpectedEnd { offset: usize, needed: usize },
    #[error("non-canonical field element at offset {offset}")]
    NonCanonical { offset: usize },
    #[error("non-canonical variable-length integer at offset {offset}")]
    BadVarint { offset: usize },
    #[error("{what} too large ({value}) at offset {offset}")]
    TooLarge {
        what: &'static str,
        value: u64,
        offset: usize,
    },
}

/// Appends encoded values to a byte vector.
#[derive(Default, Debug, Clone)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f(&mut self, v: F) {
        self.u64(v.as_canonical_u64());
    }
    /// LEB128: 7 bits a byte, low bits first, the high bit set on every byte but the last.
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bytes.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }
    pub fn e(&mut self, v: E) {
        for c in e_coords(&v) {
            self.f(c);
        }
    }
    pub fn raw(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
}

/// Reads encoded values from a byte slice, never past its end.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(CodecError::UnexpectedEnd {
                offset: self.pos,
                needed: n.saturating_sub(self.remaining()),
            })?;
        let out = self
            .data
            .get(self.pos..end)
            .ok_or(CodecError::UnexpectedEnd {
                offset: self.pos,
                needed: n,
            })?;
        self.pos = end;
        Ok(out)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let s = self.raw(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// A LEB128 integer in its one canonical form (no trailing zero byte, at most 64 bits), so
    /// that a value has exactly one encoding.
    pub fn varint(&mut self) -> Result<u64, CodecError> {
        let offset = self.pos;
        let mut v: u64 = 0;
        for k in 0..10 {
            let b = self.u8()?;
            let bits = (b & 0x7f) as u64;
            if k == 9 && bits > 1 {
                return Err(CodecError::BadVarint { offset });
            }
            v |= bits << (7 * k);
            if b & 0x80 == 0 {
                if k > 0 && b == 0 {
                    return Err(CodecError::BadVarint { offset });
                }
                return Ok(v);
            }
        }
        Err(CodecError::BadVarint { offset })
    }
    /// A length prefix, bounded so a forged length cannot make the reader allocate unboundedly.
    pub fn len(&mut self, max: usize, what: &'static str) -> Result<usize, CodecError> {
        let offset = self.pos;
        let v = self.u32()? as u64;
        if v > max as u64 {
            return Err(CodecError::TooLarge {
                what,
                value: v,
                offset,
            });
        }
        Ok(v as usize)
    }
    pub fn f(&mut self) -> Result<F, CodecError> {
        let offset = self.pos;
        let v = self.u64()?;
        if v >= P {
            return Err(CodecError::NonCanonical { offset });
        }
        Ok(F::from_u64(v))
    }
    pub fn e(&mut self) -> Result<E, CodecError> {
        let a = self.f()?;
        let b = self.f()?;
        Ok(e_from_coords([a, b]))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn varints_round_trip_and_only_canonical_forms_decode() {
        use super::*;
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut w = Writer::new();
            w.varint(v);
            let mut r = Reader::new(&w.bytes);
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        // A trailing zero byte (overlong), an 11th byte, bits past 64: refused.
        for bad in [
            &[0x80u8, 0x00][..],
            &[0xff; 11][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..],
            &[0x80][..],
        ] {
            assert!(Reader::new(bad).varint().is_err(), "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let mut w = Writer::new();
        let x = e_from_coords([F::from_u64(7), F::from_u64(P - 1)]);
        w.e(x);
        w.u32(9);
        let mut r = Reader::new(&w.bytes);
        assert_eq!(r.e().unwrap(), x);
        assert_eq!(r.u32().unwrap(), 9);
        assert!(matches!(r.u8(), Err(CodecError::UnexpectedEnd { .. })));
        let bad = u64::MAX.to_le_bytes();
        assert!(matches!(
            Reader::new(&bad).f(),
            Err(CodecError::NonCanonical { .. })
        ));
    }
}
