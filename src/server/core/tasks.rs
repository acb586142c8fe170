//! The task table: every task of the run, its state, and the two queues of pending tasks.
//!
//! Pending tasks wait in one of two FIFO queues: those that use the default estimate, and those
//! with their own `time` (scanned for one that fits a worker's time left). A task leaves a queue
//! only through [`TaskTable::take_default`] / [`TaskTable::take_timed`] and enters one only by
//! becoming pending; every state change goes through [`TaskTable::set_state`], which keeps the
//! [`Counts`] of the ledger.

use std::collections::VecDeque;

use super::ledger::Counts;
use crate::task::{Outcome, TaskEvent, TaskId, TaskSpec, TaskState};

/// A task's description as the table keeps it: command, time and retries inline, the rarely
/// used rest boxed, so a million queued tasks stay small (see `docs/benchmarks.md`).
#[derive(Debug, Clone)]
struct StoredSpec {
    cmd: Box<str>,
    time: Option<f64>,
    retries: Option<u32>,
    extra: Option<Box<SpecExtra>>,
}

#[derive(Debug, Clone)]
struct SpecExtra {
    name: Option<String>,
    cwd: Option<String>,
    env: std::collections::BTreeMap<String, String>,
}

impl From<TaskSpec> for StoredSpec {
    fn from(s: TaskSpec) -> StoredSpec {
        let extra = (s.name.is_some() || s.cwd.is_some() || !s.env.is_empty()).then(|| {
            Box::new(SpecExtra {
                name: s.name,
                cwd: s.cwd,
                env: s.env,
            })
        });
        StoredSpec {
            cmd: s.cmd.into_boxed_str(),
            time: s.time,
            retries: s.retries,
            extra,
        }
    }
}

impl StoredSpec {
    fn to_spec(&self) -> TaskSpec {
        let (name, cwd, env) = match &self.extra {
            Some(e) => (e.name.clone(), e.cwd.clone(), e.env.clone()),
            None => (None, None, Default::default()),
        };
        TaskSpec {
            cmd: self.cmd.to_string(),
            name,
            time: self.time,
            cwd,
            env,
            retries: self.retries,
        }
    }
}

#[derive(Debug, Clone)]
struct Task {
    spec: StoredSpec,
    state: TaskState,
    /// Runs that ended without a result (lost worker, interruption, walltime kill).
    lost_runs: u32,
}

/// Every task of the run.
#[derive(Debug, Default)]
pub(super) struct TaskTable {
    tasks: Vec<Task>,
    pending_default: VecDeque<TaskId>,
    pending_timed: VecDeque<TaskId>,
    counts: Counts,
}

impl TaskTable {
    /// Adds a task in `state` (pending ones join the back of their queue); returns its ID.
    pub fn add(&mut self, spec: TaskSpec, state: TaskState, lost_runs: u32) -> TaskId {
        let id = self.tasks.len() as TaskId;
        self.counts.on_added(&state);
        let pending = state == TaskState::Pending;
        self.tasks.push(Task {
            spec: spec.into(),
            state,
            lost_runs,
        });
        if pending {
            self.enqueue(id, false);
        }
        id
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
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

    /// Runs of the task lost so far (they count against its retries).
    #[cfg(test)]
    pub fn lost_runs(&self, id: TaskId) -> u32 {
        self.tasks[id as usize].lost_runs
    }

    /// The task's own time, seconds (`None`: it takes the default estimate).
    pub fn time(&self, id: TaskId) -> Option<f64> {
        self.tasks[id as usize].spec.time
    }

    pub fn spec(&self, id: TaskId) -> TaskSpec {
        self.tasks[id as usize].spec.to_spec()
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

    /// The run of a task that was running ended with a result: done or failed.
    pub fn finish(&mut self, id: TaskId, outcome: &Outcome) {
        let to = match outcome {
            Outcome::Done => TaskState::Done,
            Outcome::Failed { reason } => TaskState::Failed {
                reason: reason.clone(),
            },
            Outcome::Requeued { .. } | Outcome::Returned => {
                unreachable!("requeue and give_back have their own paths")
            }
        };
        self.set_state(id, to);
    }

    /// A run of a running task was lost: the task goes back to the front of the queue, or
    /// fails once it has lost more runs than its retries allow (`default_retries` unless it
    /// sets its own).
    pub fn requeue(
        &mut self,
        id: TaskId,
        secs: f64,
        reason: String,
        walltime: bool,
        default_retries: u32,
    ) -> TaskEvent {
        let t = &mut self.tasks[id as usize];
        let retries = t.spec.retries.unwrap_or(default_retries);
        t.lost_runs += 1;
        let lost = t.lost_runs;
        let outcome = if lost > retries {
            let reason = format!("{reason}, {lost} times (retries = {retries})");
            Outcome::Failed { reason }
        } else {
            Outcome::Requeued { reason, walltime }
        };
        self.counts
            .on_lost_run(walltime, matches!(outcome, Outcome::Requeued { .. }));
        match &outcome {
            Outcome::Failed { .. } => self.finish(id, &outcome),
            _ => self.set_state(id, TaskState::Pending),
        }
        TaskEvent {
            task: id,
            outcome,
            secs,
        }
    }

    /// A task sent ahead comes back unstarted: first in line again, no run lost.
    pub fn give_back(&mut self, id: TaskId) -> TaskEvent {
        self.set_state(id, TaskState::Pending);
        TaskEvent {
            task: id,
            outcome: Outcome::Returned,
            secs: 0.0,
        }
    }

    fn enqueue(&mut self, id: TaskId, front: bool) {
        let q = if self.tasks[id as usize].spec.time.is_some() {
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
