//! A real network's Ethereum certificates on the bridge contracts: a local network certifies a call for a
//! chain, `nexus bridge export` turns its receipt into calldata, and the contracts on an in-process EVM
//! (revm) accept it on that chain only, and deliver it to a consumer contract only for the call it asked for.

mod common;

use alloy_sol_types::SolCall;
use common::{Network, Settings, block_on, counter_wasm, deploy};
use nexus_bridge::ReceiptCalldata;
use nexus_bridge::abi::NexusConsumer;
use nexus_bridge::calldata::{consumer_deployment, verifier_deployment};
use nexus_bridge::harness::Chain;
use nexus_cli::network;
use nexus_replica::nexus_mpc::certificate::ReceiptProof;
use nexus_replica::{ApplyOutcome, Request};

const CHAIN: u64 = 31_337;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_networks_certified_receipt_verifies_on_its_chain_and_reaches_the_consumer_that_asked_for_it() {
    let net = Network::start(4, Settings { evm_chain_id: Some(CHAIN), ..Settings::default() });
    net.wait_for("the group's Ethereum key", |net| net.status(0).is_some_and(|s| !s.evm_group_key.is_empty()));
    let leader = net.leader().expect("leader");
    let app = deploy(net.addr(leader), &net.admin, counter_wasm());
    let input = postcard::to_allocvec(&5u64).expect("encodes");
    let call = Request::Call { app, function: "increment".into(), input: input.clone(), zk: false };
    let call_id = match block_on(network::submit(net.addr(leader), &net.admin, call)).expect("call") {
        (ApplyOutcome::Called(receipt), _) => receipt.call_id,
        (other, _) => panic!("{other:?}"),
    };
    let mut served = None;
    net.wait_for("the batch's Ethereum certificate", |net| {
        served = block_on(network::receipt(net.addr(leader), call_id)).ok().filter(|s| s.evm_certificate.is_some());
        served.is_some()
    });
    let served = served.expect("certified");
    let certificate = served.evm_certificate.clone().expect("Ethereum certificate");
    let status = net.status(leader).expect("status");

    // What `nexus bridge export` prints is exactly the calldata of `verifyReceipt` for this receipt.
    let out = net.nexus(&["bridge", "export", &call_id.to_string(), "--replica", net.addr(leader)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = hex::decode(text(&out.stdout).trim().trim_start_matches("0x")).expect("hex calldata");
    let proof = ReceiptProof {
        log_index: call_id,
        receipt: served.receipt_bytes.clone(),
        path: served.batch.clone().expect("sealed").1,
        certificate: certificate.clone(),
    };
    let calldata = ReceiptCalldata::from_proof(&proof).expect("calldata");
    assert_eq!(exported, calldata.verify_receipt_call());
    let json =
        net.nexus(&["bridge", "export", &call_id.to_string(), "--replica", net.addr(leader), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(json["certificate"]["batch"]["chainId"], CHAIN);
    assert_eq!(json["calldata"], format!("0x{}", hex::encode(&exported)));

    // The verifier of this cluster, trusting the key the replicas report, on the chain they certify for.
    let mut chain = Chain::new(CHAIN);
    let verifier_code = verifier_deployment(net.cluster, &status.evm_group_key, status.key_epoch).expect("deployable");
    let (verifier, _) = chain.deploy(verifier_code.clone()).expect("verifier deployed");
    let outcome = chain.view(verifier, exported.clone()).expect("runs");
    assert!(outcome.success().is_some(), "the network's certificate was refused: {outcome:?}");

    // On another chain the same certificate is refused.
    let mut other_chain = Chain::new(1);
    let (elsewhere, _) = other_chain.deploy(verifier_code).expect("verifier deployed");
    let outcome = other_chain.view(elsewhere, exported.clone()).expect("runs");
    assert!(outcome.success().is_none(), "a certificate for chain {CHAIN} was accepted on chain 1");

    // A consumer asks for increment(5); the certified receipt of exactly that call fulfills it.
    let (consumer, _) = chain.deploy(consumer_deployment(verifier, app.0).expect("deployable")).expect("deployed");
    let ask = |chain: &mut Chain, input: &[u8]| {
        let call = NexusConsumer::requestCall {
            functionName: "increment".into(),
            input: alloy_primitives::Bytes::copy_from_slice(input),
        };
        let outcome = chain.call(consumer, call.abi_encode()).expect("runs");
        NexusConsumer::requestCall::abi_decode_returns(outcome.success().expect("requested")).expect("request id")
    };
    let other_request = ask(&mut chain, &postcard::to_allocvec(&6u64).expect("encodes"));
    let request = ask(&mut chain, &input);
    let outcome = chain.call(consumer, calldata.fulfill_call(other_request)).expect("runs");
    assert!(outcome.success().is_none(), "a receipt of increment(5) fulfilled a request for increment(6)");
    let mut tampered = calldata.clone();
    tampered.certificate.signature.z ^= alloy_primitives::U256::from(1);
    let outcome = chain.call(consumer, tampered.fulfill_call(request)).expect("runs");
    assert!(outcome.success().is_none(), "a tampered certificate fulfilled a request");
    let outcome = chain.call(consumer, calldata.fulfill_call(request)).expect("runs");
    assert!(outcome.success().is_some(), "the certified receipt did not fulfill its request: {outcome:?}");
    let result = chain.view(consumer, NexusConsumer::resultCall { requestId: request }.abi_encode()).expect("runs");
    let result = NexusConsumer::resultCall::abi_decode_returns(result.success().expect("result")).expect("decodes");
    assert!(result.fulfilled && result.returned);
    assert_eq!(result.callId, call_id);
    assert_eq!(result.output.to_vec(), postcard::to_allocvec(&5u64).expect("encodes"), "the certified output");
}
