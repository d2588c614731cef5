//! Gas of the bridge contracts on the in-process EVM (revm 43, Prague rules), with real FROST certificates:
//! the certificate check, a receipt with its Merkle path at batch sizes 1, 64 and 1,024, a key rotation, and
//! the consumer's certified callback. Prints a markdown table.
//!
//! "Execution" is what the contract code spends (the transaction's total less its intrinsic cost, before
//! refunds): the cost a caller contract pays when it calls the verifier (plus its own call overhead).
//! "Transaction" is what a transaction made of just that call is charged: 21,000 + calldata + execution, or
//! the EIP-7623 calldata floor when that is higher. Gas is deterministic: one run of each is exact.
//!
//! Run: `cargo bench -p nexus-bridge --bench gas`.

#[path = "../tests/common/mod.rs"]
mod common;

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use common::{APP, CLUSTER, Deployed, GroupKeys, SealedBatch, receipt_bytes};
use nexus_bridge::abi::{FrostSecp256k1Verifier, NexusConsumer};
use nexus_bridge::artifacts;
use nexus_bridge::calldata::{self, CertificateCalldata, ReceiptCalldata};
use nexus_bridge::harness::{DEFAULT_CHAIN_ID, Gas, Outcome};
use nexus_bridge::rotation::RotationMessage;
use nexus_mpc::evm::EvmSignature;

fn succeeded(outcome: Outcome, what: &str) -> Gas {
    match outcome {
        Outcome::Success { gas, .. } => gas,
        other => panic!("{what} failed: {other:?}"),
    }
}

fn main() {
    let keys = GroupKeys::new();
    let mut d = Deployed::new(&keys, 1);
    let mut rows: Vec<(String, Gas, String)> = Vec::new();

    // Deployment (for reference).
    let mut chain = nexus_bridge::harness::Chain::default();
    let (verifier, verifier_deploy) = chain
        .deploy(calldata::verifier_deployment(CLUSTER, &keys.compressed, 1).expect("deployment"))
        .expect("deploys");
    let (_, consumer_deploy) =
        chain.deploy(calldata::consumer_deployment(verifier, APP).expect("deployment")).expect("deploys");

    // The certificate check.
    let batch = SealedBatch::of_calls(1_000, 64, 1);
    let certificate = CertificateCalldata::from_certificate(&keys.certify(batch.message)).expect("calldata");
    let certificate_gas = succeeded(d.verify_certificate(&certificate), "certificate check");
    rows.push(("certificate check (`verifyCertificate`)".into(), certificate_gas, String::new()));

    // A receipt with its path, at three batch sizes (a middle leaf: every level of a power of two has a sibling).
    let mut path_gas = Vec::new();
    for (size, levels) in [(1u64, 0u64), (64, 6), (1024, 10)] {
        let batch = SealedBatch::of_calls(1_000_000, size, 1);
        let certificate = keys.certify(batch.message);
        let proof = ReceiptCalldata::from_proof(&batch.proof((size / 2) as usize, &certificate)).expect("calldata");
        assert_eq!(proof.path.siblings.len() as u64, levels);
        let gas = succeeded(d.verify_receipt(&proof), "receipt");
        path_gas.push((size, levels, gas));
        let receipt_bytes = proof.receipt.len();
        let path_only = gas.execution - certificate_gas.execution;
        rows.push((
            format!("receipt + path, batch of {size} ({levels} levels, {receipt_bytes}-byte receipt)"),
            gas,
            format!("path part {path_only}"),
        ));
    }
    let (_, _, one) = path_gas[0];
    for &(size, levels, gas) in &path_gas[1..] {
        let per_level = (gas.execution - one.execution) as f64 / levels as f64;
        rows.push((
            format!("  per Merkle level (batch of {size} vs 1)"),
            Gas { execution: per_level.round() as u64, intrinsic: 0, refund: 0, floor: 0 },
            "execution only".into(),
        ));
    }

    // The stateless FROST verification (key in calldata, no storage): the anchor's setting (a 32-byte message)
    // and a batch message's length, for comparison with the certificate check.
    let mut frost_chain = nexus_bridge::harness::Chain::default();
    let (frost, _) = frost_chain.deploy(artifacts::FROST_VERIFIER.creation_code().expect("code")).expect("deploys");
    let key = calldata::key_coordinates(&keys.compressed).expect("key");
    for len in [32usize, 152] {
        let message = vec![0x5a; len];
        let sig = calldata::signature(&EvmSignature::from_frost(&keys.sign_raw(&message)).expect("signature"));
        let call =
            FrostSecp256k1Verifier::verifyCall { message: message.into(), keyX: key.0, keyY: key.1, signature: sig };
        let gas = succeeded(frost_chain.view(frost, call.abi_encode()).expect("runs"), "FROST verify");
        rows.push((
            format!("FROST signature check alone, {len}-byte message (`FrostSecp256k1Verifier`)"),
            gas,
            "key in calldata, no storage read, no domain checks".into(),
        ));
    }

    // A key rotation (writes three slots: commitment, x, epoch and parity).
    let new = GroupKeys::new();
    let message = RotationMessage::new(CLUSTER, DEFAULT_CHAIN_ID, 1, 2, &new.compressed).expect("rotation");
    let signature = keys.sign_raw(&message.encode());
    let call = message.rotate_call(&keys.compressed, &signature, &new.compressed).expect("calldata");
    let mut rotating = Deployed::new(&keys, 1);
    let rotation = succeeded(rotating.chain.call(rotating.verifier, call).expect("runs"), "rotation");
    rows.push(("key rotation (`rotateKey`)".into(), rotation, String::new()));

    // The consumer: request, then the certified callback (verifier call, receipt parsing, storing the output).
    let (consumer, _) = d.chain.deploy(calldata::consumer_deployment(d.verifier, APP).expect("data")).expect("deploys");
    let input = 7u64.to_le_bytes();
    let request = NexusConsumer::requestCall { functionName: "fib".into(), input: input.to_vec().into() }.abi_encode();
    let requested = succeeded(d.chain.call(consumer, request).expect("runs"), "request");
    rows.push(("consumer `request` (stores the request, emits it)".into(), requested, String::new()));
    let receipts = (0..64u64)
        .map(|i| {
            let index = 5_000 + i;
            let input = if i == 32 { input } else { index.to_le_bytes() };
            (index, receipt_bytes(index, APP, "fib", &input, Some(vec![13, 0, 0, 0, 0, 0, 0, 0])))
        })
        .collect();
    let batch = SealedBatch::new(5_000, 5_063, receipts, 1, DEFAULT_CHAIN_ID);
    let certificate = keys.certify(batch.message);
    let proof = ReceiptCalldata::from_proof(&batch.proof(32, &certificate)).expect("calldata");
    let fulfilled = succeeded(d.chain.call(consumer, proof.fulfill_call(U256::ZERO)).expect("runs"), "fulfill");
    rows.push(("consumer `fulfill`, batch of 64 (verifies, parses, stores)".into(), fulfilled, String::new()));

    println!("| operation | execution gas | transaction gas | note |");
    println!("|---|---:|---:|---|");
    for (what, gas, note) in &rows {
        let tx = if gas.intrinsic == 0 { "".to_string() } else { gas.transaction().to_string() };
        println!("| {what} | {} | {tx} | {note} |", gas.execution);
    }
    println!("| deploy `NexusVerifier` | {verifier_deploy} | | creation code + 200/byte stored |");
    println!("| deploy `NexusConsumer` | {consumer_deploy} | | |");
    println!();
    println!(
        "certificate check = 2,100 (cold read of the key commitment slot) + 3,100 (ecrecover and its call) + \
         {} (Keccak: challenge b0/b1/b2, R's address, key commitment; checks; calldata and memory)",
        certificate_gas.execution - 5_200
    );
}
