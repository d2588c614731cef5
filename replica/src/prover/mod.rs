//! Proving calls across many workers: the job tree and its leases ([`plan`], pure logic), the proving work
//! shared by the leader and the workers ([`job`]), the task encoding ([`protocol`]) and the worker loop
//! ([`worker`]). The leader's service is `node::prover_service`.

pub mod job;
pub mod plan;
pub mod protocol;
pub mod worker;
