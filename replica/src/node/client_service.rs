//! The client API every replica serves. Writes are ordered by Raft: a follower forwards them to the leader;
//! reads are linearizable (read index through the leader) unless the client asks for a local read.

use std::sync::Arc;

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::client_server::Client;
use nexus_proto::v1::{
    GetReceiptRequest, GetReceiptResponse, QueryRequest, QueryResponse, StatusRequest, StatusResponse, SubmitRequest,
    SubmitResponse,
};
use nexus_wasm_host::{Host, Trap};
use openraft::ReadPolicy;
use openraft::async_runtime::WatchReceiver;
use prost::Message;
use tonic::{Code, Request, Response, Status};

use super::{LeaderChannel, READ_INDEX_TIMEOUT, SUBMIT_TIMEOUT, lock_error};
use crate::app::AppId;
use crate::group_key::CertSuite;
use crate::raft::{LogCommand, ReplicaRaft, SharedStateMachine, blocking};
use crate::receipt::{ApplyOutcome, Rejection};
use crate::request::{Request as ClientRequest, SignedRequest};

pub struct ClientService {
    raft: ReplicaRaft,
    state: SharedStateMachine,
    host: Arc<Host>,
    node_id: u64,
    leader: LeaderChannel,
    certifier: Arc<super::Certifier>,
    proofs: super::ProofStore,
}

impl ClientService {
    pub fn new(
        raft: ReplicaRaft,
        state: SharedStateMachine,
        host: Arc<Host>,
        node_id: u64,
        certifier: Arc<super::Certifier>,
        proofs: super::ProofStore,
    ) -> Self {
        Self { raft, state, host, node_id, leader: LeaderChannel::default(), certifier, proofs }
    }

    /// The proof of a proven call: from this replica's store, or fetched from a peer that holds it (checked
    /// against the digest the state records, then kept).
    async fn proof(&self, call_id: u64, digest: [u8; 32], local_only: bool) -> Option<Vec<u8>> {
        if let Some(bytes) = self.proofs.read(call_id, &digest) {
            return Some(bytes);
        }
        if local_only {
            return None;
        }
        let metrics = self.raft.metrics().borrow_watched().clone();
        for member in super::members(&metrics).into_iter().filter(|m| m.node_id != self.node_id) {
            let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{}", member.address)) else {
                continue;
            };
            let Ok(channel) = endpoint.connect_timeout(super::PEER_RPC_TIMEOUT).connect().await else { continue };
            let mut peer = ClientClient::new(channel)
                .max_decoding_message_size(crate::prover::protocol::MAX_TASK_BYTES)
                .max_encoding_message_size(crate::prover::protocol::MAX_TASK_BYTES);
            let request = GetReceiptRequest { call_id, with_proof: true, local_only: true };
            let Ok(reply) = peer.get_receipt(request).await else { continue };
            let bytes = reply.into_inner().proof;
            if crate::zk::proof_digest(&bytes) == digest {
                let _ = self.proofs.write(call_id, &bytes);
                return Some(bytes);
            }
        }
        None
    }

    /// A client for the leader's API, when this replica is not the leader.
    async fn leader_client(&self) -> Result<ClientClient<tonic::transport::Channel>, Status> {
        Ok(ClientClient::new(self.leader.get(&self.raft).await?)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }

    /// Validates and compiles a deployed or upgraded module before it reaches the log: an invalid module is
    /// refused without costing a log entry, and applying it later finds it compiled in the host's cache.
    /// The NVM build, if there is one, is checked the same way.
    async fn precompile(&self, request: &SignedRequest) -> Result<(), Status> {
        let (ClientRequest::Deploy { module, program } | ClientRequest::Upgrade { module, program, .. }) =
            &request.request
        else {
            return Ok(());
        };
        let (host, module, program) = (self.host.clone(), module.clone(), program.clone());
        blocking(move || {
            if let Some(elf) = program
                && let Err(why) = crate::zk::ProgramRecord::parse(&elf)
            {
                return Ok(Err(format!("NVM program refused: {why}")));
            }
            Ok(host.load(&module).map(drop).map_err(|e| format!("module refused: {e}")))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(Status::invalid_argument)
    }
}

/// The status a client sees for an applied request: OK for a deploy, an upgrade or a call that returned; an
/// error naming what happened otherwise, with the response (outcome and log index) in its details.
fn submit_reply(response: SubmitResponse, outcome: &ApplyOutcome) -> Result<Response<SubmitResponse>, Status> {
    let (code, message) = match outcome {
        ApplyOutcome::Deployed { .. }
        | ApplyOutcome::Upgraded { .. }
        | ApplyOutcome::Sealed(_)
        | ApplyOutcome::GroupKey { .. }
        | ApplyOutcome::Certify(_)
        | ApplyOutcome::ZkResult { .. } => {
            return Ok(Response::new(response));
        }
        ApplyOutcome::Called(receipt) => match &receipt.trap {
            None => return Ok(Response::new(response)),
            Some(trap @ Trap::OutOfFuel { .. }) => {
                (Code::ResourceExhausted, format!("call {}: {trap}", receipt.call_id))
            }
            Some(trap) => (Code::Aborted, format!("call {} trapped: {trap}", receipt.call_id)),
        },
        ApplyOutcome::Rejected(rejection) => {
            let code = match rejection {
                Rejection::UnknownApp(_) => Code::NotFound,
                Rejection::BadSignature => Code::Unauthenticated,
                Rejection::ReplayedNonce { .. } => Code::AlreadyExists,
                Rejection::NotOwner => Code::PermissionDenied,
                Rejection::InvalidModule(_) | Rejection::BadCall(_) | Rejection::InvalidProgram(_) => {
                    Code::InvalidArgument
                }
                Rejection::NotProvable(_) => Code::FailedPrecondition,
            };
            (code, rejection.to_string())
        }
    };
    Err(Status::with_details(code, message, response.encode_to_vec().into()))
}

/// The postcard encoding of a value the API returns as opaque bytes.
fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Status> {
    postcard::to_allocvec(value).map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl Client for ClientService {
    async fn submit(&self, request: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        let bytes = request.into_inner().signed_request;
        let signed = SignedRequest::decode(&bytes).map_err(|e| {
            if bytes.len() > crate::MAX_REQUEST_BYTES { Status::out_of_range(e) } else { Status::invalid_argument(e) }
        })?;
        // Refused here to spare the log; every replica verifies again when applying (the leader from its cache).
        let (cluster, cache, last_nonce) = {
            let state = self.state.read().map_err(lock_error)?;
            let last_nonce = state.last_nonce(&signed.signer).map_err(|e| Status::internal(e.to_string()))?;
            (*state.cluster(), state.signature_cache(), last_nonce)
        };
        if !signed.verify_with(&cluster, &cache) {
            return Err(Status::unauthenticated("signature does not verify for this cluster"));
        }
        // A replay of an applied request is refused here; two copies in flight at once are told apart when
        // applied (the second is refused there, deterministically).
        if let Some(last) = last_nonce.filter(|last| signed.nonce <= *last) {
            let replay = Rejection::ReplayedNonce { nonce: signed.nonce, last };
            return Err(Status::already_exists(replay.to_string()));
        }
        if !self.is_leader() {
            let mut leader = self.leader_client().await?;
            return leader.submit(SubmitRequest { signed_request: bytes }).await;
        }
        self.precompile(&signed).await?;
        let written = tokio::time::timeout(SUBMIT_TIMEOUT, self.raft.client_write(LogCommand::Request(signed)))
            .await
            .map_err(|_| {
            Status::deadline_exceeded(format!("request not applied within {SUBMIT_TIMEOUT:?}; it may still be"))
        })?;
        match written {
            Ok(written) => {
                let outcome = written.data.ok_or_else(|| Status::internal("request entry applied without outcome"))?;
                let encoded = postcard::to_allocvec(&outcome).map_err(|e| Status::internal(e.to_string()))?;
                submit_reply(SubmitResponse { outcome: encoded, log_index: written.log_id.index }, &outcome)
            }
            Err(e) if e.forward_to_leader().is_some() => {
                let mut leader = self.leader_client().await?;
                leader.submit(SubmitRequest { signed_request: bytes }).await
            }
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    async fn query(&self, request: Request<QueryRequest>) -> Result<Response<QueryResponse>, Status> {
        let query = request.into_inner();
        if !query.local {
            if !self.is_leader() {
                let mut leader = self.leader_client().await?;
                return leader.query(query).await;
            }
            tokio::time::timeout(READ_INDEX_TIMEOUT, self.raft.ensure_linearizable(ReadPolicy::ReadIndex))
                .await
                .map_err(|_| Status::deadline_exceeded(format!("no read index within {READ_INDEX_TIMEOUT:?}")))?
                .map_err(|e| Status::unavailable(e.to_string()))?;
        }
        let app = AppId(query.app.as_slice().try_into().map_err(|_| Status::invalid_argument("app id is 32 bytes"))?);
        let caller = match query.caller.len() {
            0 => None,
            _ => Some(query.caller.as_slice().try_into().map_err(|_| Status::invalid_argument("caller is 32 bytes"))?),
        };
        let state = self.state.read().map_err(lock_error)?;
        let applied_index = state.status().applied_index;
        let result = state
            .query(&app, &query.function, &query.input, caller)
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|rejection| match rejection {
                Rejection::UnknownApp(_) => Status::not_found(rejection.to_string()),
                _ => Status::invalid_argument(rejection.to_string()),
            })?;
        let result = postcard::to_allocvec(&result).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(QueryResponse { result, applied_index, stale_possible: query.local }))
    }

    async fn get_receipt(&self, request: Request<GetReceiptRequest>) -> Result<Response<GetReceiptResponse>, Status> {
        let GetReceiptRequest { call_id, with_proof, local_only } = request.into_inner();
        let receipt =
            self.state.read().map_err(lock_error)?.receipt(call_id).map_err(|e| Status::internal(e.to_string()))?;
        let receipt =
            receipt.ok_or_else(|| Status::not_found(format!("no receipt for call {call_id} on this replica")))?;
        let receipt = postcard::to_allocvec(&receipt).map_err(|e| Status::internal(e.to_string()))?;
        let (batch, certificate, evm_certificate) = {
            let state = self.state.read().map_err(lock_error)?;
            let batch = state.batch(call_id).map_err(|e| Status::internal(e.to_string()))?;
            let certificate = |suite| match &batch {
                Some((message, _)) => {
                    state.certificate(suite, message.last_index).map_err(|e| Status::internal(e.to_string()))
                }
                None => Ok(None),
            };
            let (ed25519, evm) = (certificate(CertSuite::Ed25519)?, certificate(CertSuite::Evm)?);
            (batch, ed25519, evm)
        };
        let batch = batch.as_ref().map(encode).transpose()?.unwrap_or_default();
        let certificate = certificate.as_ref().map(encode).transpose()?.unwrap_or_default();
        let evm_certificate = evm_certificate.as_ref().map(encode).transpose()?.unwrap_or_default();
        let job =
            self.state.read().map_err(lock_error)?.zk_job(call_id).map_err(|e| Status::internal(e.to_string()))?;
        let proof = match &job {
            Some(crate::zk::ZkJob { state: crate::zk::ZkState::Proven { proof_digest, .. }, .. }) if with_proof => {
                self.proof(call_id, *proof_digest, local_only).await.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let zk_job = job.as_ref().map(encode).transpose()?.unwrap_or_default();
        Ok(Response::new(GetReceiptResponse { receipt, batch, certificate, evm_certificate, zk_job, proof }))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let (status, cluster, group_key, certified_index, evm_certified_index) = {
            let state = self.state.read().map_err(lock_error)?;
            let certified = |suite| state.certified_index(suite);
            let key = state.group_key().cloned();
            (state.status(), *state.cluster(), key, certified(CertSuite::Ed25519), certified(CertSuite::Evm))
        };
        let evm = group_key.as_ref().and_then(|k| k.evm.as_ref());
        let members = super::members(&metrics);
        Ok(Response::new(StatusResponse {
            node_id: self.node_id,
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            applied_index: status.applied_index,
            state_root: status.state_root.to_vec(),
            cluster_id: cluster.to_vec(),
            members,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            snapshot_index: metrics.snapshot.map_or(0, |id| id.index),
            purged_index: metrics.purged.map_or(0, |id| id.index),
            group_key: group_key.as_ref().map(|k| k.group_key.clone()).unwrap_or_default(),
            key_epoch: group_key.as_ref().map_or(0, |k| k.key_epoch),
            threshold: group_key.as_ref().map_or(0, |k| u32::from(k.threshold)),
            certification: self.certifier.status_line(),
            certified_index,
            evm_group_key: evm.map(|e| e.group_key.clone()).unwrap_or_default(),
            evm_chain_id: evm.map_or(0, |e| e.chain_id),
            evm_certified_index,
        }))
    }
}
