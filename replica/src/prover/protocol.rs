//! What the leader sends a worker to prove, as bytes on the wire (`Prover.Claim`'s `task`).

use ark_bn254::Fr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use serde::{Deserialize, Serialize};

/// Largest task or result a worker or the leader accepts: an inner node carries two children of ~15 MiB at
/// k = 64 (a node proof grows with k: about 200 bytes per step plus 3 MiB).
pub const MAX_TASK_BYTES: usize = 256 << 20;

/// One piece of a job's proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// The leaf of invocation `index`, from state `z` (ark-serialized `Vec<Fr>`).
    Leaf { index: u64, z: Vec<u8> },
    /// The node over two adjacent children (nexus-nova node proofs).
    Node { left: Vec<u8>, right: Vec<u8> },
    /// A co-processor's whole chain, folded sequentially (its tag).
    Chain { kind: u8 },
}

impl Task {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("tasks encode")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_TASK_BYTES {
            return Err(format!("task is {} bytes, more than {MAX_TASK_BYTES}", bytes.len()));
        }
        postcard::from_bytes(bytes).map_err(|e| format!("task does not decode: {e}"))
    }

    /// What the task is, for logs.
    pub fn describe(&self) -> String {
        match self {
            Task::Leaf { index, .. } => format!("leaf {index}"),
            Task::Node { left, right } => format!("node over {} + {} bytes", left.len(), right.len()),
            Task::Chain { kind } => format!("co-processor chain {kind}"),
        }
    }
}

/// A state vector as bytes.
pub fn encode_state(z: &[Fr]) -> Vec<u8> {
    let mut out = Vec::new();
    z.to_vec().serialize_compressed(&mut out).expect("field elements serialize");
    out
}

/// A state vector from bytes (validated: every element canonical).
pub fn decode_state(bytes: &[u8]) -> Result<Vec<Fr>, String> {
    Vec::<Fr>::deserialize_compressed(bytes).map_err(|e| format!("state does not decode: {e}"))
}
