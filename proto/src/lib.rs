//! The gRPC API of a Nexus replica, generated from `proto/nexus.proto`.
//!
//! Payloads that are signed or certified are opaque bytes in their canonical (postcard) encoding; see the
//! comment at the top of the proto file.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("nexus.v1");
}

/// Largest gRPC message a replica accepts or sends: a deploy carries a module of up to 4 MiB, a snapshot
/// chunk is smaller. Far above what one request needs, far below what would hurt a replica.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::v1::{Member, StatusResponse};

    #[test]
    fn messages_round_trip_and_truncation_is_an_error() {
        let status = StatusResponse {
            node_id: 3,
            leader_id: Some(1),
            term: 7,
            applied_index: 42,
            state_root: vec![9; 32],
            cluster_id: vec![1; 32],
            members: vec![Member { node_id: 1, address: "127.0.0.1:7001".into(), voter: true }],
            last_log_index: 43,
            snapshot_index: 40,
            purged_index: 30,
            group_key: vec![5; 32],
            key_epoch: 1,
            threshold: 3,
            certification: "ready".into(),
            certified_index: 41,
            evm_group_key: vec![2; 33],
            evm_chain_id: 31_337,
            evm_certified_index: 41,
        };
        let bytes = status.encode_to_vec();
        assert_eq!(StatusResponse::decode(bytes.as_slice()).unwrap(), status);
        assert!(StatusResponse::decode(&bytes[..bytes.len() - 1]).is_err(), "a field cut short");
    }
}
