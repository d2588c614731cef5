//! The DKG on a replica: one run per attempt, its messages pushed to peers until they acknowledge them.
//!
//! A run starts when the state has no group key, this replica is a voter, and it has applied the membership
//! that makes it one; the participants are the voters (participant = node id + 1). Every message names the
//! run's context (cluster, epoch, attempt, threshold, participants), so replicas that disagree on any of them
//! refuse each other's messages instead of mixing runs. A run that aborts (an echo mismatch, a bad package, a
//! key not confirmed) is replaced after [`DKG_RETRY_DELAY`] by attempt + 1, with new randomness; a message of
//! a later attempt makes a replica join that attempt at once. A persistent equivocator thus keeps the group
//! without a key (the DKG is not robust), and `status` names it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use nexus_mpc::ParticipantId;
use nexus_mpc::dkg::{Dkg, DkgAction, DkgConfig, DkgError, DkgOutput, Echo, confirm_group_key};
use nexus_mpc::frost_core;
use nexus_mpc::key_store::{self, StoredKey};
use nexus_proto::v1::DkgMessage;
use openraft::async_runtime::WatchReceiver;
use rand_core_06::OsRng;
use sha2::{Digest, Sha256};
use tonic::{Code, Status};

use super::{
    Certifier, DKG_RETRY_DELAY, KEY_ADOPTION_GRACE, Keys, MPC_RPC_TIMEOUT, default_threshold, node_of, participant,
};
use crate::group_key::{CertSuite, EvmGroupKey, EvmSuite, GroupKeyRecord, Suite};
use crate::raft::LogCommand;

/// What a DKG message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DkgKind {
    /// The sender's round-1 broadcast (frost package and its encryption key).
    Round1 = 1,
    /// The sender's echo of every round-1 broadcast it holds.
    Echo = 2,
    /// A round-2 package, encrypted to the recipient.
    Round2 = 3,
    /// The group key the sender derived; empty if its DKG failed.
    KeyAnnounce = 4,
}

impl DkgKind {
    fn from_wire(kind: u32) -> Option<Self> {
        Some(match kind {
            1 => DkgKind::Round1,
            2 => DkgKind::Echo,
            3 => DkgKind::Round2,
            4 => DkgKind::KeyAnnounce,
            _ => return None,
        })
    }
}

/// Largest DKG message payload accepted (the DKG state machine applies tighter limits per kind).
pub const MAX_DKG_PAYLOAD_BYTES: usize = 64 * 1024;

struct Outgoing {
    to: u64,
    suite: CertSuite,
    kind: DkgKind,
    payload: Vec<u8>,
    delivered: bool,
}

/// One DKG attempt on this replica: one FROST DKG per suite (Ed25519 always, secp256k1-Keccak256 when the
/// replicas certify for Ethereum), run side by side with the same participants, and confirmed together.
pub(super) struct DkgRun {
    epoch: u64,
    attempt: u64,
    context: [u8; 32],
    me: ParticipantId,
    participants: BTreeSet<ParticipantId>,
    threshold: u16,
    evm_chain_id: Option<u64>,
    ed25519: Dkg<Suite>,
    evm: Option<Dkg<EvmSuite>>,
    ed25519_output: Option<DkgOutput<Suite>>,
    evm_output: Option<DkgOutput<EvmSuite>>,
    outbox: Vec<Outgoing>,
    /// Each participant's announcement: postcard of (Ed25519 group key, Ethereum group key).
    announced: BTreeMap<ParticipantId, Option<Vec<u8>>>,
    /// This replica's announcement and key shares, once every DKG of the run finished (saved to disk before
    /// announcing).
    finished: Option<(Vec<u8>, Arc<Keys>)>,
    confirmed: bool,
    aborted: Option<(String, Instant)>,
}

/// The context every message of one run carries and every participant must compute identically.
fn context(
    cluster: &[u8; 32],
    epoch: u64,
    attempt: u64,
    threshold: u16,
    participants: &BTreeSet<ParticipantId>,
    evm_chain_id: Option<u64>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"nexus/replica/dkg-context/v2");
    h.update(cluster);
    h.update(epoch.to_be_bytes());
    h.update(attempt.to_be_bytes());
    h.update(threshold.to_be_bytes());
    h.update((participants.len() as u64).to_be_bytes());
    for p in participants {
        h.update(p.to_be_bytes());
    }
    match evm_chain_id {
        Some(chain) => {
            h.update([1]);
            h.update(chain.to_be_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

impl DkgRun {
    fn broadcast(&mut self, suite: CertSuite, kind: DkgKind, payload: &[u8]) {
        for &p in self.participants.iter().filter(|p| **p != self.me) {
            self.outbox.push(Outgoing { to: node_of(p), suite, kind, payload: payload.to_vec(), delivered: false });
        }
    }

    fn abort(&mut self, certifier: &Certifier, why: String) {
        if self.aborted.is_none() {
            certifier.set_note(format!("DKG attempt {} aborted: {why}; retrying", self.attempt));
            self.aborted = Some((why, Instant::now()));
            // Peers waiting for our key learn at once that this attempt is over.
            self.broadcast(CertSuite::Ed25519, DkgKind::KeyAnnounce, &[]);
        }
    }

    /// Carries out what one suite's DKG asked for, in order; returns its output once it finished.
    fn act<C: frost_core::Ciphersuite>(
        &mut self,
        certifier: &Certifier,
        suite: CertSuite,
        actions: Vec<DkgAction<C>>,
    ) -> Option<DkgOutput<C>> {
        let mut finished = None;
        for action in actions {
            match action {
                DkgAction::BroadcastEcho(echo) => {
                    let payload = postcard::to_allocvec(&echo).expect("an echo encodes");
                    self.broadcast(suite, DkgKind::Echo, &payload);
                }
                DkgAction::SendRound2 { to, package } => self.outbox.push(Outgoing {
                    to: node_of(to),
                    suite,
                    kind: DkgKind::Round2,
                    payload: package,
                    delivered: false,
                }),
                DkgAction::Finished(output) => finished = Some(*output),
                DkgAction::Abort(e) => self.abort(certifier, format!("{suite:?} DKG: {e}")),
            }
        }
        finished
    }

    /// Once every DKG of the run finished: checks the Ethereum key can be used with ecrecover, saves the
    /// shares, and announces the keys.
    fn maybe_finish(&mut self, certifier: &Certifier) {
        if self.finished.is_some() || self.aborted.is_some() {
            return;
        }
        let Some(ed) = &self.ed25519_output else { return };
        if self.evm.is_some() && self.evm_output.is_none() {
            return;
        }
        let keys = Keys {
            ed25519: StoredKey {
                participant: self.me,
                key_epoch: self.epoch,
                key_package: ed.key_package.clone(),
                public_key_package: ed.public_key_package.clone(),
            },
            evm: self.evm_output.as_ref().map(|o| StoredKey {
                participant: self.me,
                key_epoch: self.epoch,
                key_package: o.key_package.clone(),
                public_key_package: o.public_key_package.clone(),
            }),
        };
        let announce = || -> Result<Vec<u8>, String> {
            let ed_key = ed.group_key().map_err(|e| e.to_string())?;
            let evm_key = self.evm_output.as_ref().map(|o| o.group_key().map_err(|e| e.to_string())).transpose()?;
            // The test fault stands in for the 2⁻¹²⁸ chance of a key with x ≥ n, on the first attempt only.
            let forced = crate::faults::active("evm-key-unusable") && self.attempt == 0;
            if let Some(key) = &evm_key
                && (forced || !nexus_mpc::evm::evm_key_usable(key))
            {
                return Err("the Ethereum group key's x-coordinate is not below the group order, so ecrecover \
                            cannot check it; a new ceremony makes another key"
                    .to_string());
            }
            key_store::save(&certifier.key_path, &keys.ed25519).map_err(|e| e.to_string())?;
            if let Some(evm) = &keys.evm {
                key_store::save(&certifier.evm_key_path, evm).map_err(|e| e.to_string())?;
            }
            postcard::to_allocvec(&(ed_key, evm_key)).map_err(|e| e.to_string())
        };
        match announce() {
            Ok(announcement) => {
                self.announced.insert(self.me, Some(announcement.clone()));
                self.broadcast(CertSuite::Ed25519, DkgKind::KeyAnnounce, &announcement);
                self.finished = Some((announcement, Arc::new(keys)));
                certifier.set_note(format!(
                    "DKG attempt {}: key shares saved; waiting for every participant to confirm the group keys",
                    self.attempt
                ));
                self.check_confirmed(certifier);
            }
            Err(e) => self.abort(certifier, e),
        }
    }

    fn check_confirmed(&mut self, certifier: &Certifier) {
        let Some((announcement, keys)) = &self.finished else { return };
        if self.confirmed {
            return;
        }
        match confirm_group_key(&self.participants, announcement, &self.announced) {
            Ok(()) => {
                self.confirmed = true;
                *certifier.key.write().unwrap_or_else(|p| p.into_inner()) = Some(keys.clone());
                let key = keys.ed25519.public_key_package.verifying_key().serialize().unwrap_or_default();
                certifier.set_note(format!(
                    "DKG complete: group key {} confirmed by all {} participants; waiting for the log to adopt it",
                    hex::encode(key),
                    self.participants.len()
                ));
            }
            Err(DkgError::KeyNotConfirmed { disagreeing, .. }) if disagreeing.is_empty() => {}
            Err(e) => self.abort(certifier, e.to_string()),
        }
    }

    fn record(&self) -> Option<GroupKeyRecord> {
        let (_, keys) = self.finished.as_ref().filter(|_| self.confirmed)?;
        let evm = match (&keys.evm, self.evm_chain_id) {
            (Some(evm), Some(chain_id)) => Some(EvmGroupKey {
                chain_id,
                group_key: evm.public_key_package.verifying_key().serialize().ok()?,
                public_key_package: evm.public_key_package.serialize().ok()?,
            }),
            _ => None,
        };
        Some(GroupKeyRecord {
            key_epoch: self.epoch,
            threshold: self.threshold,
            participants: self.participants.iter().copied().collect(),
            group_key: keys.ed25519.public_key_package.verifying_key().serialize().ok()?,
            public_key_package: keys.ed25519.public_key_package.serialize().ok()?,
            evm,
        })
    }
}

/// A DKG state machine's answer to a message: its actions, or the status for the sender (and the run aborted,
/// unless only that message was refused).
fn dkg_result<C: frost_core::Ciphersuite>(
    certifier: &Certifier,
    run: &mut DkgRun,
    suite: CertSuite,
    result: Result<Vec<DkgAction<C>>, DkgError>,
) -> Result<Vec<DkgAction<C>>, Status> {
    match result {
        Ok(actions) => Ok(actions),
        Err(e @ (DkgError::UnknownParticipant(_) | DkgError::FromSelf)) => Err(Status::invalid_argument(e.to_string())),
        Err(e) => {
            let status = Status::failed_precondition(e.to_string());
            run.abort(certifier, format!("{suite:?} DKG: {e}"));
            Err(status)
        }
    }
}

impl Certifier {
    /// The DKG participants as this replica sees them, or why it cannot start yet.
    fn dkg_participants(&self) -> Result<BTreeSet<ParticipantId>, String> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        if metrics.current_leader.is_none() {
            return Err("no leader yet".into());
        }
        let membership_index = metrics.membership_config.log_id().as_ref().map_or(0, |id| id.index);
        if metrics.last_applied.as_ref().is_none_or(|id| id.index < membership_index) {
            return Err("catching up with the log".into());
        }
        let voters: Option<BTreeSet<_>> = metrics.membership_config.membership().voter_ids().map(participant).collect();
        let voters = voters.ok_or("a voter's node id is too large to be a participant")?;
        let me = participant(self.node_id).ok_or("this node id is too large to be a participant")?;
        if !voters.contains(&me) {
            return Err("this replica is not a voter".into());
        }
        Ok(voters)
    }

    /// The participants and threshold of a DKG as this replica sees them.
    fn dkg_parameters(&self) -> Result<(BTreeSet<ParticipantId>, u16), String> {
        let participants = self.dkg_participants()?;
        let threshold = self.config.threshold.unwrap_or_else(|| default_threshold(participants.len()));
        Ok((participants, threshold))
    }

    /// A new run of `attempt` for key `epoch`.
    fn new_run(&self, epoch: u64, attempt: u64) -> Result<DkgRun, String> {
        let (participants, threshold) = self.dkg_parameters()?;
        let me = participant(self.node_id).ok_or("node id too large")?;
        let evm_chain_id = self.config.evm_chain_id;
        let context = context(&self.cluster, epoch, attempt, threshold, &participants, evm_chain_id);
        let cfg = DkgConfig { me, participants: participants.clone(), threshold, context };
        let (ed25519, broadcast) = Dkg::<Suite>::start(cfg.clone(), &mut OsRng).map_err(|e| e.to_string())?;
        let evm = match evm_chain_id {
            Some(_) => Some(Dkg::<EvmSuite>::start(cfg.clone(), &mut OsRng).map_err(|e| e.to_string())?),
            None => None,
        };
        let mut run = DkgRun {
            epoch,
            attempt,
            context,
            me,
            participants,
            threshold,
            evm_chain_id,
            ed25519,
            evm: None,
            ed25519_output: None,
            evm_output: None,
            outbox: Vec::new(),
            announced: BTreeMap::new(),
            finished: None,
            confirmed: false,
            aborted: None,
        };
        run.broadcast(CertSuite::Ed25519, DkgKind::Round1, &broadcast);
        if crate::faults::active("dkg-equivocate") {
            // A second, different round-1 broadcast for the peers with an odd node id.
            let (_, other) = Dkg::<Suite>::start(cfg, &mut OsRng).map_err(|e| e.to_string())?;
            for out in run.outbox.iter_mut().filter(|o| o.to % 2 == 1) {
                out.payload = other.clone();
            }
        }
        if let Some((dkg, broadcast)) = evm {
            run.evm = Some(dkg);
            run.broadcast(CertSuite::Evm, DkgKind::Round1, &broadcast);
        }
        self.set_note(format!("DKG attempt {attempt} running among {} participants", run.participants.len()));
        Ok(run)
    }

    /// The epoch the next key will have.
    fn next_epoch(&self) -> u64 {
        self.state.read().ok().and_then(|s| s.group_key().map(|k| k.key_epoch)).unwrap_or(0) + 1
    }

    /// Handles a DKG message from a peer.
    pub(crate) fn on_dkg_message(&self, msg: DkgMessage) -> Result<(), Status> {
        if !self.config.enabled {
            return Err(Status::failed_precondition("certification is disabled on this replica"));
        }
        let from = participant(msg.from).ok_or_else(|| Status::invalid_argument("sender id out of range"))?;
        let kind = DkgKind::from_wire(msg.kind)
            .ok_or_else(|| Status::invalid_argument(format!("unknown DKG message kind {}", msg.kind)))?;
        if msg.payload.len() > MAX_DKG_PAYLOAD_BYTES {
            return Err(Status::out_of_range(format!(
                "DKG payload of {} bytes, the limit is {MAX_DKG_PAYLOAD_BYTES}",
                msg.payload.len()
            )));
        }
        let suite = CertSuite::from_wire(msg.suite)
            .ok_or_else(|| Status::invalid_argument(format!("unknown suite {}", msg.suite)))?;
        if self.state.read().map_err(super::super::lock_error)?.group_key().is_some() {
            // The group key is adopted: this version runs one ceremony per cluster (no rotation or resharing
            // yet), so a DKG message can no longer start anything.
            return Ok(());
        }
        let epoch = self.next_epoch();
        if msg.key_epoch != epoch {
            return Err(Status::failed_precondition(format!(
                "DKG for key epoch {}, this replica's next epoch is {epoch}",
                msg.key_epoch
            )));
        }
        let mut guard = self.dkg.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|run| msg.attempt > run.attempt) {
            // Join a later attempt only if the message is of this cluster's ceremony as this replica sees it.
            let (participants, threshold) = self.dkg_parameters().map_err(Status::unavailable)?;
            let expected =
                context(&self.cluster, epoch, msg.attempt, threshold, &participants, self.config.evm_chain_id);
            if msg.context != expected {
                return Err(Status::invalid_argument(
                    "DKG context differs: the replicas disagree on cluster, epoch, threshold, participants or chain",
                ));
            }
            *guard = Some(self.new_run(epoch, msg.attempt).map_err(Status::unavailable)?);
        }
        let run = guard.as_mut().expect("set above");
        if msg.attempt < run.attempt {
            return Err(Status::failed_precondition(format!(
                "DKG attempt {} was superseded by attempt {}",
                msg.attempt, run.attempt
            )));
        }
        if msg.context != run.context {
            return Err(Status::invalid_argument(
                "DKG context differs: the replicas disagree on cluster, epoch, threshold or participants",
            ));
        }
        if let Some((why, _)) = &run.aborted {
            return Err(Status::failed_precondition(format!("DKG attempt {} aborted: {why}", run.attempt)));
        }
        if kind == DkgKind::KeyAnnounce {
            if !run.participants.contains(&from) || from == run.me {
                return Err(Status::invalid_argument("key announcement from a non-participant"));
            }
            if msg.payload.is_empty() {
                // Until this replica has its own result it reaches its own verdict (which names the culprit,
                // where a peer's failure report cannot); after, the key can no longer be confirmed.
                if run.finished.is_some() {
                    run.abort(self, format!("participant {from} reports that its DKG failed"));
                }
            } else {
                run.announced.insert(from, Some(msg.payload));
                run.check_confirmed(self);
            }
            return Ok(());
        }
        let echo = |payload: &[u8]| {
            postcard::from_bytes::<Echo>(payload).map_err(|e| Status::invalid_argument(format!("malformed echo: {e}")))
        };
        match suite {
            CertSuite::Ed25519 => {
                let result = match kind {
                    DkgKind::Round1 => run.ed25519.on_round1(from, &msg.payload),
                    DkgKind::Echo => run.ed25519.on_echo(from, echo(&msg.payload)?),
                    _ => run.ed25519.on_round2(from, &msg.payload),
                };
                let actions = dkg_result(self, run, suite, result)?;
                if let Some(output) = run.act(self, suite, actions) {
                    run.ed25519_output = Some(output);
                }
            }
            CertSuite::Evm => {
                let Some(dkg) = run.evm.as_mut() else {
                    return Err(Status::failed_precondition("this replica does not certify for Ethereum"));
                };
                let result = match kind {
                    DkgKind::Round1 => dkg.on_round1(from, &msg.payload),
                    DkgKind::Echo => dkg.on_echo(from, echo(&msg.payload)?),
                    _ => dkg.on_round2(from, &msg.payload),
                };
                let actions = dkg_result(self, run, suite, result)?;
                if let Some(output) = run.act(self, suite, actions) {
                    run.evm_output = Some(output);
                }
            }
        }
        run.maybe_finish(self);
        Ok(())
    }

    /// Starts a run if none is going and one should, or replaces an aborted one after the retry delay.
    fn maybe_start(&self, started_at: Instant) {
        let mut guard = self.dkg.lock().unwrap_or_else(|p| p.into_inner());
        let attempt = match &*guard {
            None => {
                let holds_key = self.key.read().unwrap_or_else(|p| p.into_inner()).is_some();
                if holds_key && started_at.elapsed() < KEY_ADOPTION_GRACE {
                    return;
                }
                0
            }
            Some(run) => match &run.aborted {
                Some((_, at)) if at.elapsed() >= DKG_RETRY_DELAY => run.attempt + 1,
                _ => return,
            },
        };
        match self.new_run(self.next_epoch(), attempt) {
            Ok(run) => *guard = Some(run),
            Err(why) => self.set_note(format!("DKG not started: {why}")),
        }
    }

    /// Sends every undelivered message of the current run once; delivered ones are not sent again.
    async fn deliver(&self) {
        let (attempt, epoch, context, pending) = {
            let guard = self.dkg.lock().unwrap_or_else(|p| p.into_inner());
            let Some(run) = guard.as_ref() else { return };
            let pending: Vec<_> = run
                .outbox
                .iter()
                .enumerate()
                .filter(|(_, o)| !o.delivered)
                .map(|(i, o)| (i, o.to, o.suite, o.kind, o.payload.clone()))
                .collect();
            (run.attempt, run.epoch, run.context, pending)
        };
        let sends = pending.into_iter().map(|(i, to, suite, kind, payload)| async move {
            let Some(mut client) = self.peers.client(&self.raft, to) else { return (i, false) };
            let msg = DkgMessage {
                context: context.to_vec(),
                key_epoch: epoch,
                attempt,
                from: self.node_id,
                kind: kind as u32,
                payload,
                suite: suite.to_wire(),
            };
            let done = match tokio::time::timeout(MPC_RPC_TIMEOUT, client.dkg(msg)).await {
                Ok(Ok(_)) => true,
                // The peer is not ready for this run yet, or unreachable: send again later.
                Ok(Err(s)) if matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Unknown) => false,
                // Refused for good (superseded, aborted, malformed): sending again would not change that.
                Ok(Err(_)) => true,
                Err(_) => false,
            };
            (i, done)
        });
        let results = join_all(sends).await;
        let mut guard = self.dkg.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = guard.as_mut().filter(|r| r.attempt == attempt && r.context == context) {
            for (i, done) in results {
                if done && let Some(out) = run.outbox.get_mut(i) {
                    out.delivered = true;
                }
            }
        }
    }
}

/// The DKG task: runs until the state holds a group key, then idles (a later epoch would start it again).
pub(super) async fn drive(certifier: Arc<Certifier>) {
    let started_at = Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_proposal: Option<Instant> = None;
    loop {
        tick.tick().await;
        let adopted = certifier.state.read().ok().and_then(|s| s.group_key().map(|k| k.key_epoch)).is_some();
        if adopted {
            if certifier.dkg.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
                certifier.set_note(String::new());
            }
            continue;
        }
        certifier.maybe_start(started_at);
        certifier.deliver().await;
        // The leader logs the key once every participant confirmed it; only a key it derived itself.
        let record = certifier.dkg.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(DkgRun::record);
        if let Some(record) = record
            && certifier.is_leader()
            && last_proposal.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1))
        {
            last_proposal = Some(Instant::now());
            let _ = tokio::time::timeout(
                crate::node::SUBMIT_TIMEOUT,
                certifier.raft.client_write(LogCommand::GroupKey(record)),
            )
            .await;
        }
    }
}
