//! Backends: one small trait over SLURM, SGE, PBS, LSF and the local machine.
//!
//! A backend submits a rendered job script (or an array of them), asks the status of many batch
//! jobs in one command, and cancels many at once. Each batch system's output is read by pure
//! `parse_*` functions kept apart from the thin code that runs the commands.

mod kind;
pub mod local;

pub use kind::BackendKind;

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The ID of one batch job (or one task of an array job), as the batch system spells it:
/// `4101`, `4101_3` (SLURM array task), `4101.3` (SGE array task), `4101.server01`,
/// `4101[3].server01` (PBS). `cluster` is kept where a federated SLURM prints one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl JobId {
    pub fn new(id: impl Into<String>) -> JobId {
        JobId {
            id: id.into(),
            cluster: None,
        }
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cluster {
            Some(c) => write!(f, "{};{}", self.id, c),
            None => f.write_str(&self.id),
        }
    }
}

/// One state for every batch system's native states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Running,
    Completing,
    Done,
    Failed,
    Timeout,
    Cancelled,
    Unknown,
}

impl JobState {
    /// The batch job has ended and will not run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Timeout | JobState::Cancelled
        )
    }
}

/// What the batch system says of one batch job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub state: JobState,
    /// The batch system's own word for it (`PD`, `qw`, `RUN`, ...), for status output.
    pub native: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<SystemTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<SystemTime>,
}

/// One submission: a script file, a unique job name, and an optional array size.
#[derive(Debug, Clone)]
pub struct SubmitRequest<'a> {
    pub script: &'a Path,
    /// Unique per submission: used to find a batch job an unanswered submit created.
    pub job_name: &'a str,
    /// `Some(n)`: one array job of n tasks where the backend supports it.
    pub array: Option<u32>,
    /// Directory the submit command runs in.
    pub workdir: &'a Path,
}

/// A batch system behind one small interface.
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// The exact command line `submit` runs for this request (shown by `--dry-run`).
    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String>;

    /// Submits; returns one ID per batch job (per array task for arrays).
    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>>;

    /// The status of many batch jobs, in as few commands as the command-line length allows.
    /// A job missing from the answer is unknown, never assumed dead.
    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>>;

    /// Cancels many batch jobs, in batches.
    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()>;
}
