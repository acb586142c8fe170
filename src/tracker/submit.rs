//! Submitting without ever losing a batch job: the directories a script writes into are made
//! first; the submission is recorded in `jobs.json` (`sent`) before its submit command runs;
//! its answer records the batch jobs it created (`answered`). When the answer is lost or
//! unreadable, the batch system is asked by the submission's unique name, and what it knows is
//! recorded (`found`) before the error goes up, so the caller can stop knowing every batch job
//! it created and cancel them. At most `max_jobs` batch jobs are live at once.

use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::Context;

use super::{Submission, Tracker};
use crate::backend::command::{is_transient, is_unreadable_submit};
use crate::backend::timed::is_timed_out;
use crate::backend::{JobId, SubmitRequest};
use crate::cluster_dir::{JobRecord, SubmissionRecord, SubmissionState};

/// What a call to [`Tracker::submit`] created, and the error that stopped it part-way, if any:
/// the batch jobs created before the error are never dropped with it.
#[derive(Debug, Default)]
pub struct Submitted {
    pub ids: Vec<JobId>,
    pub error: Option<anyhow::Error>,
}

/// Creates a directory a job script writes into, or says why it cannot be.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "`{}` is not a directory, but a job script writes its batch job's output into it: \
             move the file away, or set `log_directory` elsewhere",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "failed to create `{}`, where a job script writes its batch job's output: choose a \
             `log_directory` you can write to, or create it",
            dir.display()
        )
    })
}

impl Tracker {
    /// Submits up to `n` more worker batch jobs (arrays where the backend can), never more
    /// than `max_jobs` live; records each before and after its submit command.
    pub fn submit(&mut self, n: u32) -> Submitted {
        let mut done = Submitted::default();
        if self.unresolved() > 0 {
            if let Err(e) = self.reconcile(false) {
                tracing::warn!("{e:#}");
            }
        }
        let room = self.config.max_jobs.saturating_sub(self.live_count());
        if n > room {
            tracing::warn!(
                "asked for {n} more batch job(s), but {} of `max_jobs` {} are live: submitting {room}",
                self.live_count(),
                self.config.max_jobs
            );
        }
        for sub in self.plan(n.min(room)) {
            if self.stopping() {
                break;
            }
            let (ids, error) = self.submit_one(&sub);
            done.ids.extend(ids);
            if error.is_some() {
                done.error = error;
                break;
            }
        }
        self.interval = self.config.poll_interval;
        done
    }

    /// One submission; the batch jobs it created (found by name after an error, too).
    fn submit_one(&mut self, sub: &Submission) -> (Vec<JobId>, Option<anyhow::Error>) {
        let script = self.dir.scripts().join(format!("{}.sh", sub.job_name));
        let prepared = self.render(sub).and_then(|text| {
            crate::atomic_file::write(&script, text.as_bytes())?;
            let dirs = crate::template::directives::output_dirs(
                self.backend.kind(),
                &text,
                &self.dir.logs(),
            );
            dirs.iter().try_for_each(|d| create_dir(d))
        });
        if let Err(e) = prepared {
            return (Vec::new(), Some(e));
        }
        self.jobs.submissions.push(SubmissionRecord {
            name: sub.job_name.clone(),
            array: sub.array,
            state: SubmissionState::Sent,
            at: SystemTime::now(),
        });
        if let Err(e) = self.save() {
            return (Vec::new(), Some(e));
        }
        let logs = self.dir.logs();
        let exclude = self.jobs.excluded();
        let req = SubmitRequest {
            script: &script,
            job_name: &sub.job_name,
            array: sub.array,
            workdir: &logs,
            exclude: &exclude,
        };
        let answer = self.backend.submit(&req);
        let at = self.jobs.submissions.len() - 1;
        let (ids, error) = match answer {
            Ok(ids) => {
                self.resolve(at, &ids, SubmissionState::Answered);
                (ids, None)
            }
            Err(e) => {
                let (ids, e) = self.after_failed_submit(at, e);
                (ids, e.map(|e| self.with_excluded(e, &exclude)))
            }
        };
        match self.save() {
            Ok(()) => (ids, error),
            Err(e) => (
                ids,
                Some(error.map_or(e, |err| err.context("and `jobs.json` could not be written"))),
            ),
        }
    }

    /// A failed submit's error, which names the excluded nodes if any were passed: when they
    /// were every node that could run the batch job, the batch system refuses it (SLURM:
    /// `Requested node configuration is not available`), and nothing hpcluster retries helps.
    fn with_excluded(&self, e: anyhow::Error, exclude: &[String]) -> anyhow::Error {
        if exclude.is_empty() || !self.backend.excludes_nodes() {
            return e;
        }
        e.context(format!(
            "submitted with node(s) `{}` excluded after batch jobs failed there (see `hpcluster \
             status`); if no other node can run the batch job, fix the node(s) and delete \
             `excluded_nodes` from `{}`",
            exclude.join(","),
            self.dir.file("jobs.json").display()
        ))
    }

    /// The submit command failed, or said nothing readable: ask the batch system by name.
    fn after_failed_submit(
        &mut self,
        at: usize,
        e: anyhow::Error,
    ) -> (Vec<JobId>, Option<anyhow::Error>) {
        let name = self.jobs.submissions[at].name.clone();
        // A submit that was killed or that failed transiently may have reached the controller.
        let doubt = is_timed_out(&e) || is_transient(&format!("{e:#}"));
        let unreadable = is_unreadable_submit(&e);
        match self.lookup(at) {
            Ok(found) if !found.is_empty() => {
                self.resolve(at, &found, SubmissionState::Found);
                let shown = found.iter().map(|j| j.to_string()).collect::<Vec<_>>();
                tracing::warn!(
                    "found batch job(s) {} by the name `{name}` after its submit failed: tracking them",
                    shown.join(" ")
                );
                let e = e.context(format!(
                    "found batch job(s) {} by the name `{name}` and recorded them in `jobs.json`; \
                     its submit command had said",
                    shown.join(" ")
                ));
                (found, Some(e))
            }
            Ok(_) => {
                if !doubt || unreadable {
                    self.jobs.submissions[at].state = SubmissionState::NotCreated;
                } else {
                    self.absent_since.insert(name.clone(), Instant::now());
                }
                let e = e.context(format!(
                    "the batch system knows no batch job named `{name}`; its submit command said"
                ));
                (Vec::new(), Some(e))
            }
            Err(le) => {
                // Stays `sent`: `up`, a resumed `up` and `down` look again.
                let e = e.context(format!(
                    "looking batch job `{name}` up by its name failed ({le:#}); `jobs.json` keeps \
                     the name, which `up` and `hpcluster down` look up again; its submit command said"
                ));
                (Vec::new(), Some(e))
            }
        }
    }

    /// Whether submission `at`, found absent by name now, has been absent for
    /// `submit_timeout`: the time a batch system is given to create a batch job.
    fn absent_long(&mut self, at: usize) -> bool {
        let since = *self
            .absent_since
            .entry(self.jobs.submissions[at].name.clone())
            .or_insert_with(Instant::now);
        since.elapsed() >= self.config.submit_timeout
    }

    /// Asks the batch system what submission `at` created.
    fn lookup(&self, at: usize) -> anyhow::Result<Vec<JobId>> {
        let s = &self.jobs.submissions[at];
        self.backend.find_by_name(&s.name, s.array)
    }

    /// Records the batch jobs a submission created.
    fn resolve(&mut self, at: usize, ids: &[JobId], state: SubmissionState) {
        let s = &mut self.jobs.submissions[at];
        s.state = state;
        let (name, when) = (s.name.clone(), s.at);
        for id in ids {
            if !self.jobs.jobs.iter().any(|j| &j.id == id) {
                self.jobs.jobs.push(JobRecord::new(id.clone(), &name, when));
            }
        }
    }

    /// Looks up every submission whose outcome is unknown, recording what it created; with
    /// `finally`, one that created nothing is closed (`not_created`), else it stays open for
    /// a later look (a controller may record a submission after its command was stopped) until
    /// it has been absent for `submit_timeout`. Before that limit an open submission counted
    /// against `max_jobs` for the rest of the run: with `max_jobs` 1, `up` never submitted
    /// again (the fake-SLURM soak, seed 1200040). Returns the batch jobs found.
    pub fn reconcile(&mut self, finally: bool) -> anyhow::Result<Vec<JobId>> {
        let open: Vec<usize> = (0..self.jobs.submissions.len())
            .filter(|&i| self.jobs.submissions[i].state == SubmissionState::Sent)
            .collect();
        let mut found = Vec::new();
        let mut failed = None;
        for at in open {
            match self.lookup(at) {
                Ok(ids) if !ids.is_empty() => {
                    self.resolve(at, &ids, SubmissionState::Found);
                    found.extend(ids);
                }
                Ok(_) if finally || self.absent_long(at) => {
                    self.jobs.submissions[at].state = SubmissionState::NotCreated;
                }
                Ok(_) => {}
                Err(e) => failed = Some(e),
            }
        }
        if !found.is_empty() {
            let shown: Vec<String> = found.iter().map(|j| j.to_string()).collect();
            tracing::info!(
                "found batch job(s) {} by name, submitted without a readable answer",
                shown.join(" ")
            );
        }
        self.save()?;
        match failed {
            Some(e) => Err(e.context(
                "failed to look up by name the batch jobs of submissions whose answer was lost",
            )),
            None => Ok(found),
        }
    }
}
