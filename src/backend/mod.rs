//! Backends: one small trait over SLURM, SGE, PBS, LSF and the local machine.
//!
//! A backend submits a rendered job script (or an array of them), asks the status of many batch
//! jobs in one command, and cancels many at once. Each batch system's output is read by pure
//! `parse_*` functions kept apart from the thin code that runs the commands.

pub mod command;

pub mod local;
pub mod local_job;
pub mod lsf;
pub mod pbs;
pub mod sge;
pub mod slurm;
pub mod timed;

pub use command::Runner;

use crate::backend_kind::BackendKind;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
    /// Ended by the batch system for another job (SLURM `PREEMPTED`): not the tasks' fault.
    Preempted,
    /// Ended because its node failed or never booted (SLURM `NODE_FAIL`, `BOOT_FAIL`): not
    /// the tasks' fault.
    #[serde(rename = "node_failed")]
    NodeFailed,
}

impl JobState {
    /// The batch job has ended and will not run again under this state (a requeued SLURM
    /// job shows `PENDING` again under the same ID, and is followed as such).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Done
                | JobState::Failed
                | JobState::Timeout
                | JobState::Cancelled
                | JobState::Preempted
                | JobState::NodeFailed
        )
    }

    /// The batch job ended by no fault of its tasks or its worker (preempted, its node
    /// failed): its runs are lost, not failed, and it does not count as a failed start.
    pub fn is_lost(self) -> bool {
        matches!(self, JobState::Preempted | JobState::NodeFailed)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Completing => "completing",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Timeout => "timeout",
            JobState::Cancelled => "cancelled",
            JobState::Unknown => "unknown",
            JobState::Preempted => "preempted",
            JobState::NodeFailed => "node_failed",
        })
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
    /// Why it is where it is, in the batch system's words, when the status command says
    /// (SLURM's `Reason`, a PBS `comment`, SGE's `failed`/`exit_status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The node it runs or ran on, as the batch system names it (SLURM `%N`: one host name,
    /// or a host list such as `n[1-2]` for a batch job on several), when the status says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// What the batch system says of one batch job beyond its state, from a command asked only
/// about batch jobs that failed or are stuck (`scontrol show job`, `qstat -j`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explanation {
    /// The batch system's own words: `Reason=JobLaunchFailure ExitCode=0:53`.
    pub said: String,
    /// The files its stderr and stdout went to, stderr first, when the batch system says.
    pub files: Vec<PathBuf>,
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
    /// Nodes the batch jobs must not run on (repeated failures there: `JobBook`'s rule), where
    /// the backend can say so (SLURM `--exclude`); other backends ignore it.
    pub exclude: &'a [String],
}

/// A batch system behind one small interface.
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// The exact command line `submit` runs for this request (shown by `--dry-run`).
    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String>;

    /// Whether `submit` keeps batch jobs off the nodes of [`SubmitRequest::exclude`] (SLURM
    /// `--exclude`); the others cannot say so on their command line.
    fn excludes_nodes(&self) -> bool {
        false
    }

    /// Submits; returns one ID per batch job (per array task for arrays).
    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>>;

    /// The status of many batch jobs, in as few commands as the command-line length allows.
    /// A job missing from the answer is unknown, never assumed dead.
    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>>;

    /// Cancels many batch jobs, in batches.
    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()>;

    /// The batch jobs (array tasks expanded) still known under a unique job name, submitted as
    /// an array of `array` tasks or as one batch job: how a submit whose answer was lost is
    /// found instead of being submitted twice.
    fn find_by_name(&self, name: &str, array: Option<u32>) -> anyhow::Result<Vec<JobId>>;

    /// The final state of batch jobs that vanished from `status`, from what the site keeps
    /// (`scontrol show job`, `qacct`, ...). Jobs it cannot tell about are left out.
    fn final_status(&self, _ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        Ok(HashMap::new())
    }

    /// Why a batch job failed or is stuck, beyond what its status says; `None` when the
    /// status says all the batch system knows.
    fn explain(&self, _id: &JobId, _status: &JobStatus) -> anyhow::Result<Option<Explanation>> {
        Ok(None)
    }

    /// The batch job has failed but stays in the queue until someone removes it (SGE's
    /// `Eqw`): hpcluster cancels it, or it would hold a place in the queue for ever.
    fn stuck(&self, _status: &JobStatus) -> bool {
        false
    }

    /// The batch job waits on a hold (a user's, an administrator's, or an error state) and
    /// will not start by itself.
    fn held(&self, _status: &JobStatus) -> bool {
        false
    }
}

/// The backend of a configuration, running its commands through `runner`.
pub fn for_config(config: &crate::config::Config, runner: Runner) -> Box<dyn Backend> {
    match config.backend {
        BackendKind::Slurm => Box::new(slurm::Slurm::new(config, runner)),
        BackendKind::Sge => Box::new(sge::Sge::new(config, runner)),
        BackendKind::Pbs => Box::new(pbs::Pbs::new(config, runner)),
        BackendKind::Lsf => Box::new(lsf::Lsf::new(config, runner)),
        BackendKind::Local => Box::new(local::Local::new(config, runner)),
    }
}

/// The batch job a worker runs in, from its environment: the same ID `status` reports
/// (`8_3` SLURM array task, `8.3` SGE, `8[3].server` PBS, `8[3]` LSF, `local-4`).
pub fn job_id_from_env(kind: BackendKind, env: &HashMap<String, String>) -> Option<JobId> {
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let id = match kind {
        BackendKind::Slurm => match (get("SLURM_ARRAY_JOB_ID"), get("SLURM_ARRAY_TASK_ID")) {
            (Some(job), Some(task)) => format!("{job}_{task}"),
            _ => get("SLURM_JOB_ID")?.to_string(),
        },
        BackendKind::Sge => {
            let job = get("JOB_ID")?;
            match get("SGE_TASK_ID").filter(|t| *t != "undefined") {
                Some(task) => format!("{job}.{task}"),
                None => job.to_string(),
            }
        }
        BackendKind::Pbs => get("PBS_JOBID")?.to_string(),
        BackendKind::Lsf => {
            let job = get("LSB_JOBID")?;
            match get("LSB_JOBINDEX").filter(|t| *t != "0") {
                Some(task) => format!("{job}[{task}]"),
                None => job.to_string(),
            }
        }
        BackendKind::Local => get("HPCLUSTER_LOCAL_JOB_ID")?.to_string(),
    };
    Some(JobId::new(id))
}

/// The IDs of an array job's tasks `1..=n`, given how the backend spells task `i`.
pub fn expand_array(n: u32, task_id: impl Fn(u32) -> String) -> Vec<JobId> {
    (1..=n).map(|i| JobId::new(task_id(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn job_ids_from_each_backend_environment() {
        let cases = [
            (
                BackendKind::Slurm,
                env(&[
                    ("SLURM_JOB_ID", "9"),
                    ("SLURM_ARRAY_JOB_ID", "8"),
                    ("SLURM_ARRAY_TASK_ID", "1"),
                ]),
                "8_1",
            ),
            (BackendKind::Slurm, env(&[("SLURM_JOB_ID", "9")]), "9"),
            (
                BackendKind::Sge,
                env(&[("JOB_ID", "2"), ("SGE_TASK_ID", "undefined")]),
                "2",
            ),
            (
                BackendKind::Sge,
                env(&[("JOB_ID", "2"), ("SGE_TASK_ID", "3")]),
                "2.3",
            ),
            (
                BackendKind::Pbs,
                env(&[("PBS_JOBID", "4101[2].server01")]),
                "4101[2].server01",
            ),
            (
                BackendKind::Lsf,
                env(&[("LSB_JOBID", "4101"), ("LSB_JOBINDEX", "0")]),
                "4101",
            ),
            (
                BackendKind::Lsf,
                env(&[("LSB_JOBID", "4101"), ("LSB_JOBINDEX", "7")]),
                "4101[7]",
            ),
            (
                BackendKind::Local,
                env(&[("HPCLUSTER_LOCAL_JOB_ID", "local-3")]),
                "local-3",
            ),
        ];
        for (kind, e, want) in cases {
            assert_eq!(job_id_from_env(kind, &e), Some(JobId::new(want)), "{kind}");
        }
        assert_eq!(job_id_from_env(BackendKind::Sge, &env(&[])), None);
    }
}
