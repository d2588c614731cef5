//! App state as the host sees it: a read-only view supplied by the caller, and the writes a call makes.
//!
//! The host never applies writes: it returns them in [`StateWrites`] and the replicated state machine applies
//! them atomically together with the receipt. During a call, the guest sees its own pending writes on top of
//! the view (read-your-writes), including in ordered iteration.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A failure of the store behind a [`StateView`]. It is a fault of the host, not a result of the call: the
/// caller must not certify anything computed while the store failed.
#[derive(Debug, thiserror::Error)]
#[error("state store failed: {0}")]
pub struct StateError(pub String);

/// Read access to one app's key-value state, ordered by key bytes.
pub trait StateView: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// The smallest key within `from..` (inclusive or exclusive lower bound), if any.
    fn next_key(&self, from: Bound<&[u8]>) -> Result<Option<Vec<u8>>, StateError>;
}

/// In-memory state: used by `nexus run`, tests and benchmarks, and as the reference the replica's on-disk
/// store is compared with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a call's writes; this is what a state machine does after a successful call.
    pub fn apply(&mut self, writes: &StateWrites) {
        for (key, value) in writes.iter() {
            match value {
                Some(value) => self.entries.insert(key.clone(), value.clone()),
                None => self.entries.remove(key),
            };
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
        self.entries.iter()
    }
}

impl FromIterator<(Vec<u8>, Vec<u8>)> for MemoryState {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(iter: I) -> Self {
        Self { entries: iter.into_iter().collect() }
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.get(key).cloned())
    }

    fn next_key(&self, from: Bound<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.range::<[u8], _>((from, Bound::Unbounded)).next().map(|(k, _)| k.clone()))
    }
}

/// The writes of one call, ordered by key: `Some(value)` sets, `None` deletes. Ordered, so that two replicas
/// produce byte-identical write sets and hash them the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateWrites {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl StateWrites {
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Option<Vec<u8>>)> {
        self.writes.iter()
    }

    pub fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.writes.insert(key, value);
    }

    /// Puts `later`'s writes on top of these (later writes win).
    pub fn extend(&mut self, later: &StateWrites) {
        for (key, value) in later.iter() {
            self.writes.insert(key.clone(), value.clone());
        }
    }

    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        self.writes.contains_key(key)
    }

    pub(crate) fn pending(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.writes.get(key)
    }

    /// Smallest written (set or deleted) key within `from..`.
    fn next_written(&self, from: Bound<&[u8]>) -> Option<(&Vec<u8>, &Option<Vec<u8>>)> {
        self.writes.range::<[u8], _>((from, Bound::Unbounded)).next()
    }
}

impl FromIterator<(Vec<u8>, Option<Vec<u8>>)> for StateWrites {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>>(iter: I) -> Self {
        Self { writes: iter.into_iter().collect() }
    }
}

/// A state view with pending writes on top: what a guest sees during a call (the caller's state plus the
/// call's own writes), and what a state machine uses to let later calls of a batch see earlier ones.
pub struct Layered<'a> {
    pub base: &'a dyn StateView,
    pub writes: &'a StateWrites,
}

impl Layered<'_> {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.pending(key) {
            Some(pending) => Ok(pending.clone()),
            None => self.base.get(key),
        }
    }

    /// Smallest live key within `from..`, merging base keys and pending writes and skipping pending deletes.
    pub fn next_key(&self, from: Bound<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        // Walk the base past keys deleted in this call; each step moves strictly forward, and at most
        // `writes.len()` keys can be skipped.
        let mut base_from: Bound<Vec<u8>> = map_bound(from);
        let base_next = loop {
            match self.base.next_key(as_ref_bound(&base_from))? {
                Some(key) if matches!(self.writes.pending(&key), Some(None)) => {
                    base_from = Bound::Excluded(key);
                }
                other => break other,
            }
        };
        // Smallest pending set (not delete) within `from..`.
        let mut write_from: Bound<Vec<u8>> = map_bound(from);
        let written_next = loop {
            match self.writes.next_written(as_ref_bound(&write_from)) {
                Some((key, None)) => write_from = Bound::Excluded(key.clone()),
                Some((key, Some(_))) => break Some(key.clone()),
                None => break None,
            }
        };
        Ok(match (base_next, written_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

fn map_bound(bound: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn as_ref_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(keys: &[&str]) -> MemoryState {
        let mut writes = StateWrites::default();
        for k in keys {
            writes.set(k.as_bytes().to_vec(), Some(b"v".to_vec()));
        }
        let mut s = MemoryState::new();
        s.apply(&writes);
        s
    }

    fn walk(overlay: &Layered<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let mut from: Bound<Vec<u8>> = Bound::Unbounded;
        while let Some(k) = overlay.next_key(as_ref_bound(&from)).unwrap() {
            out.push(String::from_utf8(k.clone()).unwrap());
            from = Bound::Excluded(k);
        }
        out
    }

    #[test]
    fn iteration_merges_pending_sets_and_skips_pending_deletes() {
        let base = state(&["a", "c", "e", "g"]);
        let mut writes = StateWrites::default();
        writes.set(b"b".to_vec(), Some(b"new".to_vec()));
        writes.set(b"c".to_vec(), None);
        writes.set(b"e".to_vec(), None);
        writes.set(b"h".to_vec(), Some(b"new".to_vec()));
        writes.set(b"z".to_vec(), None);
        let overlay = Layered { base: &base, writes: &writes };
        assert_eq!(walk(&overlay), ["a", "b", "g", "h"]);
        assert_eq!(overlay.get(b"c").unwrap(), None);
        assert_eq!(overlay.get(b"b").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(overlay.get(b"g").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn inclusive_bound_returns_the_key_itself() {
        let base = state(&["k"]);
        let writes = StateWrites::default();
        let overlay = Layered { base: &base, writes: &writes };
        assert_eq!(overlay.next_key(Bound::Included(b"k")).unwrap().as_deref(), Some(&b"k"[..]));
        assert_eq!(overlay.next_key(Bound::Excluded(b"k")).unwrap(), None);
    }
}
