//! Membership changes requested by an operator: who may ask, and how a request is authenticated.
//!
//! Adding or removing a replica changes who holds the cluster's data and votes, so only keys listed as
//! admins in the replica's configuration may ask. The operator signs the command with the same kind of
//! Ed25519 key clients use, under its own domain tag (an admin signature is never a valid request signature
//! and the other way round), over the cluster id and a millisecond timestamp.
//!
//! Membership changes do not go through the app state machine's nonces: they are Raft's own log entries.
//! Replays are bounded instead by time: a command is accepted only if its timestamp is within
//! [`ADMIN_CLOCK_SKEW_MS`] of the replica's clock and above the last timestamp this replica accepted from
//! that signer. Both commands are idempotent (adding a member that is there, removing one that is gone), so
//! a replay on another replica inside the window changes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::request::{ClientKey, ClusterId, domain_message};

/// How far an admin command's timestamp may be from the replica's clock.
pub const ADMIN_CLOCK_SKEW_MS: u64 = 60_000;

/// Longest replica address accepted in a command.
pub const MAX_ADDRESS_BYTES: usize = 256;

const ADMIN_DOMAIN: &[u8] = b"nexus/admin/v1\0";

/// A membership change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminCommand {
    /// Add a replica: it first catches up as a learner, then becomes a voter.
    AddReplica { node_id: u64, address: String },
    /// Remove a replica from the membership (it stops receiving the log).
    RemoveReplica { node_id: u64 },
}

/// Who signed an admin command, when, and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminAuth {
    pub timestamp_ms: u64,
    pub signer: [u8; 32],
    pub signature: [u8; 64],
}

/// Why an admin command was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminRefusal {
    #[error("this replica has no admin keys configured; membership changes are disabled")]
    NoAdmins,
    #[error("key {0} is not an admin of this replica")]
    NotAdmin(String),
    #[error("signature does not verify for this cluster and command")]
    BadSignature,
    #[error(
        "timestamp {timestamp_ms} ms is more than {ADMIN_CLOCK_SKEW_MS} ms from this replica's clock ({now_ms} ms)"
    )]
    Stale { timestamp_ms: u64, now_ms: u64 },
    #[error("timestamp {timestamp_ms} ms is not after this signer's last accepted command ({last_ms} ms): a replay")]
    Replayed { timestamp_ms: u64, last_ms: u64 },
    #[error("replica address is {len} bytes, more than {MAX_ADDRESS_BYTES}")]
    AddressTooLong { len: usize },
}

fn admin_message(cluster: &ClusterId, timestamp_ms: u64, command: &AdminCommand) -> Vec<u8> {
    domain_message(ADMIN_DOMAIN, cluster, timestamp_ms, command)
}

impl ClientKey {
    /// Signs a membership change for `cluster`.
    pub fn sign_admin(&self, cluster: &ClusterId, timestamp_ms: u64, command: &AdminCommand) -> AdminAuth {
        let signature = self.signing_key().sign(&admin_message(cluster, timestamp_ms, command)).to_bytes();
        AdminAuth { timestamp_ms, signer: self.public(), signature }
    }
}

/// The admin keys of one replica and the last timestamp accepted from each.
pub struct AdminGate {
    cluster: ClusterId,
    admins: Vec<[u8; 32]>,
    last_accepted_ms: Mutex<HashMap<[u8; 32], u64>>,
}

impl AdminGate {
    pub fn new(cluster: ClusterId, admins: Vec<[u8; 32]>) -> Self {
        Self { cluster, admins, last_accepted_ms: Mutex::new(HashMap::new()) }
    }

    /// Accepts `command` if an admin signed it recently and it is not a replay; records its timestamp.
    pub fn check(&self, command: &AdminCommand, auth: &AdminAuth, now_ms: u64) -> Result<(), AdminRefusal> {
        if let AdminCommand::AddReplica { address, .. } = command
            && address.len() > MAX_ADDRESS_BYTES
        {
            return Err(AdminRefusal::AddressTooLong { len: address.len() });
        }
        if self.admins.is_empty() {
            return Err(AdminRefusal::NoAdmins);
        }
        if !self.admins.contains(&auth.signer) {
            return Err(AdminRefusal::NotAdmin(hex::encode(auth.signer)));
        }
        let key = VerifyingKey::from_bytes(&auth.signer).map_err(|_| AdminRefusal::BadSignature)?;
        key.verify_strict(
            &admin_message(&self.cluster, auth.timestamp_ms, command),
            &Signature::from_bytes(&auth.signature),
        )
        .map_err(|_| AdminRefusal::BadSignature)?;
        if auth.timestamp_ms.abs_diff(now_ms) > ADMIN_CLOCK_SKEW_MS {
            return Err(AdminRefusal::Stale { timestamp_ms: auth.timestamp_ms, now_ms });
        }
        let mut last = self.last_accepted_ms.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry(auth.signer).or_insert(0);
        if auth.timestamp_ms <= *entry {
            return Err(AdminRefusal::Replayed { timestamp_ms: auth.timestamp_ms, last_ms: *entry });
        }
        *entry = auth.timestamp_ms;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: ClusterId = [7; 32];
    const NOW: u64 = 1_800_000_000_000;

    fn add() -> AdminCommand {
        AdminCommand::AddReplica { node_id: 4, address: "127.0.0.1:7104".into() }
    }

    #[test]
    fn an_admin_signed_command_is_accepted_once() {
        let admin = ClientKey::from_secret([1; 32]);
        let gate = AdminGate::new(CLUSTER, vec![admin.public()]);
        let auth = admin.sign_admin(&CLUSTER, NOW, &add());
        assert_eq!(gate.check(&add(), &auth, NOW), Ok(()));
        assert!(matches!(gate.check(&add(), &auth, NOW), Err(AdminRefusal::Replayed { .. })));
        let later = admin.sign_admin(&CLUSTER, NOW + 1, &add());
        assert_eq!(gate.check(&add(), &later, NOW), Ok(()));
    }

    #[test]
    fn refusals_name_their_reason() {
        let admin = ClientKey::from_secret([1; 32]);
        let stranger = ClientKey::from_secret([2; 32]);
        let gate = AdminGate::new(CLUSTER, vec![admin.public()]);
        let remove = AdminCommand::RemoveReplica { node_id: 4 };

        let by_stranger = stranger.sign_admin(&CLUSTER, NOW, &add());
        assert!(matches!(gate.check(&add(), &by_stranger, NOW), Err(AdminRefusal::NotAdmin(_))));
        // A signature over another command, another cluster, or another time does not carry over.
        let for_add = admin.sign_admin(&CLUSTER, NOW, &add());
        assert_eq!(gate.check(&remove, &for_add, NOW), Err(AdminRefusal::BadSignature));
        let other_cluster = admin.sign_admin(&[8; 32], NOW, &add());
        assert_eq!(gate.check(&add(), &other_cluster, NOW), Err(AdminRefusal::BadSignature));
        let mut moved = admin.sign_admin(&CLUSTER, NOW, &add());
        moved.timestamp_ms += 1;
        assert_eq!(gate.check(&add(), &moved, NOW), Err(AdminRefusal::BadSignature));
        let old = admin.sign_admin(&CLUSTER, NOW - ADMIN_CLOCK_SKEW_MS - 1, &add());
        assert!(matches!(gate.check(&add(), &old, NOW), Err(AdminRefusal::Stale { .. })));
        let long = AdminCommand::AddReplica { node_id: 4, address: "x".repeat(MAX_ADDRESS_BYTES + 1) };
        let auth = admin.sign_admin(&CLUSTER, NOW, &long);
        assert!(matches!(gate.check(&long, &auth, NOW), Err(AdminRefusal::AddressTooLong { .. })));
        // Nothing was accepted above, so a fresh valid command still is.
        assert_eq!(gate.check(&add(), &for_add, NOW), Ok(()));

        let closed = AdminGate::new(CLUSTER, vec![]);
        assert_eq!(closed.check(&add(), &for_add, NOW), Err(AdminRefusal::NoAdmins));
    }
}
