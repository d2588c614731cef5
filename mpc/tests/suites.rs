//! The suite of `common`, instantiated for every ciphersuite, plus checks specific to one.

mod common;

// Ed25519 with its production verifier (`ed25519-dalek`, no FROST code).
suite_tests!(
    ed25519,
    frost_ed25519::Ed25519Sha512,
    <frost_ed25519::Ed25519Sha512 as nexus_mpc::CertifyingSuite>::Verifier
);

// secp256k1 with a Keccak-256 challenge (the Ethereum suite) with its production verifier (`k256` and
// Keccak-256, no FROST code).
suite_tests!(
    secp256k1_evm,
    frost_secp256k1_evm::Secp256K1Keccak256,
    <frost_secp256k1_evm::Secp256K1Keccak256 as nexus_mpc::CertifyingSuite>::Verifier
);

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
