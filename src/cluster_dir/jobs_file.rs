//! `jobs.json`: every submission and every batch job of a cluster. A submission is recorded
//! *before* its submit command runs (state `sent`), so a crash, an error, a Ctrl-C or an
//! unreadable answer at any moment leaves a name that `up`, a resumed `up` and `down` look up
//! in the batch system; its answer then records the batch jobs it created (their IDs, last
//! known state, what the batch system said of them, and what they wrote).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::backend::{JobId, JobState};
use crate::backend_kind::BackendKind;

/// What is known of one submission's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionState {
    /// The submit command was called (or is about to be); whether it created batch jobs is
    /// not known yet: a lookup by name will tell.
    Sent,
    /// Its answer gave the IDs of the batch jobs it created.
    Answered,
    /// Its answer was lost or unreadable; the batch jobs were found by name.
    Found,
    /// Nothing of that name exists: the submission created no batch job.
    NotCreated,
}

/// One submission: a unique batch job name (shared by the tasks of an array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionRecord {
    pub name: String,
    /// Tasks of the array, when it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<u32>,
    pub state: SubmissionState,
    /// When it was sent.
    pub at: SystemTime,
}

impl SubmissionRecord {
    /// Batch jobs it may have created that no record holds yet: its size while unresolved.
    pub fn unresolved_jobs(&self) -> u32 {
        match self.state {
            SubmissionState::Sent => self.array.unwrap_or(1),
            _ => 0,
        }
    }
}

/// What a batch job wrote: the last lines of the file its stderr (else stdout) went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrote {
    pub file: PathBuf,
    /// The file does not exist (the batch job never started, or wrote elsewhere).
    #[serde(default)]
    pub missing: bool,
    #[serde(default)]
    pub tail: Vec<String>,
}

/// One batch job as the cluster directory records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    /// The unique job name it was submitted under (shared by the tasks of one array).
    pub name: String,
    pub state: JobState,
    /// The batch system's own word for the state.
    #[serde(default)]
    pub native: String,
    pub submitted: SystemTime,
    #[serde(default)]
    pub started: Option<SystemTime>,
    #[serde(default)]
    pub ended: Option<SystemTime>,
    /// hpcluster asked for its cancellation (`down`, Ctrl-C).
    #[serde(default)]
    pub cancel_requested: bool,
    /// Gone from the queue and no record of how it ended: it will never be seen again.
    #[serde(default)]
    pub vanished: bool,
    /// Successive polls that did not find it in the queue nor in the site's records.
    #[serde(default)]
    pub missed_polls: u32,
    /// What the batch system says of why it is pending, held or ended (`Reason=JobLaunchFailure
    /// ExitCode=0:53`, an SGE error reason, a PBS comment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it wrote, read once it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrote: Option<Wrote>,
    /// The node it ran on, as the batch system last said (kept once it ends): where a node
    /// that fails batch jobs repeatedly is found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl JobRecord {
    /// A batch job just submitted (or found by name) under `name`.
    pub fn new(id: JobId, name: &str, submitted: SystemTime) -> JobRecord {
        JobRecord {
            id,
            name: name.to_string(),
            state: JobState::Pending,
            native: String::new(),
            submitted,
            started: None,
            ended: None,
            cancel_requested: false,
            vanished: false,
            missed_polls: 0,
            reason: None,
            wrote: None,
            node: None,
        }
    }

    /// Nothing more will happen to this batch job.
    pub fn is_settled(&self) -> bool {
        self.state.is_final() || self.vanished
    }
}

/// A node new batch jobs are kept off (SLURM `--exclude`), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedNode {
    pub node: String,
    /// Why, in words: `2 batch jobs failed there: 4101 ended node_failed, 4102 ended failed
    /// before its worker connected`.
    pub why: String,
    /// The batch jobs that failed there.
    pub jobs: Vec<JobId>,
    /// When it was excluded.
    pub at: SystemTime,
}

/// Everything `jobs.json` holds besides the backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Jobs {
    pub submissions: Vec<SubmissionRecord>,
    pub jobs: Vec<JobRecord>,
    /// Nodes excluded from new submissions, in the order they were excluded.
    pub excluded_nodes: Vec<ExcludedNode>,
}

impl Jobs {
    /// The names of the excluded nodes, for the submit command.
    pub fn excluded(&self) -> Vec<String> {
        self.excluded_nodes.iter().map(|n| n.node.clone()).collect()
    }

    /// The index `<name>-<index>` of the next submission: one past every name ever recorded,
    /// so a name is never used twice in a cluster (a lookup by name is unambiguous).
    pub fn next_index(&self) -> u32 {
        let index = |n: &str| n.rsplit('-').next()?.parse::<u32>().ok();
        self.submissions
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.jobs.iter().map(|j| j.name.as_str()))
            .filter_map(index)
            .max()
            .map_or(1, |m| m + 1)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct JobsFile {
    /// The backend the batch jobs were submitted to (`status`/`down` use it, whatever the
    /// configuration says now).
    #[serde(default)]
    pub backend: Option<BackendKind>,
    #[serde(default)]
    pub submissions: Vec<SubmissionRecord>,
    pub jobs: Vec<JobRecord>,
    /// Absent from files written before nodes were excluded (and while none is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_nodes: Vec<ExcludedNode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_index_follows_every_name_ever_recorded() {
        let now = SystemTime::now();
        let mut jobs = Jobs::default();
        assert_eq!(jobs.next_index(), 1);
        jobs.jobs
            .push(JobRecord::new(JobId::new("7_1"), "c-2", now));
        jobs.submissions.push(SubmissionRecord {
            name: "c-4".into(),
            array: None,
            state: SubmissionState::NotCreated,
            at: now,
        });
        assert_eq!(jobs.next_index(), 5);
    }

    #[test]
    fn a_jobs_file_without_submissions_still_reads() {
        let f: JobsFile = serde_json::from_str(r#"{"backend":"slurm","jobs":[]}"#).unwrap();
        assert!(f.submissions.is_empty());
        assert!(f.excluded_nodes.is_empty());
    }
}
