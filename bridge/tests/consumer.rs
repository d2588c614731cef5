//! `NexusConsumer`, the app-contract pattern: it asks for a call and accepts only a certified receipt of exactly
//! that call (app, function, input), parsing the replica's own receipt encoding.

mod common;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use common::*;
use nexus_bridge::abi::{NexusConsumer, NexusVerifier};
use nexus_bridge::calldata::{self, ReceiptCalldata};
use nexus_bridge::harness::{DEFAULT_CHAIN_ID, Outcome};
use nexus_bridge::rotation::RotationMessage;
use nexus_mpc::certificate::Certificate;

struct App {
    keys: GroupKeys,
    d: Deployed,
    consumer: Address,
}

impl App {
    fn new() -> Self {
        let keys = GroupKeys::new();
        let mut d = Deployed::new(&keys, 1);
        let (consumer, _) = d.chain.deploy(calldata::consumer_deployment(d.verifier, APP).unwrap()).expect("deploys");
        App { keys, d, consumer }
    }

    fn send(&mut self, calldata: Vec<u8>) -> Outcome {
        self.d.chain.call(self.consumer, calldata).expect("transaction runs")
    }

    fn request(&mut self, function: &str, input: &[u8]) -> U256 {
        let outcome = self.send(
            NexusConsumer::requestCall { functionName: function.into(), input: Bytes::copy_from_slice(input) }
                .abi_encode(),
        );
        let out = assert_success(&outcome, "request");
        let id = NexusConsumer::requestCall::abi_decode_returns(&out).unwrap();
        let event = NexusConsumer::CallRequested::decode_log(&outcome.logs()[0]).expect("CallRequested").data;
        assert_eq!(
            (event.requestId, event.app, event.functionName.as_str(), event.input.as_ref()),
            (id, b256(APP), function, input)
        );
        id
    }

    fn fulfill(&mut self, id: U256, proof: &ReceiptCalldata) -> Outcome {
        self.send(proof.fulfill_call(id))
    }

    fn result(&mut self, id: U256) -> NexusConsumer::resultReturn {
        let out = assert_success(
            &self.d.chain.view(self.consumer, NexusConsumer::resultCall { requestId: id }.abi_encode()).unwrap(),
            "result",
        );
        NexusConsumer::resultCall::abi_decode_returns(&out).unwrap()
    }
}

/// A batch at log indexes 200..=209 holding the given receipts (log index, bytes), certified.
fn certified(app: &App, receipts: Vec<(u64, Vec<u8>)>, epoch: u64) -> (SealedBatch, Certificate) {
    let batch = SealedBatch::new(200, 209, receipts, epoch, DEFAULT_CHAIN_ID);
    let certificate = app.keys.certify(batch.message);
    (batch, certificate)
}

fn proof(batch: &SealedBatch, i: usize, certificate: &Certificate) -> ReceiptCalldata {
    ReceiptCalldata::from_proof(&batch.proof(i, certificate)).unwrap()
}

#[test]
fn the_consumer_accepts_the_certified_result_of_the_requested_call_once() {
    let mut app = App::new();
    let id = app.request("fib", b"\x0a");
    assert!(!app.result(id).fulfilled);
    let (batch, certificate) = certified(
        &app,
        vec![
            (201, receipt_bytes(201, APP, "fib", b"\x0b", Some(vec![89]))),
            (203, receipt_bytes(203, APP, "fib", b"\x0a", Some(vec![55, 0, 0, 0]))),
            (204, receipt_bytes(204, APP, "other", b"\x0a", Some(vec![1]))),
        ],
        1,
    );
    let answer = proof(&batch, 1, &certificate);
    let outcome = app.fulfill(id, &answer);
    assert_success(&outcome, "fulfill");
    let event = NexusConsumer::CallFulfilled::decode_log(&outcome.logs()[0]).expect("CallFulfilled").data;
    assert_eq!(
        (event.requestId, event.callId, event.returned, event.output.as_ref()),
        (id, 203, true, &[55u8, 0, 0, 0][..])
    );
    let result = app.result(id);
    assert_eq!(
        (result.fulfilled, result.returned, result.callId, result.output.as_ref()),
        (true, true, 203, &[55u8, 0, 0, 0][..])
    );

    // Once only, and one receipt answers one request.
    assert_eq!(
        consumer_error(&app.fulfill(id, &answer)),
        NexusConsumer::NexusConsumerErrors::AlreadyFulfilled(NexusConsumer::AlreadyFulfilled { requestId: id })
    );
    let again = app.request("fib", b"\x0a");
    assert_eq!(
        consumer_error(&app.fulfill(again, &answer)),
        NexusConsumer::NexusConsumerErrors::CallAlreadyUsed(NexusConsumer::CallAlreadyUsed { callId: 203 })
    );
    let unknown = app.fulfill(U256::from(99), &answer);
    assert_reverts_with::<NexusConsumer::UnknownRequest>(&unknown, "unknown request");
}

#[test]
fn the_consumer_refuses_anything_but_a_valid_certificate_of_the_requested_call() {
    let mut app = App::new();
    let id = app.request("fib", b"\x0c");
    let (batch, certificate) = certified(
        &app,
        vec![
            (200, receipt_bytes(200, APP, "fib", b"\x0c", Some(vec![144]))),
            (202, receipt_bytes(202, APP, "fibs", b"\x0c", Some(vec![144]))),
            (205, receipt_bytes(205, APP, "fib", b"\x0d", Some(vec![233]))),
            (206, receipt_bytes(206, [0xbb; 32], "fib", b"\x0c", Some(vec![144]))),
            // A receipt whose call id is not the log index it is certified at.
            (207, receipt_bytes(999, APP, "fib", b"\x0c", Some(vec![144]))),
        ],
        1,
    );
    let right = proof(&batch, 0, &certificate);

    // Invalid certificates: the verifier's reason comes back unchanged.
    let mut bad = right.clone();
    bad.certificate.signature.z += U256::from(1);
    assert_reverts_with::<NexusVerifier::BadSignature>(&app.fulfill(id, &bad), "tampered signature");
    let mut bad = right.clone();
    bad.certificate.batch.stateRoot.0[0] ^= 1;
    assert_reverts_with::<NexusVerifier::BadSignature>(&app.fulfill(id, &bad), "tampered message");
    let mut bad = right.clone();
    bad.path.siblings[0].0[0] ^= 1;
    assert_reverts_with::<NexusVerifier::RootMismatch>(&app.fulfill(id, &bad), "tampered path");
    let mut bad = right.clone();
    bad.receipt = receipt_bytes(200, APP, "fib", b"\x0c", Some(vec![145])).into();
    assert_reverts_with::<NexusVerifier::RootMismatch>(&app.fulfill(id, &bad), "forged output");
    let stranger = GroupKeys::new();
    let forged = stranger.certify(batch.message);
    assert_reverts_with::<NexusVerifier::UnknownKey>(&app.fulfill(id, &proof(&batch, 0, &forged)), "another key");

    // Valid certificates of other calls.
    assert_reverts_with::<NexusConsumer::WrongFunction>(&app.fulfill(id, &proof(&batch, 1, &certificate)), "function");
    assert_reverts_with::<NexusConsumer::WrongInput>(&app.fulfill(id, &proof(&batch, 2, &certificate)), "input");
    assert_reverts_with::<NexusConsumer::WrongApp>(&app.fulfill(id, &proof(&batch, 3, &certificate)), "app");
    assert_eq!(
        consumer_error(&app.fulfill(id, &proof(&batch, 4, &certificate))),
        NexusConsumer::NexusConsumerErrors::CallIdMismatch(NexusConsumer::CallIdMismatch {
            callId: 999,
            logIndex: 207
        })
    );
    assert!(!app.result(id).fulfilled, "nothing was accepted");

    // After a key rotation, a certificate of the old epoch no longer answers.
    let new = GroupKeys::new();
    let message = RotationMessage::new(CLUSTER, DEFAULT_CHAIN_ID, 1, 2, &new.compressed).unwrap();
    let signature = app.keys.sign_raw(&message.encode());
    let call = message.rotate_call(&app.keys.compressed, &signature, &new.compressed).unwrap();
    assert_success(&app.d.chain.call(app.d.verifier, call).unwrap(), "rotation");
    assert_reverts_with::<NexusVerifier::WrongKeyEpoch>(&app.fulfill(id, &right), "old epoch");
    // The same call certified under the new key is accepted.
    let (batch, _) = certified(&app, vec![(200, receipt_bytes(200, APP, "fib", b"\x0c", Some(vec![144])))], 2);
    let certificate = new.certify(batch.message);
    assert_success(&app.fulfill(id, &proof(&batch, 0, &certificate)), "new epoch");
    assert_eq!(app.result(id).output.as_ref(), &[144u8][..]);
}

#[test]
fn a_trapped_call_is_delivered_as_a_failure() {
    let mut app = App::new();
    let id = app.request("boom", b"");
    let (batch, certificate) = certified(&app, vec![(208, receipt_bytes(208, APP, "boom", b"", None))], 1);
    let outcome = app.fulfill(id, &proof(&batch, 0, &certificate));
    assert_success(&outcome, "fulfill with a trap");
    let result = app.result(id);
    assert_eq!((result.fulfilled, result.returned, result.callId, result.output.len()), (true, false, 208, 0));
}

/// Where the output's Option tag is in a receipt made by `receipt_bytes`, for a call id of two varint bytes
/// (128..16384) and a function name under 128 bytes: call id, app, function, caller, input digest.
fn output_tag_at(function: &str) -> usize {
    2 + 32 + 1 + function.len() + 32 + 32
}

#[test]
fn malformed_receipts_are_refused_even_when_certified() {
    // The cluster certifies bytes; the consumer must still read them safely. Each of these is certified.
    let mut app = App::new();
    let good = receipt_bytes(200, APP, "f", b"x", Some(vec![7, 7]));
    let tag = output_tag_at("f");
    assert_eq!(good[tag], 1);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated in the app id", good[..20].to_vec()),
        ("truncated before the output", good[..tag].to_vec()),
        ("function length past the end", [&[200u8, 1, 0x7f][..], &[0u8; 8]].concat()),
        ("non-canonical call id", [&[0xc8u8, 0x81, 0x00][..], &good[2..]].concat()),
        ("unterminated call id", vec![0xff; 11]),
    ];
    let mut bad_tag = good.clone();
    bad_tag[tag] = 2;
    cases.push(("output tag 2", bad_tag));
    let mut long_output = good.clone();
    long_output[tag + 1] = 100; // the output's length, past the end
    cases.push(("output length past the end", long_output));
    let receipts: Vec<(u64, Vec<u8>)> =
        cases.iter().enumerate().map(|(i, (_, r))| (200 + i as u64, r.clone())).collect();
    let (batch, certificate) = certified(&app, receipts, 1);
    let id = app.request("f", b"x");
    for (i, (what, _)) in cases.iter().enumerate() {
        let outcome = app.fulfill(id, &proof(&batch, i, &certificate));
        let data = outcome.revert_data().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(data[..4], NexusConsumer::MalformedReceipt::SELECTOR, "{what}: {:?}", consumer_error(&outcome));
    }
    // The well-formed one at the same place goes through (its call id is its log index).
    let (batch, certificate) = certified(&app, vec![(200, good)], 1);
    assert_success(&app.fulfill(id, &proof(&batch, 0, &certificate)), "well-formed receipt");
}
