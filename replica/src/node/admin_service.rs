//! The admin API: add and remove replicas. Authenticated by an admin key (`crate::admin`); a follower
//! forwards to the leader, which changes the membership through Raft (learner first, then voter).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nexus_proto::v1::admin_client::AdminClient;
use nexus_proto::v1::admin_server::Admin;
use nexus_proto::v1::{AddReplicaRequest, AdminResponse, RemoveReplicaRequest};
use openraft::ChangeMembers;
use openraft::async_runtime::WatchReceiver;
use tonic::{Request, Response, Status};

use super::{ADMIN_CHANGE_TIMEOUT, LeaderChannel, members};
use crate::admin::{AdminAuth, AdminCommand, AdminGate, AdminRefusal};
use crate::raft::{ReplicaNode, ReplicaRaft};

pub struct AdminService {
    raft: ReplicaRaft,
    gate: Arc<AdminGate>,
    node_id: u64,
    leader: LeaderChannel,
}

impl AdminService {
    pub fn new(raft: ReplicaRaft, gate: Arc<AdminGate>, node_id: u64) -> Self {
        Self { raft, gate, node_id, leader: LeaderChannel::default() }
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }

    fn authorize(&self, command: &AdminCommand, auth: Option<&nexus_proto::v1::AdminAuth>) -> Result<(), Status> {
        let auth = auth.ok_or_else(|| Status::unauthenticated("admin command without a signature"))?;
        let auth = AdminAuth {
            timestamp_ms: auth.timestamp_ms,
            signer: auth.signer.as_slice().try_into().map_err(|_| Status::invalid_argument("signer is 32 bytes"))?,
            signature: auth
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| Status::invalid_argument("signature is 64 bytes"))?,
        };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.gate.check(command, &auth, now_ms).map_err(|refusal| match refusal {
            AdminRefusal::AddressTooLong { .. } => Status::invalid_argument(refusal.to_string()),
            AdminRefusal::BadSignature => Status::unauthenticated(refusal.to_string()),
            _ => Status::permission_denied(refusal.to_string()),
        })
    }

    async fn change(&self, changes: ChangeMembers<u64, ReplicaNode>) -> Result<Response<AdminResponse>, Status> {
        let changed =
            tokio::time::timeout(ADMIN_CHANGE_TIMEOUT, self.raft.change_membership(changes, false)).await.map_err(
                |_| Status::deadline_exceeded(format!("membership not changed within {ADMIN_CHANGE_TIMEOUT:?}")),
            )?;
        changed.map_err(|e| Status::failed_precondition(e.to_string()))?;
        let metrics = self.raft.metrics().borrow_watched().clone();
        Ok(Response::new(AdminResponse { members: members(&metrics) }))
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn add_replica(&self, request: Request<AddReplicaRequest>) -> Result<Response<AdminResponse>, Status> {
        let request = request.into_inner();
        let command = AdminCommand::AddReplica { node_id: request.node_id, address: request.address.clone() };
        self.authorize(&command, request.auth.as_ref())?;
        if !self.is_leader() {
            // The leader checks the signature again; its replay record is its own.
            return AdminClient::new(self.leader.get(&self.raft).await?).add_replica(request).await;
        }
        let node = ReplicaNode { grpc_addr: request.address };
        // Blocking: returns once the learner has caught up, so the voter change cannot stall the quorum.
        let added = tokio::time::timeout(ADMIN_CHANGE_TIMEOUT, self.raft.add_learner(request.node_id, node, true))
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!("replica did not catch up within {ADMIN_CHANGE_TIMEOUT:?}"))
            })?;
        added.map_err(|e| Status::failed_precondition(e.to_string()))?;
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([request.node_id]))).await
    }

    async fn remove_replica(&self, request: Request<RemoveReplicaRequest>) -> Result<Response<AdminResponse>, Status> {
        let request = request.into_inner();
        let command = AdminCommand::RemoveReplica { node_id: request.node_id };
        self.authorize(&command, request.auth.as_ref())?;
        if !self.is_leader() {
            return AdminClient::new(self.leader.get(&self.raft).await?).remove_replica(request).await;
        }
        let metrics = self.raft.metrics().borrow_watched().clone();
        let membership = metrics.membership_config.membership();
        if !membership.voter_ids().any(|id| id == request.node_id) {
            if membership.learner_ids().any(|id| id == request.node_id) {
                return self.change(ChangeMembers::RemoveNodes(BTreeSet::from([request.node_id]))).await;
            }
            return Err(Status::not_found(format!("replica {} is not a member", request.node_id)));
        }
        if membership.voter_ids().count() == 1 {
            return Err(Status::failed_precondition("cannot remove the last voter"));
        }
        self.change(ChangeMembers::RemoveVoters(BTreeSet::from([request.node_id]))).await
    }
}
