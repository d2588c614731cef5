//! Key rotation: the key in force signs the hand-over to the next key; from then on certificates of the old
//! epoch are refused, and a rotation that is not signed by the key in force, or that names anything else
//! than what was signed, is refused.

mod common;

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use common::*;
use nexus_bridge::BridgeError;
use nexus_bridge::abi::NexusVerifier;
use nexus_bridge::calldata::{self, CertificateCalldata};
use nexus_bridge::harness::DEFAULT_CHAIN_ID;
use nexus_bridge::rotation::RotationMessage;

/// The calldata of a rotation from `old` (epoch `old_epoch`) to `new` (epoch `new_epoch`), signed by `signer`.
fn rotation(signer: &GroupKeys, old: &GroupKeys, old_epoch: u64, new: &GroupKeys, new_epoch: u64) -> Vec<u8> {
    let message = RotationMessage::new(CLUSTER, DEFAULT_CHAIN_ID, old_epoch, new_epoch, &new.compressed).unwrap();
    let signature = signer.sign_raw(&message.encode());
    message.rotate_call(&old.compressed, &signature, &new.compressed).unwrap()
}

fn certificate(keys: &GroupKeys, epoch: u64) -> CertificateCalldata {
    let batch = SealedBatch::of_calls(300, 4, epoch);
    CertificateCalldata::from_certificate(&keys.certify(batch.message)).unwrap()
}

fn group_key(d: &mut Deployed) -> (U256, u8, u64) {
    let out = assert_success(&d.view(NexusVerifier::groupKeyCall {}.abi_encode()), "groupKey");
    let k = NexusVerifier::groupKeyCall::abi_decode_returns(&out).unwrap();
    (k.x, k.yParity, k.epoch)
}

#[test]
fn a_signed_rotation_installs_the_new_key_and_retires_the_old_epoch() {
    let old = GroupKeys::new();
    let new = GroupKeys::new();
    let mut d = Deployed::new(&old, 1);
    assert_success(&d.verify_certificate(&certificate(&old, 1)), "old key before the rotation");

    // The Rust side checks the rotation signature the way the contract does.
    let message = RotationMessage::new(CLUSTER, DEFAULT_CHAIN_ID, 1, 2, &new.compressed).unwrap();
    let signature = old.sign_raw(&message.encode());
    message.verify(&old.compressed, &signature).expect("Rust accepts the rotation signature");
    assert!(message.verify(&new.compressed, &signature).is_err(), "not the new key's signature");

    let call = message.rotate_call(&old.compressed, &signature, &new.compressed).unwrap();
    let outcome = d.chain.call(d.verifier, call.clone()).expect("transaction runs");
    assert_success(&outcome, "rotation");
    let (new_x, _) = calldata::key_coordinates(&new.compressed).unwrap();
    let event = NexusVerifier::KeyRotated::decode_log_data(&outcome.logs()[0].data).expect("KeyRotated");
    assert_eq!((event.oldEpoch, event.newEpoch, event.keyX, event.keyParity), (1, 2, new_x, new.compressed[0] & 1));
    assert_eq!(group_key(&mut d), (new_x, new.compressed[0] & 1, 2));

    // Old epoch: refused, with the reason. The old key at the new epoch: not the key in force.
    let stale = d.verify_certificate(&certificate(&old, 1));
    assert_eq!(
        verifier_error(&stale),
        NexusVerifier::NexusVerifierErrors::WrongKeyEpoch(NexusVerifier::WrongKeyEpoch {
            got: U256::from(1),
            current: U256::from(2)
        })
    );
    assert_reverts_with::<NexusVerifier::UnknownKey>(&d.verify_certificate(&certificate(&old, 2)), "old key, epoch 2");
    assert_reverts_with::<NexusVerifier::WrongKeyEpoch>(
        &d.verify_certificate(&certificate(&new, 1)),
        "new key, epoch 1",
    );
    assert_success(&d.verify_certificate(&certificate(&new, 2)), "new key at the new epoch");

    // The same rotation again: its signer is no longer the key in force.
    let replay = d.chain.call(d.verifier, call).expect("transaction runs");
    assert_reverts_with::<NexusVerifier::UnknownKey>(&replay, "replayed rotation");

    // The new key rotates on, and epochs may skip (a DKG that was re-run).
    let third = GroupKeys::new();
    let outcome = d.chain.call(d.verifier, rotation(&new, &new, 2, &third, 5)).expect("transaction runs");
    assert_success(&outcome, "second rotation");
    assert_eq!(group_key(&mut d).2, 5);
    assert_success(&d.verify_certificate(&certificate(&third, 5)), "third key");
    assert_reverts_with::<NexusVerifier::WrongKeyEpoch>(&d.verify_certificate(&certificate(&new, 2)), "second key");
}

#[test]
fn rotations_not_signed_by_the_key_in_force_or_not_as_signed_are_refused() {
    let old = GroupKeys::new();
    let new = GroupKeys::new();
    let mut d = Deployed::new(&old, 1);
    let refuse = |d: &mut Deployed, call: Vec<u8>, expected: [u8; 4], what: &str| {
        let outcome = d.chain.call(d.verifier, call).expect("transaction runs");
        let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(data[..4], expected, "{what}: reverted with {:?}", verifier_error(&outcome));
    };
    let bad = NexusVerifier::BadSignature::SELECTOR;

    // Signed by the new key itself, presented under the key in force.
    let message = RotationMessage::new(CLUSTER, DEFAULT_CHAIN_ID, 1, 2, &new.compressed).unwrap();
    let by_new = new.sign_raw(&message.encode());
    refuse(
        &mut d,
        message.rotate_call(&old.compressed, &by_new, &new.compressed).unwrap(),
        bad,
        "signed by the new key",
    );
    // ...or presented under the key that signed it, which is not in force.
    refuse(
        &mut d,
        message.rotate_call(&new.compressed, &by_new, &new.compressed).unwrap(),
        NexusVerifier::UnknownKey::SELECTOR,
        "signer not in force",
    );

    let signature = old.sign_raw(&message.encode());
    let good = message.rotate_call(&old.compressed, &signature, &new.compressed).unwrap();
    let decode = |call: &[u8]| NexusVerifier::rotateKeyCall::abi_decode(call).unwrap();
    let mut tampered = |f: fn(&mut NexusVerifier::rotateKeyCall), expected: [u8; 4], what: &str| {
        let mut call = decode(&good);
        f(&mut call);
        refuse(&mut d, call.abi_encode(), expected, what);
    };
    tampered(|c| c.signature.z += U256::from(1), bad, "z + 1");
    tampered(|c| c.signature.rx += U256::from(1), bad, "rx + 1");
    tampered(|c| c.newEpoch = 3, bad, "another new epoch than signed");
    tampered(|c| c.newEpoch = 1, NexusVerifier::EpochNotIncreasing::SELECTOR, "new epoch = old epoch");
    tampered(|c| c.newEpoch = 0, NexusVerifier::EpochNotIncreasing::SELECTOR, "new epoch below the old");
    tampered(|c| c.newY += U256::from(1), NexusVerifier::UnusableKey::SELECTOR, "new key off the curve");
    tampered(|c| c.current.yParity ^= 1, NexusVerifier::UnknownKey::SELECTOR, "current key parity");
    // The new key with the other parity (its negation): on the curve, but not what was signed.
    let p = U256::from_str_radix("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16).unwrap();
    let negated = move |c: &mut NexusVerifier::rotateKeyCall| c.newY = p - c.newY;
    let mut call = decode(&good);
    negated(&mut call);
    refuse(&mut d, call.abi_encode(), bad, "new key negated");

    // Signed for another chain, cluster or old epoch: the contract rebuilds the message from its own state.
    for (what, message) in [
        ("another chain", RotationMessage { chain_id: 1, ..message }),
        ("another cluster", RotationMessage { cluster_id: [0xee; 32], ..message }),
        ("another old epoch", RotationMessage { old_epoch: 0, ..message }),
    ] {
        let signature = old.sign_raw(&message.encode());
        refuse(&mut d, message.rotate_call(&old.compressed, &signature, &new.compressed).unwrap(), bad, what);
    }
    // A certificate's signature is not a rotation's (their messages have different domain tags).
    let cert = certificate(&old, 1);
    let mut call = decode(&good);
    call.signature = cert.signature;
    refuse(&mut d, call.abi_encode(), bad, "a certificate's signature");

    // Nothing changed; the untouched rotation still goes through.
    assert_eq!(group_key(&mut d).2, 1);
    assert_success(&d.chain.call(d.verifier, good).expect("transaction runs"), "the signed rotation");
}

#[test]
fn the_rust_side_refuses_rotations_it_cannot_express() {
    let new = GroupKeys::new();
    assert_eq!(
        RotationMessage::new(CLUSTER, 1, 4, 4, &new.compressed),
        Err(BridgeError::EpochNotIncreasing { old: 4, new: 4 })
    );
    assert_eq!(RotationMessage::new(CLUSTER, 1, 4, 5, &[5u8; 33]), Err(BridgeError::UnusableKey));
    let message = RotationMessage::new(CLUSTER, 1, 4, 5, &new.compressed).unwrap();
    let other = GroupKeys::new();
    let signature = other.sign_raw(&message.encode());
    assert_eq!(message.rotate_call(&other.compressed, &signature, &other.compressed), Err(BridgeError::KeyMismatch));
    assert!(matches!(
        message.rotate_call(&other.compressed, &signature[..64], &new.compressed),
        Err(BridgeError::Signature(_))
    ));
}
