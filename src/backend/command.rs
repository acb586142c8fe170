//! Running batch-system commands: found with `which`, captured whole, retried when the
//! controller is only briefly unreachable.
//!
//! A failed command is reported with its program, arguments, exit status, stdout and stderr.
//! Transient errors (socket timeouts, an unreachable controller) are retried with a growing
//! backoff; a submit is only retried after looking the batch job up by its unique name, so a
//! submit whose answer was lost never creates a second batch job.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::{BackendKind, JobId};

/// Messages of controllers that are briefly unreachable or overloaded.
const TRANSIENT: [&str; 7] = [
    "socket timed out on send/recv operation",
    "resource temporarily unavailable",
    "unable to contact slurm controller",
    "failed receiving gdi request",
    "unable to contact qmaster",
    "batch system is not responding",
    "lsf is down",
];

/// Whether a command's output says the failure is transient (worth a retry).
pub fn is_transient(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| lower.contains(t))
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub argv: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// An error showing the whole command and what it printed.
    pub fn error(&self, what: &str) -> anyhow::Error {
        let code = self.code.map_or("killed by a signal".to_string(), |c| {
            format!("exit status {c}")
        });
        anyhow::anyhow!(
            "{what}: `{}` failed with {code}\nstdout: {}\nstderr: {}",
            self.argv.join(" "),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Runs one backend's commands with a retry policy.
#[derive(Debug, Clone)]
pub struct Runner {
    pub kind: BackendKind,
    /// Attempts for a command that fails transiently (1: no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Runner {
    /// The default policy: 4 attempts, 2 s first backoff. `HPCLUSTER_RETRY_BACKOFF_MS` sets
    /// the backoff (tests make it short).
    pub fn new(kind: BackendKind) -> Runner {
        let backoff = std::env::var("HPCLUSTER_RETRY_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(2), Duration::from_millis);
        Runner {
            kind,
            attempts: 4,
            backoff,
        }
    }

    /// The full path of a batch-system command, or an error naming the backend and the ways out.
    pub fn program(&self, name: &str) -> anyhow::Result<PathBuf> {
        which::which(name).map_err(|_| {
            anyhow::anyhow!(
                "`{name}` not found on PATH: the `{}` backend needs it; run on a login node of \
                 the cluster, preview with `hpcluster up --dry-run`, or set `backend = \"local\"`",
                self.kind
            )
        })
    }

    /// Runs `argv` once in `workdir` and captures its output.
    pub fn run_once(&self, argv: &[String], workdir: Option<&Path>) -> anyhow::Result<Output> {
        let program = self.program(&argv[0])?;
        let mut cmd = Command::new(&program);
        // `... < FILE` (bsub): the file goes on stdin.
        match argv.len().checked_sub(2).filter(|&i| argv[i] == "<") {
            Some(i) => {
                let file = std::fs::File::open(&argv[i + 1])
                    .with_context(|| format!("failed to open `{}`", argv[i + 1]))?;
                cmd.args(&argv[1..i]).stdin(file);
            }
            None => {
                cmd.args(&argv[1..]).stdin(std::process::Stdio::null());
            }
        }
        if let Some(dir) = workdir {
            cmd.current_dir(dir);
        }
        let out = cmd
            .output()
            .with_context(|| format!("failed to run `{}`", argv.join(" ")))?;
        Ok(Output {
            argv: argv.to_vec(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `argv`, retrying transient failures; returns the last output (successful or not).
    pub fn run(&self, argv: &[String], workdir: Option<&Path>) -> anyhow::Result<Output> {
        let mut attempt = 1;
        loop {
            let out = self.run_once(argv, workdir)?;
            if out.success() || attempt >= self.attempts || !self.transient(&out) {
                return Ok(out);
            }
            self.wait(attempt, &out);
            attempt += 1;
        }
    }

    /// Submits with `argv`: retries transient failures, but first asks `find` whether the lost
    /// submission created the batch job after all. `parse` reads a successful submit's stdout.
    pub fn submit(
        &self,
        argv: &[String],
        workdir: &Path,
        job_name: &str,
        parse: impl Fn(&str) -> anyhow::Result<Vec<JobId>>,
        find: impl Fn() -> anyhow::Result<Vec<JobId>>,
    ) -> anyhow::Result<Vec<JobId>> {
        let mut attempt = 1;
        loop {
            let out = self.run_once(argv, Some(workdir))?;
            if out.success() {
                return parse(&out.stdout)
                    .with_context(|| {
                        format!(
                            "the batch job `{job_name}` may exist: find it by that name \
                             (stderr: {})",
                            out.stderr.trim()
                        )
                    })
                    .context(UnreadableSubmit);
            }
            if attempt >= self.attempts || !self.transient(&out) {
                return Err(out.error(&format!("failed to submit batch job `{job_name}`")));
            }
            self.wait(attempt, &out);
            let found = find().with_context(|| {
                format!("failed to look up batch job `{job_name}` before retrying its submit")
            })?;
            if !found.is_empty() {
                tracing::info!(
                    "batch job `{job_name}` was created by the submit that timed out: {}",
                    found
                        .iter()
                        .map(|j| j.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                return Ok(found);
            }
            attempt += 1;
        }
    }

    fn transient(&self, out: &Output) -> bool {
        is_transient(&out.stderr) || is_transient(&out.stdout)
    }

    fn wait(&self, attempt: u32, out: &Output) {
        let delay = self.backoff.saturating_mul(1 << (attempt - 1).min(10));
        tracing::warn!(
            "`{}` failed transiently ({}); retrying in {:?}",
            out.argv[0],
            out.stderr.trim(),
            delay
        );
        std::thread::sleep(delay);
    }
}

/// A submit command succeeded but its answer holds no job ID hpcluster can read: retrying
/// would create more batch jobs it cannot track, so the caller stops instead.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the submit command's answer could not be read")]
pub struct UnreadableSubmit;

/// Whether `e` (or anything in its chain) is an [`UnreadableSubmit`].
pub fn is_unreadable_submit(e: &anyhow::Error) -> bool {
    // `downcast_ref` sees context values through every layer of context.
    e.downcast_ref::<UnreadableSubmit>().is_some()
}

/// Whether every non-blank line of a command's stderr holds one of `patterns`: the messages
/// with which status and cancel commands say that jobs are already gone, which are not
/// failures of the command.
pub fn stderr_only(stderr: &str, patterns: &[&str]) -> bool {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| patterns.iter().any(|p| l.contains(p)))
}

/// Splits `ids` into chunks whose joined length stays under `max_chars` (command-line limit).
pub fn chunk_ids(ids: &[JobId], max_chars: usize) -> Vec<Vec<JobId>> {
    let mut chunks: Vec<Vec<JobId>> = Vec::new();
    let mut len = 0;
    for id in ids {
        let l = id.id.len() + 1;
        match chunks.last_mut() {
            Some(c) if len + l <= max_chars => {
                c.push(id.clone());
                len += l;
            }
            _ => {
                chunks.push(vec![id.clone()]);
                len = l;
            }
        }
    }
    chunks
}

/// Longest joined ID list passed to one status or cancel command (well under ARG_MAX).
pub const MAX_ID_CHARS: usize = 100_000;

#[cfg(test)]
mod tests {
    #[test]
    fn an_unreadable_submit_is_seen_through_more_context() {
        use anyhow::Context;
        let e = Err::<(), _>(anyhow::anyhow!("no ID"))
            .context(UnreadableSubmit)
            .context("submitting 3 batch jobs")
            .unwrap_err();
        assert!(is_unreadable_submit(&e));
        assert!(!is_unreadable_submit(&anyhow::anyhow!("timed out")));
    }

    use super::*;

    #[test]
    fn transient_messages_are_recognised() {
        assert!(is_transient(
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
        ));
        assert!(is_transient(
            "error: failed receiving gdi request response for mid=1"
        ));
        assert!(is_transient(
            "squeue: error: Unable to contact slurm controller (connect failure)"
        ));
        assert!(!is_transient(
            "sbatch: error: invalid partition specified: nope"
        ));
        assert!(!is_transient("sbatch: error: Invalid --time specification"));
    }

    #[test]
    fn ids_are_chunked_by_length() {
        let ids: Vec<JobId> = (0..10).map(|i| JobId::new(format!("10{i}"))).collect();
        assert_eq!(chunk_ids(&ids, 1000).len(), 1);
        let chunks = chunk_ids(&ids, 8);
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks.concat(), ids);
    }
}
