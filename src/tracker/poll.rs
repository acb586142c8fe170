//! Polling: one status command per cycle for every batch job not known to have ended, then
//! what the answers mean. A batch job missing from the answer gets its final state from the
//! site's records (`final_status`), and is only given up on as `vanished` after several cycles
//! with no record at all. A batch job hpcluster asked to cancel that ends in a failure state
//! (LSF shows a killed job as `EXIT`) was cancelled. A batch job that fails is explained: the
//! batch system's reason, and the last lines of what it wrote; one stuck in an error state
//! (SGE's `Eqw`) is removed from the queue.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Tracker;
use crate::backend::{JobId, JobState, JobStatus};
use crate::cluster_dir::{JobRecord, Wrote};

/// Cycles a batch job may be missing from the queue, with no record of its end, before it is
/// declared vanished.
const VANISH_AFTER: u32 = 5;

/// Lines of a batch job's output shown when it fails.
const TAIL_LINES: usize = 5;

/// A batch job whose state changed in a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: JobId,
    pub from: JobState,
    pub to: JobState,
}

/// The last `n` non-blank lines of a file (from its last 64 KiB), each cut at 300 characters.
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect())
        .collect();
    Ok(lines[lines.len().saturating_sub(n)..].to_vec())
}

/// What a batch job wrote: the first of `files` (stderr first) that exists and is not empty,
/// else the first that exists, else the first, missing.
pub fn read_wrote(files: &[PathBuf]) -> Option<Wrote> {
    let mut first_existing = None;
    for f in files {
        if let Ok(t) = tail(f, TAIL_LINES) {
            if !t.is_empty() {
                return Some(Wrote {
                    file: f.clone(),
                    missing: false,
                    tail: t,
                });
            }
            first_existing.get_or_insert_with(|| f.clone());
        }
    }
    match first_existing {
        Some(file) => Some(Wrote {
            file,
            missing: false,
            tail: Vec::new(),
        }),
        None => files.first().map(|f| Wrote {
            file: f.clone(),
            missing: true,
            tail: Vec::new(),
        }),
    }
}

impl Tracker {
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
        let mut failed = Vec::new();
        for job in self.jobs.jobs.iter_mut().filter(|j| !j.is_settled()) {
            let before = job.state;
            match answer.get(&job.id).or_else(|| finals.get(&job.id)) {
                Some(st) => {
                    if self.backend.held(st) && st.reason != job.reason {
                        tracing::warn!(
                            "batch job {} (`{}`) is held ({}{}): it will not start until the \
                             hold is released",
                            job.id,
                            job.name,
                            st.native,
                            st.reason
                                .as_deref()
                                .map_or(String::new(), |r| format!(", {r}"))
                        );
                    }
                    apply(job, st, now);
                    if job.state == JobState::Failed && !job.cancel_requested {
                        failed.push((job.id.clone(), st.clone()));
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
        let failed: Vec<_> = failed
            .into_iter()
            .filter(|(id, _)| changes.iter().any(|c| &c.id == id))
            .collect();
        self.explain_failures(&failed);
        if changes.is_empty() {
            self.back_off();
        } else {
            self.interval = self.config.poll_interval;
            self.save()?;
        }
        Ok(changes)
    }

    /// Records why batch jobs that just failed did (the batch system's words and what they
    /// wrote), and removes from the queue those stuck there in an error state.
    fn explain_failures(&mut self, failed: &[(JobId, JobStatus)]) {
        let mut stuck = Vec::new();
        for (id, st) in failed {
            let explained = self.backend.explain(id, st).unwrap_or_else(|e| {
                tracing::debug!("failed to ask why batch job {id} failed: {e:#}");
                None
            });
            let files = match &explained {
                Some(x) if !x.files.is_empty() => x.files.clone(),
                _ => self.output_files(id),
            };
            if let Some(job) = self.jobs.jobs.iter_mut().find(|j| &j.id == id) {
                if let Some(x) = explained {
                    job.reason = Some(x.said);
                }
                job.wrote = read_wrote(&files);
            }
            if self.backend.stuck(st) {
                stuck.push(id.clone());
            }
        }
        if stuck.is_empty() {
            return;
        }
        let shown: Vec<String> = stuck.iter().map(|j| j.to_string()).collect();
        match self.backend.cancel(&stuck) {
            Ok(()) => tracing::warn!(
                "batch job(s) {} failed and stayed queued in an error state: removed them",
                shown.join(" ")
            ),
            Err(e) => tracing::warn!(
                "batch job(s) {} failed and stay queued in an error state; removing them failed: {e:#}",
                shown.join(" ")
            ),
        }
    }

    /// The files a batch job's stderr and stdout went to, as its script's directives say.
    fn output_files(&self, id: &JobId) -> Vec<PathBuf> {
        let Some(job) = self.jobs().iter().find(|j| &j.id == id) else {
            return Vec::new();
        };
        let script = self.dir.scripts().join(format!("{}.sh", job.name));
        let text = std::fs::read_to_string(script).unwrap_or_default();
        crate::template::directives::output_files(
            self.backend.kind(),
            &text,
            &self.dir.logs(),
            &job.name,
            &id.id,
        )
    }

    /// What the batch system said of each batch job and what it wrote, one line each
    /// (read now for a batch job that has not failed), for a message about batch jobs that
    /// ended before their worker connected.
    pub fn describe(&mut self, ids: &[JobId]) -> Vec<(JobId, String)> {
        let mut out = Vec::new();
        for id in ids {
            let files = self.output_files(id);
            let Some(job) = self.jobs.jobs.iter_mut().find(|j| &j.id == id) else {
                continue;
            };
            if job.wrote.is_none() {
                job.wrote = read_wrote(&files);
            }
            out.push((id.clone(), describe(job)));
        }
        out
    }
}

/// One batch job's end in words: its state, the batch system's reason, what it wrote.
pub fn describe(job: &JobRecord) -> String {
    let mut s = format!("batch job {} (`{}`) ended {}", job.id, job.name, job.state);
    let native = job.native.to_ascii_lowercase();
    if job.reason.is_none() && !native.is_empty() && native != job.state.to_string() {
        s.push_str(&format!(" ({})", job.native));
    }
    if let Some(r) = &job.reason {
        s.push_str(&format!("; the batch system says: {r}"));
    }
    match &job.wrote {
        Some(w) if w.missing => s.push_str(&format!(
            "; it wrote no output: `{}` does not exist",
            w.file.display()
        )),
        Some(w) if w.tail.is_empty() => {
            s.push_str(&format!("; its output `{}` is empty", w.file.display()))
        }
        Some(w) => s.push_str(&format!(
            "; its output `{}` ends with:\n    {}",
            w.file.display(),
            w.tail.join("\n    ")
        )),
        None => {}
    }
    s
}

/// Applies one answer of the batch system to a record.
fn apply(job: &mut JobRecord, st: &JobStatus, now: SystemTime) {
    job.missed_polls = 0;
    // A batch job killed because hpcluster asked ends `failed` on some systems (LSF: `EXIT`).
    job.state = match st.state {
        JobState::Failed if job.cancel_requested => JobState::Cancelled,
        s => s,
    };
    job.native.clone_from(&st.native);
    if st.reason.is_some() {
        job.reason.clone_from(&st.reason);
    }
    if st.node.is_some() {
        job.node.clone_from(&st.node);
    }
    let running = matches!(st.state, JobState::Running | JobState::Completing);
    if running || st.state.is_final() {
        job.started = st.started.or(job.started).or(Some(now));
    }
    if st.state.is_final() {
        job.ended = st.ended.or(job.ended).or(Some(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: JobState, native: &str) -> JobStatus {
        JobStatus {
            node: None,
            state,
            native: native.into(),
            started: None,
            ended: None,
            reason: None,
        }
    }

    #[test]
    fn a_batch_job_killed_because_hpcluster_asked_is_cancelled_not_failed() {
        let now = SystemTime::now();
        let mut job = JobRecord::new(JobId::new("4101"), "c-1", now);
        job.cancel_requested = true;
        apply(&mut job, &status(JobState::Failed, "EXIT"), now);
        assert_eq!(job.state, JobState::Cancelled);
        let mut other = JobRecord::new(JobId::new("4102"), "c-2", now);
        apply(&mut other, &status(JobState::Failed, "EXIT"), now);
        assert_eq!(other.state, JobState::Failed);
        // A walltime kill stays a timeout.
        apply(&mut job, &status(JobState::Timeout, "EXIT"), now);
        assert_eq!(job.state, JobState::Timeout);
    }

    #[test]
    fn what_a_batch_job_wrote_is_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let err = dir.path().join("j.err");
        let out = dir.path().join("j.out");
        let lines: String = (1..=8).map(|i| format!("line {i}\n\n")).collect();
        std::fs::write(&err, lines).unwrap();
        let w = read_wrote(&[err.clone(), out.clone()]).unwrap();
        assert_eq!(w.tail, ["line 4", "line 5", "line 6", "line 7", "line 8"]);
        std::fs::write(&err, "").unwrap();
        std::fs::write(&out, "MARKER\n").unwrap();
        assert_eq!(read_wrote(&[err.clone(), out.clone()]).unwrap().file, out);
        let gone = dir.path().join("nope.err");
        let w = read_wrote(std::slice::from_ref(&gone)).unwrap();
        assert!(w.missing && w.file == gone);
        let mut job = JobRecord::new(JobId::new("48"), "c-3", SystemTime::now());
        job.state = JobState::Failed;
        job.native = "FAILED".into();
        job.reason = Some("JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0".into());
        job.wrote = read_wrote(std::slice::from_ref(&out));
        assert_eq!(
            describe(&job),
            format!(
                "batch job 48 (`c-3`) ended failed; the batch system says: JobState=FAILED \
                 Reason=NonZeroExitCode ExitCode=3:0; its output `{}` ends with:\n    MARKER",
                out.display()
            )
        );
    }
}
