//! Threshold certification on a running replica: the DKG that makes the group key, signing sessions for
//! sealed batches, and the certificates they produce. The protocol logic is nexus-mpc's pure state machines;
//! this module moves their messages over the `Mpc` gRPC service and drives them from two tasks.
//!
//! ```text
//!  dkg task (dkg_run.rs)      no group key in the state → DKG among the voters (participant = node id + 1);
//!                             messages pushed to peers and retried until acknowledged; key share saved
//!                             (0600); once every participant confirmed the key, the leader logs it
//!  certify task (sessions.rs) for each sealed, uncertified batch: the leader (or, after TAKEOVER_AFTER, any
//!                             replica) asks every participant for commitments, takes the first t that come,
//!                             collects their shares, aggregates, and has the certificate logged
//!  Mpc service                Dkg (messages in), Commit / Sign (this replica as a signer), Propose (leader)
//! ```
//!
//! A replica signs only a batch message equal to the one it sealed itself ([`nexus_mpc::signing::Signer`]
//! refuses any other), so a lying coordinator or leader cannot get a wrong result certified, and the
//! first-t-that-answer rule means a down or dissenting replica does not stall a session: with n = 3f+1 and
//! t = 2f+1 a batch certifies while at most f replicas are down or faulty. Nonces live in memory for one
//! session and are consumed by signing; a restart loses them, and the coordinator's next attempt starts a new
//! session with new nonces.

mod dkg_run;
mod peers;
mod sessions;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use nexus_mpc::key_store::{self, StoredKey};
use nexus_mpc::signing::Signer;
use nexus_mpc::{CertifyingSuite, ParticipantId};

use crate::group_key::{CertSuite, EvmSuite, GroupKeyRecord, Suite};
use crate::raft::{ReplicaRaft, SharedStateMachine};
use crate::request::ClusterId;

use dkg_run::DkgRun;
use peers::Peers;
use sessions::SignerSessions;

/// File name of the key share in the replica's data directory.
pub const KEY_FILE: &str = "certification-key.bin";
/// File name of the Ethereum key share (same ceremony), when the replica certifies for a chain.
pub const EVM_KEY_FILE: &str = "certification-key-evm.bin";
/// Deadline of one signing or DKG RPC to a peer.
pub const MPC_RPC_TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long a non-leader waits before it coordinates a batch the leader has not certified: the leader may be
/// down, lying, or have computed a different result.
pub const TAKEOVER_AFTER: Duration = Duration::from_secs(3);
/// Delay before a new DKG attempt after one aborted.
pub const DKG_RETRY_DELAY: Duration = Duration::from_secs(2);
/// How long a replica holding a key share that the state has not adopted yet waits before starting a new DKG
/// (after a restart the log may still be about to adopt it).
pub const KEY_ADOPTION_GRACE: Duration = Duration::from_secs(5);
/// Most signing sessions one coordinator runs at once.
pub const MAX_SESSIONS_IN_FLIGHT: usize = 16;
/// Attempts of one session (with a new signer set each) before the batch waits for the next round.
pub const SESSION_ATTEMPTS: usize = 3;

/// How a replica takes part in certification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertifyConfig {
    /// Run the DKG and certify batches. Off: batches are sealed (epoch 0) but never certified.
    pub enabled: bool,
    /// Signers needed (t); `None`: [`default_threshold`] of the number of participants.
    pub threshold: Option<u16>,
    /// Also make a FROST(secp256k1, Keccak-256) key in the same ceremony and certify every batch with it for
    /// this Ethereum chain (EIP-155 chain id), for the bridge contracts.
    pub evm_chain_id: Option<u64>,
}

impl Default for CertifyConfig {
    fn default() -> Self {
        Self { enabled: true, threshold: None, evm_chain_id: None }
    }
}

/// This replica's key shares: the Ed25519 one, and the Ethereum one if the ceremony made it.
pub struct Keys {
    pub ed25519: StoredKey<Suite>,
    pub evm: Option<StoredKey<EvmSuite>>,
}

/// A signer of either suite, for the sessions this replica committed to.
pub(crate) enum AnySigner {
    Ed25519(Signer<Suite>),
    Evm(Signer<EvmSuite>),
}

/// What the certify code needs to know of a suite to run it generically.
pub(crate) trait SuiteOps: CertifyingSuite + Sized {
    const SUITE: CertSuite;
    /// This replica's share of the suite's key.
    fn share(keys: &Keys) -> Option<&StoredKey<Self>>;
    /// The group key of the suite in the record.
    fn group_key(record: &GroupKeyRecord) -> Option<&[u8]>;
    fn wrap(signer: Signer<Self>) -> AnySigner;
    fn unwrap(signer: AnySigner) -> Option<Signer<Self>>;
}

impl SuiteOps for Suite {
    const SUITE: CertSuite = CertSuite::Ed25519;
    fn share(keys: &Keys) -> Option<&StoredKey<Self>> {
        Some(&keys.ed25519)
    }
    fn group_key(record: &GroupKeyRecord) -> Option<&[u8]> {
        Some(&record.group_key)
    }
    fn wrap(signer: Signer<Self>) -> AnySigner {
        AnySigner::Ed25519(signer)
    }
    fn unwrap(signer: AnySigner) -> Option<Signer<Self>> {
        match signer {
            AnySigner::Ed25519(s) => Some(s),
            AnySigner::Evm(_) => None,
        }
    }
}

impl SuiteOps for EvmSuite {
    const SUITE: CertSuite = CertSuite::Evm;
    fn share(keys: &Keys) -> Option<&StoredKey<Self>> {
        keys.evm.as_ref()
    }
    fn group_key(record: &GroupKeyRecord) -> Option<&[u8]> {
        record.evm.as_ref().map(|e| e.group_key.as_slice())
    }
    fn wrap(signer: Signer<Self>) -> AnySigner {
        AnySigner::Evm(signer)
    }
    fn unwrap(signer: AnySigner) -> Option<Signer<Self>> {
        match signer {
            AnySigner::Evm(s) => Some(s),
            AnySigner::Ed25519(_) => None,
        }
    }
}

/// The default threshold for `n` participants: t = 2f+1 with n = 3f+1 tolerated faults, and never less than a
/// majority (so that even with f = 0 two certificates for one batch share a signer). n = 3 → 2, 4 → 3, 7 → 5.
pub fn default_threshold(n: usize) -> u16 {
    let f = n.saturating_sub(1) / 3;
    (2 * f + 1).max(n / 2 + 1) as u16
}

/// A replica's participant id in the threshold scheme: FROST identifiers start at 1, node ids at 0.
pub fn participant(node_id: u64) -> Option<ParticipantId> {
    u16::try_from(node_id.checked_add(1)?).ok().filter(|p| *p <= nexus_mpc::MAX_PARTICIPANTS)
}

/// The node id of a participant.
pub fn node_of(participant: ParticipantId) -> u64 {
    u64::from(participant) - 1
}

/// Shared by the tasks and the `Mpc` service of one replica.
pub struct Certifier {
    node_id: u64,
    cluster: ClusterId,
    config: CertifyConfig,
    raft: ReplicaRaft,
    state: SharedStateMachine,
    key_path: PathBuf,
    evm_key_path: PathBuf,
    /// This replica's key shares: loaded at start, or from a DKG that finished here.
    key: RwLock<Option<Arc<Keys>>>,
    dkg: Mutex<Option<DkgRun>>,
    /// What the DKG or the last signing session reported, for `status`.
    note: Mutex<String>,
    signer_sessions: Mutex<SignerSessions>,
    peers: Peers,
}

/// Why the replica cannot certify right now (for `status`).
fn describe_missing_key(record: &GroupKeyRecord) -> String {
    format!(
        "the group key of epoch {} is in force but this replica holds no share of it: it cannot sign \
         (a replica added after the DKG, or one that lost its key file)",
        record.key_epoch
    )
}

impl Certifier {
    /// Loads the key share if there is one. A key file that exists but cannot be read is an error: a replica
    /// must not silently start a new DKG over a share it lost.
    pub fn new(
        node_id: u64,
        cluster: ClusterId,
        config: CertifyConfig,
        raft: ReplicaRaft,
        state: SharedStateMachine,
        data_dir: &std::path::Path,
    ) -> Result<Arc<Self>, key_store::KeyStoreError> {
        let (key_path, evm_key_path) = (data_dir.join(KEY_FILE), data_dir.join(EVM_KEY_FILE));
        let key = if config.enabled && key_path.exists() {
            let ed25519 = key_store::load::<Suite>(&key_path)?;
            let evm = if evm_key_path.exists() { Some(key_store::load::<EvmSuite>(&evm_key_path)?) } else { None };
            Some(Arc::new(Keys { ed25519, evm }))
        } else {
            None
        };
        Ok(Arc::new(Self {
            node_id,
            cluster,
            config,
            raft,
            state,
            key_path,
            evm_key_path,
            key: RwLock::new(key),
            dkg: Mutex::new(None),
            note: Mutex::new(String::new()),
            signer_sessions: Mutex::new(SignerSessions::default()),
            peers: Peers::default(),
        }))
    }

    /// Starts the DKG and certification tasks.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        if !self.config.enabled {
            return Vec::new();
        }
        vec![tokio::spawn(dkg_run::drive(self.clone())), tokio::spawn(sessions::drive(self.clone()))]
    }

    fn set_note(&self, note: impl Into<String>) {
        *self.note.lock().unwrap_or_else(|p| p.into_inner()) = note.into();
    }

    /// The group key in force, if this replica holds the matching Ed25519 share: what signing needs.
    fn ready(&self) -> Option<(Arc<Keys>, GroupKeyRecord)> {
        self.ready_for::<Suite>()
    }

    /// The group key in force, if this replica holds the matching share of `C`'s key.
    fn ready_for<C: SuiteOps>(&self) -> Option<(Arc<Keys>, GroupKeyRecord)> {
        let record = self.state.read().ok()?.group_key().cloned()?;
        let keys = self.key.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        let share = C::share(&keys)?;
        let ours = share.public_key_package.verifying_key().serialize().ok()?;
        (share.key_epoch == record.key_epoch && Some(ours.as_slice()) == C::group_key(&record))
            .then_some((keys, record))
    }

    /// One line for `status`: disabled, ready, the DKG's progress, or why this replica cannot sign.
    pub fn status_line(&self) -> String {
        if !self.config.enabled {
            return "disabled".into();
        }
        let record = self.state.read().ok().and_then(|s| s.group_key().cloned());
        let note = self.note.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match record {
            Some(record) if self.ready().is_some() => {
                if note.is_empty() {
                    format!("ready (key epoch {})", record.key_epoch)
                } else {
                    format!("ready; {note}")
                }
            }
            Some(record) => {
                let own = self.key.read().unwrap_or_else(|p| p.into_inner()).clone();
                match own {
                    None => describe_missing_key(&record),
                    Some(_) => format!(
                        "the group key of epoch {} in the log differs from this replica's DKG result: it will not \
                         sign under it",
                        record.key_epoch
                    ),
                }
            }
            None if note.is_empty() => "waiting to start the DKG".into(),
            None => note,
        }
    }

    fn is_leader(&self) -> bool {
        use openraft::async_runtime::WatchReceiver;
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }
}
