//! The Fiat–Shamir transcript.
//!
//! The proof *is* the transcript: the prover writes every message through [`ProverTranscript`],
//! which absorbs it into the hash state and appends it to the proof bytes; the verifier reads
//! the same messages back through [`VerifierTranscript`], which absorbs them identically. A
//! prover message can therefore never reach the proof without being absorbed before the next
//! challenge (the "missing absorb" class of bugs from the stwo-ml audit is ruled out by
//! construction), and prover and verifier share one schedule: the protocol code that calls them.
//!
//! The state starts from a 32-byte protocol id (a hash of every parameter that shapes the proof;
//! see `zkgrad-verifier`). Hash: BLAKE3 in chaining mode,
//! `state ← H("zkgrad/absorb" ‖ state ‖ label ‖ len ‖ bytes)`, and a challenge is
//! `H("zkgrad/challenge" ‖ state ‖ counter)` reduced into `E` from 128 bits per coordinate
//! (bias < 2^-64).
//!
//! Verifier side: no prover, IO or ONNX code may enter this crate.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use zkgrad_field::codec::{CodecError, Reader, Writer};
use zkgrad_field::{e_from_coords, PrimeCharacteristicRing, E, F, P};

/// Hash state shared by both sides.
#[derive(Clone, Debug)]
struct Sponge {
    state: [u8; 32],
    counter: u64,
}

impl Sponge {
    fn new(protocol_id: &[u8; 32]) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"zkgrad/transcript/v1");
        h.update(protocol_id);
        Self {
            state: *h.finalize().as_bytes(),
            counter: 0,
        }
    }
    fn absorb(&mut self, label: &[u8], bytes: &[u8]) {
        let mut h = blake3::Hasher::new();
        h.update(b"zkgrad/absorb");
        h.update(&self.state);
        h.update(&(label.len() as u64).to_le_bytes());
        h.update(label);
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        self.state = *h.finalize().as_bytes();
    }
    fn squeeze(&mut self, label: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"zkgrad/challenge");
        h.update(&self.state);
        h.update(label);
        h.update(&self.counter.to_le_bytes());
        self.counter += 1;
        let out = *h.finalize().as_bytes();
        // Ratchet so that later absorbs also depend on every challenge drawn.
        self.absorb(b"squeezed", &out);
        out
    }
    fn challenge_e(&mut self, label: &[u8]) -> E {
        let b = self.squeeze(label);
        let coord = |s: &[u8]| {
            let mut x = [0u8; 16];
            x.copy_from_slice(s);
            F::from_u64((u128::from_le_bytes(x) % (P as u128)) as u64)
        };
        e_from_coords([coord(&b[..16]), coord(&b[16..])])
    }
    fn challenge_index(&mut self, label: &[u8], bound: usize) -> usize {
        let b = self.squeeze(label);
        let mut x = [0u8; 16];
        x.copy_from_slice(&b[..16]);
        (u128::from_le_bytes(x) % (bound.max(1) as u128)) as usize
    }
}

/// Drawing challenges: identical on both sides.
pub trait Challenger {
    /// A challenge in the extension field.
    fn challenge_e(&mut self, label: &'static [u8]) -> E;
    /// `n` challenges in the extension field.
    fn challenge_vec(&mut self, label: &'static [u8], n: usize) -> Vec<E> {
        (0..n).map(|_| self.challenge_e(label)).collect()
    }
    /// A uniform index in `0..bound` (bias < 2^-64).
    fn challenge_index(&mut self, label: &'static [u8], bound: usize) -> usize;
}

/// The prover's side: writes messages into the proof and absorbs them.
#[derive(Clone, Debug)]
pub struct ProverTranscript {
    sponge: Sponge,
    proof: Writer,
}

impl ProverTranscript {
    pub fn new(protocol_id: &[u8; 32]) -> Self {
        Self {
            sponge: Sponge::new(protocol_id),
            proof: Writer::new(),
        }
    }
    /// Absorbs public data the verifier already holds (not written into the proof).
    pub fn observe(&mut self, label: &'static [u8], bytes: &[u8]) {
        self.sponge.absorb(label, bytes);
    }
    pub fn write_e(&mut self, label: &'static [u8], v: E) {
        let mut w = Writer::new();
        w.e(v);
        self.sponge.absorb(label, &w.bytes);
        self.proof.raw(&w.bytes);
    }
    pub fn write_es(&mut self, label: &'static [u8], vs: &[E]) {
        let mut w = Writer::new();
        for v in vs {
            w.e(*v);
        }
        self.sponge.absorb(label, &w.bytes);
        self.proof.raw(&w.bytes);
    }
    pub fn write_fs(&mut self, label: &'static [u8], vs: &[F]) {
        let mut w = Writer::new();
        for v in vs {
            w.f(*v);
        }
        self.sponge.absorb(label, &w.bytes);
        self.proof.raw(&w.bytes);
    }
    pub fn write_digest(&mut self, label: &'static [u8], d: &[u8; 32]) {
        self.sponge.absorb(label, d);
        self.proof.raw(d);
    }
    /// Small integers, each in canonical LEB128.
    pub fn write_varints(&mut self, label: &'static [u8], vs: &[u64]) {
        let mut w = Writer::new();
        for v in vs {
            w.varint(*v);
        }
        self.sponge.absorb(label, &w.bytes);
        self.proof.raw(&w.bytes);
    }
    /// An opaque message (another scheme's serialized proof): its length as a canonical
    /// LEB128 varint, then the bytes; both absorbed.
    pub fn write_blob(&mut self, label: &'static [u8], bytes: &[u8]) {
        let mut w = Writer::new();
        w.varint(bytes.len() as u64);
        w.raw(bytes);
        self.sponge.absorb(label, &w.bytes);
        self.proof.raw(&w.bytes);
    }
    /// The proof bytes written so far.
    pub fn finish(self) -> Vec<u8> {
        self.proof.bytes
    }
    pub fn proof_len(&self) -> usize {
        self.proof.bytes.len()
    }
}

impl Challenger for ProverTranscript {
    fn challenge_e(&mut self, label: &'static [u8]) -> E {
        self.sponge.challenge_e(label)
    }
    fn challenge_index(&mut self, label: &'static [u8], bound: usize) -> usize {
        self.sponge.challenge_index(label, bound)
    }
}

/// The verifier's side: reads the prover's messages from the proof and absorbs them.
#[derive(Clone, Debug)]
pub struct VerifierTranscript<'a> {
    sponge: Sponge,
    proof: Reader<'a>,
}

/// The proof ended early, held a malformed element, or had bytes left over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscriptError {
    #[error("malformed proof: {0}")]
    Codec(#[from] CodecError),
    #[error("proof has {0} trailing bytes")]
    TrailingBytes(usize),
}

impl<'a> VerifierTranscript<'a> {
    pub fn new(protocol_id: &[u8; 32], proof: &'a [u8]) -> Self {
        Self {
            sponge: Sponge::new(protocol_id),
            proof: Reader::new(proof),
        }
    }
    pub fn observe(&mut self, label: &'static [u8], bytes: &[u8]) {
        self.sponge.absorb(label, bytes);
    }
    pub fn read_e(&mut self, label: &'static [u8]) -> Result<E, TranscriptError> {
        let start = self.proof.position();
        let v = self.proof.e()?;
        let mut w = Writer::new();
        w.e(v);
        debug_assert_eq!(self.proof.position() - start, w.bytes.len());
        self.sponge.absorb(label, &w.bytes);
        Ok(v)
    }
    pub fn read_es(&mut self, label: &'static [u8], n: usize) -> Result<Vec<E>, TranscriptError> {
        self.read_many(label, n, 16, Reader::e, Writer::e)
    }
    pub fn read_fs(&mut self, label: &'static [u8], n: usize) -> Result<Vec<F>, TranscriptError> {
        self.read_many(label, n, 8, Reader::f, Writer::f)
    }
    /// `n` canonical LEB128 integers (at least one byte each).
    pub fn read_varints(
        &mut self,
        label: &'static [u8],
        n: usize,
    ) -> Result<Vec<u64>, TranscriptError> {
        self.read_many(label, n, 1, Reader::varint, Writer::varint)
    }
    /// `n` values of at least `min_bytes` bytes each — `n` is checked against the bytes left
    /// before anything is allocated — absorbed as their canonical encoding, as the prover wrote
    /// them.
    fn read_many<T: Copy>(
        &mut self,
        label: &'static [u8],
        n: usize,
        min_bytes: usize,
        read: impl Fn(&mut Reader<'a>) -> Result<T, CodecError>,
        write: impl Fn(&mut Writer, T),
    ) -> Result<Vec<T>, TranscriptError> {
        let needed = n.saturating_mul(min_bytes);
        if needed > self.proof.remaining() {
            return Err(CodecError::UnexpectedEnd {
                offset: self.proof.position(),
                needed: needed - self.proof.remaining(),
            }
            .into());
        }
        let mut w = Writer::new();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let v = read(&mut self.proof)?;
            write(&mut w, v);
            out.push(v);
        }
        self.sponge.absorb(label, &w.bytes);
        Ok(out)
    }
    /// A [`ProverTranscript::write_blob`] message of at most `max` bytes (its length is
    /// checked against `max` and the bytes left before anything is read).
    pub fn read_blob(
        &mut self,
        label: &'static [u8],
        max: usize,
    ) -> Result<&'a [u8], TranscriptError> {
        let start = self.proof.position();
        let n = self.proof.varint()?;
        if n > max as u64 {
            return Err(CodecError::TooLarge {
                what: "blob",
                value: n,
                offset: start,
            }
            .into());
        }
        let n = n as usize;
        let bytes = self.proof.raw(n)?;
        let mut w = Writer::new();
        w.varint(n as u64);
        w.raw(bytes);
        debug_assert_eq!(self.proof.position() - start, w.bytes.len());
        self.sponge.absorb(label, &w.bytes);
        Ok(bytes)
    }
    pub fn read_digest(&mut self, label: &'static [u8]) -> Result<[u8; 32], TranscriptError> {
        let d = self.proof.array::<32>()?;
        self.sponge.absorb(label, &d);
        Ok(d)
    }
    /// Succeeds only if every byte of the proof was read.
    pub fn finish(self) -> Result<(), TranscriptError> {
        match self.proof.remaining() {
            0 => Ok(()),
            n => Err(TranscriptError::TrailingBytes(n)),
        }
    }
}

impl Challenger for VerifierTranscript<'_> {
    fn challenge_e(&mut self, label: &'static [u8]) -> E {
        self.sponge.challenge_e(label)
    }
    fn challenge_index(&mut self, label: &'static [u8], bound: usize) -> usize {
        self.sponge.challenge_index(label, bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prover_and_verifier_agree() {
        let id = [7u8; 32];
        let mut p = ProverTranscript::new(&id);
        p.write_e(b"a", E::from(F::from_u64(5)));
        let c1 = p.challenge_e(b"c");
        p.write_fs(b"b", &[F::ONE, F::TWO]);
        let c2 = p.challenge_index(b"i", 1000);
        let proof = p.finish();
        let mut v = VerifierTranscript::new(&id, &proof);
        assert_eq!(v.read_e(b"a").unwrap(), E::from(F::from_u64(5)));
        assert_eq!(v.challenge_e(b"c"), c1);
        assert_eq!(v.read_fs(b"b", 2).unwrap(), vec![F::ONE, F::TWO]);
        assert_eq!(v.challenge_index(b"i", 1000), c2);
        v.finish().unwrap();
    }

    #[test]
    fn challenges_depend_on_every_message_and_the_protocol_id() {
        let mut a = ProverTranscript::new(&[1u8; 32]);
        let mut b = ProverTranscript::new(&[1u8; 32]);
        let mut c = ProverTranscript::new(&[2u8; 32]);
        a.write_e(b"m", E::ONE);
        b.write_e(b"m", E::TWO);
        c.write_e(b"m", E::ONE);
        let (ca, cb, cc) = (
            a.challenge_e(b"x"),
            b.challenge_e(b"x"),
            c.challenge_e(b"x"),
        );
        assert_ne!(ca, cb);
        assert_ne!(ca, cc);
    }

    #[test]
    fn trailing_and_missing_bytes_are_errors() {
        let id = [0u8; 32];
        let mut p = ProverTranscript::new(&id);
        p.write_e(b"a", E::ONE);
        let mut proof = p.finish();
        proof.push(0);
        let mut v = VerifierTranscript::new(&id, &proof);
        let _ = v.read_e(b"a").unwrap();
        assert_eq!(v.finish(), Err(TranscriptError::TrailingBytes(1)));
        let mut v = VerifierTranscript::new(&id, &proof[..10]);
        assert!(v.read_e(b"a").is_err());
    }
}

#[cfg(test)]
mod skipped_absorb {
    use super::*;

    /// A prover whose transcript skips the absorb of a message draws its next challenge
    /// independently of that message, so it could choose the message after seeing the
    /// challenge. The verifier absorbs everything it reads: the two sides then disagree on every
    /// later challenge, and the proof built on the prover's challenges fails.
    #[test]
    fn transcript_that_skips_an_absorb_diverges_from_the_verifier() {
        let id = [9u8; 32];
        let msg = E::from(F::from_u64(42));
        let mut cheat = ProverTranscript::new(&id);
        let mut w = Writer::new();
        w.e(msg);
        cheat.proof.raw(&w.bytes); // written, not absorbed
        let c_cheat = cheat.challenge_e(b"c");
        let proof = cheat.finish();
        let mut v = VerifierTranscript::new(&id, &proof);
        assert_eq!(v.read_e(b"m").unwrap(), msg);
        assert_ne!(v.challenge_e(b"c"), c_cheat);

        let mut honest = ProverTranscript::new(&id);
        honest.write_e(b"m", msg);
        let honest_proof = honest.clone().finish();
        let mut v = VerifierTranscript::new(&id, &honest_proof);
        let _ = v.read_e(b"m").unwrap();
        assert_eq!(v.challenge_e(b"c"), honest.challenge_e(b"c"));
    }
}
