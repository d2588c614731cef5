//! The state root: one 32-byte value that commits to all app state, identical on every replica at the same
//! log index.
//!
//! It is an elliptic-curve multiset hash (ECMH) over Ristretto: each (app, key, value) entry is hashed to a
//! group element and the root is the compressed sum of all of them. Setting, changing or deleting an entry
//! is O(1) (subtract the old element, add the new one), independent of the order of writes and of how much
//! state exists; finding two different states with the same root is as hard as discrete log in the group.
//! It gives no membership proofs; those, where needed, come from the receipts' Merkle paths.

use std::collections::{HashMap, VecDeque};

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::traits::Identity;
use sha2_10::{Digest, Sha512};

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

/// SHA-512 of an entry's unambiguous encoding: fixed-size app id, length-prefixed key, then the value. Its
/// element is `RistrettoPoint::from_uniform_bytes` of it (what `hash_from_bytes::<Sha512>` computes).
fn entry_digest(app: &AppId, key: &[u8], value: &[u8]) -> [u8; 64] {
    Sha512::new()
        .chain_update(ENTRY_DOMAIN)
        .chain_update(app.0)
        .chain_update((key.len() as u32).to_le_bytes())
        .chain_update(key)
        .chain_update(value)
        .finalize()
        .into()
}

impl StateRoot {
    fn element(app: &AppId, key: &[u8], value: &[u8]) -> RistrettoPoint {
        RistrettoPoint::from_uniform_bytes(&entry_digest(app, key, value))
    }

    pub fn insert(&mut self, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 += Self::element(app, key, value);
    }

    pub fn remove(&mut self, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 -= Self::element(app, key, value);
    }

    /// [`insert`](Self::insert) and [`remove`](Self::remove) through `cache`: same results, fewer
    /// hash-to-group maps (two inverse square roots each) when a key is written again.
    pub fn insert_cached(&mut self, cache: &mut RootCache, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 += cache.element(app, key, value);
    }

    pub fn remove_cached(&mut self, cache: &mut RootCache, app: &AppId, key: &[u8], value: &[u8]) {
        self.0 -= cache.element(app, key, value);
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.compress().to_bytes()
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        CompressedRistretto(bytes).decompress().map(Self)
    }
}

/// Most entry elements a [`RootCache`] keeps (oldest forgotten first).
pub const MAX_CACHED_ELEMENTS: usize = 16_384;

/// Work the state root can skip: the elements of recently written entries (the element added when a value is
/// written is the one subtracted when its key is next written), and the encoding of the last root compressed
/// (a call that writes nothing leaves the root as it was). A miss recomputes the same value.
#[derive(Default)]
pub struct RootCache {
    elements: HashMap<[u8; 32], RistrettoPoint>,
    order: VecDeque<[u8; 32]>,
    compressed: Option<(RistrettoPoint, [u8; 32])>,
}

impl RootCache {
    fn element(&mut self, app: &AppId, key: &[u8], value: &[u8]) -> RistrettoPoint {
        let digest = entry_digest(app, key, value);
        let id: [u8; 32] = digest[..32].try_into().expect("64-byte digest");
        if let Some(element) = self.elements.get(&id) {
            return *element;
        }
        let element = RistrettoPoint::from_uniform_bytes(&digest);
        self.elements.insert(id, element);
        self.order.push_back(id);
        if self.order.len() > MAX_CACHED_ELEMENTS
            && let Some(oldest) = self.order.pop_front()
        {
            self.elements.remove(&oldest);
        }
        element
    }

    /// `root.to_bytes()`, compressing only when the root changed since the last call.
    pub fn encode(&mut self, root: &StateRoot) -> [u8; 32] {
        match self.compressed {
            Some((point, bytes)) if point == root.0 => bytes,
            _ => {
                let bytes = root.to_bytes();
                self.compressed = Some((root.0, bytes));
                bytes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_gives_the_same_roots_as_computing() {
        let app = AppId([3; 32]);
        let element = RistrettoPoint::hash_from_bytes::<Sha512>(
            &[ENTRY_DOMAIN, &app.0, &1u32.to_le_bytes(), b"k", b"value"].concat(),
        );
        assert_eq!(StateRoot::element(&app, b"k", b"value"), element, "the documented encoding");
        let (mut plain, mut cached, mut cache) = (StateRoot::default(), StateRoot::default(), RootCache::default());
        for round in 0..3u8 {
            for key in [b"a".as_slice(), b"b"] {
                if round > 0 {
                    plain.remove(&app, key, &[round - 1]);
                    cached.remove_cached(&mut cache, &app, key, &[round - 1]);
                }
                plain.insert(&app, key, &[round]);
                cached.insert_cached(&mut cache, &app, key, &[round]);
                assert_eq!(cache.encode(&cached), plain.to_bytes());
                assert_eq!(cache.encode(&cached), plain.to_bytes(), "memoized");
            }
        }
        assert_eq!(plain, cached);
    }

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
