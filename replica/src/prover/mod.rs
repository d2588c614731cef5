//! Proving calls across many workers: the job tree and its leases ([`plan`], pure logic), the proving work
//! shared by the leader and the workers ([`job`]), the task encoding ([`protocol`]) and the worker loop
//! ([`worker`]). The leader's service is `node::prover_service`.

pub mod job;
pub mod plan;
pub mod protocol;
pub mod worker;

/// Nice value of proving threads: proving and checking are throughput work and must never delay Raft's
/// heartbeats on the same machine (a leader starved for the election timeout loses its leadership, and with it
/// the job's progress).
pub const PROVING_NICE: i32 = 10;

/// A rayon pool of `threads` threads at [`PROVING_NICE`]: all CPU-heavy proving work runs on one.
pub fn proving_pool(threads: usize, name: &'static str) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(|_| {
            // On Linux, PRIO_PROCESS with 0 names the calling thread. Failing leaves the default priority,
            // which is still correct, only less polite.
            // SAFETY: setpriority has no memory-safety preconditions.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, PROVING_NICE);
            }
        })
        .build()
}
