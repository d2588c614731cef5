//! The NVM run's input and output envelopes, shared by the guest (which decodes the call and encodes the
//! result) and the host tools (which do the opposite), so both sides always agree on the bytes.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::CALLER_ID_BYTES;

/// Exit code of a run that aborted (an `Err` from the entry point, a panic, a bad envelope).
pub const ABORT_EXIT_CODE: u32 = 101;

/// What fd 0 carries: one call, with the state it runs against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmCall {
    pub function: String,
    pub caller: Option<[u8; CALLER_ID_BYTES]>,
    // Byte strings go through serde_bytes: the same postcard bytes as a `Vec<u8>`, but decoded with one copy
    // instead of one serde call per byte, which on the NVM is the difference of ~10 cycles per input byte.
    #[serde(with = "serde_bytes")]
    pub input: Vec<u8>,
    /// The app state visible to the call, in ascending key order.
    pub state: Vec<(ByteString, ByteString)>,
}

/// What fd 1 carries after a call that returned: its output and state writes (ascending key order;
/// `None` deletes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmReturn {
    #[serde(with = "serde_bytes")]
    pub output: Vec<u8>,
    pub writes: Vec<(ByteString, Option<ByteString>)>,
}

/// A key or value: postcard-encoded like `Vec<u8>`, decoded in one copy.
pub type ByteString = serde_bytes::ByteBuf;

impl NvmCall {
    /// A call against `state` (pairs in ascending key order).
    pub fn new(
        function: &str,
        caller: Option<[u8; CALLER_ID_BYTES]>,
        input: Vec<u8>,
        state: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Self {
        let state = state.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self { function: function.into(), caller, input, state }
    }
}

impl NvmReturn {
    /// The writes as plain byte vectors, in ascending key order (`None` deletes).
    pub fn plain_writes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.writes.iter().map(|(k, v)| (k.to_vec(), v.as_ref().map(|v| v.to_vec()))).collect()
    }
}
