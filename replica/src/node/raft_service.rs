//! The Raft service other replicas call: decode, hand to openraft, encode the answer.

use nexus_proto::v1::raft_server::Raft;
use nexus_proto::v1::{RaftMessage, SnapshotChunk};
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use tonic::{Request, Response, Status, Streaming};

use super::network::{decode, encode};
use crate::raft::{MAX_SNAPSHOT_BYTES, ReplicaRaft, Snapshot, SnapshotMeta, TypeConfig, Vote};

pub struct RaftService {
    raft: ReplicaRaft,
}

impl RaftService {
    pub fn new(raft: ReplicaRaft) -> Self {
        Self { raft }
    }
}

#[tonic::async_trait]
impl Raft for RaftService {
    async fn append_entries(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> =
            decode(&request.into_inner().payload).map_err(Status::invalid_argument)?;
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
