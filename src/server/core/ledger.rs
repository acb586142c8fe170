//! The ledger of a run: how many tasks are in each state, how many runs were lost, killed by
//! the walltime or run again after a failure, and the task time spent. The task table
//! ([`super::tasks`]) reports every state change here, so the counts follow from the changes
//! and are never adjusted by hand elsewhere. The numbers are a [`Counts`], the type the
//! journal's replay produces too (it lives in [`crate::task`], below both).

pub use crate::task::Counts;

use crate::task::TaskState;

impl Counts {
    /// A task entered the table in `state`.
    pub(super) fn on_added(&mut self, state: &TaskState) {
        *self.of_state(state.name()) += 1;
    }

    /// A task went from `from` to `to`.
    pub(super) fn on_change(&mut self, from: &TaskState, to: &TaskState) {
        *self.of_state(from.name()) -= 1;
        *self.of_state(to.name()) += 1;
    }

    /// A run was lost (`walltime`: the walltime killed it); `requeued`: the task runs again.
    pub(super) fn on_lost_run(&mut self, walltime: bool, requeued: bool) {
        if walltime {
            self.walltime_kills += 1;
        }
        if requeued {
            self.requeued += 1;
        }
    }

    /// A failed run is run again (`retries_on_failure`).
    pub(super) fn on_rerun(&mut self) {
        self.reruns += 1;
    }

    /// A run checkpointed (`checkpoint_exit_code`) and its task runs again.
    pub(super) fn on_checkpointed(&mut self) {
        self.checkpointed += 1;
    }

    /// A run that ended the task (or ran it again) took `secs`.
    pub(super) fn on_run_ended(&mut self, secs: f64) {
        if secs.is_finite() && secs > 0.0 {
            self.task_seconds += secs;
        }
    }
}
