//! Starting a task in a worker slot: `/bin/sh -c` in a process group of its own, under the
//! task guard ([`super::guard`]: the task ends when the worker dies), with
//! `HPCLUSTER_TASK_ID`, `HPCLUSTER_SLOT`, `HPCLUSTER_DEADLINE` (its batch job's deadline,
//! Unix seconds), `HPCLUSTER_ATTEMPT` (1 for its first run) (and `HPCLUSTER_TASK_NAME`) in
//! its environment, its
//! output piped into `tasks/NNN/<id>.out|.err` (each file created at the first byte, so tasks
//! that print nothing leave no files), its end sent back to the worker's loop. A task with a
//! `timeout` that runs longer is stopped (SIGTERM to its process group, SIGKILL
//! [`TIMEOUT_GRACE`] later) and reported [`RunEnd::TimedOut`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::Command as TokioCommand;
use tokio::sync::mpsc;

use crate::process::{signal_group, SIGKILL, SIGTERM};
use crate::protocol::{Request, RunEnd, RunId, StartFailure};
use crate::task::TaskSpec;

/// A task running in a slot.
pub struct Running {
    pub pgid: i32,
    pub started: Instant,
    pub slot: u32,
    /// Which start of the task this is (the server's run ID).
    pub run: RunId,
    /// When (Unix time) and with what its worker asks it to checkpoint; taken once sent.
    pub checkpoint: Option<super::checkpoint::Due>,
}

/// A task's end as the launcher reports it: (task, its run, how it ended, seconds it ran).
pub type Ended = (u64, RunId, RunEnd, f64);

/// What every task of a worker starts with.
pub struct Launcher {
    /// The cluster directory (task outputs go to its `tasks/`).
    pub cluster_dir: PathBuf,
    /// The worker's scratch directory (`local_directory`), the tasks' `TMPDIR`.
    pub scratch: Option<PathBuf>,
    pub done: mpsc::UnboundedSender<Ended>,
    /// The batch job's deadline as this worker knows it (Unix time), the tasks'
    /// `HPCLUSTER_DEADLINE`.
    pub deadline: Duration,
    /// The mode of output files, the cluster directory's ([`crate::atomic_file::file_mode_in`]):
    /// 0600 unless the cluster is shared with the group.
    pub output_mode: u32,
}

impl Launcher {
    /// Starts a task in a slot; a task that cannot start comes back as its report
    /// ([`RunEnd::CouldNotStart`], the details in its stderr file) for the caller to send: the
    /// slot is free again.
    pub fn start(
        &self,
        spec: &TaskSpec,
        task: u64,
        run: RunId,
        slot: u32,
        running: &mut HashMap<u64, Running>,
    ) -> Option<Request> {
        match self.spawn(spec, task, run, slot) {
            Ok(r) => {
                running.insert(task, r);
                None
            }
            Err(e) => {
                tracing::warn!("task {task} could not start: {e:#}");
                // The reason goes where the user looks for a failed task's why: its stderr.
                let (_, err) = crate::task::output_paths(&self.cluster_dir, task);
                let why = format!("hpcluster: task {task} could not start: {e:#}\n");
                if let Err(w) = create_output(&err, self.output_mode)
                    .and_then(|mut f| Ok(std::io::Write::write_all(&mut f, why.as_bytes())?))
                {
                    tracing::warn!("failed to write why task {task} could not start: {w:#}");
                }
                let why = e
                    .downcast_ref::<CouldNotStart>()
                    .map_or(StartFailure::Other, |c| c.why);
                Some(Request::TaskEnded {
                    task,
                    end: RunEnd::CouldNotStart { why },
                    secs: 0.0,
                    run,
                })
            }
        }
    }

    fn spawn(&self, spec: &TaskSpec, task: u64, run: RunId, slot: u32) -> anyhow::Result<Running> {
        let (out, err) = crate::task::output_paths(&self.cluster_dir, task);
        // Through the guard, so that the task and what it starts end with this worker.
        let mut cmd = TokioCommand::new(guard_program());
        cmd.arg("task-guard")
            .arg("--worker")
            .arg(std::process::id().to_string())
            .arg("--")
            .arg("/bin/sh")
            .arg("-c")
            .arg(&spec.cmd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.process_group(0);
        cmd.env("HPCLUSTER_TASK_ID", task.to_string())
            .env("HPCLUSTER_SLOT", slot.to_string())
            .env("HPCLUSTER_DEADLINE", self.deadline.as_secs().to_string())
            .env("HPCLUSTER_ATTEMPT", spec.attempt.unwrap_or(1).to_string());
        if let Some(name) = &spec.name {
            cmd.env("HPCLUSTER_TASK_NAME", name);
        }
        if let Some(dir) = &self.scratch {
            cmd.env("TMPDIR", dir).env("HPCLUSTER_LOCAL_DIR", dir);
        }
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        if let Some(cwd) = &spec.cwd {
            if !Path::new(cwd).is_dir() {
                return Err(CouldNotStart {
                    why: StartFailure::MissingCwd,
                    message: format!(
                        "its `cwd` `{cwd}` is not a directory on host `{}`: create it on a \
                         filesystem the compute nodes see, or fix the task's `cwd`",
                        crate::process::hostname()
                    ),
                }
                .into());
            }
            cmd.current_dir(cwd);
        }
        let mut child = cmd.spawn().map_err(|e| spawn_error(e, spec))?;
        let pgid = child.id().map(|p| p as i32).unwrap_or(0);
        let started = Instant::now();
        let copy_out = child
            .stdout
            .take()
            .map(|s| tokio::spawn(copy_to_file(s, out, self.output_mode)));
        let copy_err = child
            .stderr
            .take()
            .map(|s| tokio::spawn(copy_to_file(s, err, self.output_mode)));
        let done = self.done.clone();
        let timeout = spec
            .timeout
            .and_then(|t| Duration::try_from_secs_f64(t).ok());
        tokio::spawn(async move {
            let waited = match timeout {
                None => child.wait().await.map(Some),
                Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                    Ok(status) => status.map(Some),
                    Err(_) => {
                        // Past its timeout: asked to stop, then killed with what it started.
                        signal_group(pgid, SIGTERM);
                        let _ = tokio::time::timeout(TIMEOUT_GRACE, child.wait()).await;
                        signal_group(pgid, SIGKILL);
                        let _ = child.wait().await;
                        Ok(None)
                    }
                },
            };
            let end = match waited {
                Ok(Some(status)) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (status.code(), status.signal()) {
                        (Some(code), _) => RunEnd::Exited { code },
                        (None, Some(sig)) => RunEnd::Signaled { signal: sig },
                        _ => RunEnd::Exited { code: -1 },
                    }
                }
                Ok(None) => RunEnd::TimedOut,
                Err(_) => RunEnd::Exited { code: -1 },
            };
            // The output is complete when the task's end is reported, unless a background
            // process of the task still holds it open: not waited for past OUTPUT_GRACE.
            for copy in [copy_out, copy_err].into_iter().flatten() {
                let _ = tokio::time::timeout(OUTPUT_GRACE, copy).await;
            }
            let _ = done.send((task, run, end, started.elapsed().as_secs_f64()));
        });
        Ok(Running {
            pgid,
            started,
            slot,
            run,
            checkpoint: super::checkpoint::Due::of(spec, self.deadline),
        })
    }
}

/// The program the guard runs as: this worker's own binary (through `/proc/self/exe` when
/// the file was replaced or removed since the worker started).
fn guard_program() -> PathBuf {
    match std::env::current_exe() {
        Ok(p) if p.is_file() => p,
        _ => PathBuf::from("/proc/self/exe"),
    }
}

/// How long a task past its timeout has to stop after SIGTERM before it is killed.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

/// How long a finished task's output may still be copied before its end is reported.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Copies a task's stdout or stderr into its file, created at the first byte: a task that
/// prints nothing leaves no empty file behind (and costs no file creation).
async fn copy_to_file<R: tokio::io::AsyncRead + Unpin>(
    mut from: R,
    path: PathBuf,
    mode: u32,
) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    // Most tasks write nothing to one of their streams: no zeroed buffer until bytes come.
    let mut buf: Vec<u8> = Vec::new();
    let mut file: Option<std::fs::File> = None;
    loop {
        buf.clear();
        if buf.capacity() == 0 {
            buf.reserve_exact(64 * 1024);
        }
        let n = from.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let f = match &mut file {
            Some(f) => f,
            None => file.insert(create_output(&path, mode)?),
        };
        std::io::Write::write_all(f, &buf[..n])
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
}

/// A task that could not start, and why, in words for its stderr file.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct CouldNotStart {
    why: StartFailure,
    message: String,
}

/// Why a task's `/bin/sh -c` did not start, in words: E2BIG with the sizes and what to do;
/// anything else with the command.
fn spawn_error(e: std::io::Error, spec: &TaskSpec) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::ArgumentListTooLong {
        let env: usize = spec.env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        return CouldNotStart {
            why: StartFailure::TooLarge,
            message: format!(
                "its command ({} bytes) and `env` ({env} bytes) are more than the system passes \
                 to a program (E2BIG; see `getconf ARG_MAX`, and one argument or variable may \
                 hold 128 KiB at most): put the command in a script file, and large values in \
                 files",
                spec.cmd.len()
            ),
        }
        .into();
    }
    let shown: String = spec.cmd.chars().take(200).collect();
    anyhow::Error::new(e).context(format!("failed to start `/bin/sh -c {shown}`"))
}

/// Creates an output file with `mode`, and its directory the first time (with the same read
/// and write bits, and search where it may be read: 0600 -> 0700, 0640 -> 0750).
fn create_output(path: &Path, mode: u32) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    // The mode is set again once the file exists: the umask must not widen or narrow it.
    let create = || {
        let f = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        Ok::<_, std::io::Error>(f)
    };
    let made = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(mode | ((mode & 0o444) >> 2))
                    .create(dir)?;
            }
            create()
        }
        other => other,
    };
    made.with_context(|| format!("failed to create `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_files_are_created_at_the_first_byte_only() {
        let dir = tempfile::tempdir().unwrap();
        let silent = dir.path().join("000/1.err");
        copy_to_file(tokio::io::empty(), silent.clone(), 0o600)
            .await
            .unwrap();
        assert!(!silent.exists());
        let loud = dir.path().join("000/1.out");
        copy_to_file(&b"hello\n"[..], loud.clone(), 0o640)
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&loud).unwrap(), "hello\n");
    }
}
