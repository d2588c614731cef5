//! The Raft storage layer on real redb files in temp dirs: openraft's storage conformance suite, snapshots of
//! real app state moved between replicas, corrupt snapshots refused without a change, and the log and the
//! state machine surviving a reopen.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use nexus_replica::raft::{
    Entry, LogCommand, LogStore, RaftStoreError, SNAPSHOT_FORMAT_VERSION, SnapshotError, StateMachineStore, TypeConfig,
    Vote, open_storage,
};
use nexus_replica::{AppId, ClientKey, ClusterId, Request, SignedRequest, StateMachine};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{Host, Limits};
use openraft::entry::RaftEntry;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftSnapshotBuilder, RaftStateMachine};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::testing::{blank_ent, log_id, membership_ent};
use openraft::{RaftLogReader, StorageError};
use tempfile::TempDir;

const CLUSTER: ClusterId = [7; 32];

/// One host for every store of the process: creating a host reserves its instance pool, and the suite builds
/// dozens of stores.
fn host() -> Arc<Host> {
    static HOST: OnceLock<Arc<Host>> = OnceLock::new();
    HOST.get_or_init(|| Arc::new(Host::new(Limits::default()).unwrap())).clone()
}

fn open(dir: &Path, cluster: ClusterId) -> (LogStore, StateMachineStore) {
    open_storage(dir, cluster, host()).unwrap()
}

struct RedbStores;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RedbStores {
    /// On tmpfs where there is one: the suite checks the stores' semantics over ~50 fresh stores, and at a few
    /// ms per fsync on disk it would take many seconds. Durability across reopening is tested on disk below.
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
        let (log, sm) = open(dir.path(), CLUSTER);
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes_on_the_redb_stores() {
    Suite::test_all(RedbStores).await.unwrap();
}

fn alice() -> ClientKey {
    ClientKey::from_secret([1; 32])
}

fn normal(index: u64, request: SignedRequest) -> Entry {
    Entry::new_normal(log_id::<TypeConfig>(1, 0, index), LogCommand::Request(request))
}

fn call(nonce: u64, app: AppId, by: u64) -> SignedRequest {
    alice().sign(&CLUSTER, nonce, Request::Call { app, function: "increment".into(), input: enc(&by), zk: false })
}

/// Applies entries the way openraft does, without responders (those are openraft's to create).
async fn apply(sm: &mut StateMachineStore, entries: Vec<Entry>) {
    sm.apply(futures::stream::iter(entries.into_iter().map(|e| Ok((e, None))))).await.unwrap();
}

/// The start of a real log: the cluster's first membership at index 0, the leader's blank entry, a deploy of
/// the counter app and two calls. Returns the app.
async fn apply_counter_log(sm: &mut StateMachineStore) -> AppId {
    let deploy =
        alice().sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["counter"].wasm.clone(), program: None });
    let app = deploy.app();
    apply(
        sm,
        vec![
            membership_ent::<TypeConfig>(1, 0, 0, vec![BTreeSet::from([0, 1, 2])]),
            blank_ent::<TypeConfig>(1, 0, 1),
            normal(2, deploy),
            normal(3, call(2, app, 5)),
            normal(4, call(3, app, 2)),
        ],
    )
    .await;
    app
}

fn view(sm: &StateMachineStore) -> (nexus_replica::Status, Vec<nexus_replica::StateEntry>) {
    let sm = sm.state_machine();
    let sm = sm.read().unwrap();
    (sm.status(), sm.state_entries().unwrap())
}

#[tokio::test]
async fn a_snapshot_built_on_one_replica_installs_on_a_fresh_one_with_identical_state() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, mut leader) = open(d1.path(), CLUSTER);
    let (_, mut fresh) = open(d2.path(), CLUSTER);
    let app = apply_counter_log(&mut leader).await;
    assert_eq!(view(&leader).0.applied_index, 4, "blank and membership entries advance the applied index");

    let snapshot = leader.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert_eq!(snapshot.meta.last_log_id, Some(log_id::<TypeConfig>(1, 0, 4)));
    // What openraft sends is the current snapshot; it is the one just built.
    let current = leader.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snapshot.meta);
    assert_eq!(current.snapshot, snapshot.snapshot);

    fresh.install_snapshot(&snapshot.meta, snapshot.snapshot).await.unwrap();
    assert_eq!(view(&fresh), view(&leader));
    assert_eq!(fresh.applied_state().await.unwrap(), leader.applied_state().await.unwrap());
    {
        let (a, b) = (leader.state_machine(), fresh.state_machine());
        let (a, b) = (a.read().unwrap(), b.read().unwrap());
        assert_eq!(b.receipt(4).unwrap(), a.receipt(4).unwrap());
        assert_eq!(b.app(&app).unwrap(), a.app(&app).unwrap());
    }
    assert_eq!(fresh.get_current_snapshot().await.unwrap().unwrap().meta, current.meta);

    // Both continue from the same state: the installed replica runs the module it received.
    apply(&mut leader, vec![normal(5, call(4, app, 1))]).await;
    apply(&mut fresh, vec![normal(5, call(4, app, 1))]).await;
    assert_eq!(view(&fresh), view(&leader));
    let receipt = fresh.state_machine().read().unwrap().receipt(5).unwrap().unwrap();
    assert_eq!(receipt.output, Some(enc(&8u64)));
}

fn refusal(e: std::io::Error) -> SnapshotError {
    match e.get_ref().and_then(|e| e.downcast_ref::<RaftStoreError>()) {
        Some(RaftStoreError::Snapshot(e)) => e.clone(),
        _ => panic!("expected a snapshot refusal, got {e}"),
    }
}

#[tokio::test]
async fn corrupt_truncated_foreign_and_mismatched_snapshots_are_refused_and_change_nothing() {
    let (d1, d2, d3) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, mut leader) = open(d1.path(), CLUSTER);
    apply_counter_log(&mut leader).await;
    let snapshot = leader.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let (meta, bytes) = (snapshot.meta, snapshot.snapshot);

    // The target already has some state: a refused install must leave it exactly as it was.
    let (_, mut target) = open(d2.path(), CLUSTER);
    apply(&mut target, vec![membership_ent::<TypeConfig>(1, 0, 0, vec![BTreeSet::from([0])])]).await;
    let before = (view(&target), target.applied_state().await.unwrap());

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let mut bad_version = bytes.clone();
    bad_version[8] = 9;
    let cases: Vec<(&str, Vec<u8>, SnapshotError)> = vec![
        ("a flipped bit", flipped, SnapshotError::ChecksumMismatch),
        ("truncated", bytes[..bytes.len() - 1].to_vec(), SnapshotError::Truncated("checksum")),
        ("cut in half", bytes[..middle].to_vec(), SnapshotError::Truncated("body")),
        ("empty", vec![], SnapshotError::Truncated("magic")),
        ("garbage", b"not a snapshot at all".to_vec(), SnapshotError::BadMagic),
        (
            "another version",
            bad_version,
            SnapshotError::UnsupportedVersion { found: 9, supported: SNAPSHOT_FORMAT_VERSION },
        ),
    ];
    for (what, data, expected) in cases {
        let err = target.install_snapshot(&meta, data).await.unwrap_err();
        assert_eq!(refusal(err), expected, "{what}");
        assert_eq!((view(&target), target.applied_state().await.unwrap()), before, "{what} changed the state");
    }

    // Intact, but sent with metadata that is not its own.
    let mut other_meta = meta.clone();
    other_meta.last_log_id = Some(log_id::<TypeConfig>(2, 0, 4));
    let err = target.install_snapshot(&other_meta, bytes.clone()).await.unwrap_err();
    assert!(matches!(refusal(err), SnapshotError::MetaMismatch { .. }));
    assert_eq!((view(&target), target.applied_state().await.unwrap()), before);

    // Intact, but from another cluster.
    let (_, mut foreign) = open(d3.path(), [8; 32]);
    let err = foreign.install_snapshot(&meta, bytes).await.unwrap_err();
    assert!(matches!(refusal(err), SnapshotError::WrongCluster { .. }));
    assert_eq!(view(&foreign).0.applied_index, 0);
}

#[tokio::test]
async fn the_log_store_keeps_vote_entries_committed_and_purged_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId([3; 32]);
    let vote = Vote::new(3, 1);
    let state = {
        let (mut log, _) = open(dir.path(), CLUSTER);
        log.save_vote(&vote).await.unwrap();
        let mut entries = vec![membership_ent::<TypeConfig>(1, 0, 0, vec![BTreeSet::from([0, 1, 2])])];
        entries.extend((1..=9).map(|i| normal(i, call(i, app, i))));
        log.blocking_append(entries).await.unwrap();
        log.save_committed(Some(log_id::<TypeConfig>(1, 0, 7))).await.unwrap();
        log.purge(log_id::<TypeConfig>(1, 0, 2)).await.unwrap();
        log.truncate_after(Some(log_id::<TypeConfig>(1, 0, 8))).await.unwrap();
        log.get_log_state().await.unwrap()
    };
    assert_eq!(state.last_purged_log_id, Some(log_id::<TypeConfig>(1, 0, 2)));
    assert_eq!(state.last_log_id, Some(log_id::<TypeConfig>(1, 0, 8)));

    let (mut log, _) = open(dir.path(), CLUSTER);
    assert_eq!(log.get_log_state().await.unwrap(), state);
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id::<TypeConfig>(1, 0, 7)));
    let entries = log.try_get_log_entries(0..100).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>(), (3..=8).collect::<Vec<_>>());
    assert_eq!(entries[0], normal(3, call(3, app, 3)));
}

#[tokio::test]
async fn the_state_machine_store_keeps_applied_state_and_its_snapshot_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (applied, view_before, meta) = {
        let (_, mut sm) = open(dir.path(), CLUSTER);
        apply_counter_log(&mut sm).await;
        let snapshot = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        (sm.applied_state().await.unwrap(), view(&sm), snapshot.meta)
    };
    let (_, mut sm) = open(dir.path(), CLUSTER);
    assert_eq!(sm.applied_state().await.unwrap(), applied);
    assert_eq!(view(&sm), view_before);
    assert_eq!(sm.get_current_snapshot().await.unwrap().unwrap().meta, meta);
}

#[tokio::test]
async fn repeated_and_gapped_entries_are_refused_and_apply_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut sm) = open(dir.path(), CLUSTER);
    let app = apply_counter_log(&mut sm).await;
    let before = view(&sm);
    // Index 4 again, and a gap after it: both refused, nothing applied.
    for index in [4, 6] {
        let err = sm.apply(futures::stream::iter([Ok((normal(index, call(9, app, 1)), None))])).await.unwrap_err();
        assert!(err.to_string().contains("order"), "{err}");
        assert_eq!(view(&sm), before);
    }
}

/// A state database written without Raft cannot be continued by Raft: its applied index has no log id.
#[test]
fn a_state_database_applied_outside_raft_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let mut sm = StateMachine::open(&path, CLUSTER, host()).unwrap();
    sm.apply_batch(&[(1, alice().sign(&CLUSTER, 1, Request::Deploy { module: b"junk".to_vec(), program: None }))])
        .unwrap();
    let err = StateMachineStore::new(sm, &dir.path().join("snapshot.bin")).err().unwrap();
    assert!(matches!(err, RaftStoreError::Corrupt(_)), "{err}");
}
