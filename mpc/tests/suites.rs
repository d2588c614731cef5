//! The suite of `common`, instantiated for every ciphersuite, plus checks specific to one.

use std::marker::PhantomData;

use frost_core::Ciphersuite;
use nexus_mpc::certificate::{CertificateError, OfflineVerifier};

mod common;

// Ed25519 with its production verifier (`ed25519-dalek`, no FROST code).
suite_tests!(
    ed25519,
    frost_ed25519::Ed25519Sha512,
    <frost_ed25519::Ed25519Sha512 as nexus_mpc::CertifyingSuite>::Verifier
);

// secp256k1 with a Keccak-256 challenge (the Ethereum suite), to keep the crate honest about being generic.
// Its production verifier (no FROST code, e.g. the ecrecover formulation) is still to be written, so this
// instantiation checks certificates with frost's own verification.
suite_tests!(
    secp256k1_evm,
    frost_secp256k1_evm::Secp256K1Keccak256,
    FrostReferenceVerifier<frost_secp256k1_evm::Secp256K1Keccak256>
);

/// Verifies with frost-core: a stand-in for suites that have no plain verifier yet.
struct FrostReferenceVerifier<C>(PhantomData<C>);

impl<C: Ciphersuite> OfflineVerifier for FrostReferenceVerifier<C> {
    const SUITE: &'static str = C::ID;

    fn verify(group_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CertificateError> {
        let key =
            frost_core::VerifyingKey::<C>::deserialize(group_key).map_err(|_| CertificateError::MalformedGroupKey)?;
        let sig = frost_core::Signature::<C>::deserialize(signature)
            .map_err(|_| CertificateError::MalformedSignature(signature.len()))?;
        key.verify(message, &sig).map_err(|_| CertificateError::BadSignature)
    }
}

/// FROST-Ed25519 certificates are plain Ed25519 signatures: `ed25519-dalek` alone verifies them.
#[test]
fn ed25519_certificate_verifies_with_plain_ed25519_dalek() {
    let outputs = common::run_dkg::<frost_ed25519::Ed25519Sha512>();
    let b = common::batch(3, 7);
    let signers = [1, 2, 4].into();
    let cert = common::sign_session(&outputs, b.message, &signers, |_| b.message).expect("certificate");
    let key: [u8; 32] = cert.group_key.as_slice().try_into().expect("32-byte key");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("key");
    let sig = ed25519_dalek::Signature::from_slice(&cert.signature).expect("64-byte signature");
    key.verify_strict(&b.message.encode(), &sig).expect("plain Ed25519 verification");
    // Serializes and verifies after a round trip (what a receipt carries).
    let bytes = postcard::to_allocvec(&cert).expect("encode");
    let back: nexus_mpc::certificate::Certificate = postcard::from_bytes(&bytes).expect("decode");
    back.verify_ed25519(None).expect("verifies");
}
