//! The one encoding of app inputs, outputs and state values: postcard.
//!
//! postcard is compact (varints, no field names), deterministic for a given value, and serde-based, so an
//! app's types are plain `#[derive(Serialize, Deserialize)]` structs on both targets and on the client.

use alloc::vec::Vec;

pub use postcard::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serializing into a growable Vec cannot fail for serde types that postcard supports; a type it does not
    // support (e.g. one that needs a known length it can't give) is a bug in the app, reported as an abort.
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes,
        Err(e) => crate::abort(&alloc::format!("output does not encode: {e}")),
    }
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes)
}
