//! Signing sessions: this replica as a signer (commit, then sign once) and as a coordinator of the sessions
//! that certify sealed batches.
//!
//! A coordinator asks *every* participant for commitments and takes the first t that answer: a replica that is
//! down, slow, or computed a different batch (and so refuses) is simply not in the signer set, and a session
//! costs no timeout while at least t honest replicas are up. A signer whose share fails verification is named
//! by aggregation and excluded from the next attempt. The certificate goes into the log through the leader,
//! which checks it first.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use nexus_mpc::ParticipantId;
use nexus_mpc::batch::BatchMessage;
use nexus_mpc::certificate::Certificate;
use nexus_mpc::signing::{Coordinator, Signer, SigningError};
use nexus_proto::v1::{CommitRequest, ProposeRequest, SignRequest};
use openraft::async_runtime::WatchReceiver;
use rand_core_06::{OsRng, RngCore};
use tonic::Status;

use super::{
    AnySigner, Certifier, MAX_SESSIONS_IN_FLIGHT, MPC_RPC_TIMEOUT, SESSION_ATTEMPTS, SuiteOps, TAKEOVER_AFTER, node_of,
};
use crate::group_key::{CertSuite, EvmSuite, Suite};
use crate::raft::LogCommand;

/// Most signer sessions (committed, not yet signed) a replica keeps; beyond it the oldest are dropped.
pub const MAX_SIGNER_SESSIONS: usize = 4_096;
/// A committed session not asked to sign within this time is dropped with its nonces.
pub const SIGNER_SESSION_TTL: Duration = Duration::from_secs(10);
/// How long a signer waits to have applied the batch it is asked to sign.
pub const APPLY_WAIT: Duration = Duration::from_secs(2);
/// How often the leader looks for sealed, uncertified batches.
pub const LEADER_SCAN: Duration = Duration::from_millis(5);
/// How often another replica looks for batches to take over.
pub const FOLLOWER_SCAN: Duration = Duration::from_millis(250);
/// Pause before a batch whose session failed is tried again.
pub const SESSION_RETRY_DELAY: Duration = Duration::from_millis(500);

/// The sessions this replica committed to, by (coordinator node, session id).
#[derive(Default)]
pub(super) struct SignerSessions {
    open: HashMap<(u64, u64), (AnySigner, Instant)>,
}

impl SignerSessions {
    fn insert(&mut self, id: (u64, u64), signer: AnySigner) {
        if self.open.len() >= MAX_SIGNER_SESSIONS {
            self.open.retain(|_, (_, at)| at.elapsed() < SIGNER_SESSION_TTL);
        }
        if self.open.len() >= MAX_SIGNER_SESSIONS
            && let Some(oldest) = self.open.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| *k)
        {
            self.open.remove(&oldest);
        }
        self.open.insert(id, (signer, Instant::now()));
    }
}

fn signing_status(e: SigningError) -> Status {
    match e {
        SigningError::MessageMismatch { .. } | SigningError::CommitmentMismatch => {
            Status::failed_precondition(e.to_string())
        }
        _ => Status::invalid_argument(e.to_string()),
    }
}

fn suite_of(wire: u32) -> Result<CertSuite, Status> {
    CertSuite::from_wire(wire).ok_or_else(|| Status::invalid_argument(format!("unknown suite {wire}")))
}

impl Certifier {
    /// Signing round 1 for `coordinator`'s session: commitments, only for the batch this replica sealed itself.
    pub(crate) async fn on_commit(&self, request: CommitRequest) -> Result<Vec<u8>, Status> {
        match suite_of(request.suite)? {
            CertSuite::Ed25519 => self.commit_as::<Suite>(request).await,
            CertSuite::Evm => self.commit_as::<EvmSuite>(request).await,
        }
    }

    async fn commit_as<C: SuiteOps>(&self, request: CommitRequest) -> Result<Vec<u8>, Status> {
        if crate::faults::active("no-signing") {
            return Err(Status::unavailable("this replica does not sign (test fault)"));
        }
        let (keys, record) = self.ready_for::<C>().ok_or_else(|| {
            Status::failed_precondition(format!("no {:?} key share ready: {}", C::SUITE, self.status_line()))
        })?;
        let share = C::share(&keys).ok_or_else(|| Status::failed_precondition("no key share"))?;
        let message = BatchMessage::decode(&request.batch_message)
            .map_err(|e| Status::invalid_argument(format!("batch message: {e}")))?;
        if message.key_epoch != record.key_epoch {
            return Err(Status::failed_precondition(format!(
                "batch is for key epoch {}, the key in force is epoch {}",
                message.key_epoch, record.key_epoch
            )));
        }
        let applied =
            self.raft.wait(Some(APPLY_WAIT)).applied_index_at_least(Some(message.last_index), "batch to sign").await;
        if applied.is_err() {
            return Err(Status::unavailable(format!("batch ending at {} is not applied here yet", message.last_index)));
        }
        let sealed = self
            .state
            .read()
            .map_err(super::super::lock_error)?
            .sealed_batch(message.last_index)
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| {
                Status::failed_precondition(format!("no batch was sealed at index {}", message.last_index))
            })?;
        let own = record.message_for(C::SUITE, sealed);
        if let Some(field) = own.first_difference(&message) {
            return Err(Status::failed_precondition(format!(
                "refusing to sign: the batch differs from this replica's own execution in {field}"
            )));
        }
        let (signer, commitments) = Signer::new(&share.key_package, own, &mut OsRng).map_err(signing_status)?;
        self.signer_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((request.coordinator, request.session), C::wrap(signer));
        Ok(commitments)
    }

    /// Signing round 2: the share for a session this replica committed to. Its nonces are consumed whatever
    /// the outcome, so a session signs at most once.
    pub(crate) fn on_sign(&self, request: SignRequest) -> Result<Vec<u8>, Status> {
        let suite = suite_of(request.suite)?;
        let signer = self
            .signer_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .remove(&(request.coordinator, request.session))
            .map(|(signer, _)| signer)
            .ok_or_else(|| Status::failed_precondition("no such signing session (expired, used, or never opened)"))?;
        let wrong_suite = || Status::failed_precondition("the session is of another suite");
        match suite {
            CertSuite::Ed25519 => Suite::unwrap(signer).ok_or_else(wrong_suite)?.sign(&request.signing_package),
            CertSuite::Evm => EvmSuite::unwrap(signer).ok_or_else(wrong_suite)?.sign(&request.signing_package),
        }
        .map_err(signing_status)
    }

    /// On the leader: logs a certificate a peer sent, after checking it against the group's key of `suite`
    /// (the `Propose` RPC is open to anyone, so only a valid certificate may reach the log).
    pub(crate) async fn on_propose(&self, suite: CertSuite, certificate: Certificate) -> Result<u64, Status> {
        if !self.is_leader() {
            return Err(Status::unavailable("not the leader"));
        }
        {
            let state = self.state.read().map_err(super::super::lock_error)?;
            let record = state.group_key().ok_or_else(|| Status::failed_precondition("no group key in force"))?;
            record.verify(suite, &certificate).map_err(|e| Status::invalid_argument(format!("certificate: {e}")))?;
        }
        self.log_certificate(suite, certificate).await
    }

    /// On the leader: logs a certificate unless its batch already has one of `suite`. Applying it checks it
    /// again on every replica.
    async fn log_certificate(&self, suite: CertSuite, certificate: Certificate) -> Result<u64, Status> {
        if !self.is_leader() {
            return Err(Status::unavailable("not the leader"));
        }
        let seal = certificate.message.last_index;
        let certified = self.state.read().map_err(super::super::lock_error)?.certificate(suite, seal);
        if certified.map_err(|e| Status::internal(e.to_string()))?.is_some() {
            return Ok(seal);
        }
        let command = LogCommand::Certify(suite, certificate);
        let written = tokio::time::timeout(crate::node::SUBMIT_TIMEOUT, self.raft.client_write(command))
            .await
            .map_err(|_| Status::deadline_exceeded("certificate not logged in time"))?
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(written.log_id.index)
    }

    async fn commit_from(&self, node: u64, request: CommitRequest) -> Result<Vec<u8>, String> {
        if node == self.node_id {
            return self.on_commit(request).await.map_err(|s| s.message().to_string());
        }
        let mut client = self.peers.client(&self.raft, node).ok_or("no address")?;
        match tokio::time::timeout(MPC_RPC_TIMEOUT, client.commit(request)).await {
            Ok(Ok(r)) => Ok(r.into_inner().commitments),
            Ok(Err(s)) => Err(s.message().to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    async fn sign_from(&self, node: u64, request: SignRequest) -> Result<Vec<u8>, String> {
        if node == self.node_id {
            return self.on_sign(request).map_err(|s| s.message().to_string());
        }
        let mut client = self.peers.client(&self.raft, node).ok_or("no address")?;
        match tokio::time::timeout(MPC_RPC_TIMEOUT, client.sign(request)).await {
            Ok(Ok(r)) => Ok(r.into_inner().share),
            Ok(Err(s)) => Err(s.message().to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    /// One attempt: commitments from the first t participants (of those not excluded) that answer, their
    /// shares, aggregation. On failure returns the participants to exclude next time and why.
    async fn attempt<C: SuiteOps>(
        &self,
        sealed: BatchMessage,
        excluded: &BTreeSet<ParticipantId>,
    ) -> Result<Certificate, (Vec<ParticipantId>, String)> {
        let (keys, record) = self.ready_for::<C>().ok_or_else(|| (vec![], "no key share ready".to_string()))?;
        let share = C::share(&keys).ok_or_else(|| (vec![], "no key share".to_string()))?;
        let message = record.message_for(C::SUITE, sealed);
        let suite = C::SUITE.to_wire();
        let session = OsRng.next_u64();
        let request =
            CommitRequest { session, coordinator: self.node_id, batch_message: message.encode().to_vec(), suite };
        let mut commits: FuturesUnordered<_> = record
            .participants
            .iter()
            .filter(|p| !excluded.contains(p))
            .map(|&p| {
                let request = request.clone();
                async move { (p, self.commit_from(node_of(p), request).await) }
            })
            .collect();
        let t = usize::from(record.threshold);
        let mut committed = Vec::new();
        let mut refusals = Vec::new();
        while let Some((p, result)) = commits.next().await {
            match result {
                Ok(c) => committed.push((p, c)),
                Err(why) => refusals.push(format!("{}: {why}", node_of(p))),
            }
            if committed.len() == t {
                break;
            }
        }
        drop(commits);
        if committed.len() < t {
            return Err((
                vec![],
                format!("only {} of {t} signers committed ({})", committed.len(), refusals.join("; ")),
            ));
        }
        let signers: BTreeSet<_> = committed.iter().map(|(p, _)| *p).collect();
        let fail = |e: SigningError| (vec![], e.to_string());
        let mut coordinator = Coordinator::<C>::new(&share.public_key_package, message, &signers).map_err(fail)?;
        let mut package = None;
        for (p, c) in &committed {
            match coordinator.on_commitments(*p, c) {
                Ok(Some(p)) => package = Some(p),
                Ok(None) => {}
                Err(e) => return Err((vec![*p], e.to_string())),
            }
        }
        let package = package.ok_or_else(|| (vec![], "no signing package".to_string()))?;
        let shares = futures::future::join_all(signers.iter().map(|&p| {
            let request = SignRequest { session, coordinator: self.node_id, signing_package: package.clone(), suite };
            async move { (p, self.sign_from(node_of(p), request).await) }
        }))
        .await;
        let mut silent = Vec::new();
        for (p, share) in shares {
            match share {
                Ok(share) => {
                    if let Err(e) = coordinator.on_share(p, &share) {
                        return Err((vec![p], e.to_string()));
                    }
                }
                Err(why) => silent.push((p, why)),
            }
        }
        if !silent.is_empty() {
            let why = silent.iter().map(|(p, w)| format!("{}: {w}", node_of(*p))).collect::<Vec<_>>().join("; ");
            return Err((silent.into_iter().map(|(p, _)| p).collect(), format!("no share from {why}")));
        }
        coordinator.aggregate().map_err(|e| match e {
            SigningError::Cheaters { culprits } => (culprits.clone(), format!("invalid shares from {culprits:?}")),
            e => (vec![], e.to_string()),
        })
    }

    /// Certifies one sealed batch with `C`'s key: up to [`SESSION_ATTEMPTS`] sessions, then logs the
    /// certificate through the leader.
    async fn certify<C: SuiteOps>(&self, sealed: BatchMessage) -> Result<(), String> {
        let mut excluded = BTreeSet::new();
        let mut last_error = String::new();
        for _ in 0..SESSION_ATTEMPTS {
            match self.attempt::<C>(sealed, &excluded).await {
                Ok(certificate) => return self.propose(C::SUITE, certificate).await,
                Err((culprits, why)) => {
                    excluded.extend(culprits);
                    last_error = why;
                }
            }
        }
        Err(last_error)
    }

    async fn propose(&self, suite: CertSuite, certificate: Certificate) -> Result<(), String> {
        let leader = self.raft.metrics().borrow_watched().current_leader.ok_or("no leader")?;
        if leader == self.node_id {
            // Aggregation verified the signature it just made: no need to check it again before logging.
            return self.log_certificate(suite, certificate).await.map(drop).map_err(|s| s.message().to_string());
        }
        let mut client = self.peers.client(&self.raft, leader).ok_or("no leader address")?;
        let request = ProposeRequest {
            certificate: postcard::to_allocvec(&certificate).map_err(|e| e.to_string())?,
            suite: suite.to_wire(),
        };
        match tokio::time::timeout(crate::node::SUBMIT_TIMEOUT, client.propose(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(s)) => Err(s.message().to_string()),
            Err(_) => Err("proposing the certificate timed out".into()),
        }
    }
}

/// Batches this replica is certifying or waiting to retry, by (suite, seal index).
#[derive(Default)]
struct Backlog {
    /// When this replica first saw the batch uncertified.
    first_seen: HashMap<(CertSuite, u64), Instant>,
    /// The session's task.
    running: HashMap<(CertSuite, u64), tokio::task::JoinHandle<()>>,
    /// Not before this time (after a failed session).
    retry_at: HashMap<(CertSuite, u64), Instant>,
    /// Per suite: seal indices at or below this are certified or can never be.
    low: HashMap<CertSuite, u64>,
}

/// The certify task: starts sessions for sealed, uncertified batches of the key in force, for every suite
/// this replica holds a share of.
pub(super) async fn drive(certifier: Arc<Certifier>) {
    let mut backlog = Backlog::default();
    let failures: Arc<std::sync::Mutex<HashMap<(CertSuite, u64), Instant>>> = Arc::default();
    loop {
        // The leader looks for new batches often (a seal comes every 20 ms); the others only watch for batches
        // the leader leaves uncertified past TAKEOVER_AFTER, which needs no fine clock.
        let pause = if certifier.is_leader() { LEADER_SCAN } else { FOLLOWER_SCAN };
        tokio::time::sleep(pause).await;
        backlog.running.retain(|_, task| !task.is_finished());
        for (job, at) in failures.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            backlog.retry_at.insert(job, at + SESSION_RETRY_DELAY);
        }
        let mut suites = Vec::new();
        if certifier.ready_for::<Suite>().is_some() {
            suites.push(CertSuite::Ed25519);
        }
        if certifier.ready_for::<EvmSuite>().is_some() {
            suites.push(CertSuite::Evm);
        }
        let leading = certifier.is_leader();
        for suite in suites {
            let low = backlog.low.entry(suite).or_insert(0);
            let scan = certifier.state.read().map(|s| s.uncertified_batches(suite, *low, 4 * MAX_SESSIONS_IN_FLIGHT));
            let batches = match scan {
                Ok(Ok((batches, scanned_to))) => {
                    *low = batches.first().map_or(scanned_to, |m| m.last_index - 1);
                    batches
                }
                _ => continue,
            };
            let now = Instant::now();
            let pending: BTreeSet<u64> = batches.iter().map(|m| m.last_index).collect();
            backlog.first_seen.retain(|(s, seal), _| *s != suite || pending.contains(seal));
            backlog.retry_at.retain(|(s, seal), _| *s != suite || pending.contains(seal));
            for message in batches {
                let job = (suite, message.last_index);
                let first_seen = *backlog.first_seen.entry(job).or_insert(now);
                if backlog.running.contains_key(&job)
                    || backlog.running.len() >= MAX_SESSIONS_IN_FLIGHT
                    || backlog.retry_at.get(&job).is_some_and(|at| now < *at)
                    || (!leading && now.duration_since(first_seen) < TAKEOVER_AFTER)
                {
                    continue;
                }
                let (certifier, failures) = (certifier.clone(), failures.clone());
                let task = tokio::spawn(async move {
                    let result = match suite {
                        CertSuite::Ed25519 => certifier.certify::<Suite>(message).await,
                        CertSuite::Evm => certifier.certify::<EvmSuite>(message).await,
                    };
                    if let Err(why) = result {
                        certifier.set_note(format!(
                            "{suite:?} certificate of batch {}..={} not made yet: {why}",
                            message.first_index, message.last_index
                        ));
                        failures.lock().unwrap_or_else(|p| p.into_inner()).insert(job, Instant::now());
                    } else {
                        certifier.set_note(String::new());
                    }
                });
                backlog.running.insert(job, task);
            }
        }
    }
}
