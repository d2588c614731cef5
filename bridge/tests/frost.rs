//! The Solidity FROST(secp256k1, Keccak-256) verifier (`FrostSecp256k1.sol`, through the stateless
//! `FrostSecp256k1Verifier`) against the suite's known-answer vector and against real signatures over messages
//! of every length that matters to its buffer layout; the Rust verifier of nexus-mpc agrees on each.

mod common;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use common::*;
use nexus_bridge::abi::{FrostSecp256k1Verifier, Signature};
use nexus_bridge::artifacts;
use nexus_bridge::calldata::{key_coordinates, signature};
use nexus_bridge::harness::{Chain, Outcome};
use nexus_mpc::OfflineVerifier;
use nexus_mpc::evm::{EvmSignature, Secp256k1EvmVerifier};

struct Frost {
    chain: Chain,
    at: Address,
}

impl Frost {
    fn new() -> Self {
        let mut chain = Chain::default();
        let (at, _) = chain.deploy(artifacts::FROST_VERIFIER.creation_code().unwrap()).expect("deploys");
        Frost { chain, at }
    }

    fn run(&mut self, message: &[u8], key: (U256, U256), sig: &Signature) -> Outcome {
        let call = FrostSecp256k1Verifier::verifyCall {
            message: Bytes::copy_from_slice(message),
            keyX: key.0,
            keyY: key.1,
            signature: sig.clone(),
        };
        self.chain.view(self.at, call.abi_encode()).expect("transaction runs")
    }

    fn verify(&mut self, message: &[u8], key: (U256, U256), sig: &Signature) -> bool {
        let out = assert_success(&self.run(message, key, sig), "verify call");
        FrostSecp256k1Verifier::verifyCall::abi_decode_returns(&out).unwrap()
    }
}

#[test]
fn the_suites_known_answer_vector_verifies() {
    // frost-secp256k1-evm 3.0.0, tests/helpers/vectors.json.
    let key = hex::decode("02f37c34b66ced1fb51c34a90bdae006901f10625cc06c4f64663b0eae87d87b4f").unwrap();
    let sig = hex::decode(
        "02c075dfbaf6d314ce59a539b3fddf36b067f3dd0dcff9c8ff8c6fba7824275af9\
         2a2cebbd437eb9340d059321eddd63ca4a16a10e83d3c2e80e0e27c0f2877bc1",
    )
    .unwrap();
    let mut frost = Frost::new();
    let k = key_coordinates(&key).unwrap();
    let s = signature(&EvmSignature::from_frost(&sig).unwrap());
    assert!(frost.verify(b"test", k, &s));
    assert!(!frost.verify(b"tesT", k, &s));
    assert!(!frost.verify(b"test\0", k, &s));
}

#[test]
fn real_signatures_verify_at_every_message_length_and_tampering_fails() {
    let keys = GroupKeys::new();
    let k = key_coordinates(&keys.compressed).unwrap();
    let mut frost = Frost::new();
    for len in [0usize, 1, 4, 29, 30, 31, 32, 33, 64, 113, 152, 300] {
        let message: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let raw = keys.sign_raw(&message);
        Secp256k1EvmVerifier::verify(&keys.compressed, &message, &raw).expect("Rust verifies");
        let s = signature(&EvmSignature::from_frost(&raw).unwrap());
        assert!(frost.verify(&message, k, &s), "{len}-byte message");
        let mut other = message.clone();
        other.push(0);
        assert!(!frost.verify(&other, k, &s), "{len}-byte message extended");
        if len > 0 {
            let mut flipped = message.clone();
            flipped[len / 2] ^= 1;
            assert!(!frost.verify(&flipped, k, &s), "{len}-byte message flipped");
        }
        for (what, bad) in [
            ("rx", Signature { rx: s.rx + U256::from(1), ..s.clone() }),
            ("ry", Signature { ry: s.ry + U256::from(1), ..s.clone() }),
            ("z", Signature { z: s.z + U256::from(1), ..s.clone() }),
            ("z = 0", Signature { z: U256::ZERO, ..s.clone() }),
        ] {
            assert!(!frost.verify(&message, k, &bad), "{len}-byte message, {what} tampered");
        }
        // The key: off the curve is refused outright; another key does not verify.
        assert!(!frost.verify(&message, (k.0, k.1 + U256::from(1)), &s), "key off the curve");
    }
    let other = GroupKeys::new();
    let message = b"one message, two keys";
    let s = signature(&EvmSignature::from_frost(&keys.sign_raw(message)).unwrap());
    assert!(!frost.verify(message, key_coordinates(&other.compressed).unwrap(), &s));
}
