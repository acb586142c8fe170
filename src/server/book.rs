//! The server's book of its batch jobs: what each is doing (queued, running, ended), whether
//! its worker connected or left, which count against `max_jobs` (every one not known to have
//! ended: a retiring batch job still holds its place in the queue), and why those that ended
//! before their worker connected did. Also [`Backoff`], the poll interval that doubles while
//! nothing changes.

use std::collections::HashMap;
use std::time::Duration;

use crate::backend::{JobId, JobState};
use crate::server::core::WorkerId;
use crate::server::node_faults::NodeFaults;

/// What the server knows of one batch job.
#[derive(Debug, Clone)]
pub struct JobView {
    pub state: JobState,
    pub worker: Option<WorkerId>,
    /// Its worker connected at some point.
    pub connected: bool,
    /// Its worker left or was lost: it will not take tasks anymore.
    pub retired: bool,
    /// hpcluster cancelled it.
    pub cancelled_by_us: bool,
    /// Why it ended before its worker connected: the batch system's words and its output.
    pub described: Option<String>,
    /// The batch system said it ended while its worker was still connected (said once).
    pub disputed: bool,
    /// The end the batch system gave while its worker was connected, set aside: it is the
    /// batch job's end once the worker has gone (the batch system will not say it again: a
    /// job it calls ended is not asked about anymore).
    pub disputed_end: Option<JobState>,
    /// The node it ran on, as the batch system said.
    pub node: Option<String>,
}

/// Every batch job the server submitted.
#[derive(Debug, Default)]
pub struct JobBook {
    pub jobs: HashMap<JobId, JobView>,
    pub submitted: u64,
    /// Batch jobs that ended in a row without their worker ever connecting.
    pub failed_starts: u32,
    /// Those batch jobs, in the order they ended.
    pub failed_streak: Vec<JobId>,
    /// Batch jobs that were preempted or lost with their node ([`JobState::is_lost`]): not a
    /// failed start, and counted in the summary.
    pub lost: u64,
    /// Workers whose hello named a batch job before its submission was recorded: a worker can
    /// connect while the batch-system thread's answer to the submit is still on its way.
    early: HashMap<JobId, EarlyWorker>,
    /// Failures per node, and the nodes they exclude from new submissions.
    pub nodes: NodeFaults,
}

/// What happened to a batch job's worker before the job was added to the book.
#[derive(Debug, Clone, Copy)]
struct EarlyWorker {
    worker: WorkerId,
    gone: bool,
}

impl JobBook {
    pub fn add(&mut self, id: JobId) {
        self.submitted += 1;
        let early = self.early.remove(&id);
        if early.is_some() {
            self.failed_starts = 0;
            self.failed_streak.clear();
        }
        self.jobs.insert(
            id,
            JobView {
                state: JobState::Pending,
                worker: early.map(|e| e.worker),
                connected: early.is_some(),
                retired: early.is_some_and(|e| e.gone),
                cancelled_by_us: false,
                described: None,
                disputed: false,
                disputed_end: None,
                node: None,
            },
        );
    }

    /// Not known to have ended: counts against `max_jobs`, which is a hard limit on batch
    /// jobs in the queue (a retiring one holds its place until it ends).
    pub fn counted(&self) -> u32 {
        self.jobs.values().filter(|j| !j.state.is_final()).count() as u32
    }

    /// Not ended, and no worker connected yet: those whose end is worth describing.
    pub fn unconnected(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|(_, j)| !j.connected && !j.state.is_final())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Records why batch jobs ended before their worker connected.
    pub fn on_described(&mut self, described: Vec<(JobId, String)>) {
        for (id, text) in described {
            if let Some(j) = self.jobs.get_mut(&id) {
                j.described = Some(text);
            }
        }
    }

    /// Records the node each batch job runs or ran on.
    pub fn on_nodes(&mut self, nodes: Vec<(JobId, String)>) {
        for (id, node) in nodes {
            if let Some(j) = self.jobs.get_mut(&id) {
                if j.connected {
                    self.nodes.on_ran(&node);
                }
                j.node = Some(node);
            }
        }
    }

    /// The batch jobs that ended in a row before their worker connected, described.
    pub fn failed_starts_described(&self) -> Vec<String> {
        self.failed_streak
            .iter()
            .map(
                |id| match self.jobs.get(id).and_then(|j| j.described.clone()) {
                    Some(d) => d,
                    None => format!("batch job {id} ended"),
                },
            )
            .collect()
    }

    /// Submitted, not ended, and no worker connected yet.
    pub fn queued(&self) -> u32 {
        self.jobs
            .values()
            .filter(|j| !j.connected && !j.state.is_final() && !j.retired)
            .count() as u32
    }

    /// Not ended and not retired: counts against `max_jobs`.
    pub fn active(&self) -> u32 {
        self.jobs
            .values()
            .filter(|j| !j.state.is_final() && !j.retired)
            .count() as u32
    }

    /// (pending, running) batch jobs, for progress output.
    pub fn pending_running(&self) -> (u32, u32) {
        let mut p = 0;
        let mut r = 0;
        for j in self.jobs.values() {
            match j.state {
                JobState::Pending | JobState::Unknown if !j.connected => p += 1,
                s if !s.is_final() => r += 1,
                _ => {}
            }
        }
        (p, r)
    }

    pub fn on_worker(&mut self, job: &JobId, worker: WorkerId) {
        match self.jobs.get_mut(job) {
            Some(j) => {
                j.connected = true;
                j.worker = Some(worker);
                if let Some(node) = &j.node {
                    self.nodes.on_ran(node);
                }
                self.failed_starts = 0;
                self.failed_streak.clear();
            }
            None => {
                self.early.insert(
                    job.clone(),
                    EarlyWorker {
                        worker,
                        gone: false,
                    },
                );
            }
        }
    }

    pub fn on_worker_gone(&mut self, job: &JobId) {
        if let Some(j) = self.jobs.get_mut(job) {
            j.retired = true;
        } else if let Some(e) = self.early.get_mut(job) {
            e.gone = true;
        }
    }

    /// Applies polled states; returns jobs that just ended (with their worker, if any).
    pub fn on_poll(
        &mut self,
        states: &[(JobId, JobState)],
    ) -> Vec<(JobId, JobState, Option<WorkerId>)> {
        let mut ended = Vec::new();
        for (id, state) in states {
            let Some(j) = self.jobs.get_mut(id) else {
                continue;
            };
            if j.state == *state {
                continue;
            }
            // A live worker outranks a status line: a batch job whose worker is connected is
            // running, whatever the status command (or a dead local supervisor) says, unless
            // hpcluster cancelled it. It ends once its worker leaves or falls silent.
            if state.is_final() && j.connected && !j.retired && !j.cancelled_by_us {
                if !j.disputed {
                    tracing::warn!(
                        "the batch system says batch job {id} ended ({state:?}) but its worker \
                         is still connected: it is taken as running while the worker answers"
                    );
                    j.disputed = true;
                }
                j.disputed_end = Some(*state);
                j.state = JobState::Running;
                continue;
            }
            if let Some(end) = self.apply(id, *state) {
                ended.push(end);
            }
        }
        ended
    }

    /// Batch jobs whose end the batch system gave while their worker was connected, and whose
    /// worker has gone since: they end now, as the batch system said.
    pub fn settle_disputed(&mut self) -> Vec<(JobId, JobState, Option<WorkerId>)> {
        let settled: Vec<(JobId, JobState)> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.retired && !j.state.is_final())
            .filter_map(|(id, j)| Some((id.clone(), j.disputed_end?)))
            .collect();
        settled
            .into_iter()
            .filter_map(|(id, state)| self.apply(&id, state))
            .collect()
    }

    /// Batch job `id` is now in `state`; returns its end (with its worker) if it just ended.
    fn apply(
        &mut self,
        id: &JobId,
        state: JobState,
    ) -> Option<(JobId, JobState, Option<WorkerId>)> {
        let j = self.jobs.get_mut(id)?;
        j.state = state;
        if state.is_lost() && !j.cancelled_by_us {
            self.lost += 1;
        }
        if !state.is_final() {
            return None;
        }
        let fault = state != JobState::Cancelled && !state.is_lost();
        if !j.connected && !j.cancelled_by_us && fault {
            self.failed_starts += 1;
            self.failed_streak.push(id.clone());
        }
        let node = j.node.as_deref();
        self.nodes
            .on_end(id, node, state, j.connected, j.cancelled_by_us);
        Some((id.clone(), state, j.worker))
    }

    /// Batch jobs whose worker left but which have not ended yet.
    pub fn retiring(&self) -> u32 {
        self.jobs
            .values()
            .filter(|j| j.retired && !j.state.is_final())
            .count() as u32
    }

    /// Batch jobs not ended yet.
    pub fn live(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|(_, j)| !j.state.is_final())
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Poll interval that doubles while nothing changes, up to a ceiling, and resets on change.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            current: first,
        }
    }
    pub fn current(&self) -> Duration {
        self.current
    }
    pub fn on_change(&mut self, changed: bool) {
        self.current = if changed {
            self.first
        } else {
            (self.current * 2).min(self.max)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_connects_before_its_submission_is_recorded_counts_as_connected() {
        let mut book = JobBook::default();
        let job = JobId::new("local-4");
        book.on_worker(&job, 3);
        book.add(job.clone());
        let j = &book.jobs[&job];
        assert!(j.connected);
        assert_eq!(j.worker, Some(3));
        assert!(!j.retired);
        assert_eq!(book.queued(), 0);
        assert_eq!(book.active(), 1);
        // While its worker is connected, an answer that it ended is set aside (a live worker
        // outranks a status line); once the worker has left, it ends.
        assert!(book.on_poll(&[(job.clone(), JobState::Done)]).is_empty());
        assert_eq!(book.jobs[&job].state, JobState::Running);
        book.on_worker_gone(&job);
        // Its end is not a failed start.
        let ended = book.on_poll(&[(job.clone(), JobState::Done)]);
        assert_eq!(ended, vec![(job, JobState::Done, Some(3))]);
        assert_eq!(book.failed_starts, 0);
    }

    #[test]
    fn an_end_set_aside_while_the_worker_answered_is_the_end_once_it_has_gone() {
        // The batch system says it once: a job it calls ended is not polled again.
        let mut book = JobBook::default();
        let job = JobId::new("local-2");
        book.on_worker(&job, 1);
        book.add(job.clone());
        assert!(book.on_poll(&[(job.clone(), JobState::Failed)]).is_empty());
        assert!(
            book.settle_disputed().is_empty(),
            "the worker still answers"
        );
        book.on_worker_gone(&job);
        assert_eq!(
            book.settle_disputed(),
            vec![(job.clone(), JobState::Failed, Some(1))]
        );
        assert!(book.settle_disputed().is_empty(), "ended once");
        assert_eq!(book.active(), 0);
        assert_eq!(book.failed_starts, 0);
    }

    #[test]
    fn a_worker_that_left_before_its_submission_is_recorded_is_retired() {
        let mut book = JobBook::default();
        let job = JobId::new("7");
        book.on_worker(&job, 1);
        book.on_worker_gone(&job);
        book.add(job.clone());
        assert!(book.jobs[&job].retired);
        assert_eq!(book.active(), 0);
    }

    #[test]
    fn a_batch_job_that_ends_without_a_worker_is_a_failed_start() {
        let mut book = JobBook::default();
        let job = JobId::new("8");
        book.add(job.clone());
        assert_eq!(book.queued(), 1);
        book.on_poll(&[(job, JobState::Failed)]);
        assert_eq!(book.failed_starts, 1);
    }

    #[test]
    fn a_batch_job_preempted_or_lost_with_its_node_is_no_failed_start() {
        let mut book = JobBook::default();
        for (id, state) in [("9", JobState::Preempted), ("10", JobState::NodeFailed)] {
            book.add(JobId::new(id));
            let ended = book.on_poll(&[(JobId::new(id), state)]);
            assert_eq!(ended, vec![(JobId::new(id), state, None)]);
        }
        assert_eq!((book.failed_starts, book.lost), (0, 2));
        assert!(book.failed_streak.is_empty());
        assert_eq!(book.counted(), 0);
    }

    #[test]
    fn a_node_where_two_batch_jobs_fail_to_start_is_excluded() {
        let mut book = JobBook::default();
        for id in ["11", "12", "13"] {
            book.add(JobId::new(id));
        }
        book.on_worker(&JobId::new("13"), 5);
        book.on_nodes(vec![
            (JobId::new("11"), "n3".into()),
            (JobId::new("12"), "n3".into()),
            (JobId::new("13"), "n4".into()),
        ]);
        // The connected one's end is no fault of its node, and shows the job script works
        // (on n4): n3's failed starts count.
        book.on_worker_gone(&JobId::new("13"));
        book.on_poll(&[(JobId::new("13"), JobState::Failed)]);
        book.on_poll(&[(JobId::new("11"), JobState::Failed)]);
        assert!(book.nodes.take().is_empty());
        book.on_poll(&[(JobId::new("12"), JobState::NodeFailed)]);
        let excluded = book.nodes.take();
        assert_eq!(excluded.len(), 1);
        assert_eq!(excluded[0].node, "n3");
        assert_eq!(excluded[0].jobs, [JobId::new("11"), JobId::new("12")]);
    }
}
