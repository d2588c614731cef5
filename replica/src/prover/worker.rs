//! A prover worker: claims tasks from the leader of a network, proves them on its own thread pool, renews its
//! lease while it proves, and submits the result. It runs as `nexus prover run --replica ADDR` on any machine,
//! or inside a replica (its `prover_threads` setting). It holds no state the network needs: killed, it only
//! loses the task in hand, which the leader hands to another worker once the lease runs out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_nvm_circuit::proof::{Folding, NvmParams};
use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::prover_client::ProverClient;
use nexus_proto::v1::{ClaimRequest, JobRequest, RenewRequest, StatusRequest, SubmitTaskRequest};
use tonic::transport::Channel;

use super::job::{JobError, PreparedProgram, prove_task};
use super::protocol::{MAX_TASK_BYTES, Task};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Replicas to find the leader through (any member works; more survive more failures).
    pub replicas: Vec<String>,
    /// Proving threads (the size of the worker's rayon pool).
    pub threads: usize,
    /// A name for the leader's status and logs.
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("building the thread pool: {0}")]
    Pool(String),
}

/// How long a worker waits before asking again when no replica answers.
const RECONNECT_DELAY: Duration = Duration::from_millis(300);
/// Jobs whose prepared runs a worker keeps.
const MAX_CACHED_JOBS: usize = 4;
/// Deadline of one small RPC (claim, renew, status).
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of a submission (the leader checks the result before it answers: seconds).
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(120);

async fn connect(addr: &str) -> Option<Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).ok()?;
    endpoint.connect_timeout(Duration::from_secs(2)).timeout(SUBMIT_TIMEOUT).connect().await.ok()
}

/// The leader's address, asked of each known replica in turn; learns the members on the way.
async fn find_leader(known: &mut Vec<String>) -> Option<String> {
    for addr in known.clone() {
        let Some(channel) = connect(&addr).await else { continue };
        let status = tokio::time::timeout(RPC_TIMEOUT, ClientClient::new(channel).status(StatusRequest {})).await;
        let Ok(Ok(status)) = status else { continue };
        let status = status.into_inner();
        for member in &status.members {
            if !known.contains(&member.address) {
                known.push(member.address.clone());
            }
        }
        let leader = status.leader_id.and_then(|id| status.members.iter().find(|m| m.node_id == id));
        if let Some(leader) = leader {
            return Some(leader.address.clone());
        }
    }
    None
}

fn prover(channel: Channel) -> ProverClient<Channel> {
    ProverClient::new(channel).max_decoding_message_size(MAX_TASK_BYTES).max_encoding_message_size(MAX_TASK_BYTES)
}

/// Runs until the process ends.
pub async fn run(config: WorkerConfig) -> Result<(), WorkerError> {
    let pool = Arc::new(super::proving_pool(config.threads, "prover").map_err(|e| WorkerError::Pool(e.to_string()))?);
    let mut known = config.replicas.clone();
    let mut params: HashMap<u64, Arc<NvmParams>> = HashMap::new();
    let mut jobs: HashMap<u64, Arc<PreparedProgram>> = HashMap::new();
    loop {
        let Some(leader) = find_leader(&mut known).await else {
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        };
        let Some(channel) = connect(&leader).await else {
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        };
        let mut client = prover(channel);
        // Work with this leader until it stops answering as one.
        loop {
            let claim =
                tokio::time::timeout(RPC_TIMEOUT, client.claim(ClaimRequest { worker: config.name.clone() })).await;
            let claim = match claim {
                Ok(Ok(reply)) => reply.into_inner(),
                _ => break,
            };
            if claim.lease == 0 {
                tokio::time::sleep(Duration::from_millis(claim.retry_after_ms.clamp(50, 5_000))).await;
                continue;
            }
            let started = Instant::now();
            match work(&mut client, &pool, (&mut params, &mut jobs), &claim).await {
                Ok(what) => eprintln!(
                    "worker {}: {what} of job {} proven and accepted in {:.1} s",
                    config.name,
                    claim.call_id,
                    started.elapsed().as_secs_f64()
                ),
                Err(why) => eprintln!("worker {}: job {}: {why}", config.name, claim.call_id),
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

type Caches<'a> = (&'a mut HashMap<u64, Arc<NvmParams>>, &'a mut HashMap<u64, Arc<PreparedProgram>>);

/// One claimed task: fetch the job if new, prove, submit; the lease is renewed from the claim until the
/// result is submitted (fetching the job and setting up parameters can take longer than a lease).
async fn work(
    client: &mut ProverClient<Channel>,
    pool: &Arc<rayon::ThreadPool>,
    caches: Caches<'_>,
    claim: &nexus_proto::v1::ClaimResponse,
) -> Result<String, String> {
    let task = Task::decode(&claim.task)?;
    let what = task.describe();
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renewer = {
        let (mut client, lost, lease) = (client.clone(), lost.clone(), claim.lease);
        let every = Duration::from_millis((claim.lease_ms / 3).max(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Ok(Ok(reply)) = tokio::time::timeout(RPC_TIMEOUT, client.renew(RenewRequest { lease })).await
                    && !reply.into_inner().held
                {
                    lost.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            }
        })
    };
    let result = prove_claimed(client, pool, caches, claim.call_id, task).await;
    renewer.abort();
    if lost.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(format!("{what}: the lease ended before it was proven; dropped"));
    }
    let mut bytes = result.map_err(|e| format!("{what}: {e}"))?;
    if crate::faults::active("corrupt-node") {
        bytes = corrupt(bytes);
    }
    client
        .submit_task(SubmitTaskRequest { lease: claim.lease, result: bytes })
        .await
        .map_err(|s| format!("{what}: {}", s.message()))?;
    Ok(what)
}

async fn prove_claimed(
    client: &mut ProverClient<Channel>,
    pool: &Arc<rayon::ThreadPool>,
    (params, jobs): Caches<'_>,
    call_id: u64,
    task: Task,
) -> Result<Vec<u8>, String> {
    let job = match jobs.get(&call_id) {
        Some(job) => job.clone(),
        None => {
            let reply = client.job(JobRequest { call_id }).await.map_err(|s| s.message().to_string())?;
            let reply = reply.into_inner();
            let pool = pool.clone();
            let job = blocking(move || {
                pool.install(|| PreparedProgram::new(&reply.program, &reply.input, reply.steps_per_fold))
            })
            .await?
            .map_err(|e| e.to_string())?;
            if jobs.len() >= MAX_CACHED_JOBS {
                jobs.clear();
            }
            let job = Arc::new(job);
            jobs.insert(call_id, job.clone());
            job
        }
    };
    let params = match params.get(&job.k) {
        Some(p) => p.clone(),
        None => {
            let (k, pool) = (job.k, pool.clone());
            let p = blocking(move || pool.install(|| NvmParams::new(k, Folding::Tree))).await?;
            let p = Arc::new(p.map_err(|e| e.to_string())?);
            params.insert(k, p.clone());
            p
        }
    };
    let pool = pool.clone();
    blocking(move || pool.install(|| prove_task(&params, &job, &task))).await?.map_err(|e: JobError| e.to_string())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())
}

/// The deliberate fault of a lying worker: a result that decodes but proves nothing (one witness value
/// changed), so only the leader's check can catch it.
fn corrupt(bytes: Vec<u8>) -> Vec<u8> {
    use ark_ff::One;
    match nexus_nova::pcd::NodeProof::from_bytes(&bytes) {
        Ok(mut node) => {
            if let Some(w) = node.fresh_w.w.first_mut() {
                *w += ark_bn254::Fr::one();
            }
            node.to_bytes().unwrap_or(bytes)
        }
        Err(_) => {
            let mut bytes = bytes;
            if let Some(last) = bytes.last_mut() {
                *last ^= 1;
            }
            bytes
        }
    }
}
