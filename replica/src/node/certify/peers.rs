//! gRPC clients of the other replicas' `Mpc` service, by node id, at the addresses the Raft membership lists.

use std::collections::HashMap;
use std::sync::Mutex;

use nexus_proto::v1::mpc_client::MpcClient;
use openraft::async_runtime::WatchReceiver;
use tonic::transport::Channel;

use super::MPC_RPC_TIMEOUT;
use crate::raft::ReplicaRaft;

/// Lazily connected channels, kept while a node's address stays the same.
#[derive(Default)]
pub(super) struct Peers {
    channels: Mutex<HashMap<u64, (String, Channel)>>,
}

impl Peers {
    /// A client for `node`, or `None` if the membership lists no address for it.
    pub(super) fn client(&self, raft: &ReplicaRaft, node: u64) -> Option<MpcClient<Channel>> {
        let addr = raft
            .metrics()
            .borrow_watched()
            .membership_config
            .nodes()
            .find(|(id, _)| **id == node)
            .map(|(_, n)| n.grpc_addr.clone())?;
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, channel)) = channels.get(&node)
            && *cached == addr
        {
            return Some(MpcClient::new(channel.clone()));
        }
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .ok()?
            .connect_timeout(MPC_RPC_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy();
        channels.insert(node, (addr, channel.clone()));
        Some(MpcClient::new(channel))
    }
}
