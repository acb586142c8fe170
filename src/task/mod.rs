//! The task model every layer shares: what a task is ([`TaskSpec`], as the user described it),
//! the states it goes through ([`TaskState`], named by [`StateName`]), how a run of it ended
//! ([`Outcome`], as the journal records it, carried by a [`TaskEvent`]), what happened to its
//! runs ([`TaskHistory`]), and the one view of a task that `hpcluster tasks` prints whether a
//! server answers or the journal is read ([`TaskInfo`], in [`info`]). The journal, the wire, the
//! server's core and the tasks-file reader all speak these types; none of them owns them.

mod counts;
pub mod history;
pub mod info;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use counts::Counts;
pub use history::TaskHistory;
pub use info::{StateName, TaskInfo, TaskPage, TaskQuery};

/// A task's ID: its position in the cluster's journal, stable across resumes.
pub type TaskId = u64;

/// One task as the user described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TaskSpec {
    /// Shell command, run with `/bin/sh -c`.
    pub cmd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The task's own time estimate in seconds (overrides the cluster's `task_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Retries after a lost worker or a walltime kill (overrides the cluster's `retries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Runs again after a failed run: a non-zero exit, a kill by a signal, a timeout
    /// (overrides the cluster's `retries_on_failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries_on_failure: Option<u32>,
    /// Seconds a run may take before the worker kills it and it fails (overrides the
    /// cluster's `task_timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Which run of the task this is, 1 for the first (the task's `HPCLUSTER_ATTEMPT`): set by
    /// the server in the spec it sends a worker, never read from a tasks file; absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The task saves its state and exits with `checkpoint_exit_code` when its worker sends
    /// `checkpoint_signal`, so it may start in a batch job whose time left is shorter than its
    /// estimate and run in pieces (overrides the cluster's `checkpointable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpointable: Option<bool>,
    /// How its worker asks it to checkpoint (`checkpoint_signal`, `checkpoint_lead`): set by
    /// the server in the spec it sends a worker, never read from a tasks file; absent: never.
    /// Boxed: most specs carry none, and a spec travels inline in every dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Box<CheckpointSignal>>,
}

/// The signal a worker sends a running task's process group `lead` seconds before its
/// deadline, once per run, so the task saves its state and exits with `checkpoint_exit_code`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointSignal {
    /// A signal name without `SIG`, like `USR1` (checked by the configuration).
    pub signal: String,
    /// Seconds before the deadline.
    pub lead: f64,
}

/// The state of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    Pending,
    /// Sent to a worker slot (running there, or sent ahead and waiting behind its task).
    Running {
        worker: u64,
        slot: u32,
    },
    Done,
    /// Ended without success: a non-zero exit, a timeout, no start possible, retries used up.
    Failed {
        reason: String,
    },
    /// Ended by a signal nobody in hpcluster sent (the kernel's OOM killer, a user's `kill`).
    Killed {
        reason: String,
    },
    /// Taken off the queue, or stopped, by `hpcluster cancel`.
    Cancelled,
}

impl TaskState {
    pub fn name(&self) -> StateName {
        match self {
            TaskState::Pending => StateName::Pending,
            TaskState::Running { .. } => StateName::Running,
            TaskState::Done => StateName::Done,
            TaskState::Failed { .. } => StateName::Failed,
            TaskState::Killed { .. } => StateName::Killed,
            TaskState::Cancelled => StateName::Cancelled,
        }
    }

    /// Nothing more happens to the task unless it is retried.
    pub fn is_final(&self) -> bool {
        self.name().is_final()
    }
}

/// How a run of a task ended, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Done,
    Failed {
        reason: String,
        /// The command's exit status, when it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The run that ended it was killed by the walltime (it can never fit, or its
        /// `retries` were used up).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        walltime: bool,
    },
    /// Ended by a signal hpcluster did not send.
    Killed {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// The run failed (as `failed` or `killed` would say) and the task runs again: its
    /// `retries_on_failure` are not used up.
    Rerun {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// Back in the queue after a lost, interrupted or walltime-killed run.
    Requeued {
        reason: String,
        walltime: bool,
    },
    /// Sent ahead to a worker slot that gave it back unstarted (no run is lost).
    Returned,
    /// The run saved its state and exited with `checkpoint_exit_code`: the task is back in
    /// the queue, first in line, counted neither as a failure nor as a lost run (a journal
    /// written before checkpoints never holds it).
    Checkpointed,
    /// `hpcluster cancel`: taken off the queue, or stopped while it ran.
    Cancelled {
        reason: String,
    },
}

impl Outcome {
    /// The state a task ends in when a run ends this way; `None` when the task goes on
    /// (run again, requeued, given back, checkpointed). The one mapping the core's task table
    /// and the journal's replay both use.
    pub fn final_state(&self) -> Option<TaskState> {
        match self {
            Outcome::Done => Some(TaskState::Done),
            Outcome::Failed { reason, .. } => Some(TaskState::Failed {
                reason: reason.clone(),
            }),
            Outcome::Killed { reason, .. } => Some(TaskState::Killed {
                reason: reason.clone(),
            }),
            Outcome::Cancelled { .. } => Some(TaskState::Cancelled),
            Outcome::Rerun { .. }
            | Outcome::Requeued { .. }
            | Outcome::Returned
            | Outcome::Checkpointed => None,
        }
    }
}

/// One task-level event, for the journal and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    pub task: TaskId,
    pub outcome: Outcome,
    /// Seconds the run took (zero when it never ran).
    pub secs: f64,
}

/// A task's stdout and stderr files: `<cluster dir>/tasks/<id / 1000>/<id>.out|.err` (one
/// directory per thousand tasks, so none grows past a thousand files per stream).
pub fn output_paths(cluster_dir: &Path, task: TaskId) -> (PathBuf, PathBuf) {
    let dir = cluster_dir
        .join("tasks")
        .join(format!("{:03}", task / 1000));
    (
        dir.join(format!("{task}.out")),
        dir.join(format!("{task}.err")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_journal_spelling() {
        let o = Outcome::Failed {
            reason: "exit status 3".into(),
            exit_code: Some(3),
            walltime: false,
        };
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(
            text,
            r#"{"outcome":"failed","reason":"exit status 3","exit_code":3}"#
        );
        // A journal written before exit codes were recorded still reads.
        let old: Outcome =
            serde_json::from_str(r#"{"outcome":"failed","reason":"exit status 1"}"#).unwrap();
        assert_eq!(
            old,
            Outcome::Failed {
                reason: "exit status 1".into(),
                exit_code: None,
                walltime: false,
            }
        );
    }

    #[test]
    fn outputs_go_one_directory_per_thousand_tasks() {
        let (out, err) = output_paths(Path::new("/c"), 1234);
        assert_eq!(out, Path::new("/c/tasks/001/1234.out"));
        assert_eq!(err, Path::new("/c/tasks/001/1234.err"));
    }
}
