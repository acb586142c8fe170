//! Copies of a task the server no longer counts on, and what their reports may change.
//!
//! Every start of a task gets a run ID ([`RunId`]), carried in the `run` reply, the worker's
//! report and its claims, so the core knows which copy a report is of. The copy a task's
//! state names (its worker's running list holds that task with that run) is current; any
//! other copy is stale: it ran on a worker given up on, was requeued while its worker was
//! away, or was stopped because another copy completed. A stale copy's report is kept only if
//! it is a success and the task has not completed elsewhere: a pending copy is withdrawn
//! from the queue, a running one is stopped (its worker told to kill it), a task that failed
//! meanwhile is done after all. Any other stale report (a failure, a kill, an interruption,
//! or a success for a task already done or cancelled) changes neither the task nor a count.
//! `docs/reliability.md` gives the rule for every order of events.

use super::orphans::ORPHAN;
use super::{Core, WorkerId};
use crate::protocol::{RunEnd, RunId};
use crate::task::{Outcome, TaskEvent, TaskId, TaskState};

/// What a report changed.
#[derive(Debug, Default, PartialEq)]
pub struct Reported {
    /// The task's end (or requeue), to journal; none when the report changed nothing.
    pub event: Option<TaskEvent>,
    /// Copies (worker, task, run) to stop: the task completed elsewhere.
    pub stop: Vec<(WorkerId, TaskId, RunId)>,
}

impl Core {
    /// Run IDs start here (the server passes its start time in microseconds, so two servers
    /// of one cluster never hand out the same ID even when a start never reached the journal).
    pub fn with_first_run(mut self, first: RunId) -> Core {
        self.next_run = first.max(1);
        self
    }

    /// The ID of the next start.
    pub(super) fn next_run(&mut self) -> RunId {
        let run = self.next_run;
        self.next_run = self.next_run.saturating_add(1);
        run
    }

    /// The report of a copy that is not the current one (see the module's rule).
    pub(super) fn on_stale_report(
        &mut self,
        from: WorkerId,
        task: TaskId,
        end: RunEnd,
        secs: f64,
    ) -> Reported {
        let mut out = Reported::default();
        let Some(state) = self.tasks.state(task).cloned() else {
            return out;
        };
        if end != (RunEnd::Exited { code: 0 }) {
            tracing::debug!("task {task}: the report of a stale copy ({end:?}) is ignored");
            return out;
        }
        match state {
            TaskState::Done | TaskState::Cancelled => return out,
            TaskState::Pending => self.tasks.withdraw(task),
            TaskState::Running { worker: ORPHAN, .. } => self.orphans.forget(task),
            TaskState::Running { worker, .. } => {
                if let Some((_, run)) = self.take_running_copy(worker, task) {
                    out.stop.push((worker, task, run));
                }
            }
            TaskState::Failed { .. } | TaskState::Killed { .. } => {}
        }
        if let Some(w) = self.workers.get_mut(&from) {
            w.tasks_done += 1;
        }
        self.estimates.observe(self.tasks.class(task), secs);
        out.event = Some(self.tasks.finish(task, Outcome::Done, secs));
        out
    }
}
