//! Public parameters on disk: a versioned, checksummed container around the ark-serialize
//! encoding of [`PublicParams`].
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `NXNOVAPP` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | payload length |
//! | 32 | SHA-256 of the payload |
//! | … | payload: `PublicParams::serialize_compressed` |
//!
//! Reading checks, in order: header, version, exact length, checksum, a validating
//! deserialization (points on their curves), both shapes ([`crate::r1cs::R1csShape::validate`]),
//! both keys re-derived from their labels (a file cannot smuggle in generators with a known
//! discrete-log relation), the stored digest against the recomputed one, and finally, if the
//! caller has one, the digest expected for its step circuit. Each failure is its own error.

use ark_bn254::Fr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

use crate::{ivc::PublicParams, r1cs::R1csError};

/// File magic.
pub const MAGIC: &[u8; 8] = b"NXNOVAPP";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 32;

/// Errors reading a parameters file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    /// Shorter than the header.
    #[error("parameters file truncated: {0} bytes, the header alone is {HEADER_LEN}")]
    Truncated(usize),
    /// Not a parameters file.
    #[error("not a nexus-nova parameters file (bad magic)")]
    BadMagic,
    /// Written by another format version.
    #[error("parameters file format version {found}, this build reads version {FORMAT_VERSION}")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
    },
    /// The payload length in the header does not match the file.
    #[error("payload length {declared} in the header, {actual} bytes present")]
    LengthMismatch {
        /// From the header.
        declared: u64,
        /// Present.
        actual: u64,
    },
    /// The checksum does not match: the file is corrupted.
    #[error("parameters file corrupted: checksum mismatch")]
    ChecksumMismatch,
    /// The payload does not decode.
    #[error("parameters payload does not decode: {0}")]
    Decode(String),
    /// A shape is malformed.
    #[error("invalid shape in parameters file: {0}")]
    Shape(#[from] R1csError),
    /// A commitment key is not the documented derivation of its label.
    #[error("{0} commitment key is not derived from its label")]
    KeyDerivation(&'static str),
    /// The stored digest does not match the content.
    #[error("stored parameters digest does not match the content")]
    DigestInconsistent,
    /// The parameters are for another step circuit (or another version of it).
    #[error("parameters are for another step circuit (digest mismatch)")]
    WrongCircuit,
    /// Serialization failed while writing.
    #[error("serialization failed: {0}")]
    Serialize(String),
}

impl PublicParams {
    /// Encode into the file format.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, ParamsError> {
        let mut payload = Vec::new();
        self.serialize_compressed(&mut payload).map_err(|e| ParamsError::Serialize(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Decode and fully check a parameters file; `expected_digest` is the digest of the caller's
    /// own parameters for its step circuit, when it has it.
    pub fn from_file_bytes(bytes: &[u8], expected_digest: Option<Fr>) -> Result<Self, ParamsError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParamsError::Truncated(bytes.len()));
        }
        let (header, payload) = bytes.split_at(HEADER_LEN);
        if &header[..8] != MAGIC {
            return Err(ParamsError::BadMagic);
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&header[8..12]);
        let found = u32::from_le_bytes(v);
        if found != FORMAT_VERSION {
            return Err(ParamsError::UnsupportedVersion { found });
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&header[12..20]);
        let declared = u64::from_le_bytes(l);
        if declared != payload.len() as u64 {
            return Err(ParamsError::LengthMismatch { declared, actual: payload.len() as u64 });
        }
        if Sha256::digest(payload).as_slice() != &header[20..52] {
            return Err(ParamsError::ChecksumMismatch);
        }
        let pp = Self::deserialize_compressed(payload).map_err(|e| ParamsError::Decode(e.to_string()))?;
        pp.shape.validate()?;
        pp.cf_shape.validate()?;
        if pp.ck.len() < pp.shape.num_constraints.max(pp.shape.num_witness) || !pp.ck.verify_derivation() {
            return Err(ParamsError::KeyDerivation("primary"));
        }
        if pp.cf_ck.len() < pp.cf_shape.num_constraints.max(pp.cf_shape.num_witness) || !pp.cf_ck.verify_derivation() {
            return Err(ParamsError::KeyDerivation("CycleFold"));
        }
        if pp.compute_digest() != pp.digest {
            return Err(ParamsError::DigestInconsistent);
        }
        if expected_digest.is_some_and(|d| d != pp.digest) {
            return Err(ParamsError::WrongCircuit);
        }
        Ok(pp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_circuit::examples::Fibonacci;
    use ark_ff::One;

    /// Re-checksum a modified file so the checks behind the checksum are exercised.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let sum = Sha256::digest(&bytes[HEADER_LEN..]);
        bytes[20..52].copy_from_slice(&sum);
        bytes
    }

    /// The container checks, on a small payload (fast, in CI).
    #[test]
    fn header_checks_on_a_small_payload() {
        let payload = vec![7u8; 100];
        let mut f = Vec::new();
        f.extend_from_slice(MAGIC);
        f.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        f.extend_from_slice(&Sha256::digest(&payload));
        f.extend_from_slice(&payload);
        let load = |b: &[u8]| PublicParams::from_file_bytes(b, None);
        // Intact container, garbage payload: a clean decode error, no panic.
        assert!(matches!(load(&f), Err(ParamsError::Decode(_))));
        assert_eq!(load(&[]), Err(ParamsError::Truncated(0)));
        let mut b = f.clone();
        b[3] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::BadMagic));
        let mut b = f.clone();
        b[8] = 9;
        assert_eq!(load(&b), Err(ParamsError::UnsupportedVersion { found: 9 }));
        assert_eq!(load(&f[..f.len() - 3]), Err(ParamsError::LengthMismatch { declared: 100, actual: 97 }));
        let mut b = f.clone();
        b[HEADER_LEN + 50] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::ChecksumMismatch));
    }

    /// Real parameters (53 MB for Fibonacci): ~45 s in the dev profile, so not in CI:
    /// `cargo nextest run -p nexus-nova --run-ignored only roundtrip_and_every`.
    #[test]
    #[ignore = "slow (~45 s in the dev profile); run with --run-ignored only"]
    fn roundtrip_and_every_corruption_has_its_error() {
        let pp = PublicParams::setup(&Fibonacci { iterations: 1 }).unwrap();
        let bytes = pp.to_file_bytes().unwrap();
        eprintln!("parameters file: {} bytes", bytes.len());
        assert_eq!(PublicParams::from_file_bytes(&bytes, Some(pp.digest)).unwrap(), pp);
        let load = |b: &[u8]| PublicParams::from_file_bytes(b, Some(pp.digest));

        assert_eq!(load(&bytes[..10]), Err(ParamsError::Truncated(10)));
        let mut b = bytes.clone();
        b[0] ^= 1;
        assert_eq!(load(&b), Err(ParamsError::BadMagic));
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(load(&b), Err(ParamsError::UnsupportedVersion { found: 2 }));
        let actual = (bytes.len() - HEADER_LEN - 1) as u64;
        assert_eq!(load(&bytes[..bytes.len() - 1]), Err(ParamsError::LengthMismatch { declared: actual + 1, actual }));
        let mut b = bytes.clone();
        let mid = HEADER_LEN + (bytes.len() - HEADER_LEN) / 2;
        b[mid] ^= 0x40;
        assert_eq!(load(&b), Err(ParamsError::ChecksumMismatch));
        // Behind a valid checksum: garbage payload, a swapped generator, a changed digest.
        let mut b = bytes.clone();
        for x in &mut b[HEADER_LEN..HEADER_LEN + 64] {
            *x = 0xff;
        }
        assert!(matches!(load(&reseal(b)), Err(ParamsError::Decode(_) | ParamsError::Shape(_))));
        let mut bad = pp.clone();
        bad.ck.generators.swap(0, 1);
        assert_eq!(load(&bad.to_file_bytes().unwrap()), Err(ParamsError::KeyDerivation("primary")));
        let mut bad = pp.clone();
        bad.digest += Fr::one();
        assert_eq!(load(&bad.to_file_bytes().unwrap()), Err(ParamsError::DigestInconsistent));
        // Parameters for another circuit.
        assert_eq!(PublicParams::from_file_bytes(&bytes, Some(pp.digest + Fr::one())), Err(ParamsError::WrongCircuit));
    }
}
