//! Nodes that fail batch jobs repeatedly: the rule that keeps new submissions off them.
//!
//! A batch job's end is the node's fault when it ended `node_failed` (SLURM `NODE_FAIL`,
//! `BOOT_FAIL`) or when it ended before its worker connected (a failed start, as the book
//! counts them: not cancelled, not preempted) while a worker of the run has connected from
//! another node: until the job script has worked somewhere, a failed start is the script's
//! fault (a prologue that fails, a worker not on the PATH), not the node's. A preemption, a
//! cancellation, or any end after the worker connected is not: the node ran the worker.
//! [`EXCLUDE_AFTER`] such ends on the same node exclude it. Only a batch job on one node counts (`n[1-2]` names several, and which of them
//! failed is not known). The rule is pure: the book feeds it each end and takes the
//! exclusions it decided; the server passes them on to the tracker, which records them in
//! `jobs.json` and gives them to the submit command.

use std::collections::{HashMap, HashSet};

use crate::backend::{JobId, JobState};

/// Batch jobs that may fail on one node before it is excluded.
pub const EXCLUDE_AFTER: usize = 2;

/// A node to keep new batch jobs off, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub node: String,
    /// `2 batch jobs failed there: 4101 ended node_failed, 4102 ended failed before its
    /// worker connected`.
    pub why: String,
    pub jobs: Vec<JobId>,
}

/// The node faults seen in this run, per node.
#[derive(Debug, Default)]
pub struct NodeFaults {
    /// Each faulty end on a node: the batch job, how it ended in words, and whether the node
    /// itself failed (else a failed start, which counts once the script ran elsewhere).
    faults: HashMap<String, Vec<(JobId, String, bool)>>,
    excluded: HashSet<String>,
    /// Nodes a worker of this run connected from: the job script works there.
    ran: HashSet<String>,
    /// Decided, not yet taken by the server.
    decided: Vec<Exclusion>,
}

/// How a batch job's end was the fault of its node, if it was: `connected` says its worker
/// connected at some point, `cancelled` that hpcluster cancelled it.
pub fn node_fault(state: JobState, connected: bool, cancelled: bool) -> Option<String> {
    if cancelled {
        return None;
    }
    match state {
        JobState::NodeFailed => Some(format!("ended {state}")),
        // A failed start, as the book counts them.
        s if s.is_final() && !s.is_lost() && s != JobState::Cancelled && !connected => {
            Some(format!("ended {state} before its worker connected"))
        }
        _ => None,
    }
}

/// A node list that names one node (not `n[1-2]`, not `n1,n2`).
fn one_node(nodes: &str) -> bool {
    !nodes.is_empty() && !nodes.contains([',', '[', ' '])
}

impl NodeFaults {
    /// Batch job `job` ended on `node` in `state`; decides an exclusion when it is the
    /// [`EXCLUDE_AFTER`]th fault there.
    pub fn on_end(
        &mut self,
        job: &JobId,
        node: Option<&str>,
        state: JobState,
        connected: bool,
        cancelled: bool,
    ) {
        if let (Some(node), true) = (node, connected) {
            self.on_ran(node);
        }
        let (Some(node), Some(fault)) = (node, node_fault(state, connected, cancelled)) else {
            return;
        };
        if !one_node(node) || self.excluded.contains(node) {
            return;
        }
        let seen = self.faults.entry(node.to_string()).or_default();
        if seen.iter().any(|(j, _, _)| j == job) {
            return;
        }
        seen.push((job.clone(), fault, state == JobState::NodeFailed));
        self.decide(node);
    }

    /// A worker connected from `node` (or ran there): the job script works on it.
    pub fn on_ran(&mut self, node: &str) {
        if !one_node(node) || !self.ran.insert(node.to_string()) {
            return;
        }
        let nodes: Vec<String> = self.faults.keys().cloned().collect();
        for n in nodes {
            self.decide(&n);
        }
    }

    /// Excludes `node` once [`EXCLUDE_AFTER`] of its faults count.
    fn decide(&mut self, node: &str) {
        if self.excluded.contains(node) {
            return;
        }
        let script_works = self.ran.iter().any(|n| n != node);
        let Some(seen) = self.faults.get(node) else {
            return;
        };
        let counted: Vec<&(JobId, String, bool)> = seen
            .iter()
            .filter(|(_, _, node_failed)| *node_failed || script_works)
            .collect();
        if counted.len() < EXCLUDE_AFTER {
            return;
        }
        let said: Vec<String> = counted.iter().map(|(j, f, _)| format!("{j} {f}")).collect();
        let jobs = counted.iter().map(|(j, _, _)| j.clone()).collect();
        self.excluded.insert(node.to_string());
        self.decided.push(Exclusion {
            node: node.to_string(),
            why: format!(
                "{} batch jobs failed there: {}",
                counted.len(),
                said.join(", ")
            ),
            jobs,
        });
    }

    /// The exclusions decided since the last call.
    pub fn take(&mut self) -> Vec<Exclusion> {
        std::mem::take(&mut self.decided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> JobId {
        JobId::new(s)
    }

    #[test]
    fn two_faults_on_one_node_exclude_it_once() {
        let mut n = NodeFaults::default();
        // The job script works: a worker connected from n5.
        n.on_ran("n5");
        n.on_end(&id("1"), Some("n3"), JobState::NodeFailed, true, false);
        assert!(n.take().is_empty());
        // Another node's fault does not add up with n3's.
        n.on_end(&id("2"), Some("n4"), JobState::Failed, false, false);
        // The same end seen twice is one fault.
        n.on_end(&id("1"), Some("n3"), JobState::NodeFailed, true, false);
        assert!(n.take().is_empty());
        n.on_end(&id("3"), Some("n3"), JobState::Failed, false, false);
        assert_eq!(
            n.take(),
            [Exclusion {
                node: "n3".into(),
                why: "2 batch jobs failed there: 1 ended node_failed, 3 ended failed before its \
                      worker connected"
                    .into(),
                jobs: vec![id("1"), id("3")],
            }]
        );
        n.on_end(&id("4"), Some("n3"), JobState::NodeFailed, false, false);
        assert!(n.take().is_empty(), "excluded once");
    }

    #[test]
    fn ends_that_are_not_the_nodes_fault_do_not_count() {
        let mut n = NodeFaults::default();
        let not_faults = [
            (JobState::Preempted, false, false),
            (JobState::Cancelled, false, false),
            (JobState::Failed, true, false),
            (JobState::Timeout, true, false),
            (JobState::Done, true, false),
            (JobState::NodeFailed, false, true),
            (JobState::Failed, false, true),
        ];
        for (i, (state, connected, cancelled)) in not_faults.into_iter().enumerate() {
            assert_eq!(node_fault(state, connected, cancelled), None, "{state}");
            n.on_end(&id(&i.to_string()), Some("n3"), state, connected, cancelled);
        }
        assert!(n.take().is_empty());
    }

    /// Failed starts on the only node a run has seen are the job script's fault until a
    /// worker connects from another node; node failures count at once.
    #[test]
    fn failed_starts_count_once_the_script_ran_elsewhere() {
        let mut n = NodeFaults::default();
        n.on_end(&id("1"), Some("vm"), JobState::Failed, false, false);
        n.on_end(&id("2"), Some("vm"), JobState::Failed, false, false);
        n.on_end(&id("3"), Some("vm"), JobState::Failed, false, false);
        assert!(n.take().is_empty(), "a failing script excludes no node");
        n.on_ran("vm");
        assert!(
            n.take().is_empty(),
            "a worker from vm itself proves nothing of vm"
        );
        n.on_ran("n2");
        assert_eq!(
            n.take().len(),
            1,
            "the script works on n2: vm's failed starts count"
        );
        let mut m = NodeFaults::default();
        m.on_end(&id("4"), Some("n7"), JobState::NodeFailed, false, false);
        m.on_end(&id("5"), Some("n7"), JobState::NodeFailed, false, false);
        assert_eq!(
            m.take().len(),
            1,
            "node failures count without a worker anywhere"
        );
    }

    #[test]
    fn only_a_batch_job_on_one_known_node_counts() {
        let mut n = NodeFaults::default();
        for (i, node) in [None, Some("n[1-2]"), Some("n1,n2"), Some("")]
            .into_iter()
            .enumerate()
        {
            n.on_end(
                &id(&format!("a{i}")),
                node,
                JobState::NodeFailed,
                true,
                false,
            );
            n.on_end(
                &id(&format!("b{i}")),
                node,
                JobState::NodeFailed,
                true,
                false,
            );
        }
        assert!(n.take().is_empty());
    }
}
