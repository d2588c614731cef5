//! Proving jobs on the network: the leader's coordinator and the `Prover` gRPC service workers talk to.
//!
//! ```text
//!  zk call applied (every replica): job Proving in the state ──> leader: CheckedJob (run, states) + Plan
//!  worker ──Claim──> leader: lease a task (chain, ready node, leaf) ──> worker proves, Renews meanwhile
//!  worker ──SubmitTask──> leader: check (range, states, verify) ──> node file on disk, Plan::accept
//!  root + chains done ──> assemble, verify against the image root ──> proof file ──> log ZkResult(Proven)
//! ```
//!
//! The coordinator's state is soft: leases and accepted nodes live on the leader (nodes as files under
//! `data_dir/zk/`), and only the job and its result are replicated. A new leader takes every job still
//! proving up again from the replicated state; the nodes the old leader had accepted are proven again. That
//! costs at most one job's work per leader change and keeps hundreds of megabytes of intermediate proofs out
//! of the log. A result is accepted only after the same check the verifier's soundness rests on, so no
//! worker, however faulty, can make the job end with a proof that does not verify.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nexus_nova::pcd::NodeProof;
use nexus_nvm_circuit::proof::{CallProof, Folding, NvmParams};
use nexus_proto::v1::prover_server::Prover;
use nexus_proto::v1::{
    ClaimRequest, ClaimResponse, JobRequest, JobResponse, JobStatusResponse, RenewRequest, RenewResponse,
    SubmitTaskRequest, SubmitTaskResponse,
};
use openraft::async_runtime::WatchReceiver;
use tonic::{Request, Response, Status};

use super::{SUBMIT_TIMEOUT, lock_error};
use crate::prover::job::{CheckedJob, JobError};
use crate::prover::plan::{LeaseId, Plan, Target};
use crate::prover::protocol::{Task, encode_state};
use crate::raft::{LogCommand, ReplicaRaft, SharedStateMachine};
use crate::zk::{ZkJob, ZkResult, ZkState, proof_digest};

/// How the leader coordinates proving jobs.
#[derive(Clone, Debug)]
pub struct ProverConfig {
    /// NVM steps per fold (a leaf proves this many).
    pub steps_per_fold: u64,
    /// How long a claimed task stays leased without a renewal.
    pub lease: Duration,
    /// Threads of a worker inside this replica (0: none).
    pub threads: usize,
}

impl Default for ProverConfig {
    fn default() -> Self {
        Self { steps_per_fold: 64, lease: Duration::from_secs(10), threads: 0 }
    }
}

/// Most jobs the leader works on at once (the oldest first); the rest wait in the state.
pub const MAX_ACTIVE_JOBS: usize = 8;
/// Ended jobs whose timings the leader keeps for `JobStatus`.
pub const MAX_FINISHED_JOBS: usize = 64;
/// How often the coordinator looks for new and finished jobs and expired leases.
const COORDINATOR_TICK: Duration = Duration::from_millis(200);
/// How long a worker with nothing to do waits before it asks again.
const IDLE_RETRY: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Preparing,
    Proving,
    Assembling,
    /// Assembled and its result proposed; dropped once the state records the result.
    Ended,
}

struct ActiveJob {
    phase: Phase,
    checked: Option<Arc<CheckedJob>>,
    plan: Option<Plan>,
    chains: BTreeMap<u8, CallProof>,
    started: Instant,
    ended: Option<Instant>,
    setup: Duration,
    checking: Duration,
    assembling: Duration,
    steps: u64,
}

/// Proof files by call id, each checked against the digest the state records before it is served.
#[derive(Clone, Debug)]
pub struct ProofStore {
    dir: PathBuf,
}

impl ProofStore {
    pub fn new(data_dir: &Path) -> Self {
        Self { dir: data_dir.join("proofs") }
    }

    fn path(&self, call_id: u64) -> PathBuf {
        self.dir.join(format!("{call_id}.proof"))
    }

    /// The proof of `call_id` if this replica holds one with that digest.
    pub fn read(&self, call_id: u64, digest: &[u8; 32]) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path(call_id)).ok()?;
        (proof_digest(&bytes) == *digest).then_some(bytes)
    }

    /// Stores a proof (written aside and renamed, so a reader never sees half a file).
    pub fn write(&self, call_id: u64, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!("{call_id}.proof.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, self.path(call_id))
    }
}

/// The leader's side of proving; every replica has one, only the leader's has jobs.
pub struct Coordinator {
    node_id: u64,
    raft: ReplicaRaft,
    state: SharedStateMachine,
    config: ProverConfig,
    nodes_dir: PathBuf,
    proofs: ProofStore,
    params: OnceLock<Arc<NvmParams>>,
    /// Whether a parameter setup is under way (a follower sets them up once it sees a job, so that a leader
    /// change does not also cost the setup).
    warming: std::sync::atomic::AtomicBool,
    /// Where preparing, checking and assembling run: threads below Raft's priority.
    pool: rayon::ThreadPool,
    jobs: Mutex<BTreeMap<u64, ActiveJob>>,
    /// The leader's account of the last jobs that ended here (at most [`MAX_FINISHED_JOBS`]).
    finished: Mutex<BTreeMap<u64, JobStatusResponse>>,
    /// Lease id → (call id, the plan's lease id).
    leases: Mutex<BTreeMap<u64, (u64, LeaseId)>>,
    next_lease: Mutex<u64>,
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

impl Coordinator {
    pub fn new(
        node_id: u64,
        raft: ReplicaRaft,
        state: SharedStateMachine,
        config: ProverConfig,
        data_dir: &Path,
    ) -> Result<Arc<Self>, rayon::ThreadPoolBuildError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = crate::prover::proving_pool(threads, "coordinator")?;
        Ok(Arc::new(Self {
            node_id,
            raft,
            state,
            config,
            nodes_dir: data_dir.join("zk"),
            proofs: ProofStore::new(data_dir),
            params: OnceLock::new(),
            warming: std::sync::atomic::AtomicBool::new(false),
            pool,
            jobs: Mutex::new(BTreeMap::new()),
            finished: Mutex::new(BTreeMap::new()),
            leases: Mutex::new(BTreeMap::new()),
            next_lease: Mutex::new(1),
        }))
    }

    /// Runs CPU-heavy work on the proving pool, off the async threads.
    async fn heavy<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.pool.install(|| f(&this))).await
    }

    pub fn proofs(&self) -> &ProofStore {
        &self.proofs
    }

    fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.node_id)
    }

    fn params(&self) -> Result<Arc<NvmParams>, JobError> {
        if let Some(p) = self.params.get() {
            return Ok(p.clone());
        }
        let p =
            NvmParams::new(self.config.steps_per_fold, Folding::Tree).map_err(|e| JobError::Prepare(e.to_string()))?;
        Ok(self.params.get_or_init(|| Arc::new(p)).clone())
    }

    fn node_path(&self, call_id: u64, (a, b): (u64, u64)) -> PathBuf {
        self.nodes_dir.join(call_id.to_string()).join(format!("{a}-{b}.node"))
    }

    /// Runs the coordinator until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(COORDINATOR_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let proving = match self.state.read().map(|sm| sm.proving_jobs(MAX_ACTIVE_JOBS)) {
                Ok(Ok(jobs)) => jobs,
                _ => continue,
            };
            if !proving.is_empty() && self.params.get().is_none() && !self.warming.swap(true, Ordering::Relaxed) {
                let this = self.clone();
                tokio::spawn(async move { this.heavy(|c| c.params().map(drop)).await });
            }
            if !self.is_leader() {
                self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clear();
                self.leases.lock().unwrap_or_else(|p| p.into_inner()).clear();
                continue;
            }
            self.take_up(&proving);
            self.finish_ready();
        }
    }

    /// Starts preparing the jobs the state lists that this leader does not have yet; forgets those that ended.
    fn take_up(self: &Arc<Self>, proving: &[ZkJob]) {
        let now = Instant::now();
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let ended: Vec<u64> = jobs.keys().filter(|id| !proving.iter().any(|j| j.call_id == **id)).copied().collect();
        for id in ended {
            if let Some(job) = jobs.remove(&id) {
                let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
                finished.insert(id, job.status("ended".into()));
                while finished.len() > MAX_FINISHED_JOBS {
                    finished.pop_first();
                }
            }
        }
        for job in proving {
            if jobs.contains_key(&job.call_id) {
                continue;
            }
            jobs.insert(
                job.call_id,
                ActiveJob {
                    phase: Phase::Preparing,
                    checked: None,
                    plan: None,
                    chains: BTreeMap::new(),
                    started: now,
                    ended: None,
                    setup: Duration::ZERO,
                    checking: Duration::ZERO,
                    assembling: Duration::ZERO,
                    steps: job.steps,
                },
            );
            let this = self.clone();
            let job = job.clone();
            tokio::spawn(async move { this.prepare(job).await });
        }
        for (call_id, job) in jobs.iter_mut() {
            if let Some(plan) = &mut job.plan {
                plan.expire(now);
                for (_, target, worker) in plan.take_expired() {
                    eprintln!("job {call_id}: the lease of {worker} on {target:?} expired; the task is free again");
                }
            }
        }
    }

    async fn prepare(self: Arc<Self>, job: ZkJob) {
        let started = Instant::now();
        let call_id = job.call_id;
        let prepared = self
            .heavy(move |this| -> Result<CheckedJob, JobError> {
                this.params()?;
                let elf = this
                    .state
                    .read()
                    .map_err(|_| JobError::Prepare("state lock poisoned".into()))?
                    .program(&job.program.digest)
                    .map_err(|e| JobError::Prepare(e.to_string()))?
                    .ok_or_else(|| JobError::Prepare("the program is not in the state".into()))?;
                let root = nexus_nvm_circuit::image::fr_from_bytes(&job.program.image_root)
                    .ok_or_else(|| JobError::Prepare("the image root is not a field element".into()))?;
                CheckedJob::new(&elf, root, &job.input, this.config.steps_per_fold)
            })
            .await;
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(e)) => return self.end(call_id, ZkState::Failed(e.to_string())).await,
            Err(e) => return self.end(call_id, ZkState::Failed(format!("preparing: {e}"))).await,
        };
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(active) = jobs.get_mut(&call_id) {
            let plan =
                Plan::new(prepared.prepared.invocations(), &prepared.chain_tags(), self.config.lease, Instant::now());
            eprintln!(
                "job {call_id}: {} invocations of {} steps, {} tasks, prepared in {:.1} s",
                prepared.prepared.invocations(),
                self.config.steps_per_fold,
                plan.total(),
                started.elapsed().as_secs_f64()
            );
            active.plan = Some(plan);
            active.checked = Some(Arc::new(prepared));
            active.setup = started.elapsed();
            active.phase = Phase::Proving;
        }
    }

    /// Assembles the jobs whose every task is accepted.
    fn finish_ready(self: &Arc<Self>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        for (call_id, job) in jobs.iter_mut() {
            if job.phase != Phase::Proving || !job.plan.as_ref().is_some_and(Plan::is_complete) {
                continue;
            }
            job.phase = Phase::Assembling;
            let (checked, plan) = (job.checked.clone().expect("proving"), job.plan.as_ref().expect("proving"));
            let root = plan.node(plan.root());
            let root_path = self.node_path(*call_id, (root.a, root.b));
            let chains: Vec<CallProof> = job.chains.values().cloned().collect();
            let (this, call_id) = (self.clone(), *call_id);
            tokio::spawn(async move {
                let started = Instant::now();
                let assembled = this
                    .heavy(move |that| -> Result<Vec<u8>, JobError> {
                        let bytes =
                            std::fs::read(&root_path).map_err(|e| JobError::Prove(format!("reading the root: {e}")))?;
                        let root = NodeProof::from_bytes(&bytes).map_err(|e| JobError::Prove(e.to_string()))?;
                        let params = that.params()?;
                        let proof = checked.assemble(&params, root, chains)?;
                        that.proofs
                            .write(call_id, &proof)
                            .map_err(|e| JobError::Prove(format!("storing the proof: {e}")))?;
                        Ok(proof)
                    })
                    .await;
                if let Some(job) = this.jobs.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&call_id) {
                    job.assembling = started.elapsed();
                }
                let state = match assembled {
                    Ok(Ok(proof)) => {
                        ZkState::Proven { proof_digest: proof_digest(&proof), proof_bytes: proof.len() as u64 }
                    }
                    Ok(Err(e)) => ZkState::Failed(e.to_string()),
                    Err(e) => ZkState::Failed(format!("assembling: {e}")),
                };
                this.end(call_id, state).await;
            });
        }
    }

    /// Logs a job's result; the job's node files go once it is logged.
    async fn end(&self, call_id: u64, state: ZkState) {
        eprintln!("job {call_id}: ending as {state:?}");
        if let Some(job) = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&call_id) {
            job.phase = Phase::Ended;
            job.ended = Some(Instant::now());
        }
        let command = LogCommand::ZkResult(ZkResult { call_id, state });
        match tokio::time::timeout(SUBMIT_TIMEOUT, self.raft.client_write(command)).await {
            Ok(Ok(_)) => {
                let _ = std::fs::remove_dir_all(self.nodes_dir.join(call_id.to_string()));
            }
            // Leadership lost or a timeout: the job is still proving in the state; the next leader (or this one
            // once it leads again) takes it up.
            _ => {
                self.jobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&call_id);
            }
        }
    }

    fn not_leader() -> Status {
        Status::failed_precondition("not the leader; ask Client.Status for the leader")
    }

    fn claim(&self, worker: &str) -> Result<ClaimResponse, Status> {
        if !self.is_leader() {
            return Err(Self::not_leader());
        }
        let now = Instant::now();
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        for (call_id, job) in jobs.iter_mut() {
            let (Some(plan), Some(checked), Phase::Proving) = (&mut job.plan, &job.checked, job.phase) else {
                continue;
            };
            let Some((plan_lease, target)) = plan.claim(worker, now) else { continue };
            let task = match target {
                Target::Chain(kind) => Task::Chain { kind },
                Target::Node(i) => {
                    let node = plan.node(i).clone();
                    match node.children {
                        None => {
                            let z = checked.state(node.a).ok_or_else(|| internal("no state for a leaf"))?;
                            Task::Leaf { index: node.a, z: encode_state(z) }
                        }
                        Some([l, r]) => {
                            let (l, r) = (plan.node(l), plan.node(r));
                            let read = |range| std::fs::read(self.node_path(*call_id, range)).map_err(internal);
                            Task::Node { left: read((l.a, l.b))?, right: read((r.a, r.b))? }
                        }
                    }
                }
            };
            let lease = {
                let mut next = self.next_lease.lock().unwrap_or_else(|p| p.into_inner());
                *next += 1;
                *next
            };
            self.leases.lock().unwrap_or_else(|p| p.into_inner()).insert(lease, (*call_id, plan_lease));
            return Ok(ClaimResponse {
                lease,
                call_id: *call_id,
                lease_ms: self.config.lease.as_millis() as u64,
                task: task.encode(),
                retry_after_ms: 0,
            });
        }
        Ok(ClaimResponse { retry_after_ms: IDLE_RETRY.as_millis() as u64, ..Default::default() })
    }

    fn lease(&self, lease: u64) -> Option<(u64, LeaseId)> {
        self.leases.lock().unwrap_or_else(|p| p.into_inner()).get(&lease).copied()
    }

    fn renew(&self, lease: u64) -> bool {
        let Some((call_id, plan_lease)) = self.lease(lease) else { return false };
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get_mut(&call_id).and_then(|j| j.plan.as_mut()).is_some_and(|p| p.renew(plan_lease, Instant::now()))
    }

    async fn submit(self: &Arc<Self>, lease: u64, result: Vec<u8>) -> Result<(), Status> {
        if !self.is_leader() {
            return Err(Self::not_leader());
        }
        let (call_id, plan_lease) =
            self.lease(lease).ok_or_else(|| Status::failed_precondition("unknown lease (expired or never granted)"))?;
        let (checked, target, range) = {
            let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let job =
                jobs.get_mut(&call_id).ok_or_else(|| Status::failed_precondition("the job is not in progress"))?;
            let (Some(plan), Some(checked)) = (&mut job.plan, &job.checked) else {
                return Err(Status::failed_precondition("the job is not in progress"));
            };
            if !plan.checking(plan_lease, Instant::now()) {
                return Err(Status::failed_precondition("the lease is no longer held"));
            }
            let target =
                plan.target(plan_lease).ok_or_else(|| Status::failed_precondition("the lease is no longer held"))?;
            let range = match target {
                Target::Node(i) => Some((plan.node(i).a, plan.node(i).b)),
                Target::Chain(_) => None,
            };
            (checked.clone(), target, range)
        };
        let started = Instant::now();
        let checked_result = self
            .heavy(move |this| -> Result<Option<CallProof>, JobError> {
                let params = this.params()?;
                match (target, range) {
                    (Target::Node(_), Some(range)) => {
                        checked.check_node(&params, range, &result)?;
                        let path = this.node_path(call_id, range);
                        std::fs::create_dir_all(path.parent().expect("a job directory"))
                            .and_then(|()| std::fs::write(&path, &result))
                            .map_err(|e| JobError::Prove(format!("storing the node: {e}")))?;
                        Ok(None)
                    }
                    (Target::Chain(kind), _) => checked.check_chain(&params, kind, &result).map(Some),
                    _ => Err(JobError::Prove("a node without a range".into())),
                }
            })
            .await
            .map_err(internal)?;
        let now = Instant::now();
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let job = jobs.get_mut(&call_id).ok_or_else(|| Status::failed_precondition("the job ended"))?;
        job.checking += started.elapsed();
        let plan = job.plan.as_mut().expect("a job in progress has a plan");
        self.leases.lock().unwrap_or_else(|p| p.into_inner()).remove(&lease);
        match checked_result {
            Ok(chain) => {
                if !plan.accept(plan_lease, now) {
                    return Err(Status::failed_precondition("the lease ended or the task was done meanwhile"));
                }
                if let Some(chain) = chain {
                    job.chains.insert(chain.kind, chain);
                }
                // A node's children are folded into it: their files are no longer needed.
                if let Target::Node(i) = target
                    && let Some([l, r]) = plan.node(i).children
                {
                    for c in [l, r] {
                        let c = plan.node(c);
                        let _ = std::fs::remove_file(self.node_path(call_id, (c.a, c.b)));
                    }
                }
                Ok(())
            }
            Err(e) => {
                plan.reject(plan_lease, now);
                eprintln!("job {call_id}: refused a result for {target:?}: {e}");
                Err(Status::invalid_argument(e.to_string()))
            }
        }
    }

    fn job(&self, call_id: u64) -> Result<JobResponse, Status> {
        if !self.is_leader() {
            return Err(Self::not_leader());
        }
        let job = self.state.read().map_err(lock_error)?.zk_job(call_id).map_err(internal)?;
        let job = job.ok_or_else(|| Status::not_found(format!("no proving job for call {call_id}")))?;
        let program = self.state.read().map_err(lock_error)?.program(&job.program.digest).map_err(internal)?;
        let program = program.ok_or_else(|| internal("the program is not in the state"))?;
        Ok(JobResponse { program, input: job.input, steps_per_fold: self.config.steps_per_fold })
    }

    fn job_status(&self, call_id: u64) -> Result<JobStatusResponse, Status> {
        let recorded = self.state.read().map_err(lock_error)?.zk_job(call_id).map_err(internal)?;
        let recorded = recorded.ok_or_else(|| Status::not_found(format!("no proving job for call {call_id}")))?;
        let final_state = match &recorded.state {
            ZkState::Proving => None,
            ZkState::Proven { .. } => Some("proven".to_string()),
            ZkState::OutputsDiffer(why) => Some(format!("outputs differ: {why}")),
            ZkState::Failed(why) => Some(format!("failed: {why}")),
        };
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(job) = jobs.get(&call_id) else {
            if let Some(status) = self.finished.lock().unwrap_or_else(|p| p.into_inner()).get(&call_id) {
                let state = final_state.unwrap_or_else(|| status.state.clone());
                return Ok(JobStatusResponse { state, ..status.clone() });
            }
            if final_state.is_none() && !self.is_leader() {
                return Err(Self::not_leader());
            }
            let state = final_state.unwrap_or_else(|| "waiting for the leader".into());
            return Ok(JobStatusResponse { state, steps: recorded.steps, ..Default::default() });
        };
        let state = final_state.unwrap_or_else(|| {
            match job.phase {
                Phase::Preparing => "preparing",
                Phase::Proving => "proving",
                Phase::Assembling | Phase::Ended => "assembling",
            }
            .to_string()
        });
        Ok(job.status(state))
    }
}

impl ActiveJob {
    /// The job's progress and timings, as `JobStatus` reports them.
    fn status(&self, state: String) -> JobStatusResponse {
        let ms = |d: Duration| d.as_millis() as u64;
        let (done, total, times, rejected, workers) = match &self.plan {
            Some(p) => (p.done() as u64, p.total() as u64, p.times(), p.rejected(), p.workers() as u64),
            None => (0, 0, Default::default(), 0, 0),
        };
        let until = self.ended.unwrap_or_else(Instant::now);
        JobStatusResponse {
            state,
            tasks_done: done,
            tasks_total: total,
            steps: self.steps,
            elapsed_ms: ms(until.saturating_duration_since(self.started)),
            waiting_ms: ms(times.waiting),
            proving_ms: ms(times.proving),
            setup_ms: ms(self.setup),
            checking_ms: ms(self.checking),
            assembling_ms: ms(self.assembling),
            rejected,
            workers,
        }
    }
}

/// The `Prover` gRPC service over the coordinator.
pub struct ProverService {
    coordinator: Arc<Coordinator>,
}

impl ProverService {
    pub fn new(coordinator: Arc<Coordinator>) -> Self {
        Self { coordinator }
    }
}

#[tonic::async_trait]
impl Prover for ProverService {
    async fn claim(&self, request: Request<ClaimRequest>) -> Result<Response<ClaimResponse>, Status> {
        let worker = request.into_inner().worker;
        let coordinator = self.coordinator.clone();
        // Building a node task reads two child files: off the async threads.
        let reply = tokio::task::spawn_blocking(move || coordinator.claim(&worker)).await.map_err(internal)??;
        Ok(Response::new(reply))
    }

    async fn renew(&self, request: Request<RenewRequest>) -> Result<Response<RenewResponse>, Status> {
        Ok(Response::new(RenewResponse { held: self.coordinator.renew(request.into_inner().lease) }))
    }

    async fn submit_task(&self, request: Request<SubmitTaskRequest>) -> Result<Response<SubmitTaskResponse>, Status> {
        let request = request.into_inner();
        self.coordinator.submit(request.lease, request.result).await?;
        Ok(Response::new(SubmitTaskResponse {}))
    }

    async fn job(&self, request: Request<JobRequest>) -> Result<Response<JobResponse>, Status> {
        Ok(Response::new(self.coordinator.job(request.into_inner().call_id)?))
    }

    async fn job_status(&self, request: Request<JobRequest>) -> Result<Response<JobStatusResponse>, Status> {
        Ok(Response::new(self.coordinator.job_status(request.into_inner().call_id)?))
    }
}
