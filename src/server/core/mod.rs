//! The server's scheduling core: synchronous, no sockets, no clock.
//!
//! Every input is an `on_*` event with the time passed in (seconds since an epoch the caller
//! chooses, as a `Duration`); every decision comes back as a value. The tokio shell in
//! [`super::shell`] feeds it from sockets and timers, and the benchmark simulator feeds it
//! from simulated batch jobs: both run this same code.
//!
//! The core is split by what changes together, one room each:
//! - [`tasks`]: the task table and its queues (every state change goes through it, and the
//!   counts follow from the changes: [`ledger`]); what clients ask of tasks (`tasks`, `cancel`,
//!   `retry`) is answered here too;
//! - [`estimates`]: how long a task is expected to take at a given moment;
//! - [`workers`]: connected workers, their slots and what they run; reports and losses;
//! - [`dispatch`]: the answer to a slot's ask, sending ahead, parked slots (admission through
//!   the [`Budget`]); [`select`]: which pending task fits a slot (FIFO, then best fit);
//! - [`orphans`]: tasks a restarted server found running, and the claims of returning workers;
//! - [`stale`]: run IDs, and the reports of copies the server no longer counts on;
//! - [`supply`]: how many batch jobs the pending work needs, and which queued ones it no
//!   longer needs;
//! - [`warnings`]: the batch system's warning that a batch job ends soon, and the earlier
//!   deadline its worker is admitted against from then on;
//! - [`explain`]: why a task is where it is (`hpcluster explain`).

mod dispatch;
mod estimates;
mod explain;
mod ledger;
mod lost_jobs;
mod orphans;
mod select;
mod stale;
mod supply;
mod tasks;
mod warnings;
mod workers;

use std::collections::HashMap;
use std::time::Duration;

pub use dispatch::{Dispatch, PREFETCH_BELOW};
pub use ledger::Counts;
pub use orphans::ClaimOutcome;
pub use stale::Reported;
pub use supply::{JobCounts, Supply};
pub use tasks::{CheckpointRule, TaskRules};
pub use workers::WorkerHello;

use crate::budget::Budget;
use crate::duration::format_human;
use crate::task::{
    StateName, TaskEvent, TaskHistory, TaskId, TaskPage, TaskQuery, TaskSpec, TaskState,
};
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
    /// The run ID of the next start ([`stale`]).
    next_run: crate::protocol::RunId,
    /// Runs lost per batch job until its end is known ([`lost_jobs`]).
    lost_with: lost_jobs::LostWithJob,
}

impl Core {
    pub fn new(cfg: CoreConfig) -> Core {
        let mut tasks = TaskTable::default();
        tasks.rules.retries = cfg.retries;
        Core {
            estimates: Estimates::new(
                cfg.budget.task_time,
                cfg.budget.overrun_risk,
                cfg.budget.usable,
            ),
            cfg,
            tasks,
            workers: HashMap::new(),
            orphans: Orphans::default(),
            input_closed: false,
            next_run: 1,
            lost_with: Default::default(),
        }
    }

    /// The cluster's rules for failed runs: how often one runs again (`retries_on_failure`)
    /// and how long a run may take (`task_timeout`), for tasks that set none of their own.
    pub fn with_failure_rules(
        mut self,
        retries_on_failure: u32,
        timeout: Option<Duration>,
    ) -> Core {
        self.tasks.rules.retries_on_failure = retries_on_failure;
        self.tasks.rules.timeout = timeout.map(|t| t.as_secs_f64());
        self
    }

    /// The cluster's checkpoint contract (`checkpoint_signal`, `checkpoint_lead`,
    /// `checkpoint_exit_code`) and whether tasks checkpoint unless they say otherwise.
    pub fn with_checkpoint_rule(
        mut self,
        rule: Option<CheckpointRule>,
        checkpointable: bool,
    ) -> Core {
        self.tasks.rules.checkpoint = rule;
        self.tasks.rules.checkpointable = checkpointable;
        self
    }

    pub fn budget(&self) -> &Budget {
        &self.cfg.budget
    }

    /// Adds tasks; returns the ID of the first. A task whose own time exceeds what a fresh
    /// batch job offers fails at once with the reason.
    pub fn on_tasks_added(&mut self, specs: impl IntoIterator<Item = TaskSpec>) -> TaskId {
        let first = self.tasks.len() as TaskId;
        let specs = specs.into_iter();
        self.tasks.reserve(specs.size_hint().0);
        for spec in specs {
            let state = match self.never_fits(&spec, &TaskHistory::default()) {
                Some(reason) => TaskState::Failed { reason },
                None => TaskState::Pending,
            };
            self.tasks.add(spec, state, TaskHistory::default());
        }
        first
    }

    /// Why a task can never start: its own time, or what its walltime kills showed it needs,
    /// exceeds what a fresh batch job offers.
    pub fn never_fits(&self, spec: &TaskSpec, history: &TaskHistory) -> Option<String> {
        let t = secs_to_duration(history.effective_time(spec.time)?);
        let rules = &self.tasks.rules;
        if rules.checkpoint.is_some() && spec.checkpointable.unwrap_or(rules.checkpointable) {
            return None; // it runs in pieces
        }
        if !self.cfg.budget.never_fits(t) {
            return None;
        }
        let what = match history.needs_at_least {
            Some(n) if spec.time.is_none_or(|own| n > own) => {
                format!(
                    "ran >= {}",
                    format_human(tenths(n / crate::estimate::MARGIN))
                )
            }
            _ => format!("its time {}", format_human(t)),
        };
        Some(self.needs_more_than_the_walltime(&what, t))
    }

    /// The reason of a task that cannot fit a batch job: what it needs (`what`), what a fresh
    /// batch job offers, and the walltime that would fit `needs`.
    pub(super) fn needs_more_than_the_walltime(&self, what: &str, needs: Duration) -> String {
        let b = &self.cfg.budget;
        format!(
            "needs more than the walltime allows: {what}, usable {}; raise `walltime` to {}",
            format_human(b.usable),
            format_human(crate::plan::walltime_for(1, b, needs))
        )
    }

    /// Restores a task from the journal in its final or pending state (a task the journal
    /// left running is pending again); a pending task that can no longer fit fails.
    pub fn restore_task(&mut self, spec: TaskSpec, state: TaskState, history: TaskHistory) {
        let state = match state {
            TaskState::Running { .. } | TaskState::Pending => {
                match self.never_fits(&spec, &history) {
                    Some(reason) => TaskState::Failed { reason },
                    None => TaskState::Pending,
                }
            }
            s => s,
        };
        self.tasks.add(spec, state, history);
    }

    /// A duration from the journal's history teaches the estimate of the task's class (by
    /// its name: see [`crate::estimate::class_of`]).
    pub fn learn(&mut self, name: Option<&str>, secs: f64) {
        self.estimates
            .observe(crate::estimate::class_of(name), secs);
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

    /// The command of a task.
    pub fn task_command(&self, id: TaskId) -> String {
        self.tasks.spec(id).cmd
    }

    /// The tasks a client asks about, at `now`.
    pub fn task_page(&self, query: &TaskQuery, now: Duration) -> TaskPage {
        let now = now.as_secs_f64();
        crate::task::info::page(
            query,
            self.tasks.len(),
            |id| {
                self.tasks
                    .state(id)
                    .map_or(StateName::Pending, TaskState::name)
            },
            |id| self.tasks.info(id, now),
        )
    }

    /// `hpcluster cancel`: pending tasks leave the queue, running ones are taken from their
    /// worker (which must be told to stop them: the `stop` list). Tasks that have ended are
    /// refused with the reason.
    pub fn on_cancel(&mut self, ids: &[TaskId], now: Duration) -> Changed {
        let mut out = Changed::default();
        for &id in ids {
            match self.tasks.state(id).cloned() {
                None => out.refused.push((id, "no such task".into())),
                Some(TaskState::Pending) => out.events.push(self.tasks.cancel(id, 0.0)),
                Some(TaskState::Running { worker, .. }) => {
                    let since = self.take_running(worker, id);
                    self.orphans.forget(id);
                    let secs = since.map_or(0.0, |s| now.saturating_sub(s).as_secs_f64());
                    out.events.push(self.tasks.cancel(id, secs));
                    if self.workers.contains_key(&worker) {
                        out.stop.push((worker, id));
                    }
                }
                Some(s) => out
                    .refused
                    .push((id, format!("it has already ended ({})", s.name()))),
            }
        }
        out
    }

    /// `hpcluster retry`: ended tasks (`ids`, and with `failed` every failed or killed one)
    /// are queued again with their retries whole. Tasks still pending or running, and tasks
    /// that cannot fit a batch job, are refused with the reason.
    pub fn on_retry(&mut self, ids: &[TaskId], failed: bool) -> Changed {
        let mut out = Changed::default();
        let mut chosen: Vec<TaskId> = ids.to_vec();
        if failed {
            chosen.extend((0..self.tasks.len() as TaskId).filter(|id| {
                matches!(
                    self.tasks.state(*id),
                    Some(TaskState::Failed { .. } | TaskState::Killed { .. })
                )
            }));
        }
        chosen.sort_unstable();
        chosen.dedup();
        for id in chosen {
            let Some(state) = self.tasks.state(id) else {
                out.refused.push((id, "no such task".into()));
                continue;
            };
            if !state.is_final() {
                out.refused
                    .push((id, format!("it has not ended ({})", state.name())));
                continue;
            }
            let spec = self.tasks.spec(id);
            if let Some(reason) = self.never_fits(&spec, self.tasks.history(id)) {
                out.refused.push((id, reason));
                continue;
            }
            self.tasks.retry(id);
            out.retried.push(id);
        }
        out
    }

    /// Takes a running task off its worker's slots; returns when it started there.
    fn take_running(&mut self, worker: WorkerId, task: TaskId) -> Option<Duration> {
        self.take_running_copy(worker, task).map(|(since, _)| since)
    }

    /// Takes a running task off its worker's slots; returns when it started there and its run.
    fn take_running_copy(
        &mut self,
        worker: WorkerId,
        task: TaskId,
    ) -> Option<(Duration, crate::protocol::RunId)> {
        let w = self.workers.get_mut(&worker)?;
        let pos = w.running.iter().position(|r| r.task == task)?;
        let taken = w.running.remove(pos);
        self.estimates
            .stopped(self.tasks.class(task), task, taken.since);
        Some((taken.since, taken.run))
    }
}

/// Seconds as a duration (negative or not finite: zero).
fn secs_to_duration(secs: f64) -> Duration {
    crate::duration::from_secs_saturating(secs)
}

/// Seconds as a duration cut to tenths: how long a run took, in a message.
fn tenths(secs: f64) -> Duration {
    Duration::from_millis(((secs.max(0.0) * 10.0).floor() as u64).saturating_mul(100))
}

/// What `cancel` or `retry` did.
#[derive(Debug, Default, PartialEq)]
pub struct Changed {
    /// Tasks cancelled: their ends, to journal.
    pub events: Vec<TaskEvent>,
    /// Tasks queued again by `retry`, to journal.
    pub retried: Vec<TaskId>,
    /// Running tasks cancelled: their workers must stop them.
    pub stop: Vec<(WorkerId, TaskId)>,
    /// Tasks left as they were, with the reason.
    pub refused: Vec<(TaskId, String)>,
}

#[cfg(test)]
mod tests;
