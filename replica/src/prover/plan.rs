//! A proving job's work as the leader tracks it: the folding tree of the run's invocations and the
//! co-processor chains, which of them are done, and who holds a lease on which. Pure logic over time values
//! the caller passes in, so it is tested without sockets or clocks; the service (`node::prover_service`) does
//! the I/O and the proving checks.
//!
//! The tree is the one `nexus_nova::pcd::prove_tree` folds: leaves `[i, i + 1)` for each invocation, then each
//! level pairs adjacent nodes, an odd node out moving up unchanged. An inner node becomes claimable once both
//! children are accepted. A lease lasts `lease_duration` from the claim or the last renewal; an expired lease
//! frees its task for the next claim. Results are accepted only under a lease held when they arrive, and only
//! once per task.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Longest a submitted result's check may hold its lease.
pub const MAX_CHECK: Duration = Duration::from_secs(600);

/// A lease id (never 0: the API uses 0 for "no task").
pub type LeaseId = u64;

/// What a lease is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A node of the tree, by index into [`Plan::node`].
    Node(usize),
    /// A chain, by its co-processor tag.
    Chain(u8),
}

/// A node of the folding tree: invocations `[a, b)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    pub a: u64,
    pub b: u64,
    /// Left and right child (none for a leaf).
    pub children: Option<[usize; 2]>,
    pub done: bool,
}

#[derive(Clone, Debug)]
struct Lease {
    target: Target,
    worker: String,
    claimed: Instant,
    deadline: Instant,
}

/// Where the time of a job went, as the plan saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanTimes {
    /// Time with no lease held while work was left: the job waited for a worker.
    pub waiting: Duration,
    /// Sum over accepted tasks of claim-to-acceptance time.
    pub proving: Duration,
}

/// The work of one job.
#[derive(Debug)]
pub struct Plan {
    nodes: Vec<TreeNode>,
    root: usize,
    /// Chain tag → done.
    chains: BTreeMap<u8, bool>,
    leases: BTreeMap<LeaseId, Lease>,
    next_lease: LeaseId,
    lease_duration: Duration,
    times: PlanTimes,
    last_tick: Instant,
    rejected: u64,
    workers: BTreeSet<String>,
    /// Leases that expired since [`Plan::take_expired`] was last called (for the leader's log).
    expired: Vec<(LeaseId, Target, String)>,
}

impl Plan {
    /// The plan of a run of `invocations` invocations (at least one) and the given co-processor chains.
    pub fn new(invocations: u64, chains: &[u8], lease_duration: Duration, now: Instant) -> Self {
        assert!(invocations > 0, "a run has at least one invocation");
        let mut nodes: Vec<TreeNode> =
            (0..invocations).map(|i| TreeNode { a: i, b: i + 1, children: None, done: false }).collect();
        let mut level: Vec<usize> = (0..nodes.len()).collect();
        while level.len() > 1 {
            let carry = if level.len() % 2 == 1 { level.pop() } else { None };
            let mut next = Vec::with_capacity(level.len() / 2 + 1);
            for pair in level.chunks(2) {
                let (l, r) = (pair[0], pair[1]);
                nodes.push(TreeNode { a: nodes[l].a, b: nodes[r].b, children: Some([l, r]), done: false });
                next.push(nodes.len() - 1);
            }
            next.extend(carry);
            level = next;
        }
        Self {
            root: level[0],
            nodes,
            chains: chains.iter().map(|k| (*k, false)).collect(),
            leases: BTreeMap::new(),
            next_lease: 1,
            lease_duration,
            times: PlanTimes::default(),
            last_tick: now,
            rejected: 0,
            workers: BTreeSet::new(),
            expired: Vec::new(),
        }
    }

    pub fn node(&self, index: usize) -> &TreeNode {
        &self.nodes[index]
    }

    pub fn root(&self) -> usize {
        self.root
    }

    /// Tasks in all: every tree node and every chain.
    pub fn total(&self) -> usize {
        self.nodes.len() + self.chains.len()
    }

    pub fn done(&self) -> usize {
        self.nodes.iter().filter(|n| n.done).count() + self.chains.values().filter(|d| **d).count()
    }

    pub fn is_complete(&self) -> bool {
        self.nodes[self.root].done && self.chains.values().all(|d| *d)
    }

    pub fn times(&self) -> PlanTimes {
        self.times
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Workers that claimed a task of this job.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Accounts the time since the last event: waiting if no lease was held while work was left.
    fn tick(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last_tick);
        if self.leases.is_empty() && !self.is_complete() {
            self.times.waiting += elapsed;
        }
        self.last_tick = self.last_tick.max(now);
    }

    /// Drops the leases whose deadline passed: their tasks are free again.
    pub fn expire(&mut self, now: Instant) -> Vec<(LeaseId, Target, String)> {
        self.tick(now);
        let expired: Vec<LeaseId> = self.leases.iter().filter(|(_, l)| l.deadline <= now).map(|(id, _)| *id).collect();
        let expired: Vec<_> =
            expired.into_iter().filter_map(|id| self.leases.remove(&id).map(|l| (id, l.target, l.worker))).collect();
        self.expired.extend(expired.iter().cloned());
        expired
    }

    /// The leases that expired since the last call, whichever call noticed them.
    pub fn take_expired(&mut self) -> Vec<(LeaseId, Target, String)> {
        std::mem::take(&mut self.expired)
    }

    fn leased(&self, target: Target) -> bool {
        self.leases.values().any(|l| l.target == target)
    }

    fn is_done(&self, target: Target) -> bool {
        match target {
            Target::Node(i) => self.nodes[i].done,
            Target::Chain(kind) => self.chains.get(&kind).copied().unwrap_or(true),
        }
    }

    /// The next free task, if any: chains first (each is one long sequential task, best started early), then
    /// inner nodes whose children are done (finishing subtrees frees their children's files), then leaves in
    /// order.
    fn next_free(&self) -> Option<Target> {
        let chain = self.chains.iter().find(|(k, done)| !**done && !self.leased(Target::Chain(**k)));
        if let Some((kind, _)) = chain {
            return Some(Target::Chain(*kind));
        }
        let free = |i: &usize| !self.nodes[*i].done && !self.leased(Target::Node(*i));
        let ready_inner = (0..self.nodes.len())
            .filter(free)
            .find(|i| self.nodes[*i].children.is_some_and(|[l, r]| self.nodes[l].done && self.nodes[r].done));
        ready_inner
            .or_else(|| (0..self.nodes.len()).filter(free).find(|i| self.nodes[*i].children.is_none()))
            .map(Target::Node)
    }

    /// Leases the next free task to `worker`.
    pub fn claim(&mut self, worker: &str, now: Instant) -> Option<(LeaseId, Target)> {
        self.expire(now);
        let target = self.next_free()?;
        let id = self.next_lease;
        self.next_lease += 1;
        let lease = Lease { target, worker: worker.to_string(), claimed: now, deadline: now + self.lease_duration };
        self.leases.insert(id, lease);
        self.workers.insert(worker.to_string());
        Some((id, target))
    }

    /// Extends a lease; false if it is not held (expired, or its task is done).
    pub fn renew(&mut self, lease: LeaseId, now: Instant) -> bool {
        self.expire(now);
        match self.leases.get_mut(&lease) {
            Some(l) => {
                l.deadline = now + self.lease_duration;
                true
            }
            None => false,
        }
    }

    /// Holds a lease while its result is being checked (the worker is waiting for the answer and cannot renew
    /// it); false if it is not held.
    pub fn checking(&mut self, lease: LeaseId, now: Instant) -> bool {
        self.expire(now);
        match self.leases.get_mut(&lease) {
            Some(l) => {
                l.deadline = now + MAX_CHECK;
                true
            }
            None => false,
        }
    }

    /// What a held lease is for.
    pub fn target(&self, lease: LeaseId) -> Option<Target> {
        self.leases.get(&lease).map(|l| l.target)
    }

    /// Accepts the checked result of a held lease. Returns false (and changes nothing) if the lease is no
    /// longer held or the task was done meanwhile.
    pub fn accept(&mut self, lease: LeaseId, now: Instant) -> bool {
        self.tick(now);
        let Some(l) = self.leases.get(&lease) else { return false };
        let target = l.target;
        if self.is_done(target) {
            return false;
        }
        let l = self.leases.remove(&lease).expect("present");
        self.times.proving += now.saturating_duration_since(l.claimed);
        match target {
            Target::Node(i) => self.nodes[i].done = true,
            Target::Chain(kind) => {
                self.chains.insert(kind, true);
            }
        }
        true
    }

    /// Refuses the result of a lease: the lease ends and its task is free again.
    pub fn reject(&mut self, lease: LeaseId, now: Instant) {
        self.tick(now);
        if self.leases.remove(&lease).is_some() {
            self.rejected += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(10);

    fn ranges(plan: &Plan) -> Vec<(u64, u64)> {
        plan.nodes.iter().map(|n| (n.a, n.b)).collect()
    }

    #[test]
    fn the_tree_is_the_one_prove_tree_folds() {
        let now = Instant::now();
        let plan = Plan::new(5, &[], LEASE, now);
        // Leaves, then (0,2) (2,4), 4 carried; then (0,4); then (0,5).
        assert_eq!(ranges(&plan), [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (0, 2), (2, 4), (0, 4), (0, 5)]);
        assert_eq!(plan.node(plan.root()).children, Some([7, 4]));
        assert_eq!(plan.total(), 9);
        let single = Plan::new(1, &[1], LEASE, now);
        assert_eq!((single.root(), single.total()), (0, 2));
    }

    #[test]
    fn every_task_is_handed_out_once_and_inner_nodes_wait_for_their_children() {
        let t0 = Instant::now();
        let mut plan = Plan::new(3, &[0], LEASE, t0);
        let claims: Vec<_> = (0..5).map(|_| plan.claim("w", t0)).collect();
        assert_eq!(
            claims.iter().map(|c| c.map(|(_, t)| t)).collect::<Vec<_>>(),
            [Some(Target::Chain(0)), Some(Target::Node(0)), Some(Target::Node(1)), Some(Target::Node(2)), None],
            "the chain first, then the leaves; no inner node before its children are done"
        );
        let lease = |i: usize| claims[i].unwrap().0;
        assert!(plan.accept(lease(1), t0));
        assert_eq!(plan.claim("w", t0), None, "one child is not enough");
        assert!(plan.accept(lease(2), t0));
        let (node, target) = plan.claim("w", t0).unwrap();
        assert_eq!(target, Target::Node(3));
        assert!(!plan.accept(lease(1), t0), "a lease is used once");
        assert!(plan.accept(node, t0) && plan.accept(lease(3), t0) && plan.accept(lease(0), t0));
        let (root, target) = plan.claim("w", t0).unwrap();
        assert_eq!(target, Target::Node(plan.root()));
        assert!(!plan.is_complete());
        assert!(plan.accept(root, t0));
        assert!(plan.is_complete());
        assert_eq!((plan.done(), plan.total()), (6, 6));
        assert_eq!(plan.claim("w", t0), None);
    }

    #[test]
    fn a_silent_worker_loses_its_lease_and_a_renewing_one_keeps_it() {
        let t0 = Instant::now();
        let mut plan = Plan::new(2, &[], LEASE, t0);
        let (silent, _) = plan.claim("silent", t0).unwrap();
        let (busy, _) = plan.claim("busy", t0).unwrap();
        let t1 = t0 + LEASE / 2;
        assert!(plan.renew(busy, t1));
        let t2 = t0 + LEASE;
        let expired = plan.expire(t2);
        assert_eq!(expired, [(silent, Target::Node(0), "silent".to_string())]);
        assert_eq!(plan.take_expired(), expired);
        assert!(plan.take_expired().is_empty());
        assert!(!plan.renew(silent, t2));
        assert!(!plan.accept(silent, t2), "a late result under an expired lease is not accepted");
        let (again, target) = plan.claim("other", t2).unwrap();
        assert_eq!(target, Target::Node(0), "the node is handed to another worker");
        assert!(plan.accept(again, t2) && plan.accept(busy, t2));
        assert_eq!(plan.workers(), 3);
    }

    #[test]
    fn a_rejected_result_frees_the_task_and_is_counted() {
        let t0 = Instant::now();
        let mut plan = Plan::new(1, &[], LEASE, t0);
        let (bad, _) = plan.claim("liar", t0).unwrap();
        plan.reject(bad, t0);
        assert_eq!(plan.rejected(), 1);
        assert!(!plan.accept(bad, t0));
        let (good, target) = plan.claim("honest", t0).unwrap();
        assert_eq!(target, Target::Node(0));
        assert!(plan.accept(good, t0));
        assert!(plan.is_complete());
    }

    #[test]
    fn time_without_a_lease_counts_as_waiting_and_leased_time_as_proving() {
        let t0 = Instant::now();
        let mut plan = Plan::new(1, &[], LEASE, t0);
        let t1 = t0 + Duration::from_secs(3);
        let (lease, _) = plan.claim("w", t1).unwrap();
        let t2 = t1 + Duration::from_secs(2);
        assert!(plan.accept(lease, t2));
        plan.expire(t2 + Duration::from_secs(5));
        assert_eq!(plan.times(), PlanTimes { waiting: Duration::from_secs(3), proving: Duration::from_secs(2) });
    }
}
