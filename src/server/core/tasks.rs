//! The task table: every task of the run, its state, the history of its runs, and the two
//! queues of pending tasks.
//!
//! Pending tasks wait in one of two FIFO queues: those that use the default estimate, and those
//! with a time of their own (the task's `time`, or what its walltime kills showed it needs),
//! scanned for one that fits a worker's time left. A task leaves a queue only through
//! [`TaskTable::take_default`] / [`TaskTable::take_timed`] / [`TaskTable::cancel`] and enters one
//! only by becoming pending; every state change goes through [`TaskTable::set_state`], which
//! keeps the [`Counts`] of the ledger. How a run ends is recorded in the task's
//! [`TaskHistory`], the same way the journal's replay records it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::ledger::Counts;
use crate::task::{
    CheckpointSignal, Outcome, TaskEvent, TaskHistory, TaskId, TaskInfo, TaskSpec, TaskState,
};

/// The cluster's rules for every task that sets none of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskRules {
    /// Runs lost (lost worker, interruption, walltime kill) before the task fails.
    pub retries: u32,
    /// Failed runs (non-zero exit, killed by a signal, timed out) run again before it fails.
    pub retries_on_failure: u32,
    /// Seconds a run may take before the worker kills it.
    pub timeout: Option<f64>,
    /// How workers ask tasks to checkpoint, and the exit status that says one did (none:
    /// `checkpoint_signal` unset, and no exit status means a checkpoint).
    pub checkpoint: Option<CheckpointRule>,
    /// Tasks checkpoint unless they say otherwise (`checkpointable`).
    pub checkpointable: bool,
}

/// The cluster's checkpoint contract: `checkpoint_signal`, `checkpoint_lead`,
/// `checkpoint_exit_code`, `max_checkpoints`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointRule {
    pub signal: crate::process::Signal,
    pub lead: std::time::Duration,
    pub exit_code: i32,
    /// Checkpointed runs a task may make (`max_checkpoints`): the next one fails it.
    pub max_checkpoints: u32,
}

/// A task's description as the table keeps it: command, time and retries inline, the rarely
/// used rest boxed, so a million queued tasks stay small (see `docs/benchmarks.md`).
#[derive(Debug, Clone)]
struct StoredSpec {
    cmd: Box<str>,
    time: Option<f64>,
    retries: Option<u32>,
    extra: Option<Box<SpecExtra>>,
}

#[derive(Debug, Clone, Default)]
struct SpecExtra {
    name: Option<String>,
    cwd: Option<String>,
    env: std::collections::BTreeMap<String, String>,
    retries_on_failure: Option<u32>,
    timeout: Option<f64>,
    checkpointable: Option<bool>,
}

impl From<TaskSpec> for StoredSpec {
    fn from(s: TaskSpec) -> StoredSpec {
        let extra = SpecExtra {
            name: s.name,
            cwd: s.cwd,
            env: s.env,
            retries_on_failure: s.retries_on_failure,
            timeout: s.timeout,
            checkpointable: s.checkpointable,
        };
        let used = extra.name.is_some()
            || extra.cwd.is_some()
            || !extra.env.is_empty()
            || extra.retries_on_failure.is_some()
            || extra.timeout.is_some()
            || extra.checkpointable.is_some();
        StoredSpec {
            cmd: s.cmd.into_boxed_str(),
            time: s.time,
            retries: s.retries,
            extra: used.then(|| Box::new(extra)),
        }
    }
}

impl StoredSpec {
    fn to_spec(&self) -> TaskSpec {
        let e = self.extra.as_deref().cloned().unwrap_or_default();
        TaskSpec {
            cmd: self.cmd.to_string(),
            name: e.name,
            time: self.time,
            cwd: e.cwd,
            env: e.env,
            retries: self.retries,
            retries_on_failure: e.retries_on_failure,
            timeout: e.timeout,
            attempt: None,
            checkpointable: e.checkpointable,
            checkpoint: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Task {
    spec: StoredSpec,
    state: TaskState,
    /// Where its history is in [`TaskTable::histories`]; none until its first run starts.
    history: Option<u32>,
}

/// Every task of the run.
#[derive(Debug, Default)]
pub(super) struct TaskTable {
    tasks: Vec<Task>,
    pending_default: VecDeque<TaskId>,
    pending_timed: VecDeque<TaskId>,
    counts: Counts,
    /// The histories of the tasks that have run, side by side: one growing vector, not a small
    /// allocation per task among the short-lived ones of every dispatch (which fragmented the
    /// heap: a server that had run 100,000 tasks held 56 MiB more, 14 MiB of it histories).
    histories: Vec<TaskHistory>,
    pub rules: TaskRules,
}

const NO_HISTORY: TaskHistory = TaskHistory {
    attempts: 0,
    lost_runs: 0,
    failures: 0,
    checkpoints: 0,
    needs_at_least: None,
    job: None,
    host: None,
    started_at: None,
    secs: None,
    exit_code: None,
    signal: None,
    reason: None,
};

impl TaskTable {
    /// Adds a task in `state` (pending ones join the back of their queue); returns its ID.
    pub fn add(&mut self, spec: TaskSpec, state: TaskState, history: TaskHistory) -> TaskId {
        let id = self.tasks.len() as TaskId;
        self.counts.on_added(&state);
        let pending = state == TaskState::Pending;
        let history = (history != TaskHistory::default()).then(|| {
            self.histories.push(history);
            (self.histories.len() - 1) as u32
        });
        self.tasks.push(Task {
            spec: spec.into(),
            state,
            history,
        });
        if pending {
            self.enqueue(id, false);
        }
        id
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Room for `n` more tasks and, since each will run, their histories: a run's tasks added
    /// at once take one allocation each, not a doubling series that leaves its old buffers as
    /// holes in the heap.
    pub fn reserve(&mut self, n: usize) {
        self.tasks.reserve(n);
        self.histories.reserve(n);
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn counts_mut(&mut self) -> &mut Counts {
        &mut self.counts
    }

    pub fn state(&self, id: TaskId) -> Option<&TaskState> {
        self.tasks.get(id as usize).map(|t| &t.state)
    }

    pub fn history(&self, id: TaskId) -> &TaskHistory {
        match self.tasks[id as usize].history {
            Some(h) => &self.histories[h as usize],
            None => &NO_HISTORY,
        }
    }

    fn history_mut(&mut self, id: TaskId) -> &mut TaskHistory {
        let h = match self.tasks[id as usize].history {
            Some(h) => h,
            None => {
                self.histories.push(TaskHistory::default());
                let h = (self.histories.len() - 1) as u32;
                self.tasks[id as usize].history = Some(h);
                h
            }
        };
        &mut self.histories[h as usize]
    }

    /// Runs of the task lost so far (they count against its retries).
    #[cfg(test)]
    pub fn lost_runs(&self, id: TaskId) -> u32 {
        self.history(id).lost_runs
    }

    /// The time the task is admitted with, seconds: its own `time`, raised to what its
    /// walltime kills showed it needs (`None`: it takes the default estimate).
    pub fn time(&self, id: TaskId) -> Option<f64> {
        self.history(id)
            .effective_time(self.tasks[id as usize].spec.time)
    }

    /// The task as a worker runs it: the cluster's `task_timeout` filled in where the task
    /// sets none.
    pub fn spec(&self, id: TaskId) -> TaskSpec {
        let mut spec = self.tasks[id as usize].spec.to_spec();
        spec.timeout = spec.timeout.or(self.rules.timeout);
        // Called as the run starts: its attempts count this run already.
        spec.attempt = Some(self.history(id).attempts.max(1));
        spec.checkpoint = self.rules.checkpoint.map(|c| {
            Box::new(CheckpointSignal {
                signal: c.signal.as_str().trim_start_matches("SIG").to_string(),
                lead: c.lead.as_secs_f64(),
            })
        });
        // The worker checks a task sent ahead by the same rule as the server.
        if self.checkpointable(id) {
            spec.checkpointable = Some(true);
        }
        spec
    }

    /// The task may start in a batch job's tail too short for its estimate and run in pieces:
    /// it checkpoints (its own `checkpointable`, else the cluster's) and workers ask it to
    /// (`checkpoint_signal` is set).
    pub fn checkpointable(&self, id: TaskId) -> bool {
        let own = self.tasks[id as usize]
            .spec
            .extra
            .as_ref()
            .and_then(|e| e.checkpointable);
        self.rules.checkpoint.is_some() && own.unwrap_or(self.rules.checkpointable)
    }

    /// The view `hpcluster tasks` shows, at `now` (Unix seconds).
    pub fn info(&self, id: TaskId, now: f64) -> TaskInfo {
        let t = &self.tasks[id as usize];
        self.history(id).info(id, &t.spec.to_spec(), &t.state, now)
    }

    pub fn has_pending(&self) -> bool {
        !(self.pending_default.is_empty() && self.pending_timed.is_empty())
    }

    /// The oldest pending task that takes the default estimate.
    pub fn first_default(&self) -> Option<TaskId> {
        self.pending_default.front().copied()
    }

    /// Pending tasks with their own time, oldest first.
    pub fn timed(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.pending_timed.iter().copied()
    }

    /// Where a pending task waits: (its queue holds tasks with their own time, tasks ahead of
    /// it in that queue).
    pub fn queue_position(&self, id: TaskId) -> Option<(bool, usize)> {
        let timed = self.time(id).is_some();
        let q = if timed {
            &self.pending_timed
        } else {
            &self.pending_default
        };
        q.iter().position(|t| *t == id).map(|pos| (timed, pos))
    }

    /// Takes the oldest default-estimate task out of its queue (it must then change state).
    pub fn take_default(&mut self) -> Option<TaskId> {
        self.pending_default.pop_front()
    }

    /// Pending tasks that take the default estimate, oldest first.
    pub fn defaults(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.pending_default.iter().copied()
    }

    /// Takes the default-estimate task at `pos` of [`TaskTable::defaults`] out of its queue.
    pub fn take_default_at(&mut self, pos: usize) -> Option<TaskId> {
        self.pending_default.remove(pos)
    }

    /// The task's class for estimates (see [`crate::estimate::class_of`]).
    pub fn class(&self, id: TaskId) -> &str {
        let name = self.tasks[id as usize]
            .spec
            .extra
            .as_ref()
            .and_then(|e| e.name.as_deref());
        crate::estimate::class_of(name)
    }

    /// Takes the timed task at `pos` of [`TaskTable::timed`] out of its queue.
    pub fn take_timed(&mut self, pos: usize) -> Option<TaskId> {
        self.pending_timed.remove(pos)
    }

    /// Moves a task to `to`, keeping the counts. A task that becomes pending joins the front
    /// of its queue (it was sent before and goes first again); callers take a pending task out
    /// of its queue before moving it elsewhere.
    pub fn set_state(&mut self, id: TaskId, to: TaskState) {
        let t = &mut self.tasks[id as usize];
        let from = std::mem::replace(&mut t.state, to);
        self.counts.on_change(&from, &t.state);
        if t.state == TaskState::Pending && from != TaskState::Pending {
            self.enqueue(id, true);
        }
    }

    /// A run of the task starts in batch job `job` on `host` at `at` (Unix seconds).
    pub fn started(&mut self, id: TaskId, job: Option<Arc<str>>, host: Arc<str>, at: f64) {
        self.history_mut(id).on_started(job, Some(host), at);
    }

    /// The run of a task ended for good (done, failed, killed, cancelled): recorded, counted
    /// (its time, unless it was cancelled) and the task moved to its final state.
    pub fn finish(&mut self, id: TaskId, outcome: Outcome, secs: f64) -> TaskEvent {
        let Some(to) = outcome.final_state() else {
            unreachable!("runs that do not end the task have their own paths")
        };
        if !matches!(outcome, Outcome::Cancelled { .. }) {
            self.counts.on_run_ended(secs);
        }
        self.history_mut(id).on_ended(&outcome, secs);
        self.set_state(id, to);
        TaskEvent {
            task: id,
            outcome,
            secs,
        }
    }

    /// A run failed (a non-zero exit, a kill by a signal, a timeout): the task runs again
    /// while its `retries_on_failure` last, first in line; else it ends `failed` (or `killed`,
    /// with `killed`) with the reason.
    pub fn failed_run(&mut self, id: TaskId, secs: f64, end: FailedRun) -> TaskEvent {
        let allowed = self.tasks[id as usize]
            .spec
            .extra
            .as_ref()
            .and_then(|e| e.retries_on_failure)
            .unwrap_or(self.rules.retries_on_failure);
        let failures = self.history(id).failures;
        let FailedRun {
            mut reason,
            exit_code,
            signal,
            killed,
        } = end;
        if failures < allowed {
            let outcome = Outcome::Rerun {
                reason,
                exit_code,
                signal,
            };
            self.history_mut(id).on_ended(&outcome, secs);
            self.counts.on_rerun();
            self.counts.on_run_ended(secs);
            self.set_state(id, TaskState::Pending);
            return TaskEvent {
                task: id,
                outcome,
                secs,
            };
        }
        if allowed > 0 {
            reason = format!(
                "{reason}, {} times (retries_on_failure = {allowed})",
                failures + 1
            );
        }
        let outcome = if killed {
            Outcome::Killed { reason, signal }
        } else {
            Outcome::Failed {
                reason,
                exit_code,
                walltime: false,
            }
        };
        self.finish(id, outcome, secs)
    }

    /// A run saved its state and exited with `checkpoint_exit_code`: the task goes back to the
    /// front of its queue, its retries and failures untouched; or, once it has checkpointed
    /// `max_checkpoints` times, it fails with the reason.
    pub fn checkpointed(&mut self, id: TaskId, secs: f64, rule: CheckpointRule) -> TaskEvent {
        let done = self.history(id).checkpoints;
        if done >= rule.max_checkpoints {
            let code = rule.exit_code;
            let reason = format!(
                "exited with `checkpoint_exit_code` ({code}) after {done} checkpointed runs: \
                 `max_checkpoints` ({}) allows no more; raise `max_checkpoints` if it needs \
                 more pieces, or see why its runs do not finish it (`hpcluster logs {id}`)",
                rule.max_checkpoints
            );
            let outcome = Outcome::Failed {
                reason,
                exit_code: Some(code),
                walltime: false,
            };
            return self.finish(id, outcome, secs);
        }
        let outcome = Outcome::Checkpointed;
        self.history_mut(id).on_ended(&outcome, secs);
        self.counts.on_checkpointed();
        self.counts.on_run_ended(secs);
        self.set_state(id, TaskState::Pending);
        TaskEvent {
            task: id,
            outcome,
            secs,
        }
    }

    /// A run of a running task was lost: the task goes back to the front of the queue, or
    /// fails once it has lost more runs than its retries allow.
    pub fn requeue(&mut self, id: TaskId, secs: f64, reason: String, walltime: bool) -> TaskEvent {
        let retries = self.tasks[id as usize]
            .spec
            .retries
            .unwrap_or(self.rules.retries);
        let lost = self.history(id).lost_runs + 1;
        let requeued = lost <= retries;
        self.counts.on_lost_run(walltime, requeued);
        if !requeued {
            let reason = format!("{reason}, {lost} times (retries = {retries})");
            return self.finish(
                id,
                Outcome::Failed {
                    reason,
                    exit_code: None,
                    walltime,
                },
                secs,
            );
        }
        let outcome = Outcome::Requeued { reason, walltime };
        // Before it joins a queue: a walltime kill may move it to the queue of timed tasks.
        self.history_mut(id).on_ended(&outcome, secs);
        self.set_state(id, TaskState::Pending);
        TaskEvent {
            task: id,
            outcome,
            secs,
        }
    }

    /// A run lost with a batch job that was preempted or lost its node no longer counts
    /// against the task's `retries`; false when the task has ended meanwhile or lost none.
    pub fn forgive_lost_run(&mut self, id: TaskId) -> bool {
        if self.tasks[id as usize].state.is_final() || self.history(id).lost_runs == 0 {
            return false;
        }
        self.history_mut(id).on_forgiven();
        true
    }

    /// A task sent ahead comes back unstarted: first in line again, no run lost.
    pub fn give_back(&mut self, id: TaskId) -> TaskEvent {
        self.history_mut(id).on_ended(&Outcome::Returned, 0.0);
        self.set_state(id, TaskState::Pending);
        TaskEvent {
            task: id,
            outcome: Outcome::Returned,
            secs: 0.0,
        }
    }

    /// Takes a pending task out of its queue (it must then change state: a copy of it
    /// completed elsewhere, or it is cancelled).
    pub fn withdraw(&mut self, id: TaskId) {
        if self.tasks[id as usize].state == TaskState::Pending {
            self.pending_default.retain(|t| *t != id);
            self.pending_timed.retain(|t| *t != id);
        }
    }

    /// `hpcluster cancel` of a pending or running task (the caller stops a running one).
    pub fn cancel(&mut self, id: TaskId, secs: f64) -> TaskEvent {
        self.withdraw(id);
        let reason = "cancelled by `hpcluster cancel`".to_string();
        self.finish(id, Outcome::Cancelled { reason }, secs)
    }

    /// `hpcluster retry` of an ended task: pending again, first in line, retries whole.
    pub fn retry(&mut self, id: TaskId) {
        self.history_mut(id).on_retried();
        self.set_state(id, TaskState::Pending);
    }

    fn enqueue(&mut self, id: TaskId, front: bool) {
        let q = if self.time(id).is_some() {
            &mut self.pending_timed
        } else {
            &mut self.pending_default
        };
        if front {
            q.push_front(id)
        } else {
            q.push_back(id)
        }
    }
}

/// How a failed run ended, for [`TaskTable::failed_run`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FailedRun {
    pub reason: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Ended by a signal hpcluster did not send: the task ends `killed`, not `failed`.
    pub killed: bool,
}
