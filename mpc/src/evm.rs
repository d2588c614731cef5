//! FROST(secp256k1, Keccak-256) certificates, the way an Ethereum contract checks them.
//!
//! `frost-secp256k1-evm` signs with the challenge `c = H2(R ‖ PK ‖ msg)`, where `R` and `PK` are compressed
//! SEC1 points and `H2` is `hash_to_field` with `expand_message_xmd` over Keccak-256 and the domain tag
//! `FROST-secp256k1-KECCAK256-v1chal`; the signature is `R` (33 bytes) then `z` (32 bytes, big-endian), and it
//! verifies when `z·G = R + c·PK`. [`Secp256k1EvmVerifier`] checks exactly that with `k256` arithmetic and
//! `sha3`'s Keccak-256 alone: no FROST code, like the Ed25519 verifier.
//!
//! On chain the same equation is checked with one `ecrecover` call: with `PK = (x, y)`,
//! `ecrecover(n − z·x, 27 + (y & 1), x, n − c·x)` is the address of `z·G − c·PK`, which must be the address of
//! `R`. That needs `0 < x < n` (ecrecover's `r`), so a group key whose x-coordinate is not below the group
//! order cannot be used on Ethereum: [`evm_key_usable`] is checked at key generation, which then runs again
//! (the chance is about 2⁻¹²⁸). A contract also needs `R` uncompressed, to hash it into the challenge and into
//! the address from the same coordinates: [`EvmSignature`] is the calldata form.

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::{Field, PrimeField};
use k256::{AffinePoint, EncodedPoint, ProjectivePoint, Scalar, U256};
use sha3::{Digest, Keccak256};

use crate::certificate::{CertificateError, OfflineVerifier};

/// The challenge domain tag: the suite's context string and `chal`.
const CHALLENGE_DST: &[u8; 32] = b"FROST-secp256k1-KECCAK256-v1chal";
/// Keccak-256's block size: the zero padding `expand_message_xmd` puts in front.
const KECCAK_BLOCK_BYTES: usize = 136;
/// Bytes `expand_message_xmd` produces for one scalar (k = 128 bits of security over a 256-bit order).
const CHALLENGE_OKM_BYTES: u16 = 48;

/// A compressed SEC1 point: 33 bytes.
pub const COMPRESSED_POINT_BYTES: usize = 33;
/// A FROST(secp256k1, Keccak-256) signature: compressed `R` and `z`.
pub const SIGNATURE_BYTES: usize = 65;

/// The challenge `c` of a signature with nonce commitment `r` over `message` under `group_key` (both
/// compressed), as `frost-secp256k1-evm` computes it.
pub fn challenge(r: &[u8; 33], group_key: &[u8; 33], message: &[u8]) -> Scalar {
    let mut h = Keccak256::new();
    h.update([0u8; KECCAK_BLOCK_BYTES]);
    h.update(r);
    h.update(group_key);
    h.update(message);
    h.update(CHALLENGE_OKM_BYTES.to_be_bytes());
    h.update([0u8]);
    h.update(CHALLENGE_DST);
    h.update([CHALLENGE_DST.len() as u8]);
    let b0: [u8; 32] = h.finalize().into();
    let block = |previous: &[u8; 32], index: u8| -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update(previous);
        h.update([index]);
        h.update(CHALLENGE_DST);
        h.update([CHALLENGE_DST.len() as u8]);
        h.finalize().into()
    };
    let b1 = block(&b0, 1);
    let mixed: [u8; 32] = std::array::from_fn(|i| b0[i] ^ b1[i]);
    let b2 = block(&mixed, 2);
    // okm = b1 ‖ b2[..16], read as a big-endian integer and reduced mod n: b1·2¹²⁸ + b2[..16].
    let shift = Scalar::from(2u64).pow_vartime([128, 0, 0, 0]);
    let high = <Scalar as Reduce<U256>>::reduce_bytes(&b1.into());
    let mut low = [0u8; 32];
    low[16..].copy_from_slice(&b2[..16]);
    high * shift + <Scalar as Reduce<U256>>::reduce_bytes(&low.into())
}

/// A compressed SEC1 point (tag 0x02 or 0x03, as frost serializes them), not the identity. Other encodings
/// of a point (uncompressed, compact) are refused: the challenge hashes these exact bytes.
fn point(bytes: &[u8]) -> Option<AffinePoint> {
    if bytes.len() != COMPRESSED_POINT_BYTES || !matches!(bytes[0], 2 | 3) {
        return None;
    }
    let encoded = EncodedPoint::from_bytes(bytes).ok()?;
    Option::from(AffinePoint::from_encoded_point(&encoded)).filter(|p: &AffinePoint| *p != AffinePoint::IDENTITY)
}

fn scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_repr((*bytes).into()))
}

/// Whether an Ethereum contract can check signatures under `group_key` (compressed) with `ecrecover`: a valid
/// point whose x-coordinate is below the group order n.
pub fn evm_key_usable(group_key: &[u8]) -> bool {
    let Some(key) = point(group_key) else { return false };
    let encoded = key.to_encoded_point(false);
    let Some(x) = encoded.x() else { return false };
    let x: [u8; 32] = (*x).into();
    // `from_repr` accepts exactly the canonical encodings, i.e. values below n.
    scalar(&x).is_some_and(|x| !bool::from(x.is_zero()))
}

/// A group key as a contract stores it: the x-coordinate and the parity of y.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmKey {
    pub x: [u8; 32],
    pub y_parity: u8,
}

impl EvmKey {
    /// From the compressed key; `None` if it is not usable on Ethereum ([`evm_key_usable`]).
    pub fn from_compressed(group_key: &[u8]) -> Option<Self> {
        if !evm_key_usable(group_key) {
            return None;
        }
        let x = group_key[1..33].try_into().ok()?;
        Some(EvmKey { x, y_parity: group_key[0] & 1 })
    }
}

/// A signature in the form a contract takes it: `R` uncompressed (so the contract derives both the challenge
/// bytes and `R`'s address from the same coordinates) and `z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmSignature {
    pub rx: [u8; 32],
    pub ry: [u8; 32],
    pub z: [u8; 32],
}

impl EvmSignature {
    /// From a 65-byte FROST signature.
    pub fn from_frost(signature: &[u8]) -> Result<Self, CertificateError> {
        if signature.len() != SIGNATURE_BYTES {
            return Err(CertificateError::MalformedSignature(signature.len()));
        }
        let r = point(&signature[..COMPRESSED_POINT_BYTES]).ok_or(CertificateError::BadSignature)?;
        let r = r.to_encoded_point(false);
        let (Some(rx), Some(ry)) = (r.x(), r.y()) else { return Err(CertificateError::BadSignature) };
        let z = signature[COMPRESSED_POINT_BYTES..].try_into().map_err(|_| CertificateError::BadSignature)?;
        Ok(EvmSignature { rx: (*rx).into(), ry: (*ry).into(), z })
    }
}

/// FROST(secp256k1, Keccak-256) verification with `k256` and Keccak-256 only.
#[derive(Clone, Copy, Debug)]
pub struct Secp256k1EvmVerifier;

impl OfflineVerifier for Secp256k1EvmVerifier {
    const SUITE: &'static str = "FROST-secp256k1-KECCAK256-v1";

    fn verify(group_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CertificateError> {
        let key_bytes: &[u8; 33] = group_key.try_into().map_err(|_| CertificateError::MalformedGroupKey)?;
        let key = point(key_bytes).ok_or(CertificateError::MalformedGroupKey)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(CertificateError::MalformedSignature(signature.len()));
        }
        let r_bytes: &[u8; 33] = signature[..33].try_into().map_err(|_| CertificateError::BadSignature)?;
        let r = point(r_bytes).ok_or(CertificateError::BadSignature)?;
        let z_bytes: &[u8; 32] = signature[33..].try_into().map_err(|_| CertificateError::BadSignature)?;
        let z = scalar(z_bytes).ok_or(CertificateError::BadSignature)?;
        let c = challenge(r_bytes, key_bytes, message);
        let lhs = ProjectivePoint::GENERATOR * z;
        let rhs = ProjectivePoint::from(r) + ProjectivePoint::from(key) * c;
        if lhs == rhs { Ok(()) } else { Err(CertificateError::BadSignature) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        let bytes: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        bytes.try_into().unwrap()
    }

    /// The known-answer vector shipped with `frost-secp256k1-evm` 3.0.0 (`tests/helpers/vectors.json`): key,
    /// message "test", signature, and the challenge it implies.
    #[test]
    fn the_crates_test_vector_verifies_and_its_challenge_matches() {
        let key: [u8; 33] = unhex("02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f");
        let sig: [u8; 65] = unhex(
            "02c075dfbaf6d314ce59a539b3fddf36b067f3dd0dcff9c8ff8c6fba7824275af9\
             2a2cebbd437eb9340d059321eddd63ca4a16a10e83d3c2e80e0e27c0f2877bc1",
        );
        let c = challenge(sig[..33].try_into().unwrap(), &key, b"test");
        let expected: [u8; 32] = unhex("7e4c19f7f198dca27a790f8da6429a0c96cbf11c11058f563579fd6abfb5edb1");
        assert_eq!(<[u8; 32]>::from(c.to_bytes()), expected);
        Secp256k1EvmVerifier::verify(&key, b"test", &sig).unwrap();
        assert_eq!(Secp256k1EvmVerifier::verify(&key, b"tesT", &sig), Err(CertificateError::BadSignature));
        let evm = EvmSignature::from_frost(&sig).unwrap();
        let ry: [u8; 32] = unhex("6404fbc61b9ee5ce741aab485ad11e8f9079f9224567b79069f886d3820e90c4");
        assert_eq!((evm.rx, evm.ry), (sig[1..33].try_into().unwrap(), ry));
        assert_eq!(EvmKey::from_compressed(&key), Some(EvmKey { x: key[1..].try_into().unwrap(), y_parity: 0 }));
    }

    #[test]
    fn a_key_whose_x_is_not_below_the_group_order_is_not_usable_on_ethereum() {
        // x = n + 1 is a field element (n < p); find a point at or above n by scanning x upward from n.
        let n: [u8; 32] = unhex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
        let mut x = n;
        let key = loop {
            let mut compressed = [0u8; 33];
            compressed[0] = 2;
            compressed[1..].copy_from_slice(&x);
            if point(&compressed).is_some() {
                break compressed;
            }
            let last = x.iter().rposition(|b| *b != 0xff).unwrap();
            x[last] += 1;
            x[last + 1..].fill(0);
        };
        assert!(!evm_key_usable(&key), "x ≥ n must be refused");
        // Only the compressed encodings frost produces: a compact (0x05) or malformed tag is not a key.
        let mut compact: [u8; 33] = unhex("02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f");
        compact[0] = 5;
        assert!(!evm_key_usable(&compact));
        assert_eq!(EvmKey::from_compressed(&key), None);
        assert!(evm_key_usable(&unhex::<33>("02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f")));
    }
}
