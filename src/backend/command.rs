//! Running batch-system commands: found with `which`, captured whole, retried when the
//! controller is only briefly unreachable.
//!
//! A failed command is reported with its program, arguments, exit status, stdout and stderr.
//! Every command has a time limit ([`super::timed`]). Transient errors (socket timeouts, an
//! unreachable controller) are retried with a growing backoff; a submit is only retried after
//! looking the batch job up by its unique name, so a submit whose answer was lost never
//! creates a second batch job.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::timed::{self, CommandKind, Stop, Timeouts};
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

/// Runs one backend's commands with a retry policy, a time limit per kind of command, and a
/// [`Stop`] the server uses to end queries at once when it stops.
#[derive(Debug, Clone)]
pub struct Runner {
    pub kind: BackendKind,
    /// Attempts for a command that fails transiently (1: no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// The time limit of each kind of command.
    pub timeouts: Timeouts,
    /// Set when the server stops.
    pub stop: Stop,
}

impl Runner {
    /// The default policy: 4 attempts, 2 s first backoff, the default time limits.
    /// `HPCLUSTER_RETRY_BACKOFF_MS` sets the backoff (tests make it short).
    pub fn new(kind: BackendKind) -> Runner {
        let backoff = std::env::var("HPCLUSTER_RETRY_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(2), Duration::from_millis);
        Runner {
            kind,
            attempts: 4,
            backoff,
            timeouts: Timeouts::default(),
            stop: Stop::new(),
        }
    }

    /// The runner of a configuration's backend, with its `*_timeout` keys.
    pub fn for_config(config: &crate::config::Config) -> Runner {
        Runner {
            timeouts: Timeouts {
                submit: config.submit_timeout,
                query: config.status_timeout,
                cancel: config.cancel_timeout,
            },
            ..Runner::new(config.backend)
        }
    }

    /// The same runner, stopped by `stop`.
    pub fn with_stop(self, stop: Stop) -> Runner {
        Runner { stop, ..self }
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

    /// Runs `argv` once in `workdir` within the time limit of its `kind`, and captures its
    /// output. A command that does not finish in time is an error ([`timed::TimedOut`]).
    pub fn run_once(
        &self,
        argv: &[String],
        workdir: Option<&Path>,
        kind: CommandKind,
    ) -> anyhow::Result<Output> {
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
        let shown = argv.join(" ");
        let out = timed::run(cmd, &shown, kind, &self.timeouts, &self.stop)?;
        Ok(Output {
            argv: argv.to_vec(),
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Runs `argv`, retrying transient failures; returns the last output (successful or not).
    /// A query is not retried once the server stops (a cancel still is).
    pub fn run(
        &self,
        argv: &[String],
        workdir: Option<&Path>,
        kind: CommandKind,
    ) -> anyhow::Result<Output> {
        let mut attempt = 1;
        loop {
            let out = self.run_once(argv, workdir, kind)?;
            let stopping = kind == CommandKind::Query && self.stop.is_stopping();
            if out.success() || attempt >= self.attempts || !self.transient(&out) || stopping {
                return Ok(out);
            }
            self.wait(attempt, &out.argv[0], out.stderr.trim());
            attempt += 1;
        }
    }

    /// Submits with `argv`: retries transient failures and submits that did not finish in
    /// time, but first asks `find` whether the lost submission created the batch job after
    /// all. `parse` reads a successful submit's stdout. No retry once the server stops.
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
            let why = match self.run_once(argv, Some(workdir), CommandKind::Submit) {
                Ok(out) if out.success() => {
                    return parse(&out.stdout).map_err(|e| {
                        e.context(UnreadableSubmit {
                            job_name: job_name.to_string(),
                            stderr: out.stderr.trim().to_string(),
                        })
                    });
                }
                Ok(out) => {
                    if attempt >= self.attempts || !self.transient(&out) || self.stop.is_stopping()
                    {
                        return Err(out.error(&format!("failed to submit batch job `{job_name}`")));
                    }
                    (out.argv[0].clone(), out.stderr.trim().to_string())
                }
                Err(e) if timed::is_timed_out(&e) => {
                    if attempt >= self.attempts || self.stop.is_stopping() {
                        return Err(e.context(format!("failed to submit batch job `{job_name}`")));
                    }
                    (argv[0].clone(), format!("{e:#}"))
                }
                Err(e) => return Err(e),
            };
            self.wait(attempt, &why.0, &why.1);
            let found = find().with_context(|| {
                format!("failed to look up batch job `{job_name}` before retrying its submit")
            })?;
            if !found.is_empty() {
                tracing::info!(
                    "batch job `{job_name}` was created by the submit that failed: {}",
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

    fn wait(&self, attempt: u32, program: &str, why: &str) {
        let delay = self.backoff.saturating_mul(1 << (attempt - 1).min(10));
        tracing::warn!(
            "`{program}` failed transiently ({why}); retrying in {}",
            crate::duration::format_human(delay)
        );
        std::thread::sleep(delay);
    }
}

/// A submit command succeeded but its answer holds no job ID hpcluster can read: retrying
/// would create more batch jobs it cannot track, so the caller stops instead.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the answer to the submission of batch job `{job_name}` holds no job ID hpcluster can read{}",
    if stderr.is_empty() { String::new() } else { format!(" (stderr: {stderr})") })]
pub struct UnreadableSubmit {
    pub job_name: String,
    pub stderr: String,
}

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
            .context(UnreadableSubmit {
                job_name: "c-1".into(),
                stderr: String::new(),
            })
            .context("submitting 3 batch jobs")
            .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "submitting 3 batch jobs: the answer to the submission of batch job `c-1` holds no \
             job ID hpcluster can read: no ID"
        );
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
