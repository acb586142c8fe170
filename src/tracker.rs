//! The set of tracked batch jobs: submit, poll, cancel, all recorded in the cluster directory.
//!
//! A poll cycle asks the backend once for every batch job that is not final (the backend
//! chunks only when a command line would be too long). The interval between polls backs off
//! while nothing changes. A failing status command never marks a batch job dead; a batch job
//! missing from the answer gets its final state from the site's records (`final_status`), and
//! is only given up on as `vanished` after several cycles with no record at all. The server
//! drives a [`Tracker`]: `submit(n)`, `poll_once()` every `interval()`, `cancel`/`cancel_all`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::backend::{Backend, JobId, JobState, SubmitRequest};
use crate::cluster_dir::{ClusterDir, JobRecord};
use crate::config::Config;
use crate::template::{render_script, JobContext};

/// Cycles a batch job may be missing from the queue, with no record of its end, before it is
/// declared vanished.
const VANISH_AFTER: u32 = 5;

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

/// The job script of one submission for a cluster directory at `dir` (which need not exist:
/// `--dry-run` renders without creating it).
pub fn render(
    config: &Config,
    dir: &std::path::Path,
    program: &std::path::Path,
    sub: &Submission,
) -> anyhow::Result<String> {
    // Absolute: the batch system reads it from wherever the job runs.
    let log_directory = match &config.log_directory {
        Some(d) => std::path::absolute(d)?,
        None => dir.join("logs"),
    };
    render_script(
        config,
        &JobContext {
            job_name: sub.job_name.clone(),
            log_directory,
            worker_command: crate::template::worker_command(config, dir, program),
            array: sub.array,
        },
    )
}

/// The hpcluster program job scripts run: `worker_program`, else this executable.
pub fn worker_program(config: &Config) -> anyhow::Result<PathBuf> {
    match &config.worker_program {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().context("failed to find the hpcluster executable"),
    }
}

/// A batch job whose state changed in a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: JobId,
    pub from: JobState,
    pub to: JobState,
}

pub struct Tracker {
    config: Config,
    backend: Box<dyn Backend>,
    dir: ClusterDir,
    jobs: Vec<JobRecord>,
    interval: Duration,
    /// The hpcluster program the job scripts run.
    program: PathBuf,
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
        })
    }

    pub fn jobs(&self) -> &[JobRecord] {
        &self.jobs
    }

    pub fn dir(&self) -> &ClusterDir {
        &self.dir
    }

    /// The final state of a batch job, once it has one.
    pub fn final_state(&self, id: &JobId) -> Option<JobState> {
        self.jobs
            .iter()
            .find(|j| &j.id == id)
            .filter(|j| j.is_settled())
            .map(|j| j.state)
    }

    /// Every tracked batch job has ended.
    pub fn all_settled(&self) -> bool {
        self.jobs.iter().all(JobRecord::is_settled)
    }

    /// How long to wait before the next [`Tracker::poll_once`].
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The submissions `n` more batch jobs would take, after those already recorded.
    pub fn plan(&self, n: u32) -> Vec<Submission> {
        let first = self
            .jobs
            .iter()
            .filter_map(|j| j.name.rsplit('-').next()?.parse::<u32>().ok())
            .max()
            .map_or(1, |m| m + 1);
        plan_submissions(&self.config.name, n, first, self.config.max_array_size)
    }

    /// The script of one submission.
    pub fn render(&self, sub: &Submission) -> anyhow::Result<String> {
        render(&self.config, self.dir.path(), &self.program, sub)
    }

    /// Renders, writes and submits `n` worker batch jobs; records each ID at once.
    pub fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>> {
        let mut all = Vec::new();
        for sub in self.plan(n) {
            let script = self.dir.scripts().join(format!("{}.sh", sub.job_name));
            crate::atomic_file::write(&script, self.render(&sub)?.as_bytes())?;
            let logs = self.dir.logs();
            let req = SubmitRequest {
                script: &script,
                job_name: &sub.job_name,
                array: sub.array,
                workdir: &logs,
            };
            let ids = self.backend.submit(&req)?;
            let now = SystemTime::now();
            self.jobs.extend(ids.iter().map(|id| JobRecord {
                id: id.clone(),
                name: sub.job_name.clone(),
                state: JobState::Pending,
                native: String::new(),
                submitted: now,
                started: None,
                ended: None,
                cancel_requested: false,
                vanished: false,
                missed_polls: 0,
            }));
            self.save()?;
            all.extend(ids);
        }
        self.interval = self.config.poll_interval;
        Ok(all)
    }

    /// One poll cycle: one status call for every unsettled batch job. Returns the changes.
    pub fn poll_once(&mut self) -> anyhow::Result<Vec<Change>> {
        let ids: Vec<JobId> = self.live_jobs();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let answer = match self.backend.status(&ids) {
            Ok(a) => a,
            Err(e) => {
                self.back_off();
                return Err(
                    e.context("status unknown this cycle; batch jobs are kept as they were")
                );
            }
        };
        let missing: Vec<JobId> = ids
            .iter()
            .filter(|id| !answer.contains_key(id))
            .cloned()
            .collect();
        let finals = if missing.is_empty() {
            HashMap::new()
        } else {
            self.backend.final_status(&missing).unwrap_or_else(|e| {
                tracing::warn!("{e:#}");
                HashMap::new()
            })
        };
        let now = SystemTime::now();
        let mut changes = Vec::new();
        for job in self.jobs.iter_mut().filter(|j| !j.is_settled()) {
            let before = job.state;
            match answer.get(&job.id).or_else(|| finals.get(&job.id)) {
                Some(st) => {
                    job.missed_polls = 0;
                    job.state = st.state;
                    job.native.clone_from(&st.native);
                    let running = matches!(st.state, JobState::Running | JobState::Completing);
                    if running || st.state.is_final() {
                        job.started = st.started.or(job.started).or(Some(now));
                    }
                    if st.state.is_final() {
                        job.ended = st.ended.or(job.ended).or(Some(now));
                    }
                }
                None => {
                    job.missed_polls += 1;
                    if job.missed_polls >= VANISH_AFTER {
                        if job.cancel_requested {
                            job.state = JobState::Cancelled;
                        } else {
                            job.state = JobState::Unknown;
                            job.vanished = true;
                        }
                        job.ended = Some(now);
                    }
                }
            }
            if job.state != before || job.vanished {
                changes.push(Change {
                    id: job.id.clone(),
                    from: before,
                    to: job.state,
                });
            }
        }
        if changes.is_empty() {
            self.back_off();
        } else {
            self.interval = self.config.poll_interval;
            self.save()?;
        }
        Ok(changes)
    }

    /// Cancels some batch jobs (those not yet final) and records it.
    pub fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<Vec<JobId>> {
        let live: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|j| ids.contains(&j.id) && !j.is_settled())
            .map(|j| j.id.clone())
            .collect();
        if live.is_empty() {
            return Ok(live);
        }
        self.backend.cancel(&live)?;
        for job in self.jobs.iter_mut().filter(|j| live.contains(&j.id)) {
            job.cancel_requested = true;
        }
        self.interval = self.config.poll_interval;
        self.save()?;
        Ok(live)
    }

    /// Cancels every batch job that is not final.
    pub fn cancel_all(&mut self) -> anyhow::Result<Vec<JobId>> {
        let ids = self.live_jobs();
        self.cancel(&ids)
    }

    /// Batch jobs not known to have ended (queued, running, or not polled yet).
    pub fn live_jobs(&self) -> Vec<JobId> {
        self.jobs
            .iter()
            .filter(|j| !j.is_settled())
            .map(|j| j.id.clone())
            .collect()
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
