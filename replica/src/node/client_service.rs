//! The client API every replica serves. Writes are ordered by Raft: a follower forwards them to the leader;
//! reads are linearizable (read index through the leader) unless the client asks for a local read.

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::client_server::Client;
use nexus_proto::v1::{
    GetReceiptRequest, GetReceiptResponse, Member, QueryRequest, QueryResponse, StatusRequest, StatusResponse,
    SubmitRequest, SubmitResponse,
};
use openraft::ReadPolicy;
use openraft::async_runtime::WatchReceiver;
use tonic::{Request, Response, Status};

use super::PEER_RPC_TIMEOUT;
use crate::app::AppId;
use crate::raft::{ReplicaRaft, SharedStateMachine};
use crate::request::SignedRequest;

pub struct ClientService {
    raft: ReplicaRaft,
    state: SharedStateMachine,
    node_id: u64,
}

impl ClientService {
    pub fn new(raft: ReplicaRaft, state: SharedStateMachine, node_id: u64) -> Self {
        Self { raft, state, node_id }
    }

    /// A client for the leader's API, when this replica is not the leader.
    async fn leader_client(&self) -> Result<ClientClient<tonic::transport::Channel>, Status> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let leader = metrics.current_leader.ok_or_else(|| Status::unavailable("no leader elected yet"))?;
        let addr = metrics
            .membership_config
            .nodes()
            .find(|(id, _)| **id == leader)
            .map(|(_, node)| node.grpc_addr.clone())
            .ok_or_else(|| Status::unavailable(format!("leader {leader} has no known address")))?;
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Status::internal(e.to_string()))?
            .connect_timeout(PEER_RPC_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|e| Status::unavailable(format!("leader {leader}: {e}")))?;
        Ok(ClientClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }
}

fn lock_error<T>(_: T) -> Status {
    Status::internal("state machine lock poisoned")
}

#[tonic::async_trait]
impl Client for ClientService {
    async fn submit(&self, request: Request<SubmitRequest>) -> Result<Response<SubmitResponse>, Status> {
        let bytes = request.into_inner().signed_request;
        let signed = SignedRequest::decode(&bytes).map_err(Status::invalid_argument)?;
        // Refused here to spare the log; every replica verifies again when applying.
        let cluster = *self.state.read().map_err(lock_error)?.cluster();
        if !signed.verify(&cluster) {
            return Err(Status::unauthenticated("signature does not verify for this cluster"));
        }
        if !self.is_leader() {
            let mut leader = self.leader_client().await?;
            return leader.submit(SubmitRequest { signed_request: bytes }).await;
        }
        match self.raft.client_write(signed).await {
            Ok(written) => {
                let outcome = written.data.ok_or_else(|| Status::internal("request entry applied without outcome"))?;
                let outcome = postcard::to_allocvec(&outcome).map_err(|e| Status::internal(e.to_string()))?;
                Ok(Response::new(SubmitResponse { outcome, log_index: written.log_id.index }))
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
            self.raft
                .ensure_linearizable(ReadPolicy::ReadIndex)
                .await
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
            .map_err(|rejection| Status::failed_precondition(rejection.to_string()))?;
        let result = postcard::to_allocvec(&result).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(QueryResponse { result, applied_index, stale_possible: query.local }))
    }

    async fn get_receipt(&self, request: Request<GetReceiptRequest>) -> Result<Response<GetReceiptResponse>, Status> {
        let call_id = request.into_inner().call_id;
        let receipt =
            self.state.read().map_err(lock_error)?.receipt(call_id).map_err(|e| Status::internal(e.to_string()))?;
        let receipt =
            receipt.ok_or_else(|| Status::not_found(format!("no receipt for call {call_id} on this replica")))?;
        let receipt = postcard::to_allocvec(&receipt).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(GetReceiptResponse { receipt }))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let (status, cluster) = {
            let state = self.state.read().map_err(lock_error)?;
            (state.status(), *state.cluster())
        };
        let members = metrics
            .membership_config
            .nodes()
            .map(|(id, node)| Member { node_id: *id, address: node.grpc_addr.clone() })
            .collect();
        Ok(Response::new(StatusResponse {
            node_id: self.node_id,
            leader_id: metrics.current_leader,
            term: metrics.current_term,
            applied_index: status.applied_index,
            state_root: status.state_root.to_vec(),
            cluster_id: cluster.to_vec(),
            members,
        }))
    }
}
