//! App state: a key-value map owned by the host, ordered by key bytes.
//!
//! Writes made during a call are visible to the rest of the call (including iteration) and applied by the
//! network only if the call returns `Ok`. Keys are at most 256 bytes, values at most 64 KiB (host limits).

use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::sys;

pub fn get(key: &[u8]) -> Option<Vec<u8>> {
    sys::state_get(key)
}

pub fn set(key: &[u8], value: &[u8]) {
    sys::state_set(key, value)
}

pub fn delete(key: &[u8]) {
    sys::state_delete(key)
}

/// The value under `key` decoded as `T`; `None` if absent. A stored value that does not decode aborts the
/// call: it means the app's own data is corrupt, and nothing sensible can follow.
pub fn get_as<T: DeserializeOwned>(key: &[u8]) -> Option<T> {
    let bytes = get(key)?;
    match crate::codec::decode(&bytes) {
        Ok(value) => Some(value),
        Err(e) => crate::abort(&alloc::format!("state value does not decode: {e}")),
    }
}

pub fn set_as<T: Serialize + ?Sized>(key: &[u8], value: &T) {
    set(key, &crate::codec::encode(value))
}

/// Keys in ascending order starting at `start` (inclusive), e.g. `keys_from(b"")` for all keys.
pub fn keys_from(start: &[u8]) -> Keys {
    Keys { next_from: Some((start.to_vec(), true)) }
}

/// Keys that start with `prefix`, in ascending order.
pub fn keys_with_prefix(prefix: &[u8]) -> impl Iterator<Item = Vec<u8>> + use<> {
    let prefix = prefix.to_vec();
    keys_from(&prefix.clone()).take_while(move |k| k.starts_with(&prefix))
}

/// Iterator over keys; each step asks the host for the next key, so writes made while iterating are seen.
pub struct Keys {
    next_from: Option<(Vec<u8>, bool)>,
}

impl Iterator for Keys {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let (from, inclusive) = self.next_from.take()?;
        let key = sys::state_next(&from, inclusive)?;
        self.next_from = Some((key.clone(), false));
        Some(key)
    }
}
