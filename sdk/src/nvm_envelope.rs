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
    pub input: Vec<u8>,
    /// The app state visible to the call, in ascending key order.
    pub state: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What fd 1 carries after a call that returned: its output and state writes (ascending key order;
/// `None` deletes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmReturn {
    pub output: Vec<u8>,
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}
