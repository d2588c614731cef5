//! The state root: one 32-byte value that commits to all app state, identical on every replica at the same
//! log index.
//!
//! It is an elliptic-curve multiset hash (ECMH) over Ristretto: each (app, key, value) entry is hashed to a
//! group element and the root is the compressed sum of all of them. Setting, changing or deleting an entry
//! is O(1) (subtract the old element, add the new one), independent of the order of writes and of how much
//! state exists; finding two different states with the same root is as hard as discrete log in the group.
//! It gives no membership proofs; those, where needed, come from the receipts' Merkle paths.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::traits::Identity;
use sha2_10::Sha512;

use crate::app::AppId;

const ENTRY_DOMAIN: &[u8] = b"nexus/state-entry/v1\0";

/// The running sum of entry elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRoot(RistrettoPoint);

impl Default for StateRoot {
    fn default() -> Self {
        Self(RistrettoPoint::identity())
    }
}

impl StateRoot {
    fn element(app: &AppId, key: &[u8], value: &[u8]) -> RistrettoPoint {
        // Unambiguous encoding: fixed-size app id, length-prefixed key, then the value.
        let mut bytes = Vec::with_capacity(ENTRY_DOMAIN.len() + 36 + key.len() + value.len());
        bytes.extend_from_slice(ENTRY_DOMAIN);
        bytes.extend_from_slice(&app.0);
        bytes.extend_from_slice(&(key.len() as u32).to_le_bytes());
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
        RistrettoPoint::hash_from_bytes::<Sha512>(&bytes)
    }

    pub fn insert(&mut self, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 += Self::element(app, key, value);
    }

    pub fn remove(&mut self, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 -= Self::element(app, key, value);
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.compress().to_bytes()
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        CompressedRistretto(bytes).decompress().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_depends_on_content_not_on_order_of_writes() {
        let (a, b) = (AppId([1; 32]), AppId([2; 32]));
        let mut one = StateRoot::default();
        one.insert(&a, b"k", b"v");
        one.insert(&b, b"k", b"w");
        let mut two = StateRoot::default();
        two.insert(&b, b"k", b"w");
        two.insert(&a, b"k", b"x");
        assert_ne!(one, two);
        two.remove(&a, b"k", b"x");
        two.insert(&a, b"k", b"v");
        assert_eq!(one, two);
        // Moving bytes between key and value, or between apps, changes the root.
        let mut moved = StateRoot::default();
        moved.insert(&a, b"kv", b"");
        assert_ne!(moved.to_bytes(), {
            let mut r = StateRoot::default();
            r.insert(&a, b"k", b"v");
            r.to_bytes()
        });
        one.remove(&a, b"k", b"v");
        one.remove(&b, b"k", b"w");
        assert_eq!(one, StateRoot::default());
        assert_eq!(StateRoot::from_bytes(two.to_bytes()), Some(two));
    }
}
