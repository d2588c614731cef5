//! openraft's view of the other replicas: one tonic channel per peer, connected lazily.

use std::future::Future;

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::raft_client::RaftClient;
use nexus_proto::v1::{RaftMessage, SnapshotChunk};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{AnyError, OptionalSend, RaftNetworkV2};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;

use super::PEER_RPC_TIMEOUT;
use crate::raft::{ReplicaNode, Snapshot, TypeConfig, Vote};

/// Bytes of snapshot data per streamed chunk.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

#[derive(Clone, Default)]
pub struct GrpcNetwork;

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, _target: u64, node: &ReplicaNode) -> PeerConnection {
        let client = tonic::transport::Endpoint::from_shared(format!("http://{}", node.grpc_addr))
            .map(|endpoint| endpoint.connect_timeout(PEER_RPC_TIMEOUT).timeout(PEER_RPC_TIMEOUT).connect_lazy())
            .map(|channel| {
                RaftClient::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES)
            });
        PeerConnection { client: client.map_err(|e| e.to_string()) }
    }
}

/// One peer. A bad address is kept as an error, and every RPC to it reports the peer unreachable.
pub struct PeerConnection {
    client: Result<RaftClient<Channel>, String>,
}

fn unreachable(why: impl std::fmt::Display) -> Unreachable<TypeConfig> {
    Unreachable::new(&AnyError::error(why.to_string()))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("raft messages always encode")
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("raft message does not decode: {e}"))
}

impl PeerConnection {
    fn client(&self) -> Result<RaftClient<Channel>, Unreachable<TypeConfig>> {
        self.client.clone().map_err(unreachable)
    }
}

impl RaftNetworkV2<TypeConfig> for PeerConnection {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut client = self.client()?;
        let reply = client.append_entries(RaftMessage { payload: encode(&rpc) }).await.map_err(unreachable)?;
        decode(&reply.into_inner().payload).map_err(|e| RPCError::Unreachable(unreachable(e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut client = self.client()?;
        let reply = client.vote(RaftMessage { payload: encode(&rpc) }).await.map_err(unreachable)?;
        decode(&reply.into_inner().payload).map_err(|e| RPCError::Unreachable(unreachable(e)))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut client = self.client().map_err(StreamingError::Unreachable)?;
        let meta = encode(&(vote, snapshot.meta));
        let data = snapshot.snapshot;
        let mut chunks: Vec<SnapshotChunk> = data
            .chunks(SNAPSHOT_CHUNK_BYTES)
            .map(|chunk| SnapshotChunk { meta: Vec::new(), data: chunk.to_vec(), done: false })
            .collect();
        if chunks.is_empty() {
            chunks.push(SnapshotChunk::default());
        }
        chunks[0].meta = meta;
        if let Some(last) = chunks.last_mut() {
            last.done = true;
        }
        let reply = client
            .install_snapshot(tokio_stream::iter(chunks))
            .await
            .map_err(|e| StreamingError::Unreachable(unreachable(e)))?;
        decode(&reply.into_inner().payload).map_err(|e| StreamingError::Unreachable(unreachable(e)))
    }
}
