//! The ledger of a run: how many tasks are in each state, how many runs were lost and to
//! what, and the task time spent. The task table ([`super::tasks`]) reports every state change
//! here, so the counts follow from the changes and are never adjusted by hand elsewhere.

use serde::Serialize;

use crate::task::TaskState;

/// Counters for the summary, `status` and the progress line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    /// Runs lost and put back in the queue (lost worker, interruption, walltime kill).
    pub requeued: u64,
    /// Of those, runs killed by the walltime.
    pub walltime_kills: u64,
    /// Wall time of the runs that ended with an exit status, seconds.
    pub task_seconds: f64,
}

impl Counts {
    /// A task entered the table in `state`.
    pub(super) fn on_added(&mut self, state: &TaskState) {
        *self.slot(state) += 1;
    }

    /// A task went from `from` to `to`.
    pub(super) fn on_change(&mut self, from: &TaskState, to: &TaskState) {
        *self.slot(from) -= 1;
        *self.slot(to) += 1;
    }

    /// A run was lost and the task requeued (`walltime`: the walltime killed it).
    pub(super) fn on_lost_run(&mut self, walltime: bool, requeued: bool) {
        if walltime {
            self.walltime_kills += 1;
        }
        if requeued {
            self.requeued += 1;
        }
    }

    /// A run ended with an exit status after `secs`.
    pub(super) fn on_run_ended(&mut self, secs: f64) {
        if secs.is_finite() && secs > 0.0 {
            self.task_seconds += secs;
        }
    }

    fn slot(&mut self, state: &TaskState) -> &mut usize {
        match state {
            TaskState::Pending => &mut self.pending,
            TaskState::Running { .. } => &mut self.running,
            TaskState::Done => &mut self.done,
            TaskState::Failed { .. } => &mut self.failed,
        }
    }
}
