//! The server's scheduling core: synchronous, no sockets, no clock.
//!
//! Every input is an `on_*` event with the time passed in (seconds since an epoch the caller
//! chooses, as a `Duration`); every decision comes back as a value. The tokio shell in
//! [`super::shell`] feeds it from sockets and timers, and the benchmark simulator feeds it
//! from simulated batch jobs: both run this same code.
//!
//! The core is split by what changes together, one room each:
//! - [`tasks`]: the task table and its queues (every state change goes through it, and the
//!   counts follow from the changes: [`ledger`]);
//! - [`estimates`]: how long a task is expected to take at a given moment;
//! - [`workers`]: connected workers, their slots and what they run; reports and losses;
//! - [`dispatch`]: the answer to a slot's ask, sending ahead, parked slots (admission through
//!   the [`Budget`]);
//! - [`orphans`]: tasks a restarted server found running, and the claims of returning workers;
//! - [`supply`]: how many batch jobs the pending work needs.

mod dispatch;
mod estimates;
mod ledger;
mod orphans;
mod supply;
mod tasks;
mod workers;

use std::collections::HashMap;
use std::time::Duration;

pub use dispatch::{Dispatch, PREFETCH_BELOW};
pub use ledger::Counts;
pub use orphans::ClaimOutcome;
pub use workers::WorkerHello;

use crate::budget::Budget;
use crate::task::{TaskId, TaskSpec, TaskState};
use estimates::Estimates;
use orphans::Orphans;
use tasks::TaskTable;
use workers::Worker;

pub type WorkerId = u64;

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The walltime budget of the batch jobs (the same one `plan` and the job scripts use).
    pub budget: Budget,
    /// Retries after a lost or interrupted run.
    pub retries: u32,
    /// Parked slots retire after this long without work.
    pub idle_timeout: Duration,
    /// Workers silent this long are lost.
    pub heartbeat_timeout: Duration,
}

/// The scheduling core.
#[derive(Debug)]
pub struct Core {
    cfg: CoreConfig,
    tasks: TaskTable,
    workers: HashMap<WorkerId, Worker>,
    estimates: Estimates,
    orphans: Orphans,
    /// No more tasks will be added (a `--tasks` run).
    input_closed: bool,
}

impl Core {
    pub fn new(cfg: CoreConfig) -> Core {
        Core {
            estimates: Estimates::new(cfg.budget.task_time, cfg.budget.usable),
            cfg,
            tasks: TaskTable::default(),
            workers: HashMap::new(),
            orphans: Orphans::default(),
            input_closed: false,
        }
    }

    pub fn budget(&self) -> &Budget {
        &self.cfg.budget
    }

    /// Adds tasks; returns the ID of the first. A task whose own time exceeds what a fresh
    /// batch job offers fails at once with the reason.
    pub fn on_tasks_added(&mut self, specs: Vec<TaskSpec>) -> TaskId {
        let first = self.tasks.len() as TaskId;
        for spec in specs {
            let state = match self.never_fits(&spec) {
                Some(reason) => TaskState::Failed { reason },
                None => TaskState::Pending,
            };
            self.tasks.add(spec, state, 0);
        }
        first
    }

    /// Why a task can never start: its own time exceeds what a fresh batch job offers.
    pub fn never_fits(&self, spec: &TaskSpec) -> Option<String> {
        let t = crate::duration::from_secs_saturating(spec.time?);
        self.cfg.budget.never_fits(t).then(|| {
            format!(
                "its time {} exceeds the {} a batch job offers (walltime - startup - buffer); \
                 raise `walltime` to {} or more",
                crate::duration::format_human(t),
                crate::duration::format_human(self.cfg.budget.usable),
                crate::duration::format_human(crate::plan::walltime_for(1, &self.cfg.budget, t))
            )
        })
    }

    /// Restores a task from the journal in its final or pending state (a task the journal
    /// left running is pending again).
    pub fn restore_task(&mut self, spec: TaskSpec, state: TaskState, lost_runs: u32) {
        let state = match state {
            TaskState::Running { .. } => TaskState::Pending,
            s => s,
        };
        self.tasks.add(spec, state, lost_runs);
    }

    /// A duration from the journal's history teaches the estimate.
    pub fn learn(&mut self, secs: f64) {
        self.estimates.observe(secs);
    }

    /// No more tasks will be added: workers stop once the queue drains.
    pub fn close_input(&mut self) {
        self.input_closed = true;
    }

    /// Every task has ended and no more will come.
    pub fn is_finished(&self) -> bool {
        let c = self.tasks.counts();
        self.input_closed && c.pending == 0 && c.running == 0
    }

    pub fn counts(&self) -> &Counts {
        self.tasks.counts()
    }

    pub fn task_state(&self, task: TaskId) -> Option<&TaskState> {
        self.tasks.state(task)
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The estimate for tasks without their own time, at `now` (see [`estimates`]).
    pub fn default_estimate_at(&self, now: Duration) -> Duration {
        self.estimates.default_at(now)
    }

    /// The learned estimate for tasks without their own time, without the running bound.
    pub fn default_estimate(&self) -> Duration {
        self.estimates.default()
    }
}

#[cfg(test)]
mod tests;
