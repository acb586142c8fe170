//! The task model every layer shares: what a task is ([`TaskSpec`], as the user described it),
//! the states it goes through ([`TaskState`]), and how a run of it ended ([`Outcome`], as the
//! journal records it, carried by a [`TaskEvent`]). The journal, the wire, the server's core
//! and the tasks-file reader all speak these types; none of them owns them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// Retries after a lost worker (overrides the cluster's `retries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
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
    Failed {
        reason: String,
    },
}

/// How a run of a task ended, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Done,
    Failed {
        reason: String,
    },
    /// Back in the queue after a lost, interrupted or walltime-killed run.
    Requeued {
        reason: String,
        walltime: bool,
    },
    /// Sent ahead to a worker slot that gave it back unstarted (no run is lost).
    Returned,
}

/// One task-level event, for the journal and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    pub task: TaskId,
    pub outcome: Outcome,
    /// Seconds the run took (zero when it never ran).
    pub secs: f64,
}
