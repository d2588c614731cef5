//! The replicated state machine: applies ordered, signed requests to apps and their state.
//!
//! Deterministic by construction: the outcome of a batch depends only on the stored state and the batch
//! (signatures verified strictly, nonces per signer, apps run by the deterministic wasm host, writes applied
//! in key order, the state root an order-independent multiset hash). Two replicas that apply the same log
//! have byte-identical receipts and roots, which is what threshold certification relies on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use nexus_wasm_host::{
    AppModule, CallContext, CallError, CallResult, CodeHash, Host, Layered, Outcome, StateError, StateView, StateWrites,
};
use rayon::prelude::*;
use redb::{Database, ReadableDatabase, ReadableTable, Table};
use sha2::{Digest, Sha256};

use crate::app::{AppId, AppRecord};
use crate::error::ReplicaError;
use crate::group_key::{CertSuite, CertifyOutcome, GroupKeyRecord};
use crate::receipt::{ApplyOutcome, Receipt, Rejection};
use crate::request::{ClusterId, Request, SignatureCache, SignedRequest};
use crate::state_root::{RootCache, StateRoot};
use crate::store::{
    APPS, AppSnapshot, BATCHES, CERTIFICATES, EVM_CERTIFICATES, GROUP_KEYS, META, META_APPLIED, META_ROOT, MODULES,
    NONCES, PROGRAMS, RECEIPTS, STATE, ZK_JOBS, certificates_table, state_key,
};
use crate::zk::{ProgramRecord, ZkClaim, ZkJob, ZkResult, ZkState};
use nexus_mpc::batch::{BatchMessage, MerklePath, MerkleTree, receipt_digest};
use nexus_mpc::certificate::Certificate;

/// One app state entry: (app, key, value).
pub type StateEntry = (AppId, Vec<u8>, Vec<u8>);

/// One log entry as the state machine sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LogItem<'a> {
    Request(&'a SignedRequest),
    /// Close the batch: build its message (see [`StateMachine::batch`]).
    Seal,
    /// Adopt a group key (see [`crate::group_key`]).
    GroupKey(&'a GroupKeyRecord),
    /// Store a batch's certificate of one suite.
    Certify(CertSuite, &'a Certificate),
    /// End a proving job.
    ZkResult(&'a ZkResult),
    /// Raft's own entries (blank, membership): only the applied index moves.
    Nothing,
}

/// What `status` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub applied_index: u64,
    pub state_root: [u8; 32],
}

pub struct StateMachine {
    db: Database,
    host: Arc<Host>,
    cluster: ClusterId,
    applied: u64,
    root: StateRoot,
    durability: Durability,
    signatures: Arc<SignatureCache>,
    root_cache: RootCache,
    /// Whether a call was applied after the last seal (the leader then proposes one).
    unsealed_calls: bool,
    /// The group key in force (the latest adopted), if any.
    group_key: Option<GroupKeyRecord>,
    /// The highest seal index with a certificate, per suite (0 if none).
    certified_index: [u64; 2],
}

/// When applied batches reach the disk.
///
/// Standalone, every batch is committed durably (fsync): nothing else could restore it. Under Raft the log is
/// durable on a majority before anything is applied, so a replica that crashes can re-apply what its state lost
/// from the log; there batches are committed without fsync and made durable every
/// [`DURABLE_EVERY_ENTRIES`] entries or [`DURABLE_EVERY`], before every snapshot (so the log is never purged past
/// the durable state), and on shutdown. A crash then costs re-applying at most that much, and each batch saves
/// an fsync on every replica. The same split as etcd's backend batching over its WAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    EveryBatch,
    /// Periodic, with the log as the record of what is not yet durable.
    LogBacked {
        entries_since_durable: u64,
        durable_at: std::time::Instant,
    },
}

/// Fewest entries whose signatures are verified on the rayon pool: below it, waking the pool (whose threads
/// spin before they sleep) costs more CPU than it saves time.
pub const PARALLEL_VERIFY_MIN_ENTRIES: usize = 16;

/// Most applied entries that may be non-durable at once under [`Durability::LogBacked`].
pub const DURABLE_EVERY_ENTRIES: u64 = 8_192;
/// Longest time applied entries may stay non-durable under [`Durability::LogBacked`].
pub const DURABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The tables one batch writes, opened once per batch.
struct Tables<'t> {
    apps: Table<'t, &'static [u8], &'static [u8]>,
    modules: Table<'t, &'static [u8], &'static [u8]>,
    state: Table<'t, &'static [u8], &'static [u8]>,
    nonces: Table<'t, &'static [u8], u64>,
    receipts: Table<'t, u64, &'static [u8]>,
    batches: Table<'t, u64, &'static [u8]>,
    group_keys: Table<'t, u64, &'static [u8]>,
    /// Per suite, in [`CertSuite`] order.
    certificates: [Table<'t, u64, &'static [u8]>; 2],
    programs: Table<'t, &'static [u8], &'static [u8]>,
    zk_jobs: Table<'t, u64, &'static [u8]>,
}

/// What a call sees: the committed state of its app plus the writes of earlier calls in the same batch.
struct BatchView {
    snapshot: AppSnapshot,
    pending: Arc<Mutex<StateWrites>>,
}

impl StateView for BatchView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Layered { base: &self.snapshot, writes: &pending }.get(key)
    }

    fn next_key(&self, from: std::ops::Bound<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Layered { base: &self.snapshot, writes: &pending }.next_key(from)
    }
}

/// The applied index and state root from their stored bytes (absent on a new database).
fn decode_meta(applied: Option<&[u8]>, root: Option<&[u8]>) -> Result<(u64, StateRoot), ReplicaError> {
    let applied = match applied {
        Some(bytes) => u64::from_le_bytes(bytes.try_into().map_err(|_| ReplicaError::Corrupt("applied index".into()))?),
        None => 0,
    };
    let root = match root {
        Some(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| ReplicaError::Corrupt("state root".into()))?;
            StateRoot::from_bytes(bytes).ok_or_else(|| ReplicaError::Corrupt("state root".into()))?
        }
        None => StateRoot::default(),
    };
    Ok((applied, root))
}

fn decode_record(bytes: &[u8]) -> Result<AppRecord, ReplicaError> {
    postcard::from_bytes(bytes).map_err(|e| ReplicaError::Corrupt(format!("app record: {e}")))
}

/// A stored batch message (table `batches`).
fn decode_batch(bytes: &[u8]) -> Result<BatchMessage, ReplicaError> {
    postcard::from_bytes(bytes).map_err(|e| ReplicaError::Corrupt(format!("batch message: {e}")))
}

impl StateMachine {
    /// Opens (or creates) the state machine's database at `path`.
    pub fn open(path: &Path, cluster: ClusterId, host: Arc<Host>) -> Result<Self, ReplicaError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        let (applied, root) = {
            // Create every table up front, so readers never meet a missing one.
            let meta = txn.open_table(META)?;
            txn.open_table(APPS)?;
            txn.open_table(MODULES)?;
            txn.open_table(STATE)?;
            txn.open_table(NONCES)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(BATCHES)?;
            txn.open_table(GROUP_KEYS)?;
            txn.open_table(CERTIFICATES)?;
            txn.open_table(EVM_CERTIFICATES)?;
            txn.open_table(PROGRAMS)?;
            txn.open_table(ZK_JOBS)?;
            let (applied, root) = decode_meta(
                meta.get(META_APPLIED)?.as_ref().map(|v| v.value()),
                meta.get(META_ROOT)?.as_ref().map(|v| v.value()),
            )?;
            (applied, root)
        };
        txn.commit()?;
        let signatures = Arc::new(SignatureCache::default());
        let durability = Durability::EveryBatch;
        let root_cache = RootCache::default();
        let mut sm = Self {
            db,
            host,
            cluster,
            applied,
            root,
            durability,
            signatures,
            root_cache,
            unsealed_calls: false,
            group_key: None,
            certified_index: [0; 2],
        };
        sm.load_cached()?;
        Ok(sm)
    }

    pub fn status(&self) -> Status {
        Status { applied_index: self.applied, state_root: self.root.to_bytes() }
    }

    pub fn cluster(&self) -> &ClusterId {
        &self.cluster
    }

    /// The verdicts cache this state machine verifies with; the replica's network side fills it as requests
    /// arrive, so applying does not verify them again.
    pub fn signature_cache(&self) -> Arc<SignatureCache> {
        self.signatures.clone()
    }

    /// Applies log entries `(index, request)` in one transaction. Indexes must continue the applied index
    /// without gaps. A refused request is an outcome, not an error; an error means nothing was applied.
    pub fn apply_batch(&mut self, entries: &[(u64, SignedRequest)]) -> Result<Vec<ApplyOutcome>, ReplicaError> {
        let entries: Vec<_> = entries.iter().map(|(index, request)| (*index, LogItem::Request(request))).collect();
        let outcomes = self.apply_log_entries(&entries, |_| Ok(()))?;
        Ok(outcomes.into_iter().map(|outcome| outcome.expect("every entry carries a request")).collect())
    }

    /// Applies one request whose signature was checked already (`signature_ok`, see `apply_log_entries`).
    fn apply_one(
        &self,
        index: u64,
        req: &SignedRequest,
        signature_ok: bool,
        batch: &mut Batch<'_, '_>,
    ) -> Result<ApplyOutcome, ReplicaError> {
        if !signature_ok {
            return Ok(ApplyOutcome::Rejected(Rejection::BadSignature));
        }
        // A verified request consumes its nonce even if it is refused below, so it can never be replayed.
        let last = batch.tables.nonces.get(req.signer.as_slice())?.map(|v| v.value());
        if let Some(last) = last.filter(|last| req.nonce <= *last) {
            return Ok(ApplyOutcome::Rejected(Rejection::ReplayedNonce { nonce: req.nonce, last }));
        }
        batch.tables.nonces.insert(req.signer.as_slice(), req.nonce)?;

        match &req.request {
            Request::Deploy { module, program } => {
                let app = req.app();
                let loaded = match self.host.load(module) {
                    Ok(loaded) => loaded,
                    Err(e) => return Ok(ApplyOutcome::Rejected(Rejection::InvalidModule(e.to_string()))),
                };
                let program = match batch.store_program(program.as_deref())? {
                    Ok(program) => program,
                    Err(why) => return Ok(ApplyOutcome::Rejected(Rejection::InvalidProgram(why))),
                };
                let code_hash = loaded.code_hash();
                batch.tables.modules.insert(code_hash.0.as_slice(), module.as_slice())?;
                let record = AppRecord { owner: req.signer, code_hash, version: 1, deployed_at: index, program };
                batch
                    .tables
                    .apps
                    .insert(app.0.as_slice(), postcard::to_allocvec(&record).expect("encodes").as_slice())?;
                Ok(ApplyOutcome::Deployed { app, code_hash })
            }
            Request::Upgrade { app, module, program } => {
                let Some(mut record) = batch.record(app)? else {
                    return Ok(ApplyOutcome::Rejected(Rejection::UnknownApp(*app)));
                };
                if record.owner != req.signer {
                    return Ok(ApplyOutcome::Rejected(Rejection::NotOwner));
                }
                let loaded = match self.host.load(module) {
                    Ok(loaded) => loaded,
                    Err(e) => return Ok(ApplyOutcome::Rejected(Rejection::InvalidModule(e.to_string()))),
                };
                record.program = match batch.store_program(program.as_deref())? {
                    Ok(program) => program,
                    Err(why) => return Ok(ApplyOutcome::Rejected(Rejection::InvalidProgram(why))),
                };
                record.code_hash = loaded.code_hash();
                record.version += 1;
                batch.tables.modules.insert(record.code_hash.0.as_slice(), module.as_slice())?;
                batch
                    .tables
                    .apps
                    .insert(app.0.as_slice(), postcard::to_allocvec(&record).expect("encodes").as_slice())?;
                Ok(ApplyOutcome::Upgraded { app: *app, code_hash: record.code_hash, version: record.version })
            }
            Request::Call { app, function, input, zk } => {
                let Some(record) = batch.record(app)? else {
                    return Ok(ApplyOutcome::Rejected(Rejection::UnknownApp(*app)));
                };
                if *zk && record.program.is_none() {
                    return Ok(ApplyOutcome::Rejected(Rejection::NotProvable(*app)));
                }
                let module = self.module(&record.code_hash, |hash| {
                    Ok(batch.tables.modules.get(hash.0.as_slice())?.map(|v| v.value().to_vec()))
                })?;
                let pending = batch.pending.entry(*app).or_default().clone();
                let view =
                    Arc::new(BatchView { snapshot: AppSnapshot { read: batch.read.clone(), app: *app }, pending });
                // The NVM sees the state as the call does, before its writes.
                let nvm_state = match zk {
                    true => {
                        Some(crate::zk::visible_state(view.as_ref()).map_err(|e| ReplicaError::Host(e.to_string()))?)
                    }
                    false => None,
                };
                let ctx = CallContext { caller: Some(req.signer), fuel_limit: None };
                let result = match self.host.call(&module, function, input, &ctx, view) {
                    Ok(result) => result,
                    Err(e @ (CallError::State(_) | CallError::Host(_))) => {
                        return Err(ReplicaError::Host(e.to_string()));
                    }
                    Err(e) => return Ok(ApplyOutcome::Rejected(Rejection::BadCall(e.to_string()))),
                };
                batch.apply_writes(app, &result)?;
                let zk = match (nvm_state, record.program) {
                    (Some(state), Some(program)) => {
                        batch.zk_job(index, program, (function, req.signer, input), state, &result)?
                    }
                    _ => None,
                };
                let mut output = result.output().map(<[u8]>::to_vec);
                if crate::faults::active("corrupt-execution")
                    && let Some(output) = &mut output
                {
                    output.push(0xff);
                }
                let receipt = Receipt {
                    call_id: index,
                    app: *app,
                    function: function.clone(),
                    caller: req.signer,
                    input_digest: Sha256::digest(input).into(),
                    output,
                    trap: result.trap().cloned(),
                    fuel_used: result.fuel_used,
                    state_root: batch.root_cache.encode(batch.root),
                    zk,
                };
                batch.tables.receipts.insert(index, postcard::to_allocvec(&receipt).expect("encodes").as_slice())?;
                Ok(ApplyOutcome::Called(receipt))
            }
        }
    }

    /// The compiled module for `code_hash`: from the host's cache, or compiled from the stored bytes (once
    /// after a restart; the host's artifact cache makes that a load, not a compile).
    fn module(
        &self,
        code_hash: &CodeHash,
        stored: impl FnOnce(&CodeHash) -> Result<Option<Vec<u8>>, ReplicaError>,
    ) -> Result<Arc<AppModule>, ReplicaError> {
        if let Some(module) = self.host.cached(code_hash) {
            return Ok(module);
        }
        let bytes = stored(code_hash)?.ok_or_else(|| ReplicaError::Corrupt(format!("module {code_hash} missing")))?;
        self.host.load(&bytes).map_err(|e| ReplicaError::Corrupt(format!("stored module {code_hash}: {e}")))
    }

    /// A read-only call against the committed state: nothing it writes is kept.
    pub fn query(
        &self,
        app: &AppId,
        function: &str,
        input: &[u8],
        caller: Option<[u8; 32]>,
    ) -> Result<Result<CallResult, Rejection>, ReplicaError> {
        let read = Arc::new(self.db.begin_read()?);
        let Some(record) = self.app(app)? else { return Ok(Err(Rejection::UnknownApp(*app))) };
        let module = self.module(&record.code_hash, |hash| {
            let modules = read.open_table(MODULES)?;
            Ok(modules.get(hash.0.as_slice())?.map(|v| v.value().to_vec()))
        })?;
        let view = AppSnapshot { read, app: *app };
        match self.host.call(&module, function, input, &CallContext { caller, fuel_limit: None }, Arc::new(view)) {
            Ok(result) => Ok(Ok(result)),
            Err(e @ (CallError::State(_) | CallError::Host(_))) => Err(ReplicaError::Host(e.to_string())),
            Err(e) => Ok(Err(Rejection::BadCall(e.to_string()))),
        }
    }

    pub fn app(&self, app: &AppId) -> Result<Option<AppRecord>, ReplicaError> {
        let read = self.db.begin_read()?;
        let apps = read.open_table(APPS)?;
        apps.get(app.0.as_slice())?.map(|v| decode_record(v.value())).transpose()
    }

    /// Whether a call was applied after the last seal: the leader then proposes a seal.
    pub fn has_unsealed_calls(&self) -> bool {
        self.unsealed_calls
    }

    /// Loads what the state machine caches from its tables: whether calls are unsealed, the group key in force,
    /// the highest certified batch.
    fn load_cached(&mut self) -> Result<(), ReplicaError> {
        self.unsealed_calls = self.find_unsealed_calls()?;
        let read = self.db.begin_read()?;
        self.group_key = read
            .open_table(GROUP_KEYS)?
            .last()?
            .map(|(_, v)| postcard::from_bytes(v.value()))
            .transpose()
            .map_err(|e| ReplicaError::Corrupt(format!("group key: {e}")))?;
        for suite in [CertSuite::Ed25519, CertSuite::Evm] {
            self.certified_index[suite as usize] =
                read.open_table(certificates_table(suite))?.last()?.map_or(0, |(k, _)| k.value());
        }
        Ok(())
    }

    /// The group key in force, once a DKG's key was adopted through the log.
    pub fn group_key(&self) -> Option<&GroupKeyRecord> {
        self.group_key.as_ref()
    }

    /// The highest seal index with a certificate of `suite` (0 if none).
    pub fn certified_index(&self, suite: CertSuite) -> u64 {
        self.certified_index[suite as usize]
    }

    /// The certificate of `suite` of the batch sealed at `seal_index`, if it is certified.
    pub fn certificate(&self, suite: CertSuite, seal_index: u64) -> Result<Option<Certificate>, ReplicaError> {
        let read = self.db.begin_read()?;
        let certificates = read.open_table(certificates_table(suite))?;
        certificates
            .get(seal_index)?
            .map(|v| postcard::from_bytes(v.value()).map_err(|e| ReplicaError::Corrupt(format!("certificate: {e}"))))
            .transpose()
    }

    /// The message this replica sealed at `seal_index`, if a seal was applied there.
    pub fn sealed_batch(&self, seal_index: u64) -> Result<Option<BatchMessage>, ReplicaError> {
        let read = self.db.begin_read()?;
        let batches = read.open_table(BATCHES)?;
        batches.get(seal_index)?.map(|v| decode_batch(v.value())).transpose()
    }

    /// Up to `limit` sealed batches after seal index `after` that have no certificate of `suite` and are of the
    /// key epoch in force, oldest first: the certification backlog. Also returns the last seal index looked at,
    /// below which nothing after `after` is left to certify. The messages are as sealed (chain id 0).
    pub fn uncertified_batches(
        &self,
        suite: CertSuite,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<BatchMessage>, u64), ReplicaError> {
        let read = self.db.begin_read()?;
        let batches = read.open_table(BATCHES)?;
        let certificates = read.open_table(certificates_table(suite))?;
        let mut out = Vec::new();
        let mut scanned_to = after;
        for row in batches.range(after.saturating_add(1)..)? {
            let (index, message) = row?;
            scanned_to = index.value();
            if certificates.get(index.value())?.is_some() {
                continue;
            }
            let message = decode_batch(message.value())?;
            // Batches of an earlier key epoch can no longer be certified by the key in force.
            if self.group_key.as_ref().is_some_and(|k| k.key_epoch == message.key_epoch) {
                out.push(message);
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok((out, scanned_to))
    }

    fn find_unsealed_calls(&self) -> Result<bool, ReplicaError> {
        let read = self.db.begin_read()?;
        let last_seal = read.open_table(BATCHES)?.last()?.map_or(0, |(k, _)| k.value());
        Ok(read.open_table(RECEIPTS)?.last()?.is_some_and(|(k, _)| k.value() > last_seal))
    }

    /// Builds the message of the batch that the seal at `index` closes: the log range since the previous
    /// seal, the Merkle root over the receipts of the calls in it, and the state root after it. Every replica
    /// builds it from its own execution; certification signs it.
    fn seal(
        &self,
        index: u64,
        tables: &Tables<'_>,
        key_epoch: u64,
        state_root: [u8; 32],
    ) -> Result<BatchMessage, ReplicaError> {
        let first_index = tables.batches.last()?.map_or(1, |(k, _)| k.value() + 1);
        let mut digests = Vec::new();
        for row in tables.receipts.range(first_index..index)? {
            let (call_id, receipt) = row?;
            digests.push(receipt_digest(call_id.value(), receipt.value()));
        }
        Ok(BatchMessage {
            cluster_id: self.cluster,
            // Sealed for no chain; a certificate for an Ethereum chain sets its id (see nexus-mpc).
            chain_id: 0,
            // 0 before any group key: such a batch is never certified.
            key_epoch,
            first_index,
            last_index: index,
            receipts_root: MerkleTree::new(&digests).root(),
            state_root,
        })
    }

    /// The sealed batch that holds call `call_id`, and the receipt's Merkle path to the batch's receipts root;
    /// `None` if the call is not sealed yet (or there is no such call).
    pub fn batch(&self, call_id: u64) -> Result<Option<(BatchMessage, MerklePath)>, ReplicaError> {
        let read = self.db.begin_read()?;
        let batches = read.open_table(BATCHES)?;
        let Some(row) = batches.range(call_id..)?.next() else { return Ok(None) };
        let message = decode_batch(row?.1.value())?;
        if message.first_index > call_id {
            return Ok(None);
        }
        let receipts = read.open_table(RECEIPTS)?;
        let mut digests = Vec::new();
        let mut position = None;
        for row in receipts.range(message.first_index..message.last_index)? {
            let (id, receipt) = row?;
            if id.value() == call_id {
                position = Some(digests.len() as u64);
            }
            digests.push(receipt_digest(id.value(), receipt.value()));
        }
        let Some(position) = position else { return Ok(None) };
        let path = MerkleTree::new(&digests)
            .path(position)
            .ok_or_else(|| ReplicaError::Corrupt(format!("no Merkle path for call {call_id}")))?;
        Ok(Some((message, path)))
    }

    /// The last nonce applied for `signer` (a request with a nonce at or below it is a replay).
    pub fn last_nonce(&self, signer: &[u8; 32]) -> Result<Option<u64>, ReplicaError> {
        let read = self.db.begin_read()?;
        let nonces = read.open_table(NONCES)?;
        Ok(nonces.get(signer.as_slice())?.map(|v| v.value()))
    }

    pub fn receipt(&self, call_id: u64) -> Result<Option<Receipt>, ReplicaError> {
        let read = self.db.begin_read()?;
        let receipts = read.open_table(RECEIPTS)?;
        receipts
            .get(call_id)?
            .map(|v| postcard::from_bytes(v.value()).map_err(|e| ReplicaError::Corrupt(format!("receipt: {e}"))))
            .transpose()
    }

    /// The proving job of call `call_id`, if it was made with `zk`.
    pub fn zk_job(&self, call_id: u64) -> Result<Option<ZkJob>, ReplicaError> {
        let read = self.db.begin_read()?;
        let jobs = read.open_table(ZK_JOBS)?;
        jobs.get(call_id)?.map(|v| decode_job(v.value())).transpose()
    }

    /// Up to `limit` jobs still being proven, oldest first.
    pub fn proving_jobs(&self, limit: usize) -> Result<Vec<ZkJob>, ReplicaError> {
        let read = self.db.begin_read()?;
        let jobs = read.open_table(ZK_JOBS)?;
        let mut out = Vec::new();
        for row in jobs.iter()? {
            let job = decode_job(row?.1.value())?;
            if !job.state.is_final() {
                out.push(job);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// An NVM build by its program digest.
    pub fn program(&self, digest: &[u8; 32]) -> Result<Option<Vec<u8>>, ReplicaError> {
        let read = self.db.begin_read()?;
        let programs = read.open_table(PROGRAMS)?;
        Ok(programs.get(digest.as_slice())?.map(|v| v.value().to_vec()))
    }

    /// All app state entries in key order, as (app, key, value); for checks and snapshots.
    pub fn state_entries(&self) -> Result<Vec<StateEntry>, ReplicaError> {
        let read = self.db.begin_read()?;
        let state = read.open_table(STATE)?;
        let mut out = Vec::new();
        for entry in state.iter()? {
            let (k, v) = entry?;
            let k = k.value();
            let app: [u8; 32] =
                k.get(..32).and_then(|a| a.try_into().ok()).ok_or_else(|| ReplicaError::Corrupt("state key".into()))?;
            out.push((AppId(app), k[32..].to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

/// Applies a certificate entry: stored if it verifies under the group's key of `suite` in force and names a
/// batch this replica sealed, once per batch and suite.
fn store_certificate(
    tables: &mut Tables<'_>,
    group_key: Option<&GroupKeyRecord>,
    suite: CertSuite,
    certificate: &Certificate,
) -> Result<CertifyOutcome, ReplicaError> {
    let Some(key) = group_key else { return Ok(CertifyOutcome::Ignored("no group key in force".into())) };
    if let Err(e) = key.verify(suite, certificate) {
        return Ok(CertifyOutcome::Ignored(e.to_string()));
    }
    let last_index = certificate.message.last_index;
    let own: BatchMessage = match tables.batches.get(last_index)? {
        Some(v) => decode_batch(v.value())?,
        None => return Ok(CertifyOutcome::Ignored(format!("no batch sealed at index {last_index}"))),
    };
    let table = &mut tables.certificates[suite as usize];
    if table.get(last_index)?.is_some() {
        return Ok(CertifyOutcome::Duplicate { last_index });
    }
    let bytes = postcard::to_allocvec(certificate).expect("encodes");
    table.insert(last_index, bytes.as_slice())?;
    Ok(CertifyOutcome::Stored { last_index, matches_own: key.message_for(suite, own) == certificate.message })
}

/// Applies a job's result: the first final state of a job in progress wins; a result for a job that ended or
/// does not exist changes nothing.
fn end_zk_job(tables: &mut Tables<'_>, result: &ZkResult) -> Result<bool, ReplicaError> {
    let Some(mut job) = tables.zk_jobs.get(result.call_id)?.map(|v| decode_job(v.value())).transpose()? else {
        return Ok(false);
    };
    if job.state.is_final() || !result.state.is_final() {
        return Ok(false);
    }
    job.state = result.state.clone();
    tables.zk_jobs.insert(result.call_id, postcard::to_allocvec(&job).expect("encodes").as_slice())?;
    Ok(true)
}

fn decode_job(bytes: &[u8]) -> Result<ZkJob, ReplicaError> {
    postcard::from_bytes(bytes).map_err(|e| ReplicaError::Corrupt(format!("zk job: {e}")))
}

/// One batch in progress.
struct Batch<'b, 't> {
    tables: &'b mut Tables<'t>,
    read: &'b Arc<redb::ReadTransaction>,
    pending: &'b mut HashMap<AppId, Arc<Mutex<StateWrites>>>,
    root: &'b mut StateRoot,
    root_cache: &'b mut RootCache,
}

impl Batch<'_, '_> {
    fn record(&self, app: &AppId) -> Result<Option<AppRecord>, ReplicaError> {
        self.tables.apps.get(app.0.as_slice())?.map(|v| decode_record(v.value())).transpose()
    }

    /// Checks and stores a deploy's NVM build; the inner error says why the ELF is refused.
    fn store_program(&mut self, elf: Option<&[u8]>) -> Result<Result<Option<ProgramRecord>, String>, ReplicaError> {
        let Some(elf) = elf else { return Ok(Ok(None)) };
        let record = match ProgramRecord::of_elf(elf) {
            Ok((_, record)) => record,
            Err(why) => return Ok(Err(why)),
        };
        self.tables.programs.insert(record.digest.as_slice(), elf)?;
        Ok(Ok(Some(record)))
    }

    /// Records the proving job of a `zk` call: the NVM run of the call on the state it saw, compared with the
    /// wasm run. Returns the receipt's claim if the runs agree (the job waits for workers), `None` if they do not
    /// (the job ends at once, with the reason).
    fn zk_job(
        &mut self,
        call_id: u64,
        program: ProgramRecord,
        (function, caller, input): (&str, [u8; 32], &[u8]),
        state: Result<crate::zk::StateEntries, String>,
        result: &CallResult,
    ) -> Result<Option<Box<ZkClaim>>, ReplicaError> {
        let elf = self
            .tables
            .programs
            .get(program.digest.as_slice())?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| ReplicaError::Corrupt(format!("program {} missing", hex::encode(program.digest))))?;
        let nvm_program = nexus_vm::Program::from_elf(&elf)
            .map_err(|e| ReplicaError::Corrupt(format!("stored program {}: {e}", hex::encode(program.digest))))?;
        let (nvm_input, checked) = match state {
            Ok(state) => {
                let nvm_input = crate::zk::nvm_input(function, caller, input, state);
                let checked = crate::zk::check_nvm_run(&nvm_program, &nvm_input, result);
                (nvm_input, checked)
            }
            Err(why) => (Vec::new(), Err(why)),
        };
        let nvm_input_digest: [u8; 32] = Sha256::digest(&nvm_input).into();
        let (steps, state, claim) = match checked {
            Ok(steps) => (
                steps,
                ZkState::Proving,
                Some(ZkClaim {
                    program_digest: program.digest,
                    image_root: program.image_root,
                    nvm_input_digest,
                    steps,
                }),
            ),
            Err(why) => (0, ZkState::OutputsDiffer(why), None),
        };
        let job = ZkJob { call_id, program, input: nvm_input, steps, state };
        self.tables.zk_jobs.insert(call_id, postcard::to_allocvec(&job).expect("encodes").as_slice())?;
        Ok(claim.map(Box::new))
    }

    /// Applies a returned call's writes: to the table, to the root (old entry out, new entry in), and to the
    /// batch's pending writes so later calls see them.
    fn apply_writes(&mut self, app: &AppId, result: &CallResult) -> Result<(), ReplicaError> {
        if !matches!(result.outcome, Outcome::Returned(_)) {
            return Ok(());
        }
        for (key, value) in result.writes.iter() {
            let full = state_key(app, key);
            if let Some(old) = self.tables.state.get(full.as_slice())? {
                self.root.remove_cached(self.root_cache, app, key, old.value());
            }
            match value {
                Some(value) => {
                    self.root.insert_cached(self.root_cache, app, key, value);
                    self.tables.state.insert(full.as_slice(), value.as_slice())?;
                }
                None => {
                    self.tables.state.remove(full.as_slice())?;
                }
            }
        }
        let pending = self.pending.entry(*app).or_default();
        pending.lock().unwrap_or_else(|p| p.into_inner()).extend(&result.writes);
        Ok(())
    }
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// Raft integration: the hooks `crate::raft` needs (replica/src/raft/state_machine_store.rs and snapshot.rs).
// Kept in this one block so that `apply_one` above stays the only place where a request is applied.
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

impl StateMachine {
    /// The database, so the Raft layer can keep its own table in it (last applied log id and membership, written
    /// in the same transaction as the entries they describe) and read consistent snapshots of all tables.
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Applies log entries in one write transaction: the one implementation behind
    /// [`apply_batch`](Self::apply_batch) and the Raft layer. `None` entries (Raft's blank and membership entries)
    /// carry no request: they change no state and only advance the applied index, so
    /// `status().applied_index` is Raft's last applied index. `extra` writes the caller's own records in the same
    /// transaction before it commits. Request entries must continue the applied index without gaps; entries
    /// without a request need only be ahead of it (index 0 is a cluster's first membership entry, and openraft's
    /// storage suite applies such entries with gaps).
    pub(crate) fn apply_log_entries(
        &mut self,
        entries: &[(u64, LogItem<'_>)],
        extra: impl FnOnce(&redb::WriteTransaction) -> Result<(), ReplicaError>,
    ) -> Result<Vec<Option<ApplyOutcome>>, ReplicaError> {
        // Signatures are the one part of applying that does not depend on order: checked on all cores first.
        let (cluster, cache) = (self.cluster, &*self.signatures);
        let verify = |item: &LogItem<'_>| match item {
            LogItem::Request(request) => request.verify_with(&cluster, cache),
            LogItem::Seal | LogItem::GroupKey(_) | LogItem::Certify(..) | LogItem::ZkResult(_) | LogItem::Nothing => {
                true
            }
        };
        let signatures_ok: Vec<bool> = if entries.len() >= PARALLEL_VERIFY_MIN_ENTRIES {
            entries.par_iter().map(|(_, item)| verify(item)).collect()
        } else {
            entries.iter().map(|(_, item)| verify(item)).collect()
        };
        let read = Arc::new(self.db.begin_read()?);
        let txn = self.db.begin_write()?;
        let mut root = self.root;
        // Taken out for the batch (applying borrows `self`) and put back after it; a batch that fails leaves an
        // empty cache, which only costs recomputation.
        let mut root_cache = std::mem::take(&mut self.root_cache);
        let mut applied = self.applied;
        let mut unsealed_calls = self.unsealed_calls;
        let mut group_key = self.group_key.clone();
        let mut certified_index = self.certified_index;
        let mut outcomes = Vec::with_capacity(entries.len());
        {
            let mut tables = Tables {
                apps: txn.open_table(APPS)?,
                modules: txn.open_table(MODULES)?,
                state: txn.open_table(STATE)?,
                nonces: txn.open_table(NONCES)?,
                receipts: txn.open_table(RECEIPTS)?,
                batches: txn.open_table(BATCHES)?,
                group_keys: txn.open_table(GROUP_KEYS)?,
                certificates: [txn.open_table(CERTIFICATES)?, txn.open_table(EVM_CERTIFICATES)?],
                programs: txn.open_table(PROGRAMS)?,
                zk_jobs: txn.open_table(ZK_JOBS)?,
            };
            let mut pending: HashMap<AppId, Arc<Mutex<StateWrites>>> = HashMap::new();
            for ((index, item), signature_ok) in entries.iter().zip(signatures_ok) {
                if !matches!(item, LogItem::Nothing) && *index != applied + 1 {
                    return Err(ReplicaError::OutOfOrder { index: *index, applied });
                }
                match item {
                    LogItem::Seal => {
                        let epoch = group_key.as_ref().map_or(0, |k| k.key_epoch);
                        let message = self.seal(*index, &tables, epoch, root_cache.encode(&root))?;
                        tables.batches.insert(*index, postcard::to_allocvec(&message).expect("encodes").as_slice())?;
                        unsealed_calls = false;
                        outcomes.push(Some(ApplyOutcome::Sealed(message)));
                    }
                    LogItem::GroupKey(record) => {
                        let current = group_key.as_ref().map_or(0, |k| k.key_epoch);
                        let adopted = record.check(current).map_err(|e| e.to_string());
                        if adopted.is_ok() {
                            let bytes = postcard::to_allocvec(record).expect("encodes");
                            tables.group_keys.insert(record.key_epoch, bytes.as_slice())?;
                            group_key = Some((*record).clone());
                        }
                        outcomes.push(Some(ApplyOutcome::GroupKey { key_epoch: record.key_epoch, adopted }));
                    }
                    LogItem::Certify(suite, certificate) => {
                        let outcome = store_certificate(&mut tables, group_key.as_ref(), *suite, certificate)?;
                        if let CertifyOutcome::Stored { last_index, .. } = outcome {
                            let index = &mut certified_index[*suite as usize];
                            *index = (*index).max(last_index);
                        }
                        outcomes.push(Some(ApplyOutcome::Certify(outcome)));
                    }
                    LogItem::ZkResult(result) => {
                        let ended = end_zk_job(&mut tables, result)?;
                        outcomes.push(Some(ApplyOutcome::ZkResult { call_id: result.call_id, ended }));
                    }
                    LogItem::Request(request) => {
                        let mut batch = Batch {
                            tables: &mut tables,
                            read: &read,
                            pending: &mut pending,
                            root: &mut root,
                            root_cache: &mut root_cache,
                        };
                        outcomes.push(Some(self.apply_one(*index, request, signature_ok, &mut batch)?));
                        if let Some(Some(ApplyOutcome::Called(_))) = outcomes.last() {
                            unsealed_calls = true;
                        }
                    }
                    LogItem::Nothing => {
                        if *index < applied || (*index == applied && applied != 0) {
                            return Err(ReplicaError::OutOfOrder { index: *index, applied });
                        }
                        outcomes.push(None);
                    }
                }
                applied = *index;
            }
            let mut meta = txn.open_table(META)?;
            meta.insert(META_APPLIED, applied.to_le_bytes().as_slice())?;
            meta.insert(META_ROOT, root.to_bytes().as_slice())?;
        }
        extra(&txn)?;
        let mut txn = txn;
        self.durability = match self.durability {
            Durability::LogBacked { entries_since_durable, durable_at } => {
                let entries_since_durable = entries_since_durable + entries.len() as u64;
                if entries_since_durable < DURABLE_EVERY_ENTRIES && durable_at.elapsed() < DURABLE_EVERY {
                    txn.set_durability(redb::Durability::None)
                        .map_err(|e| ReplicaError::Storage(format!("durability: {e}")))?;
                    Durability::LogBacked { entries_since_durable, durable_at }
                } else {
                    Durability::LogBacked { entries_since_durable: 0, durable_at: std::time::Instant::now() }
                }
            }
            Durability::EveryBatch => Durability::EveryBatch,
        };
        txn.commit()?;
        self.applied = applied;
        self.root = root;
        self.root_cache = root_cache;
        self.unsealed_calls = unsealed_calls;
        self.group_key = group_key;
        self.certified_index = certified_index;
        Ok(outcomes)
    }

    /// Switches to [`Durability::LogBacked`]: for the Raft layer, whose log restores what a crash loses.
    pub(crate) fn set_log_backed(&mut self) {
        self.durability = Durability::LogBacked { entries_since_durable: 0, durable_at: std::time::Instant::now() };
    }

    /// Makes every applied batch durable now (an empty commit with fsync persists the earlier ones).
    pub fn make_durable(&mut self) -> Result<(), ReplicaError> {
        self.db.begin_write()?.commit()?;
        if let Durability::LogBacked { .. } = self.durability {
            self.set_log_backed();
        }
        Ok(())
    }

    /// Re-reads the applied index and state root after the Raft layer replaced the tables' contents (snapshot
    /// install), so the cached values match the database again.
    pub(crate) fn reload(&mut self) -> Result<(), ReplicaError> {
        let read = self.db.begin_read()?;
        let meta = read.open_table(META)?;
        (self.applied, self.root) = decode_meta(
            meta.get(META_APPLIED)?.as_ref().map(|v| v.value()),
            meta.get(META_ROOT)?.as_ref().map(|v| v.value()),
        )?;
        drop(meta);
        drop(read);
        self.load_cached()
    }
}

#[cfg(test)]
mod seal_tests {
    use nexus_mpc::batch::verify_path;
    use nexus_wasm_host::Limits;

    use super::*;
    use crate::request::ClientKey;

    const CLUSTER: ClusterId = [5; 32];

    #[test]
    fn seals_cover_the_log_since_the_previous_seal_and_every_receipt_has_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let host = Arc::new(Host::new(Limits::default()).unwrap());
        let mut sm = StateMachine::open(&dir.path().join("state.redb"), CLUSTER, host).unwrap();
        let key = ClientKey::from_secret([1; 32]);
        let deploy = key.sign(
            &CLUSTER,
            1,
            Request::Deploy { module: nexus_tests::example_apps()["counter"].wasm.clone(), program: None },
        );
        let app = deploy.app();
        let call = |nonce: u64| {
            let input = postcard::to_allocvec(&nonce).unwrap();
            key.sign(&CLUSTER, nonce, Request::Call { app, function: "increment".into(), input, zk: false })
        };
        let (c2, c3, c5) = (call(2), call(3), call(5));
        let log = [
            (1, LogItem::Request(&deploy)),
            (2, LogItem::Request(&c2)),
            (3, LogItem::Request(&c3)),
            (4, LogItem::Seal),
            (5, LogItem::Request(&c5)),
            (6, LogItem::Nothing),
            (7, LogItem::Seal),
            (8, LogItem::Seal),
        ];
        assert!(!sm.has_unsealed_calls());
        let outcomes = sm.apply_log_entries(&log[..3], |_| Ok(())).unwrap();
        assert!(matches!(outcomes[2], Some(ApplyOutcome::Called(_))));
        assert!(sm.has_unsealed_calls());
        let outcomes = sm.apply_log_entries(&log[3..], |_| Ok(())).unwrap();
        assert!(!sm.has_unsealed_calls());

        let sealed: Vec<BatchMessage> = outcomes
            .into_iter()
            .filter_map(|o| match o {
                Some(ApplyOutcome::Sealed(message)) => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(sealed.iter().map(|m| (m.first_index, m.last_index)).collect::<Vec<_>>(), [(1, 4), (5, 7), (8, 8)]);
        assert!(sealed.iter().all(|m| m.cluster_id == CLUSTER && m.key_epoch == 0));
        assert_eq!(sealed[2].receipts_root, MerkleTree::new(&[]).root(), "an empty batch");
        assert_eq!(sealed[2].state_root, sm.status().state_root);

        for (call_id, batch) in [(2, &sealed[0]), (3, &sealed[0]), (5, &sealed[1])] {
            let (message, path) = sm.batch(call_id).unwrap().expect("sealed");
            assert_eq!(&message, batch);
            let receipt = postcard::to_allocvec(&sm.receipt(call_id).unwrap().unwrap()).unwrap();
            verify_path(&message.receipts_root, &receipt_digest(call_id, &receipt), &path).unwrap();
            // The path of one receipt does not prove another.
            let other = postcard::to_allocvec(&sm.receipt(if call_id == 2 { 3 } else { 2 }).unwrap().unwrap()).unwrap();
            assert!(verify_path(&message.receipts_root, &receipt_digest(call_id, &other), &path).is_err());
        }
        // Entries that are not calls have no receipt and no batch proof.
        assert_eq!(sm.batch(1).unwrap(), None);
        assert_eq!(sm.batch(4).unwrap(), None);
        assert_eq!(sm.batch(99).unwrap(), None);

        // Reopened, the state machine knows its batches and that nothing is unsealed.
        drop(sm);
        let host = Arc::new(Host::new(Limits::default()).unwrap());
        let sm = StateMachine::open(&dir.path().join("state.redb"), CLUSTER, host).unwrap();
        assert!(!sm.has_unsealed_calls());
        assert_eq!(sm.batch(5).unwrap().unwrap().0, sealed[1]);
    }
}

#[cfg(test)]
mod zk_result_tests {
    use nexus_wasm_host::Limits;

    use super::*;
    use crate::request::ClientKey;

    const CLUSTER: ClusterId = [9; 32];

    #[test]
    fn a_job_ends_once_and_a_result_for_no_job_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let host = Arc::new(Host::new(Limits::default()).unwrap());
        let mut sm = StateMachine::open(&dir.path().join("state.redb"), CLUSTER, host).unwrap();
        let key = ClientKey::from_secret([1; 32]);
        let app = &nexus_tests::example_apps()["fibonacci"];
        let deploy =
            key.sign(&CLUSTER, 1, Request::Deploy { module: app.wasm.clone(), program: Some(app.elf.clone()) });
        let input = postcard::to_allocvec(&5u64).unwrap();
        let call = key.sign(&CLUSTER, 2, Request::Call { app: deploy.app(), function: "fib".into(), input, zk: true });
        sm.apply_log_entries(&[(1, LogItem::Request(&deploy)), (2, LogItem::Request(&call))], |_| Ok(())).unwrap();
        assert_eq!(sm.zk_job(2).unwrap().unwrap().state, ZkState::Proving);

        let proven = ZkResult { call_id: 2, state: ZkState::Proven { proof_digest: [1; 32], proof_bytes: 10 } };
        let failed = ZkResult { call_id: 2, state: ZkState::Failed("late".into()) };
        let not_final = ZkResult { call_id: 2, state: ZkState::Proving };
        let no_job = ZkResult { call_id: 77, state: ZkState::Failed("no such job".into()) };
        let outcomes = sm
            .apply_log_entries(
                &[
                    (3, LogItem::ZkResult(&not_final)),
                    (4, LogItem::ZkResult(&proven)),
                    (5, LogItem::ZkResult(&failed)),
                    (6, LogItem::ZkResult(&no_job)),
                ],
                |_| Ok(()),
            )
            .unwrap();
        let ended: Vec<bool> = outcomes
            .into_iter()
            .map(|o| match o {
                Some(ApplyOutcome::ZkResult { ended, .. }) => ended,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ended, [false, true, false, false]);
        assert_eq!(sm.zk_job(2).unwrap().unwrap().state, proven.state);
        assert_eq!(sm.zk_job(77).unwrap(), None);
        assert!(sm.proving_jobs(10).unwrap().is_empty());
    }
}

#[cfg(test)]
mod certification_tests {
    use std::collections::{BTreeMap, BTreeSet};

    use nexus_mpc::frost_core::keys::{IdentifierList, KeyPackage, PublicKeyPackage, generate_with_dealer};
    use nexus_mpc::signing::{Coordinator, Signer};
    use nexus_wasm_host::Limits;
    use rand_core_06::OsRng;

    use super::*;
    use crate::group_key::Suite;
    use crate::request::ClientKey;

    const CLUSTER: ClusterId = [6; 32];

    /// A 3-of-4 group from a trusted dealer: the state machine only sees the result, whoever made it.
    fn group() -> (BTreeMap<u16, KeyPackage<Suite>>, PublicKeyPackage<Suite>) {
        let (shares, public) = generate_with_dealer::<Suite, _>(4, 3, IdentifierList::Default, &mut OsRng).unwrap();
        let keys = shares
            .into_values()
            .enumerate()
            .map(|(i, share)| (i as u16 + 1, KeyPackage::try_from(share).unwrap()))
            .collect();
        (keys, public)
    }

    fn record(public: &PublicKeyPackage<Suite>, key_epoch: u64) -> GroupKeyRecord {
        GroupKeyRecord {
            key_epoch,
            threshold: 3,
            participants: vec![1, 2, 3, 4],
            group_key: public.verifying_key().serialize().unwrap(),
            public_key_package: public.serialize().unwrap(),
            evm: None,
        }
    }

    /// A certificate of `message` by signers 1..=3.
    fn certify(
        keys: &BTreeMap<u16, KeyPackage<Suite>>,
        public: &PublicKeyPackage<Suite>,
        message: BatchMessage,
    ) -> Certificate {
        let signers: BTreeSet<u16> = [1, 2, 3].into();
        let mut coordinator = Coordinator::new(public, message, &signers).unwrap();
        let mut pending = Vec::new();
        let mut package = None;
        for p in &signers {
            let (signer, commitments) = Signer::new(&keys[p], message, &mut OsRng).unwrap();
            package = coordinator.on_commitments(*p, &commitments).unwrap().or(package);
            pending.push((*p, signer));
        }
        let package = package.unwrap();
        for (p, signer) in pending {
            coordinator.on_share(p, &signer.sign(&package).unwrap()).unwrap();
        }
        coordinator.aggregate().unwrap()
    }

    fn open(dir: &Path) -> StateMachine {
        let host = Arc::new(Host::new(Limits::default()).unwrap());
        StateMachine::open(&dir.join("state.redb"), CLUSTER, host).unwrap()
    }

    #[test]
    fn a_group_key_is_adopted_once_per_epoch_and_seals_carry_its_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        let (_, public) = group();
        let (_, other) = group();
        let key = ClientKey::from_secret([1; 32]);
        let deploy = key.sign(
            &CLUSTER,
            1,
            Request::Deploy { module: nexus_tests::example_apps()["counter"].wasm.clone(), program: None },
        );
        let input = postcard::to_allocvec(&1u64).unwrap();
        let call =
            key.sign(&CLUSTER, 2, Request::Call { app: deploy.app(), function: "increment".into(), input, zk: false });

        let mut mismatched = record(&public, 1);
        mismatched.group_key = other.verifying_key().serialize().unwrap();
        let mut bad_threshold = record(&public, 1);
        bad_threshold.threshold = 2;
        let (first, stale) = (record(&public, 1), record(&other, 1));
        let log = [
            (1, LogItem::Seal),
            (2, LogItem::GroupKey(&mismatched)),
            (3, LogItem::GroupKey(&bad_threshold)),
            (4, LogItem::GroupKey(&first)),
            (5, LogItem::GroupKey(&stale)),
            (6, LogItem::Request(&deploy)),
            (7, LogItem::Request(&call)),
            (8, LogItem::Seal),
        ];
        let outcomes = sm.apply_log_entries(&log, |_| Ok(())).unwrap();
        let adopted: Vec<bool> = outcomes[1..5]
            .iter()
            .map(|o| match o {
                Some(ApplyOutcome::GroupKey { adopted, .. }) => adopted.is_ok(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(adopted, [false, false, true, false], "only the well-formed key of a new epoch is adopted");
        assert!(matches!(&outcomes[0], Some(ApplyOutcome::Sealed(m)) if m.key_epoch == 0));
        assert!(matches!(&outcomes[7], Some(ApplyOutcome::Sealed(m)) if m.key_epoch == 1));
        assert_eq!(sm.group_key(), Some(&first));
        drop(sm);
        assert_eq!(open(dir.path()).group_key(), Some(&first), "the key in force survives a reopen");
    }

    #[test]
    fn only_a_valid_certificate_of_a_sealed_batch_is_stored_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = open(dir.path());
        let (keys, public) = group();
        let (other_keys, other_public) = group();
        let first = record(&public, 1);
        sm.apply_log_entries(&[(1, LogItem::GroupKey(&first)), (2, LogItem::Seal), (3, LogItem::Seal)], |_| Ok(()))
            .unwrap();
        let own = sm.sealed_batch(2).unwrap().unwrap();
        let (backlog, _) = sm.uncertified_batches(CertSuite::Ed25519, 0, 10).unwrap();
        assert_eq!(backlog.iter().map(|m| m.last_index).collect::<Vec<_>>(), [2, 3]);

        let good = certify(&keys, &public, own);
        let mut forged = good.clone();
        forged.signature[0] ^= 1;
        let by_another_group = certify(&other_keys, &other_public, own);
        let no_such_batch = certify(&keys, &public, BatchMessage { first_index: 4, last_index: 9, ..own });
        let mut diverged = sm.sealed_batch(3).unwrap().unwrap();
        diverged.receipts_root = [9; 32];
        let diverged = certify(&keys, &public, diverged);
        let log = [
            (4, LogItem::Certify(CertSuite::Ed25519, &forged)),
            (5, LogItem::Certify(CertSuite::Ed25519, &by_another_group)),
            (6, LogItem::Certify(CertSuite::Ed25519, &no_such_batch)),
            (7, LogItem::Certify(CertSuite::Ed25519, &good)),
            (8, LogItem::Certify(CertSuite::Ed25519, &good)),
            (9, LogItem::Certify(CertSuite::Ed25519, &diverged)),
        ];
        let outcomes: Vec<CertifyOutcome> = sm
            .apply_log_entries(&log, |_| Ok(()))
            .unwrap()
            .into_iter()
            .map(|o| match o {
                Some(ApplyOutcome::Certify(outcome)) => outcome,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(&outcomes[0], CertifyOutcome::Ignored(why) if why.contains("signature")), "{outcomes:?}");
        assert!(matches!(&outcomes[1], CertifyOutcome::Ignored(why) if why.contains("group key")), "{outcomes:?}");
        assert!(matches!(&outcomes[2], CertifyOutcome::Ignored(why) if why.contains("no batch")), "{outcomes:?}");
        assert_eq!(outcomes[3], CertifyOutcome::Stored { last_index: 2, matches_own: true });
        assert_eq!(outcomes[4], CertifyOutcome::Duplicate { last_index: 2 });
        // A valid certificate of a batch this replica computed differently: the replica diverged.
        assert_eq!(outcomes[5], CertifyOutcome::Stored { last_index: 3, matches_own: false });

        assert_eq!(sm.certificate(CertSuite::Ed25519, 2).unwrap(), Some(good));
        assert_eq!(sm.certified_index(CertSuite::Ed25519), 3);
        assert!(sm.uncertified_batches(CertSuite::Ed25519, 0, 10).unwrap().0.is_empty());
        drop(sm);
        assert_eq!(open(dir.path()).certified_index(CertSuite::Ed25519), 3, "certificates survive a reopen");
    }
}
