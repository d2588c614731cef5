//! Real certificates for the contract tests: a FROST(secp256k1, Keccak-256) group key from a trusted dealer
//! (t = 3 of n = 4), batches of real replica receipts (postcard of `nexus_replica::Receipt`) in
//! `nexus_mpc::batch::MerkleTree`s, certified by `nexus_mpc::signing`'s signers and coordinator; and a chain
//! with the verifier deployed.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolError, SolInterface};
use nexus_bridge::abi::{NexusConsumer, NexusVerifier};
use nexus_bridge::calldata::{self, CertificateCalldata, ReceiptCalldata};
use nexus_bridge::harness::{Chain, DEFAULT_CHAIN_ID, Outcome};
use nexus_mpc::batch::{BatchMessage, MerkleTree, receipt_digest};
use nexus_mpc::certificate::{Certificate, ReceiptProof};
use nexus_mpc::evm::evm_key_usable;
use nexus_mpc::frost_core::keys::{KeyPackage, PublicKeyPackage};
use nexus_mpc::frost_core::{self, Identifier, SigningPackage};
use nexus_mpc::frost_secp256k1_evm::Secp256K1Keccak256 as Suite;
use nexus_mpc::frost_secp256k1_evm::keys::{IdentifierList, generate_with_dealer};
use nexus_mpc::signing::{Coordinator, Signer};
use nexus_replica::{AppId, Receipt};
use nexus_wasm_host::Trap;
use rand_core::OsRng;

pub const N: u16 = 4;
pub const T: u16 = 3;
pub const CLUSTER: [u8; 32] = [0xc1; 32];
pub const APP: [u8; 32] = [0xa7; 32];

/// A group key and its shares.
pub struct GroupKeys {
    pub packages: BTreeMap<u16, KeyPackage<Suite>>,
    pub public: PublicKeyPackage<Suite>,
    /// The group key, compressed (33 bytes).
    pub compressed: Vec<u8>,
}

impl GroupKeys {
    /// A fresh t-of-n key from a trusted dealer, usable on Ethereum (drawn again in the ~2⁻¹²⁸ case it is not).
    pub fn new() -> Self {
        loop {
            let (shares, public) =
                generate_with_dealer(N, T, IdentifierList::Default, OsRng).expect("dealer key generation");
            let compressed = public.verifying_key().serialize().expect("key serializes");
            if !evm_key_usable(&compressed) {
                continue;
            }
            let mut packages = BTreeMap::new();
            for p in 1..=N {
                let id = Identifier::try_from(p).expect("identifier");
                let share = shares.get(&id).expect("a share per participant").clone();
                packages.insert(p, KeyPackage::try_from(share).expect("key package"));
            }
            return GroupKeys { packages, public, compressed };
        }
    }

    /// A certificate of `message` from a signing session of participants 1..=t, through `nexus_mpc::signing`.
    pub fn certify(&self, message: BatchMessage) -> Certificate {
        let signers: BTreeSet<u16> = (1..=T).collect();
        let mut coordinator = Coordinator::new(&self.public, message, &signers).expect("coordinator");
        let mut pending = Vec::new();
        let mut package = None;
        for &p in &signers {
            let (signer, commitments) = Signer::new(&self.packages[&p], message, &mut OsRng).expect("signer");
            if let Some(pkg) = coordinator.on_commitments(p, &commitments).expect("commitments") {
                package = Some(pkg);
            }
            pending.push((p, signer));
        }
        let package = package.expect("all commitments in");
        for (p, signer) in pending {
            let share = signer.sign(&package).expect("share");
            coordinator.on_share(p, &share).expect("share accepted");
        }
        coordinator.aggregate().expect("aggregate")
    }

    /// A 65-byte FROST signature over arbitrary bytes (a rotation message) by participants 1..=t, with
    /// frost-core's rounds directly (nexus-mpc's sessions sign batch messages only).
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for p in 1..=T {
            let package = &self.packages[&p];
            let (n, c) = frost_core::round1::commit(package.signing_share(), &mut OsRng);
            nonces.insert(*package.identifier(), n);
            commitments.insert(*package.identifier(), c);
        }
        let signing_package = SigningPackage::new(commitments, message);
        let mut shares = BTreeMap::new();
        for p in 1..=T {
            let package = &self.packages[&p];
            let share = frost_core::round2::sign(&signing_package, &nonces[package.identifier()], package)
                .expect("signature share");
            shares.insert(*package.identifier(), share);
        }
        let signature = frost_core::aggregate(&signing_package, &shares, &self.public).expect("aggregate");
        signature.serialize().expect("signature serializes")
    }
}

/// The postcard bytes of a replica receipt for call `call_id`.
pub fn receipt_bytes(call_id: u64, app: [u8; 32], function: &str, input: &[u8], output: Option<Vec<u8>>) -> Vec<u8> {
    let trap = match output {
        Some(_) => None,
        None => Some(Trap::Abort { message: "the app gave up".into() }),
    };
    let receipt = Receipt {
        call_id,
        app: AppId(app),
        function: function.into(),
        caller: [0x5e; 32],
        input_digest: sha256(input),
        output,
        trap,
        fuel_used: 12_345,
        state_root: [0x57; 32],
        zk: None,
    };
    postcard::to_allocvec(&receipt).expect("receipt encodes")
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A sealed batch: log indexes `first..=last`, the receipts of the calls in it (by log index, in order), the
/// Merkle tree over their digests and the batch message.
pub struct SealedBatch {
    pub message: BatchMessage,
    pub receipts: Vec<(u64, Vec<u8>)>,
    pub tree: MerkleTree,
}

impl SealedBatch {
    /// A batch starting at log index `first` whose calls are `receipts` (log index, bytes), ending at `last`.
    pub fn new(first: u64, last: u64, receipts: Vec<(u64, Vec<u8>)>, key_epoch: u64, chain_id: u64) -> Self {
        let digests: Vec<[u8; 32]> = receipts.iter().map(|(i, r)| receipt_digest(*i, r)).collect();
        let tree = MerkleTree::new(&digests);
        let message = BatchMessage {
            cluster_id: CLUSTER,
            chain_id,
            key_epoch,
            first_index: first,
            last_index: last,
            receipts_root: tree.root(),
            state_root: [0x57; 32],
        };
        SealedBatch { message, receipts, tree }
    }

    /// `n` calls of `function` on `APP` at log indexes first, first + 1, ..., each with a distinct input and
    /// output, for epoch `key_epoch` on the default chain.
    pub fn of_calls(first: u64, n: u64, key_epoch: u64) -> Self {
        let receipts = (0..n)
            .map(|i| {
                let index = first + i;
                let input = index.to_le_bytes();
                (index, receipt_bytes(index, APP, "fib", &input, Some((index * 7).to_le_bytes().to_vec())))
            })
            .collect();
        Self::new(first, first + n.max(1) - 1, receipts, key_epoch, DEFAULT_CHAIN_ID)
    }

    /// The proof of the `i`-th receipt under `certificate`.
    pub fn proof(&self, i: usize, certificate: &Certificate) -> ReceiptProof {
        let (log_index, receipt) = self.receipts[i].clone();
        ReceiptProof {
            log_index,
            receipt,
            path: self.tree.path(i as u64).expect("receipt in the tree"),
            certificate: certificate.clone(),
        }
    }
}

/// A chain with a verifier for `CLUSTER` trusting `keys` at `epoch`.
pub struct Deployed {
    pub chain: Chain,
    pub verifier: Address,
}

impl Deployed {
    pub fn new(keys: &GroupKeys, epoch: u64) -> Self {
        let mut chain = Chain::default();
        let code = calldata::verifier_deployment(CLUSTER, &keys.compressed, epoch).expect("deployment data");
        let (verifier, _) = chain.deploy(code).expect("verifier deploys");
        Deployed { chain, verifier }
    }

    /// Runs `verifyCertificate` (as an eth_call).
    pub fn verify_certificate(&mut self, c: &CertificateCalldata) -> Outcome {
        self.chain.view(self.verifier, c.verify_certificate_call()).expect("transaction runs")
    }

    /// Runs `verifyReceipt` (as an eth_call).
    pub fn verify_receipt(&mut self, r: &ReceiptCalldata) -> Outcome {
        self.chain.view(self.verifier, r.verify_receipt_call()).expect("transaction runs")
    }

    pub fn view(&mut self, calldata: Vec<u8>) -> Outcome {
        self.chain.view(self.verifier, calldata).expect("transaction runs")
    }
}

/// The verifier's error in a reverted outcome (panics on success or on revert data that is not one).
#[track_caller]
pub fn verifier_error(outcome: &Outcome) -> NexusVerifier::NexusVerifierErrors {
    let data = outcome.revert_data().unwrap_or_else(|| panic!("expected a revert, got {outcome:?}"));
    NexusVerifier::NexusVerifierErrors::abi_decode(data)
        .unwrap_or_else(|e| panic!("revert data {data} is not a verifier error: {e}"))
}

/// The consumer's error in a reverted outcome.
#[track_caller]
pub fn consumer_error(outcome: &Outcome) -> NexusConsumer::NexusConsumerErrors {
    let data = outcome.revert_data().unwrap_or_else(|| panic!("expected a revert, got {outcome:?}"));
    NexusConsumer::NexusConsumerErrors::abi_decode(data)
        .unwrap_or_else(|e| panic!("revert data {data} is not a consumer error: {e}"))
}

/// Asserts the outcome reverted with exactly the error `E` (any arguments).
#[track_caller]
pub fn assert_reverts_with<E: SolError>(outcome: &Outcome, what: &str) {
    let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: expected a revert, got {outcome:?}"));
    assert!(data.len() >= 4 && data[..4] == E::SELECTOR, "{what}: expected {}, got revert data {data}", E::SIGNATURE);
}

#[track_caller]
pub fn assert_success(outcome: &Outcome, what: &str) -> Bytes {
    match outcome.success() {
        Some(out) => out.clone(),
        None => panic!("{what}: expected success, got {outcome:?}"),
    }
}

pub fn u256(bytes: [u8; 32]) -> U256 {
    U256::from_be_bytes(bytes)
}

pub fn b256(bytes: [u8; 32]) -> B256 {
    B256::from(bytes)
}
