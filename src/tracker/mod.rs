//! The set of tracked batch jobs: submit, poll, cancel, all recorded in the cluster directory.
//!
//! Every submission is recorded in `jobs.json` before its submit command runs, and looked up by
//! its unique name when its answer is lost or unreadable ([`submit`]), so no batch job `up`
//! creates is ever unknown to it, to a resumed `up` or to `down`. At most `max_jobs` batch jobs
//! are live at once, counting every one that may exist. A poll cycle asks the backend once for
//! every batch job that is not final ([`poll`]); a failing status command never marks a batch
//! job dead. The server drives a [`Tracker`]: `submit(n)`, `poll_once()` every `interval()`,
//! `cancel`/`cancel_all`.

mod poll;
mod submit;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::backend::{Backend, JobId, JobState};
use crate::cluster_dir::{ClusterDir, ExcludedNode, JobRecord, Jobs, SubmissionRecord};
use crate::config::Config;
use crate::template::{render_script, JobContext};

pub use poll::Change;
pub use submit::Submitted;

/// One submission: a unique job name and, for arrays, the number of tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub job_name: String,
    pub array: Option<u32>,
}

/// Plans `n` batch jobs starting at index `first`: arrays of at most `max_array` tasks, or
/// `n` single batch jobs when arrays are off (`max_array` <= 1). Names are `<name>-<index>`.
pub fn plan_submissions(name: &str, n: u32, first: u32, max_array: u32) -> Vec<Submission> {
    let mut out = Vec::new();
    let mut left = n;
    let mut index = first;
    while left > 0 {
        let size = if max_array <= 1 {
            1
        } else {
            left.min(max_array)
        };
        out.push(Submission {
            job_name: format!("{name}-{index}"),
            array: (size > 1).then_some(size),
        });
        left -= size;
        index += 1;
    }
    out
}

/// The directory batch job stdout/stderr go to: `log_directory` made absolute (the batch
/// system reads it from wherever the job runs), else `<cluster dir>/logs`.
pub fn log_directory(config: &Config, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    Ok(match &config.log_directory {
        Some(d) => std::path::absolute(d)?,
        None => dir.join("logs"),
    })
}

/// The job script of one submission for a cluster directory at `dir` (which need not exist:
/// `--dry-run` renders without creating it).
pub fn render(
    config: &Config,
    dir: &std::path::Path,
    program: &std::path::Path,
    sub: &Submission,
) -> anyhow::Result<String> {
    render_script(
        config,
        &JobContext {
            job_name: sub.job_name.clone(),
            log_directory: log_directory(config, dir)?,
            worker_command: crate::template::worker_command(config, dir, program),
            array: sub.array,
        },
    )
}

/// The directories a script writes its batch job's output into (relative ones from
/// `workdir`, where its submit command runs) that do not exist yet: `up` creates them before
/// it submits.
pub fn missing_output_dirs(
    kind: crate::backend_kind::BackendKind,
    script: &str,
    workdir: &std::path::Path,
) -> Vec<PathBuf> {
    crate::template::directives::output_dirs(kind, script, workdir)
        .into_iter()
        .filter(|d| !d.is_dir())
        .collect()
}

/// The hpcluster program job scripts run: `worker_program`, else this executable.
pub fn worker_program(config: &Config) -> anyhow::Result<PathBuf> {
    match &config.worker_program {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().context("failed to find the hpcluster executable"),
    }
}

pub struct Tracker {
    config: Config,
    backend: Box<dyn Backend>,
    dir: ClusterDir,
    /// Every submission and batch job, as `jobs.json` holds them.
    jobs: Jobs,
    interval: Duration,
    /// The hpcluster program the job scripts run.
    program: PathBuf,
    /// Set when the server stops: no further submission starts.
    stop: Option<crate::backend::timed::Stop>,
    /// When each submission in doubt (`sent`: its submit may have reached the controller) was
    /// first found absent by name; one still absent `submit_timeout` later created nothing
    /// (see [`Tracker::reconcile`]).
    absent_since: std::collections::HashMap<String, std::time::Instant>,
}

impl Tracker {
    /// Tracks the batch jobs already recorded in `dir` (none for a new cluster).
    pub fn new(
        config: &Config,
        backend: Box<dyn Backend>,
        dir: ClusterDir,
    ) -> anyhow::Result<Tracker> {
        let jobs = dir.load_jobs()?;
        let program = worker_program(config)?;
        Ok(Tracker {
            config: config.clone(),
            backend,
            dir,
            jobs,
            interval: config.poll_interval,
            program,
            stop: None,
            absent_since: std::collections::HashMap::new(),
        })
    }

    /// The same tracker, which starts no submission once `stop` says the server stops.
    pub fn stopped_by(self, stop: crate::backend::timed::Stop) -> Tracker {
        Tracker {
            stop: Some(stop),
            ..self
        }
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.is_stopping())
    }

    pub fn jobs(&self) -> &[JobRecord] {
        &self.jobs.jobs
    }

    pub fn submissions(&self) -> &[SubmissionRecord] {
        &self.jobs.submissions
    }

    pub fn dir(&self) -> &ClusterDir {
        &self.dir
    }

    /// The final state of a batch job, once it has one.
    pub fn final_state(&self, id: &JobId) -> Option<JobState> {
        self.jobs()
            .iter()
            .find(|j| &j.id == id)
            .filter(|j| j.is_settled())
            .map(|j| j.state)
    }

    /// Every tracked batch job has ended, and no submission's outcome is unknown.
    pub fn all_settled(&self) -> bool {
        self.jobs().iter().all(JobRecord::is_settled) && self.unresolved() == 0
    }

    /// How long to wait before the next [`Tracker::poll_once`].
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The submissions `n` more batch jobs would take, after every name ever recorded.
    pub fn plan(&self, n: u32) -> Vec<Submission> {
        plan_submissions(
            &self.config.name,
            n,
            self.jobs.next_index(),
            self.config.max_array_size,
        )
    }

    /// The script of one submission.
    pub fn render(&self, sub: &Submission) -> anyhow::Result<String> {
        render(&self.config, self.dir.path(), &self.program, sub)
    }

    /// Batch jobs not known to have ended (queued, running, or not polled yet).
    pub fn live_jobs(&self) -> Vec<JobId> {
        self.jobs()
            .iter()
            .filter(|j| !j.is_settled())
            .map(|j| j.id.clone())
            .collect()
    }

    /// Batch jobs submissions whose outcome is unknown may have created.
    pub fn unresolved(&self) -> u32 {
        self.submissions()
            .iter()
            .map(SubmissionRecord::unresolved_jobs)
            .sum()
    }

    /// What counts against `max_jobs`: every batch job not known to have ended, and every one
    /// an unresolved submission may have created.
    pub fn live_count(&self) -> u32 {
        self.live_jobs().len() as u32 + self.unresolved()
    }

    /// Nodes excluded from new submissions, as `jobs.json` holds them.
    pub fn excluded_nodes(&self) -> &[ExcludedNode] {
        &self.jobs.excluded_nodes
    }

    /// Keeps new submissions off these nodes (where the backend can: else it only says so)
    /// and records them in `jobs.json`; returns those not excluded before.
    pub fn exclude(&mut self, nodes: Vec<ExcludedNode>) -> anyhow::Result<Vec<ExcludedNode>> {
        let new: Vec<ExcludedNode> = nodes
            .into_iter()
            .filter(|n| !self.jobs.excluded_nodes.iter().any(|e| e.node == n.node))
            .collect();
        if !self.backend.excludes_nodes() {
            for n in &new {
                tracing::warn!(
                    "node `{}` fails batch jobs ({}), but {} cannot keep new batch jobs off a \
                     node: it is not excluded",
                    n.node,
                    n.why,
                    self.backend.kind()
                );
            }
            return Ok(Vec::new());
        }
        if new.is_empty() {
            return Ok(new);
        }
        self.jobs.excluded_nodes.extend(new.iter().cloned());
        self.save()
            .context("failed to record the excluded nodes in `jobs.json`")?;
        Ok(new)
    }

    /// Cancels some batch jobs (those not yet final) and records it.
    pub fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<Vec<JobId>> {
        let live: Vec<JobId> = self
            .jobs()
            .iter()
            .filter(|j| ids.contains(&j.id) && !j.is_settled())
            .map(|j| j.id.clone())
            .collect();
        if live.is_empty() {
            return Ok(live);
        }
        self.backend.cancel(&live)?;
        for job in self.jobs.jobs.iter_mut().filter(|j| live.contains(&j.id)) {
            job.cancel_requested = true;
        }
        self.interval = self.config.poll_interval;
        self.save()?;
        Ok(live)
    }

    /// Cancels every batch job of the cluster the batch system knows: first the submissions
    /// whose outcome is unknown are looked up by name (what they created is recorded), then
    /// every batch job that is not final is cancelled.
    pub fn cancel_all(&mut self) -> anyhow::Result<Vec<JobId>> {
        if let Err(e) = self.reconcile(true) {
            tracing::warn!("{e:#}");
        }
        let ids = self.live_jobs();
        self.cancel(&ids)
    }

    fn back_off(&mut self) {
        let max = (self.config.poll_interval * 6).max(Duration::from_secs(60));
        self.interval = self.interval.mul_f64(1.5).min(max);
    }

    fn save(&self) -> anyhow::Result<()> {
        self.dir.save_jobs(self.backend.kind(), &self.jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_split_above_the_max_array_size() {
        let subs = plan_submissions("c", 25, 1, 10);
        let sizes: Vec<_> = subs.iter().map(|s| s.array).collect();
        assert_eq!(sizes, vec![Some(10), Some(10), Some(5)]);
        assert_eq!(subs[2].job_name, "c-3");
        assert_eq!(
            plan_submissions("c", 1, 4, 10),
            vec![Submission {
                job_name: "c-4".into(),
                array: None
            }]
        );
        assert_eq!(plan_submissions("c", 3, 1, 1).len(), 3);
        assert!(plan_submissions("c", 0, 1, 10).is_empty());
    }
}
