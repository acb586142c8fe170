//! Runs lost with a batch job that was preempted or whose node failed (issue 11, item 5).
//! Such a batch job ended by no fault of its tasks, so the runs it took with it are not held
//! against the tasks' `retries`. The loss is usually noticed before the cause: the worker's
//! connection closes (or its heartbeats stop) and its tasks are requeued as lost runs, and only
//! a later poll says the batch job was preempted. So every lost run is noted under the batch
//! job it ran in, and when that batch job's end is known the note is either forgiven (the
//! batch job was lost: each task's lost-run count goes back down, and the shell journals it
//! as `forgiven` so a resumed server counts the same) or dropped.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Core, TaskId};

/// Lost runs per batch job, until that batch job's end is known.
#[derive(Debug, Default)]
pub(super) struct LostWithJob(HashMap<Arc<str>, Vec<TaskId>>);

impl Core {
    /// Notes that `task` lost a run in the batch job of its last start.
    pub(super) fn note_lost_run(&mut self, task: TaskId) {
        if let Some(job) = self.tasks.history(task).job.clone() {
            self.lost_with.0.entry(job).or_default().push(task);
        }
    }

    /// The end of batch job `job` is known: when it was `lost` (preempted, its node failed),
    /// the runs its tasks lost there do not count against their `retries`. Returns the task
    /// of each run forgiven (a task once per run), for the journal: a resumed server replays
    /// them. A task that has ended meanwhile (done, or failed because those runs used up its
    /// retries) keeps its state.
    pub fn on_job_end_known(&mut self, job: &str, lost: bool) -> Vec<TaskId> {
        let Some(tasks) = self.lost_with.0.remove(job) else {
            return Vec::new();
        };
        if !lost {
            return Vec::new();
        }
        tasks
            .into_iter()
            .filter(|t| self.tasks.forgive_lost_run(*t))
            .collect()
    }
}
