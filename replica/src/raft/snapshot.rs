//! The snapshot format: everything a replica needs to reach the same state as the one that built it.
//!
//! ```text
//! magic "NEXUSSNP" | version u32 LE | body length u64 LE | body | SHA-256 of everything before it (32 bytes)
//! body = header length u32 LE | postcard(Header) | records | end tag 0
//! record = table tag u8 (1..=6) | key length u32 LE | key | value length u32 LE | value
//! ```
//!
//! The header carries Raft's snapshot metadata (last log id, membership), the cluster id, the applied index
//! and the state root; the records are every row of the state machine's tables (apps, modules, app state,
//! nonces, receipts), read from one redb read transaction, which is a consistent snapshot: building never
//! blocks apply and never holds a lock while encoding.
//!
//! Installing checks everything before anything becomes visible: size, magic, version, checksum, header,
//! cluster, metadata, every record's framing, and that the state root recomputed from the state records equals
//! the header's. The tables are replaced in one write transaction that is dropped (rolled back) on any error,
//! so a corrupt snapshot changes nothing.

use redb::{ReadTransaction, ReadableTable, TableHandle, WriteTransaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::applied::Applied;
use super::{RaftStoreError, SnapshotMeta};
use crate::app::AppId;
use crate::request::ClusterId;
use crate::state_root::StateRoot;
use crate::store::{
    APPS, BATCHES, CERTIFICATES, EVM_CERTIFICATES, GROUP_KEYS, META, META_APPLIED, META_ROOT, MODULES, NONCES,
    PROGRAMS, RECEIPTS, STATE, ZK_JOBS,
};

/// The format this replica writes and reads. A replica refuses other versions rather than guessing.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 4;

/// Largest snapshot accepted from a peer or from disk. Snapshots are held in memory whole while they are
/// sent and installed; a state larger than this needs a streaming format first.
pub const MAX_SNAPSHOT_BYTES: usize = 1 << 30;

/// Largest key or value in one record (a module is at most a few MiB; state values are far smaller).
pub const MAX_SNAPSHOT_RECORD_BYTES: usize = 64 << 20;

const MAGIC: &[u8; 8] = b"NEXUSSNP";
const PREFIX_BYTES: usize = 8 + 4 + 8;
const CHECKSUM_BYTES: usize = 32;
/// The header is small (ids, a membership); bound it before decoding.
const MAX_HEADER_BYTES: usize = 1 << 20;

const TAG_END: u8 = 0;
const TAG_APPS: u8 = 1;
const TAG_MODULES: u8 = 2;
const TAG_STATE: u8 = 3;
const TAG_NONCES: u8 = 4;
const TAG_RECEIPTS: u8 = 5;
const TAG_BATCHES: u8 = 6;
const TAG_GROUP_KEYS: u8 = 7;
const TAG_CERTIFICATES: u8 = 8;
const TAG_EVM_CERTIFICATES: u8 = 9;
const TAG_PROGRAMS: u8 = 10;
const TAG_ZK_JOBS: u8 = 11;

/// The tables keyed by a u64 (log index or key epoch), with their record tags.
const U64_KEYED: [(u8, redb::TableDefinition<u64, &[u8]>); 6] = [
    (TAG_RECEIPTS, RECEIPTS),
    (TAG_BATCHES, BATCHES),
    (TAG_GROUP_KEYS, GROUP_KEYS),
    (TAG_CERTIFICATES, CERTIFICATES),
    (TAG_EVM_CERTIFICATES, EVM_CERTIFICATES),
    (TAG_ZK_JOBS, ZK_JOBS),
];

/// Why a snapshot was refused. Nothing was changed when one of these is returned.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("snapshot is {bytes} bytes, more than the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("snapshot is truncated ({0})")]
    Truncated(&'static str),
    #[error("not a Nexus snapshot (bad magic bytes)")]
    BadMagic,
    #[error("snapshot format version {found} is not supported; this replica reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("snapshot checksum does not match: the data is corrupt")]
    ChecksumMismatch,
    #[error("snapshot is malformed: {0}")]
    Malformed(String),
    #[error("snapshot belongs to cluster {found}, this replica is in cluster {expected}")]
    WrongCluster { found: String, expected: String },
    #[error("snapshot metadata ({found}) differs from the metadata it was sent with ({expected})")]
    MetaMismatch { found: String, expected: String },
    #[error("snapshot state root does not match its state entries")]
    RootMismatch,
}

#[derive(Serialize, Deserialize)]
struct Header {
    meta: SnapshotMeta,
    cluster: ClusterId,
    applied_index: u64,
    state_root: [u8; 32],
}

/// Every table of the state database and whether the snapshot carries it. Building refuses a database with a
/// table not listed here, so a table added to the state machine cannot silently go missing from snapshots.
const KNOWN_TABLES: [&str; 13] = [
    "meta",
    "apps",
    "modules",
    "app_state",
    "nonces",
    "receipts",
    "batches",
    "group_keys",
    "certificates",
    "evm_certificates",
    "programs",
    "zk_jobs",
    "raft_applied",
];

fn put(out: &mut Vec<u8>, tag: u8, key: &[u8], value: &[u8]) -> Result<(), RaftStoreError> {
    for part in [key, value] {
        if part.len() > MAX_SNAPSHOT_RECORD_BYTES {
            return Err(RaftStoreError::Corrupt(format!("a row of {} bytes is too large to snapshot", part.len())));
        }
    }
    out.push(tag);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// Encodes the state in `read` (a consistent snapshot of the state database) into one snapshot.
pub(crate) fn build(read: &ReadTransaction, cluster: &ClusterId) -> Result<(SnapshotMeta, Vec<u8>), RaftStoreError> {
    for table in read.list_tables()? {
        if !KNOWN_TABLES.contains(&table.name()) {
            return Err(RaftStoreError::Corrupt(format!(
                "table {} is not covered by the snapshot format",
                table.name()
            )));
        }
    }
    let applied = Applied::read(read)?;
    let meta_table = read.open_table(META)?;
    let applied_index = match meta_table.get(META_APPLIED)? {
        Some(v) => {
            u64::from_le_bytes(v.value().try_into().map_err(|_| RaftStoreError::Corrupt("applied index".into()))?)
        }
        None => 0,
    };
    let state_root: [u8; 32] = match meta_table.get(META_ROOT)? {
        Some(v) => v.value().try_into().map_err(|_| RaftStoreError::Corrupt("state root".into()))?,
        None => StateRoot::default().to_bytes(),
    };
    let meta = SnapshotMeta { last_log_id: applied.last_applied, last_membership: applied.membership };
    let header = Header { meta: meta.clone(), cluster: *cluster, applied_index, state_root };
    let header =
        postcard::to_allocvec(&header).map_err(|e| RaftStoreError::Storage(format!("snapshot header: {e}")))?;

    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // body length, filled in below
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    for (tag, table) in [(TAG_APPS, APPS), (TAG_MODULES, MODULES), (TAG_STATE, STATE), (TAG_PROGRAMS, PROGRAMS)] {
        for row in read.open_table(table)?.iter()? {
            let (k, v) = row?;
            put(&mut out, tag, k.value(), v.value())?;
        }
    }
    for row in read.open_table(NONCES)?.iter()? {
        let (k, v) = row?;
        put(&mut out, TAG_NONCES, k.value(), &v.value().to_le_bytes())?;
    }
    for (tag, table) in U64_KEYED {
        for row in read.open_table(table)?.iter()? {
            let (k, v) = row?;
            put(&mut out, tag, &k.value().to_le_bytes(), v.value())?;
        }
    }
    out.push(TAG_END);
    let body_len = (out.len() - PREFIX_BYTES) as u64;
    out[12..20].copy_from_slice(&body_len.to_le_bytes());
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    if out.len() > MAX_SNAPSHOT_BYTES {
        return Err(RaftStoreError::Snapshot(SnapshotError::TooLarge { bytes: out.len(), limit: MAX_SNAPSHOT_BYTES }));
    }
    Ok((meta, out))
}

/// Reads framed fields from a byte slice, refusing any read past its end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        if n > self.bytes.len() {
            return Err(SnapshotError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn field(&mut self, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let len = self.u32(what)? as usize;
        if len > MAX_SNAPSHOT_RECORD_BYTES {
            return Err(SnapshotError::Malformed(format!("{what} of {len} bytes is over the record limit")));
        }
        self.take(len, what)
    }
}

/// A snapshot whose framing, checksum and header have been checked; its records are checked as they are
/// installed.
pub(crate) struct Verified<'a> {
    header: Header,
    records: &'a [u8],
}

impl Verified<'_> {
    pub(crate) fn meta(&self) -> &SnapshotMeta {
        &self.header.meta
    }
}

/// Checks size, magic, version, length, checksum and header; nothing past the header is trusted before this.
pub(crate) fn verify(bytes: &[u8]) -> Result<Verified<'_>, SnapshotError> {
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge { bytes: bytes.len(), limit: MAX_SNAPSHOT_BYTES });
    }
    let mut r = Reader { bytes };
    if r.take(MAGIC.len(), "magic")? != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = r.u32("version")?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: version, supported: SNAPSHOT_FORMAT_VERSION });
    }
    let body_len = u64::from_le_bytes(r.array("body length")?);
    let body_len = usize::try_from(body_len).map_err(|_| SnapshotError::Truncated("body"))?;
    let body = r.take(body_len, "body")?;
    let checksum: [u8; CHECKSUM_BYTES] = r.array("checksum")?;
    if !r.bytes.is_empty() {
        return Err(SnapshotError::Malformed(format!("{} bytes after the checksum", r.bytes.len())));
    }
    if Sha256::digest(&bytes[..PREFIX_BYTES + body_len]).as_slice() != checksum {
        return Err(SnapshotError::ChecksumMismatch);
    }
    let mut body = Reader { bytes: body };
    let header_len = body.u32("header length")? as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(SnapshotError::Malformed(format!("header of {header_len} bytes")));
    }
    let header: Header = postcard::from_bytes(body.take(header_len, "header")?)
        .map_err(|e| SnapshotError::Malformed(format!("header: {e}")))?;
    let last_index = header.meta.last_log_id.map(|id| id.index);
    if last_index.unwrap_or(0) != header.applied_index {
        return Err(SnapshotError::Malformed(format!(
            "applied index {} does not match the last log id {last_index:?}",
            header.applied_index
        )));
    }
    Ok(Verified { header, records: body.bytes })
}

/// Replaces the state database's contents with the snapshot's inside `txn`. The caller commits only if this
/// returns `Ok`; on error the transaction is dropped and nothing changes.
pub(crate) fn install(
    snapshot: &Verified<'_>,
    expected_meta: &SnapshotMeta,
    cluster: &ClusterId,
    txn: &WriteTransaction,
) -> Result<(), RaftStoreError> {
    let header = &snapshot.header;
    if header.cluster != *cluster {
        return Err(
            SnapshotError::WrongCluster { found: hex::encode(header.cluster), expected: hex::encode(cluster) }.into()
        );
    }
    if header.meta != *expected_meta {
        return Err(SnapshotError::MetaMismatch {
            found: header.meta.to_string(),
            expected: expected_meta.to_string(),
        }
        .into());
    }
    for table in KNOWN_TABLES {
        // Deleting looks only at the name, so one definition type serves every table.
        txn.delete_table(redb::TableDefinition::<&str, &[u8]>::new(table))?;
    }
    let mut root = StateRoot::default();
    {
        let mut apps = txn.open_table(APPS)?;
        let mut modules = txn.open_table(MODULES)?;
        let mut programs = txn.open_table(PROGRAMS)?;
        let mut state = txn.open_table(STATE)?;
        let mut nonces = txn.open_table(NONCES)?;
        let mut u64_keyed = Vec::with_capacity(U64_KEYED.len());
        for (tag, table) in U64_KEYED {
            u64_keyed.push((tag, txn.open_table(table)?));
        }
        let mut r = Reader { bytes: snapshot.records };
        loop {
            let tag = r.take(1, "record tag")?[0];
            if tag == TAG_END {
                break;
            }
            let key = r.field("record key")?;
            let value = r.field("record value")?;
            match tag {
                TAG_APPS => {
                    apps.insert(key, value)?;
                }
                TAG_MODULES => {
                    modules.insert(key, value)?;
                }
                TAG_PROGRAMS => {
                    programs.insert(key, value)?;
                }
                TAG_STATE => {
                    let app: [u8; 32] = key
                        .get(..32)
                        .and_then(|a| a.try_into().ok())
                        .ok_or_else(|| SnapshotError::Malformed("state key shorter than an app id".into()))?;
                    root.insert(&AppId(app), &key[32..], value);
                    state.insert(key, value)?;
                }
                TAG_NONCES => {
                    let nonce: [u8; 8] =
                        value.try_into().map_err(|_| SnapshotError::Malformed("nonce is not 8 bytes".into()))?;
                    nonces.insert(key, u64::from_le_bytes(nonce))?;
                }
                TAG_RECEIPTS | TAG_BATCHES | TAG_GROUP_KEYS | TAG_CERTIFICATES | TAG_EVM_CERTIFICATES | TAG_ZK_JOBS => {
                    let id: [u8; 8] =
                        key.try_into().map_err(|_| SnapshotError::Malformed("u64 key is not 8 bytes".into()))?;
                    let (_, table) =
                        u64_keyed.iter_mut().find(|(t, _)| *t == tag).expect("every tag of this arm is in U64_KEYED");
                    table.insert(u64::from_le_bytes(id), value)?;
                }
                tag => return Err(SnapshotError::Malformed(format!("unknown record tag {tag}")).into()),
            }
        }
        if !r.bytes.is_empty() {
            return Err(SnapshotError::Malformed(format!("{} bytes after the end tag", r.bytes.len())).into());
        }
    }
    if root.to_bytes() != header.state_root {
        return Err(SnapshotError::RootMismatch.into());
    }
    let mut meta = txn.open_table(META)?;
    meta.insert(META_APPLIED, header.applied_index.to_le_bytes().as_slice())?;
    meta.insert(META_ROOT, header.state_root.as_slice())?;
    drop(meta);
    Applied { last_applied: header.meta.last_log_id, membership: header.meta.last_membership.clone() }.write(txn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nexus_wasm_host::{Host, Limits};
    use redb::ReadableDatabase;

    use super::*;
    use crate::state_machine::StateMachine;

    const CLUSTER: ClusterId = [7; 32];

    fn open(dir: &std::path::Path) -> StateMachine {
        StateMachine::open(&dir.join("state.redb"), CLUSTER, Arc::new(Host::new(Limits::default()).unwrap())).unwrap()
    }

    /// The checksum only proves the bytes are the ones the sender wrote; the recomputed root proves the state
    /// is the one the sender's root commits to. A state row that the root does not cover is refused.
    #[test]
    fn state_that_does_not_match_the_root_is_refused_even_with_a_valid_checksum() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let source = open(d1.path());
        let txn = source.database().begin_write().unwrap();
        txn.open_table(STATE)
            .unwrap()
            .insert([[1; 32].as_slice(), b"key"].concat().as_slice(), b"value".as_slice())
            .unwrap();
        txn.commit().unwrap();
        let (meta, bytes) = build(&source.database().begin_read().unwrap(), &CLUSTER).unwrap();

        let mut target = open(d2.path());
        let verified = verify(&bytes).unwrap();
        let txn = target.database().begin_write().unwrap();
        let err = install(&verified, &meta, &CLUSTER, &txn).unwrap_err();
        assert!(matches!(err, RaftStoreError::Snapshot(SnapshotError::RootMismatch)), "{err}");
        drop(txn);
        target.reload().unwrap();
        assert!(target.state_entries().unwrap().is_empty());
    }
}
