//! A Nexus replica.
//!
//! Built so far: the replicated state machine's logic and storage, without the network. Raft (openraft) will
//! order [`SignedRequest`]s into a log; every replica applies the same log with [`StateMachine::apply_batch`]
//! and reaches the same state, state root and receipts. Pure logic over a local database, so it is tested
//! without sockets; the Raft and gRPC layers wrap it.
//!
//! ```text
//! client ──SignedRequest──> (Raft log) ──> StateMachine::apply_batch ──> redb (apps, modules, app state,
//!                                               │                        nonces, receipts, applied index,
//!                                               └─ nexus-wasm-host       state root), one transaction a batch
//! ```

pub mod admin;
mod app;
mod error;
pub mod node;
pub mod raft;
mod receipt;
mod request;
mod state_machine;
mod state_root;
mod store;

pub use app::{AppId, AppRecord};
pub use error::ReplicaError;
/// The certification types receipts and batches are built with (batch messages, Merkle paths).
pub use nexus_mpc;
pub use receipt::{ApplyOutcome, Receipt, Rejection};
pub use request::{ClientKey, ClusterId, MAX_REQUEST_BYTES, Request, SignatureCache, SignedRequest};
pub use state_machine::{StateEntry, StateMachine, Status};
pub use state_root::StateRoot;
