//! `NexusVerifier` on an in-process EVM with real certificates: what it accepts, and that every tampered field
//! is refused, with the reason.

mod common;

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolConstructor, SolError};
use common::*;
use nexus_bridge::abi::NexusVerifier::{self, NexusVerifierErrors as E};
use nexus_bridge::calldata::{self, CertificateCalldata, ReceiptCalldata};
use nexus_bridge::harness::DEFAULT_CHAIN_ID;
use nexus_mpc::batch::{BatchMessage, verify_path};
use nexus_mpc::evm::Secp256k1EvmVerifier;

/// The group order n and field prime p of secp256k1.
const N_HEX: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
const P_HEX: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f";

fn n() -> U256 {
    U256::from_str_radix(N_HEX, 16).unwrap()
}

fn p() -> U256 {
    U256::from_str_radix(P_HEX, 16).unwrap()
}

fn setup() -> (GroupKeys, Deployed, SealedBatch, CertificateCalldata) {
    let keys = GroupKeys::new();
    let deployed = Deployed::new(&keys, 1);
    let batch = SealedBatch::of_calls(100, 5, 1);
    let certificate = keys.certify(batch.message);
    // The replicas' own offline verifier accepts it too: the contract and Rust agree on valid certificates.
    certificate.verify::<Secp256k1EvmVerifier>(None).expect("Rust verifier accepts the certificate");
    let cert = CertificateCalldata::from_certificate(&certificate).expect("calldata");
    (keys, deployed, batch, cert)
}

#[test]
fn a_real_certificate_verifies_and_the_deployment_records_the_key() {
    let (keys, mut d, _, cert) = setup();
    assert_success(&d.verify_certificate(&cert), "valid certificate");
    let out = assert_success(&d.view(NexusVerifier::groupKeyCall {}.abi_encode()), "groupKey");
    let key = NexusVerifier::groupKeyCall::abi_decode_returns(&out).unwrap();
    let (x, _) = calldata::key_coordinates(&keys.compressed).unwrap();
    assert_eq!((key.x, key.yParity, key.epoch), (x, keys.compressed[0] & 1, 1));
    let out = assert_success(&d.view(NexusVerifier::clusterIdCall {}.abi_encode()), "clusterId");
    assert_eq!(NexusVerifier::clusterIdCall::abi_decode_returns(&out).unwrap(), b256(CLUSTER));
}

#[test]
fn many_certificates_verify_with_both_key_parities() {
    // Keys and R both come with either parity of y (the suite does not normalize them): exercise both.
    let mut parities = std::collections::BTreeSet::new();
    for round in 0..6 {
        let keys = GroupKeys::new();
        parities.insert(keys.compressed[0]);
        let mut d = Deployed::new(&keys, 7);
        let batch = SealedBatch::of_calls(1000 * round, 3, 7);
        let cert = CertificateCalldata::from_certificate(&keys.certify(batch.message)).unwrap();
        assert_success(&d.verify_certificate(&cert), "valid certificate");
    }
    // Not a hard requirement of the test's randomness, but 6 keys of one parity has probability 1/32.
    eprintln!("key prefixes seen: {parities:?}");
}

#[test]
fn every_tampered_signature_or_key_field_reverts() {
    let (_, mut d, _, cert) = setup();
    type Tamper = (&'static str, fn(&mut CertificateCalldata), [u8; 4]);
    let tampers: Vec<Tamper> = vec![
        ("rx + 1", |c| c.signature.rx += U256::from(1), NexusVerifier::BadSignature::SELECTOR),
        ("ry + 1", |c| c.signature.ry += U256::from(1), NexusVerifier::BadSignature::SELECTOR),
        // −R: on the curve, same x, other parity: the challenge and the address both change.
        ("ry negated", |c| c.signature.ry = p() - c.signature.ry, NexusVerifier::BadSignature::SELECTOR),
        ("rx = p", |c| c.signature.rx = p(), NexusVerifier::BadSignature::SELECTOR),
        ("z + 1", |c| c.signature.z += U256::from(1), NexusVerifier::BadSignature::SELECTOR),
        ("z - 1", |c| c.signature.z -= U256::from(1), NexusVerifier::BadSignature::SELECTOR),
        ("z = 0", |c| c.signature.z = U256::ZERO, NexusVerifier::BadSignature::SELECTOR),
        ("z = n", |c| c.signature.z = n(), NexusVerifier::BadSignature::SELECTOR),
        (
            "z + n (mod 2^256)",
            |c| c.signature.z = c.signature.z.wrapping_add(n()),
            NexusVerifier::BadSignature::SELECTOR,
        ),
        ("key x + 1", |c| c.key.x += U256::from(1), NexusVerifier::UnknownKey::SELECTOR),
        ("key parity flipped", |c| c.key.yParity ^= 1, NexusVerifier::UnknownKey::SELECTOR),
        ("key parity = 2", |c| c.key.yParity = 2, NexusVerifier::UnknownKey::SELECTOR),
    ];
    for (what, tamper, expected) in tampers {
        let mut bad = cert.clone();
        tamper(&mut bad);
        let outcome = d.verify_certificate(&bad);
        let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: accepted: {outcome:?}"));
        assert_eq!(data[..4], expected, "{what}: reverted with {:?}", verifier_error(&outcome));
    }
    // The untouched certificate still passes (the tampering above did not change the contract).
    assert_success(&d.verify_certificate(&cert), "valid certificate");
}

#[test]
fn every_tampered_message_field_reverts() {
    let (_, mut d, _, cert) = setup();
    let sig = NexusVerifier::BadSignature::SELECTOR;
    type Tamper = (&'static str, fn(&mut CertificateCalldata), [u8; 4]);
    let tampers: Vec<Tamper> = vec![
        ("cluster id", |c| c.batch.clusterId.0[31] ^= 1, NexusVerifier::WrongCluster::SELECTOR),
        ("chain id", |c| c.batch.chainId += 1, NexusVerifier::WrongChain::SELECTOR),
        ("key epoch + 1", |c| c.batch.keyEpoch += 1, NexusVerifier::WrongKeyEpoch::SELECTOR),
        ("key epoch - 1", |c| c.batch.keyEpoch -= 1, NexusVerifier::WrongKeyEpoch::SELECTOR),
        ("first index", |c| c.batch.firstIndex += 1, sig),
        ("last index", |c| c.batch.lastIndex += 1, sig),
        ("first > last", |c| c.batch.firstIndex = c.batch.lastIndex + 1, NexusVerifier::MalformedBatch::SELECTOR),
        ("receipts root", |c| c.batch.receiptsRoot.0[0] ^= 0x80, sig),
        ("state root", |c| c.batch.stateRoot.0[17] ^= 1, sig),
    ];
    for (what, tamper, expected) in tampers {
        let mut bad = cert.clone();
        tamper(&mut bad);
        let outcome = d.verify_certificate(&bad);
        let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: accepted: {outcome:?}"));
        assert_eq!(data[..4], expected, "{what}: reverted with {:?}", verifier_error(&outcome));
    }
}

#[test]
fn uint64_fields_with_high_bits_set_are_refused_not_truncated() {
    let (_, mut d, _, cert) = setup();
    let good = cert.verify_certificate_call();
    // Calldata: selector, then Batch in place: clusterId, chainId, keyEpoch, firstIndex, lastIndex, ...
    for (word, what) in [(1usize, "chain id"), (2, "key epoch"), (3, "first index"), (4, "last index")] {
        let mut raw = good.clone();
        raw[4 + 32 * word] = 1; // a bit above the uint64's 64 bits
        let outcome = d.view(raw);
        assert!(outcome.revert_data().is_some(), "{what} with high bits accepted: {outcome:?}");
    }
    assert_success(&d.view(good), "the untouched calldata");
}

#[test]
fn a_certificate_is_valid_on_its_chain_only() {
    let keys = GroupKeys::new();
    let mut d = Deployed::new(&keys, 1);
    let batch = SealedBatch::of_calls(10, 2, 1);
    let cert = CertificateCalldata::from_certificate(&keys.certify(batch.message)).unwrap();
    assert_success(&d.verify_certificate(&cert), "on its chain");
    // The same contract state on another chain (block.chainid = 1): refused.
    d.chain.set_chain_id(1);
    let outcome = d.verify_certificate(&cert);
    assert_eq!(
        verifier_error(&outcome),
        E::WrongChain(NexusVerifier::WrongChain { got: U256::from(DEFAULT_CHAIN_ID), expected: U256::from(1) })
    );
    // A certificate signed for chain 1 is valid there...
    let mut for_mainnet = batch.message;
    for_mainnet.chain_id = 1;
    let mainnet_cert = CertificateCalldata::from_certificate(&keys.certify(for_mainnet)).unwrap();
    assert_success(&d.verify_certificate(&mainnet_cert), "certificate for chain 1 on chain 1");
    // ...and not on the development chain, neither as it is nor relabelled (the signature covers the chain id).
    d.chain.set_chain_id(DEFAULT_CHAIN_ID);
    assert_reverts_with::<NexusVerifier::WrongChain>(&d.verify_certificate(&mainnet_cert), "chain-1 certificate");
    let mut relabelled = mainnet_cert.clone();
    relabelled.batch.chainId = DEFAULT_CHAIN_ID;
    assert_reverts_with::<NexusVerifier::BadSignature>(&d.verify_certificate(&relabelled), "relabelled chain id");
}

#[test]
fn certificates_of_another_cluster_or_key_are_refused() {
    let (keys, mut d, batch, _) = setup();
    // Another cluster's certificate, with its own valid signature by the same key.
    let mut other = batch.message;
    other.cluster_id = [0xee; 32];
    let other_cert = CertificateCalldata::from_certificate(&keys.certify(other)).unwrap();
    assert_reverts_with::<NexusVerifier::WrongCluster>(&d.verify_certificate(&other_cert), "other cluster");
    // A valid certificate by another key of the same epoch.
    let stranger = GroupKeys::new();
    let stranger_cert = CertificateCalldata::from_certificate(&stranger.certify(batch.message)).unwrap();
    assert_reverts_with::<NexusVerifier::UnknownKey>(&d.verify_certificate(&stranger_cert), "stranger's key");
    // The stranger's signature presented under the trusted key: the signature check refuses it.
    let mut swapped = stranger_cert.clone();
    swapped.key = CertificateCalldata::from_certificate(&keys.certify(batch.message)).unwrap().key;
    assert_reverts_with::<NexusVerifier::BadSignature>(&d.verify_certificate(&swapped), "signature by another key");
}

#[test]
fn a_key_that_is_not_usable_is_refused_at_deployment() {
    let keys = GroupKeys::new();
    let (x, y) = calldata::key_coordinates(&keys.compressed).unwrap();
    let mut chain = nexus_bridge::harness::Chain::default();
    let creation = nexus_bridge::artifacts::NEXUS_VERIFIER.creation_code().unwrap();
    for (what, x, y) in [("y + 1", x, y + U256::from(1)), ("x = 0", U256::ZERO, y), ("x = p", p(), y)] {
        let mut code = creation.clone();
        code.extend(NexusVerifier::constructorCall { cluster: b256(CLUSTER), x, y, epoch: 1 }.abi_encode());
        assert!(chain.deploy(code).is_err(), "{what}: deployed");
    }
}

#[test]
fn receipts_verify_at_every_position_for_several_batch_sizes() {
    let keys = GroupKeys::new();
    let mut d = Deployed::new(&keys, 1);
    for size in [1u64, 2, 3, 5, 8, 13, 64] {
        let batch = SealedBatch::of_calls(500, size, 1);
        let certificate = keys.certify(batch.message);
        for i in 0..size as usize {
            let proof = batch.proof(i, &certificate);
            proof.verify::<Secp256k1EvmVerifier>(None).expect("Rust verifies the proof");
            let r = ReceiptCalldata::from_proof(&proof).unwrap();
            assert_success(&d.verify_receipt(&r), &format!("receipt {i} of {size}"));
        }
    }
    // 1,024 receipts: the first, the last, and some in between.
    let batch = SealedBatch::of_calls(1 << 20, 1024, 1);
    let certificate = keys.certify(batch.message);
    for i in [0usize, 1, 511, 512, 777, 1022, 1023] {
        let r = ReceiptCalldata::from_proof(&batch.proof(i, &certificate)).unwrap();
        assert_eq!(r.path.siblings.len(), 10);
        assert_success(&d.verify_receipt(&r), &format!("receipt {i} of 1024"));
    }
    // A batch that also holds log entries that are not calls (seals, deploys): fewer leaves than indexes,
    // with gaps; odd sizes promote nodes.
    let receipts: Vec<(u64, Vec<u8>)> = [3u64, 4, 7, 8, 9, 15, 20]
        .iter()
        .map(|&i| (i, receipt_bytes(i, APP, "f", &[i as u8], Some(vec![1]))))
        .collect();
    let batch = SealedBatch::new(2, 21, receipts, 1, DEFAULT_CHAIN_ID);
    let certificate = keys.certify(batch.message);
    for i in 0..7 {
        let r = ReceiptCalldata::from_proof(&batch.proof(i, &certificate)).unwrap();
        assert_success(&d.verify_receipt(&r), &format!("sparse receipt {i}"));
    }
}

#[test]
fn every_tampered_receipt_proof_field_reverts() {
    let keys = GroupKeys::new();
    let mut d = Deployed::new(&keys, 1);
    // 11 receipts at log indexes 40..=50 in a batch 40..=52: leaf 10 is promoted twice.
    let batch = {
        let receipts = (40..=50u64).map(|i| (i, receipt_bytes(i, APP, "g", &[i as u8], Some(vec![i as u8])))).collect();
        SealedBatch::new(40, 52, receipts, 1, DEFAULT_CHAIN_ID)
    };
    let certificate = keys.certify(batch.message);
    let good = ReceiptCalldata::from_proof(&batch.proof(5, &certificate)).unwrap();
    assert_success(&d.verify_receipt(&good), "untouched proof");
    let promoted = ReceiptCalldata::from_proof(&batch.proof(10, &certificate)).unwrap();
    assert_success(&d.verify_receipt(&promoted), "promoted leaf");
    assert_eq!(promoted.path.siblings.len(), 2, "leaf 10 of 11 has siblings at 2 of its 4 levels");

    type Tamper = (&'static str, fn(&mut ReceiptCalldata), [u8; 4]);
    let tampers: Vec<Tamper> = vec![
        ("a sibling", |r| r.path.siblings[1].0[3] ^= 1, NexusVerifier::RootMismatch::SELECTOR),
        ("siblings swapped", |r| r.path.siblings.swap(0, 1), NexusVerifier::RootMismatch::SELECTOR),
        ("leaf index + 1", |r| r.path.leafIndex += 1, NexusVerifier::RootMismatch::SELECTOR),
        ("leaf index = count", |r| r.path.leafIndex = r.path.leafCount, NexusVerifier::LeafIndexOutOfRange::SELECTOR),
        ("leaf count + 1", |r| r.path.leafCount += 1, NexusVerifier::RootMismatch::SELECTOR),
        ("leaf count - 1", |r| r.path.leafCount -= 1, NexusVerifier::RootMismatch::SELECTOR),
        ("leaf count 0", |r| r.path.leafCount = 0, NexusVerifier::LeafIndexOutOfRange::SELECTOR),
        ("more leaves than log entries", |r| r.path.leafCount = 14, NexusVerifier::TooManyLeaves::SELECTOR),
        ("leaf count 2^32 + 1", |r| r.path.leafCount = (1 << 32) + 1, NexusVerifier::TooManyLeaves::SELECTOR),
        ("an extra sibling", |r| r.path.siblings.push(r.path.siblings[0]), NexusVerifier::WrongPathLength::SELECTOR),
        (
            "a missing sibling",
            |r| {
                r.path.siblings.pop();
            },
            NexusVerifier::WrongPathLength::SELECTOR,
        ),
        ("no siblings", |r| r.path.siblings.clear(), NexusVerifier::WrongPathLength::SELECTOR),
        ("log index + 1 (in range)", |r| r.log_index += 1, NexusVerifier::RootMismatch::SELECTOR),
        ("log index below the batch", |r| r.log_index = 39, NexusVerifier::IndexNotInRange::SELECTOR),
        ("log index above the batch", |r| r.log_index = 53, NexusVerifier::IndexNotInRange::SELECTOR),
        ("a receipt byte", |r| r.receipt = flip_last(&r.receipt), NexusVerifier::RootMismatch::SELECTOR),
        (
            "receipt truncated",
            |r| r.receipt = r.receipt.slice(..r.receipt.len() - 1),
            NexusVerifier::RootMismatch::SELECTOR,
        ),
        (
            "receipt extended",
            |r| r.receipt = [r.receipt.as_ref(), &[0]].concat().into(),
            NexusVerifier::RootMismatch::SELECTOR,
        ),
        ("receipt signature z", |r| r.certificate.signature.z += U256::from(1), NexusVerifier::BadSignature::SELECTOR),
        ("certified root", |r| r.certificate.batch.receiptsRoot.0[9] ^= 4, NexusVerifier::BadSignature::SELECTOR),
        ("key epoch", |r| r.certificate.batch.keyEpoch = 2, NexusVerifier::WrongKeyEpoch::SELECTOR),
    ];
    for (what, tamper, expected) in tampers {
        let mut bad = good.clone();
        tamper(&mut bad);
        let outcome = d.verify_receipt(&bad);
        let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: accepted: {outcome:?}"));
        assert_eq!(data[..4], expected, "{what}: reverted with {:?}", verifier_error(&outcome));
    }
    // For the promoted leaf, one more leaf means a sibling at its first level: the path is too short.
    let mut bad = promoted.clone();
    bad.path.leafCount += 1;
    assert_reverts_with::<NexusVerifier::WrongPathLength>(&d.verify_receipt(&bad), "promoted leaf, count + 1");
    // Another batch's receipt under this certificate, and this receipt's path in another tree.
    let other = SealedBatch::of_calls(40, 11, 1);
    let mut foreign = good.clone();
    foreign.receipt = other.receipts[5].1.clone().into();
    assert_reverts_with::<NexusVerifier::RootMismatch>(&d.verify_receipt(&foreign), "other batch's receipt");
    // The Rust verifier agrees with the contract on the untouched proof.
    let proof = batch.proof(5, &certificate);
    verify_path(
        &batch.message.receipts_root,
        &nexus_mpc::batch::receipt_digest(proof.log_index, &proof.receipt),
        &proof.path,
    )
    .expect("Rust accepts the path");
}

fn flip_last(bytes: &alloy_primitives::Bytes) -> alloy_primitives::Bytes {
    let mut v = bytes.to_vec();
    if let Some(b) = v.last_mut() {
        *b ^= 1;
    }
    v.into()
}

#[test]
fn the_certificate_check_stays_within_its_gas_budget() {
    // Gas is deterministic: a regression guard, not a timing; the benchmark reports the figures. The budget is
    // 2,100 (cold read of the key commitment) + 3,100 (ecrecover) + hashing and checks.
    let (keys, mut d, _, cert) = setup();
    let outcome = d.verify_certificate(&cert);
    assert_success(&outcome, "valid certificate");
    assert!(outcome.gas() <= 7_000, "certificate check costs {} gas", outcome.gas());
    let batch = SealedBatch::of_calls(0, 1024, 1);
    let certificate = keys.certify(batch.message);
    let r = ReceiptCalldata::from_proof(&batch.proof(700, &certificate)).unwrap();
    let with_path = d.verify_receipt(&r);
    assert_success(&with_path, "receipt of 1024");
    let per_level = (with_path.gas() - outcome.gas()) / 10;
    assert!(per_level <= 1_000, "{per_level} gas per Merkle level");
}

#[test]
fn batch_message_fields_map_one_to_one() {
    let m = BatchMessage {
        cluster_id: [1; 32],
        chain_id: 2,
        key_epoch: 3,
        first_index: 4,
        last_index: 5,
        receipts_root: [6; 32],
        state_root: [7; 32],
    };
    let b = calldata::batch(&m);
    assert_eq!(
        (b.clusterId, b.chainId, b.keyEpoch, b.firstIndex, b.lastIndex, b.receiptsRoot, b.stateRoot),
        (b256([1; 32]), 2, 3, 4, 5, b256([6; 32]), b256([7; 32]))
    );
}
