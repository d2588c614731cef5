//! A Nexus replica: the replicated state machine that runs apps, its Raft storage, and the gRPC node.
//!
//! Clients sign [`SignedRequest`]s; Raft (openraft, [`raft`]) orders them into a log of
//! [`raft::LogCommand`]s; every replica applies the same log through [`StateMachine`] and reaches the same
//! state, state root, receipts and sealed batch messages. The state machine is pure logic over a local
//! database, tested without sockets; [`raft`] adapts it to openraft's storage traits and [`node`] puts it on
//! the network (client, Raft and admin services).
//!
//! ```text
//! client ──SignedRequest──> node (verify, compile) ──> Raft log ──> StateMachine ──> redb (apps, modules,
//!                                                                       │            app state, nonces,
//!                                                                       │            receipts, batches, applied
//!                                                                       └─ nexus-wasm-host   index, state root)
//! ```

pub mod admin;
mod app;
mod error;
pub mod faults;
pub mod group_key;
pub mod node;
pub mod prover;
pub mod raft;
mod receipt;
mod request;
mod state_machine;
mod state_root;
mod store;
pub mod zk;

pub use app::{AppId, AppRecord};
pub use error::ReplicaError;
/// The certification types receipts and batches are built with (batch messages, Merkle paths).
pub use nexus_mpc;
pub use receipt::{ApplyOutcome, Receipt, Rejection};
pub use request::{ClientKey, ClusterId, MAX_REQUEST_BYTES, Request, SignatureCache, SignedRequest};
pub use state_machine::{StateEntry, StateMachine, Status};
pub use state_root::StateRoot;
pub use zk::{ProgramRecord, ZkClaim, ZkJob, ZkResult, ZkState};
