//! The Raft service other replicas call: decode, hand to openraft, encode the answer.

use std::sync::Arc;

use nexus_proto::v1::raft_server::Raft;
use nexus_proto::v1::{RaftMessage, SnapshotChunk};
use nexus_wasm_host::Host;
use openraft::EntryPayload;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use tonic::{Request, Response, Status, Streaming};

use super::network::{decode, encode};
use crate::raft::{LogCommand, MAX_SNAPSHOT_BYTES, ReplicaRaft, Snapshot, SnapshotMeta, TypeConfig, Vote};
use crate::request::{ClusterId, Request as ClientRequest, SignatureCache, SignedRequest};

pub struct RaftService {
    raft: ReplicaRaft,
    host: Arc<Host>,
    cluster: ClusterId,
    signatures: Arc<SignatureCache>,
}

impl RaftService {
    pub fn new(raft: ReplicaRaft, host: Arc<Host>, cluster: ClusterId, signatures: Arc<SignatureCache>) -> Self {
        Self { raft, host, cluster, signatures }
    }

    /// Verifies the signatures of arriving requests in the background, on all cores, while the entries are
    /// being made durable and committed: applying them later finds the verdicts in the cache.
    fn preverify(&self, rpc: &AppendEntriesRequest<TypeConfig>) {
        let requests: Vec<SignedRequest> = rpc
            .entries
            .iter()
            .filter_map(|entry| match &entry.payload {
                EntryPayload::Normal(LogCommand::Request(request)) => Some(request.clone()),
                _ => None,
            })
            .collect();
        if requests.is_empty() {
            return;
        }
        let (cluster, cache) = (self.cluster, self.signatures.clone());
        tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            let verify = |request: &SignedRequest| {
                request.verify_with(&cluster, &cache);
            };
            if requests.len() >= crate::state_machine::PARALLEL_VERIFY_MIN_ENTRIES {
                requests.par_iter().for_each(verify);
            } else {
                requests.iter().for_each(verify);
            }
        });
    }

    /// Starts compiling the modules that arriving entries deploy, so that applying them (once committed)
    /// finds them in the host's cache. Best effort: a module that fails here is refused again when applied,
    /// deterministically, by every replica.
    fn precompile(&self, rpc: &AppendEntriesRequest<TypeConfig>) {
        for entry in &rpc.entries {
            if let EntryPayload::Normal(LogCommand::Request(request)) = &entry.payload
                && let ClientRequest::Deploy { module, .. } | ClientRequest::Upgrade { module, .. } = &request.request
            {
                let (host, module) = (self.host.clone(), module.clone());
                tokio::task::spawn_blocking(move || drop(host.load(&module)));
            }
        }
    }
}

#[tonic::async_trait]
impl Raft for RaftService {
    async fn append_entries(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> =
            decode(&request.into_inner().payload).map_err(Status::invalid_argument)?;
        self.precompile(&rpc);
        self.preverify(&rpc);
        let reply = self.raft.append_entries(rpc).await.map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(RaftMessage { payload: encode(&reply) }))
    }

    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: VoteRequest<TypeConfig> = decode(&request.into_inner().payload).map_err(Status::invalid_argument)?;
        let reply = self.raft.vote(rpc).await.map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(RaftMessage { payload: encode(&reply) }))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftMessage>, Status> {
        let mut stream = request.into_inner();
        let mut header: Option<(Vote, SnapshotMeta)> = None;
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if header.is_none() {
                header = Some(decode(&chunk.meta).map_err(Status::invalid_argument)?);
            }
            if data.len() + chunk.data.len() > MAX_SNAPSHOT_BYTES {
                return Err(Status::resource_exhausted(format!("snapshot larger than {MAX_SNAPSHOT_BYTES} bytes")));
            }
            data.extend_from_slice(&chunk.data);
            if chunk.done {
                break;
            }
        }
        let (vote, meta) = header.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        let snapshot = Snapshot { meta, snapshot: data };
        let reply =
            self.raft.install_full_snapshot(vote, snapshot).await.map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(RaftMessage { payload: encode(&reply) }))
    }
}
