//! Threshold certification with real replica processes: certificates form with one replica down and not with
//! two, `nexus verify` accepts exactly the untampered receipt, a replica whose execution is corrupted can
//! neither get its result certified nor stop the right one, an equivocating DKG participant makes the DKG
//! abort, and the group key survives restarting every replica.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Network, Settings, block_on, counter_wasm, deploy};
use nexus_cli::network;
use nexus_cli::receipt_file::{ReceiptFile, ReceiptView};
use nexus_replica::Receipt;

/// Waits until every running replica reports the same group key, and returns it (hex).
fn group_key(net: &Network) -> String {
    let mut key = String::new();
    net.wait_for("every replica to hold the group key", |net| {
        let keys: Option<Vec<_>> = (0..net.replicas.len())
            .filter(|i| net.is_running(*i))
            .map(|i| net.status(i).map(|s| s.group_key))
            .collect();
        let Some(keys) = keys else { return false };
        let same = !keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]);
        key = hex::encode(&keys[0]);
        same
    });
    key
}

/// `nexus call APP increment --input u64:BY` through `addr`, with extra arguments.
fn call(net: &Network, app: &str, by: u64, addr: &str, extra: &[&str]) -> std::process::Output {
    let input = format!("u64:{by}");
    let mut args = vec!["call", app, "increment", "--input", &input, "--decode", "u64", "--replica", addr];
    args.extend_from_slice(extra);
    net.nexus(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The call id `nexus call` printed.
fn call_id(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("call id")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no call id in {stdout}"))
}

/// Runs `nexus verify` on `file`; returns (accepted, stdout + stderr).
fn verify(net: &Network, file: &Path, group_key: Option<&str>) -> (bool, String) {
    let path = file.to_str().expect("utf-8 path");
    let mut args = vec!["verify", path];
    if let Some(key) = group_key {
        args.extend(["--group-key", key]);
    }
    let out = net.nexus(&args);
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

/// Writes `file` with one change and checks `nexus verify` rejects it with a message containing `expected`.
fn assert_tamper_rejected(
    net: &Network,
    file: &ReceiptFile,
    what: &str,
    expected: &str,
    change: impl FnOnce(&mut ReceiptFile),
) {
    let mut tampered = file.clone();
    change(&mut tampered);
    let path = net.dir.path().join(format!("tampered-{}.json", what.replace(' ', "-")));
    std::fs::write(&path, serde_json::to_string(&tampered).expect("json")).expect("written");
    let (accepted, output) = verify(net, &path, None);
    assert!(!accepted, "a receipt with a tampered {what} was accepted: {output}");
    assert!(output.contains(expected), "tampered {what}: expected an error with {expected:?}, got {output}");
}

fn flip_hex(hex_text: &str, at: usize) -> String {
    let mut bytes = hex::decode(hex_text).expect("hex");
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 1;
    hex::encode(bytes)
}

/// The chain the networks of these tests also certify for.
const CHAIN: u64 = 31_337;

#[test]
fn three_of_four_certify_with_one_down_and_only_an_untampered_receipt_verifies() {
    let mut net = Network::start(4, Settings { evm_chain_id: Some(CHAIN), ..Settings::default() });
    let key = group_key(&net);
    let leader = net.leader().expect("leader");
    let app = deploy(net.addr(leader), &net.admin, counter_wasm()).to_hex();
    let down = (0..4).find(|i| *i != leader).expect("a follower");
    net.kill(down);

    let file = net.dir.path().join("receipt.json");
    let out = call(&net, &app, 5, net.addr(leader), &["--out", file.to_str().expect("utf-8")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "call failed: {stdout}{}", text(&out.stderr));
    assert!(stdout.contains("certified  by group key"), "{stdout}");
    assert!(stdout.contains(&key), "certified by another key than the group's: {stdout}");

    let (accepted, output) = verify(&net, &file, Some(&key));
    assert!(accepted, "the certified receipt does not verify: {output}");
    assert!(output.contains("valid: call"), "{output}");

    // The same ceremony made an Ethereum key; 3 of 4 also certify the batch for the chain with it (checked by
    // `network::receipt` with k256 alone, under the key the status shows).
    let status = net.status(leader).expect("status");
    assert_eq!((status.evm_group_key.len(), status.evm_chain_id), (33, CHAIN));
    let id = call_id(&stdout);
    let mut served = None;
    net.wait_for("the Ethereum certificate", |net| {
        served = block_on(network::receipt(net.addr(leader), id)).ok().filter(|s| s.evm_certificate.is_some());
        served.is_some()
    });
    let evm = served.and_then(|s| s.evm_certificate).expect("certified for Ethereum");
    assert_eq!((evm.message.chain_id, evm.group_key.as_slice()), (CHAIN, status.evm_group_key.as_slice()));
    assert!(nexus_replica::nexus_mpc::evm::evm_key_usable(&evm.group_key), "usable with ecrecover");
    let other_key = hex::encode(net.admin.public());
    let (accepted, output) = verify(&net, &file, Some(&other_key));
    assert!(!accepted && output.contains("not the trusted group key"), "{output}");

    let receipt_file = ReceiptFile::parse(&std::fs::read_to_string(&file).expect("read")).expect("parses");
    assert_tamper_rejected(&net, &receipt_file, "output", "readable receipt's output", |f| {
        f.receipt.output = Some(hex::encode(postcard::to_allocvec(&6u64).expect("encodes")));
    });
    assert_tamper_rejected(&net, &receipt_file, "receipt", "do not lead to the certified receipts root", |f| {
        let bytes = hex::decode(&f.receipt_bytes).expect("hex");
        let mut receipt: Receipt = postcard::from_bytes(&bytes).expect("decodes");
        receipt.output = Some(postcard::to_allocvec(&6u64).expect("encodes"));
        f.receipt_bytes = hex::encode(postcard::to_allocvec(&receipt).expect("encodes"));
        f.receipt = ReceiptView::of(&receipt);
    });
    assert_tamper_rejected(&net, &receipt_file, "merkle path", "bad Merkle path", |f| {
        f.merkle_path.siblings.push(hex::encode([7u8; 32]));
    });
    assert_tamper_rejected(&net, &receipt_file, "leaf count", "Merkle path", |f| {
        f.merkle_path.leaf_count += 1;
    });
    assert_tamper_rejected(&net, &receipt_file, "index range", "signature does not verify", |f| {
        f.certificate.last_index += 1;
    });
    assert_tamper_rejected(&net, &receipt_file, "receipts root", "signature does not verify", |f| {
        f.certificate.receipts_root = flip_hex(&f.certificate.receipts_root, 0);
    });
    assert_tamper_rejected(&net, &receipt_file, "signature", "signature does not verify", |f| {
        f.certificate.signature = flip_hex(&f.certificate.signature, 40);
    });
    assert_tamper_rejected(&net, &receipt_file, "log index", "is not the receipt's call id", |f| {
        f.log_index += 1;
    });
    assert_tamper_rejected(&net, &receipt_file, "key epoch", "signature does not verify", |f| {
        f.certificate.key_epoch += 1;
    });
    let truncated = net.dir.path().join("truncated.json");
    let whole = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).expect("written");
    let (accepted, output) = verify(&net, &truncated, None);
    assert!(!accepted && output.contains("not a receipt file"), "{output}");

    // Every replica restarted: the key shares are read back and the group key is the same.
    net.restart(down);
    for i in 0..4 {
        net.kill(i);
    }
    for i in 0..4 {
        net.restart(i);
    }
    net.wait_for("a leader after the restart", |net| net.leader().is_some());
    assert_eq!(group_key(&net), key, "the group key changed across a restart");
    let leader = net.leader().expect("leader");
    let out = call(&net, &app, 1, net.addr(leader), &["--out", file.to_str().expect("utf-8")]);
    assert!(out.status.success(), "call after restart: {}{}", text(&out.stdout), text(&out.stderr));
    let (accepted, output) = verify(&net, &file, Some(&key));
    assert!(accepted, "after restart: {output}");
}

#[test]
fn with_two_signers_down_a_call_is_not_yet_certified_until_one_returns() {
    // Replica 3 serves Raft but does not sign; killing one more leaves 2 signers for a threshold of 3 while
    // Raft still has its majority of 3.
    let faults = BTreeMap::from([(3, "no-signing".to_string())]);
    let mut net = Network::start_with_faults(4, Settings::default(), faults);
    let key = group_key(&net);
    let leader = net.leader().expect("leader");
    let app = deploy(net.addr(leader), &net.admin, counter_wasm()).to_hex();
    let down = (0..3).find(|i| *i != leader).expect("a signer that is not the leader");
    net.kill(down);

    let out = call(&net, &app, 5, net.addr(leader), &["--certificate-timeout-secs", "3"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "expected exit status 3 (not yet certified): {stdout}{stderr}");
    assert!(stderr.contains("not yet certified"), "{stderr}");
    assert!(stdout.contains("output     5"), "the call itself was applied: {stdout}");
    let id = call_id(&stdout);
    let served = block_on(network::receipt(net.addr(leader), id)).expect("receipt");
    assert!(served.batch.is_some() && served.certified.is_none(), "sealed but not certified");

    net.restart(down);
    let file = net.dir.path().join("late.json");
    let mut certified = false;
    net.wait_for("the batch to certify once a signer returns", |net| {
        let out = net.nexus(&[
            "receipt",
            &id.to_string(),
            "--replica",
            net.addr(leader),
            "--out",
            file.to_str().expect("utf-8"),
        ]);
        certified = out.status.success();
        certified
    });
    let (accepted, output) = verify(&net, &file, Some(&key));
    assert!(accepted, "{output}");
}

#[test]
fn a_leader_with_corrupted_execution_can_neither_certify_its_result_nor_stop_the_right_one() {
    // Replica 0 bootstraps the cluster and leads; it alters every call's output.
    let faults = BTreeMap::from([(0, "corrupt-execution".to_string())]);
    let net = Network::start_with_faults(4, Settings::default(), faults);
    let key = group_key(&net);
    net.wait_for("replica 0 to lead", |net| net.leader() == Some(0));
    let app = deploy(net.addr(0), &net.admin, counter_wasm()).to_hex();

    // Asking the corrupted leader: its answer is wrong and never verifies.
    let out = call(&net, &app, 5, net.addr(0), &["--certificate-timeout-secs", "20"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a corrupted result was accepted: {}", text(&out.stdout));
    assert!(stderr.contains("does not verify against its certificate"), "{stderr}");
    let id = (1..200)
        .find(|id| block_on(network::receipt(net.addr(1), *id)).is_ok_and(|r| r.receipt.function == "increment"))
        .expect("the call's receipt on replica 1");

    // The honest replicas certify the right result (taking over from the leader that coordinates its own).
    let file = net.dir.path().join("right.json");
    net.wait_for("the honest replicas to certify the batch", |net| {
        net.nexus(&["receipt", &id.to_string(), "--replica", net.addr(1), "--out", file.to_str().expect("utf-8")])
            .status
            .success()
    });
    let (accepted, output) = verify(&net, &file, Some(&key));
    assert!(accepted, "{output}");
    let receipt_file = ReceiptFile::parse(&std::fs::read_to_string(&file).expect("read")).expect("parses");
    assert_eq!(receipt_file.receipt.output, Some(hex::encode(postcard::to_allocvec(&5u64).expect("encodes"))));
    // The corrupted replica holds the certificate too, but what it serves does not match it.
    let served = block_on(network::receipt(net.addr(0), id));
    assert!(
        served.as_ref().is_err_and(|e| e.to_string().contains("does not verify against its certificate")),
        "the corrupted replica's receipt: {served:?}"
    );
}

#[test]
fn a_dkg_participant_that_equivocates_in_round_one_makes_the_dkg_abort() {
    let faults = BTreeMap::from([(2, "dkg-equivocate".to_string())]);
    let net = Network::start_with_faults(4, Settings::default(), faults);
    let mut seen = String::new();
    net.wait_for("an honest replica to report the aborted DKG", |net| {
        let Some(status) = net.status(0) else { return false };
        seen = status.certification;
        seen.contains("aborted") && seen.contains("echo check failed")
    });
    assert!(seen.contains("round-1 broadcast is inconsistent"), "{seen}");
    assert!(seen.contains("more than one version from [3]"), "the abort names participant 3 (replica 2): {seen}");
    for i in 0..4 {
        let status = net.status(i).expect("status");
        assert!(status.group_key.is_empty(), "replica {i} adopted a group key from an inconsistent DKG");
    }
}

#[test]
fn an_ethereum_key_that_ecrecover_cannot_take_is_refused_and_the_ceremony_runs_again() {
    let faults = (0..4).map(|id| (id, "evm-key-unusable".to_string())).collect();
    let net = Network::start_with_faults(4, Settings { evm_chain_id: Some(CHAIN), ..Settings::default() }, faults);
    let mut seen = String::new();
    net.wait_for("the first attempt to abort over the Ethereum key", |net| {
        seen = net.status(0).map(|s| s.certification).unwrap_or_default();
        seen.contains("not below the group order") || net.status(0).is_some_and(|s| !s.group_key.is_empty())
    });
    group_key(&net);
    let status = net.status(0).expect("status");
    assert!(nexus_replica::nexus_mpc::evm::evm_key_usable(&status.evm_group_key), "the adopted key is usable");
    assert!(seen.contains("attempt 0 aborted"), "the key of attempt 0 was refused: {seen}");
}
