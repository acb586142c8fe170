//! The local backend: each batch job is a `hpcluster local-job` supervisor process
//! ([`super::local_job`]) that runs the script with bash in its own process group and enforces
//! the walltime.
//!
//! Everything is on disk under `<cluster dir>/local/<id>/` (`pid` of the supervisor, `status.json`
//! written atomically), so `status` and `cancel` work from any `hpcluster` process. The walltime
//! is enforced like a batch system does: SIGTERM to the group, SIGKILL after a grace period.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::{Backend, BackendKind, JobId, JobState, JobStatus, Runner, SubmitRequest};
use crate::config::Config;

pub struct Local {
    /// `<cluster dir>/local`: one directory per local batch job.
    root: PathBuf,
    walltime: Duration,
}

impl Local {
    pub fn new(config: &Config, _runner: Runner) -> Local {
        Local {
            root: config.cluster_root.join(&config.name).join("local"),
            walltime: config.walltime,
        }
    }

    fn next_id(&self) -> anyhow::Result<(JobId, PathBuf)> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("failed to create `{}`", self.root.display()))?;
        for n in 1.. {
            let dir = self.root.join(format!("local-{n}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok((JobId::new(format!("local-{n}")), dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("failed to create `{}`", dir.display()))
                }
            }
        }
        unreachable!("the range 1.. does not end")
    }

    fn spawn(&self, req: &SubmitRequest<'_>) -> anyhow::Result<JobId> {
        let (id, dir) = self.next_id()?;
        let dir = std::path::absolute(&dir)?;
        let log_path = req.workdir.join(format!("{}.{}.out", req.job_name, id.id));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("failed to create `{}`", log_path.display()))?;
        let exe = std::env::current_exe().context("failed to find the hpcluster executable")?;
        let argv = self.submit_argv(req);
        let mut cmd = Command::new(exe);
        cmd.args(&argv[1..])
            .arg("--state-dir")
            .arg(&dir)
            .env("HPCLUSTER_LOCAL_JOB_ID", &id.id)
            .current_dir(req.workdir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // A session of its own, off our terminal, as a batch job is: Ctrl-C of `up` does not
        // reach it, and its supervisor can end every process of the job by session.
        // SAFETY: between fork and exec only setsid(2) runs, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .context("failed to start `hpcluster local-job`")?;
        crate::atomic_file::write(&dir.join("pid"), child.id().to_string().as_bytes())?;
        // Reaped as soon as it ends, so a supervisor killed with -9 is seen gone at the next
        // poll instead of lingering as a zombie that looks alive (a batch job that never ends).
        let mut child = child;
        std::thread::Builder::new()
            .name(format!("reap-{}", id.id))
            .spawn(move || {
                let _ = child.wait();
            })
            .context("failed to start the thread that waits for `hpcluster local-job`")?;
        Ok(id)
    }
}

/// Reads one local batch job's state from its directory.
pub fn read_status(dir: &Path) -> JobStatus {
    let pending = JobStatus {
        node: None,
        state: JobState::Pending,
        native: "starting".into(),
        started: None,
        ended: None,
        reason: None,
    };
    let status: JobStatus = std::fs::read(dir.join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(pending);
    if status.state.is_final() || supervisor_alive(dir) != Some(false) {
        return status;
    }
    // The supervisor died without writing a final state (killed with SIGKILL, machine reboot).
    // The batch job runs as long as a process of its session does (its script, its worker and
    // the worker's tasks: the supervisor leads the session), as a batch system would say.
    if !orphaned_members(dir).is_empty() {
        return JobStatus {
            state: JobState::Running,
            native: "running; its supervisor is gone".into(),
            ..status
        };
    }
    JobStatus {
        node: None,
        state: JobState::Failed,
        native: "supervisor lost".into(),
        ..status
    }
}

/// The processes left of a batch job whose supervisor died: its session's (the session is the
/// supervisor's pid).
fn orphaned_members(dir: &Path) -> Vec<i32> {
    supervisor_pid(dir).map_or_else(Vec::new, |sid| {
        super::local_job::session_members(sid, std::process::id() as i32)
    })
}

fn supervisor_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the job's supervisor runs: its process exists, has not ended (a zombie has), and
/// is a supervisor (its pid was not taken by another process since).
fn supervisor_alive(dir: &Path) -> Option<bool> {
    let pid = supervisor_pid(dir)?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"));
    Some(match (stat, cmdline) {
        (Ok(stat), Ok(cmdline)) => !crate::process::stat_ended(&stat) && is_supervisor(&cmdline),
        // No /proc (not Linux): whether the pid exists at all.
        _ if !Path::new("/proc/self/stat").exists() => crate::process::is_alive(pid),
        _ => false,
    })
}

/// A `/proc/PID/cmdline` of a local batch job's supervisor (`hpcluster local-job ...`).
fn is_supervisor(cmdline: &[u8]) -> bool {
    cmdline.split(|b| *b == 0).any(|arg| arg == b"local-job")
}

impl Backend for Local {
    fn kind(&self) -> BackendKind {
        BackendKind::Local
    }

    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String> {
        vec![
            "hpcluster".into(),
            "local-job".into(),
            "--walltime".into(),
            crate::duration::format_human(self.walltime),
            req.script.display().to_string(),
        ]
    }

    /// Starts one supervisor per batch job (an array of n starts n).
    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>> {
        (0..req.array.unwrap_or(1))
            .map(|_| self.spawn(req))
            .collect()
    }

    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        Ok(ids
            .iter()
            .filter(|id| self.root.join(&id.id).is_dir())
            .map(|id| (id.clone(), read_status(&self.root.join(&id.id))))
            .collect())
    }

    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()> {
        for id in ids {
            let dir = self.root.join(&id.id);
            if read_status(&dir).state.is_final() {
                continue;
            }
            if supervisor_alive(&dir) == Some(false) {
                // No supervisor to forward it: every process left of the job is asked to stop
                // (the worker stops its tasks and ends, the script's epilogue runs).
                for pid in orphaned_members(&dir) {
                    crate::process::signal(pid, crate::process::SIGTERM);
                }
            } else if let Some(pid) = supervisor_pid(&dir) {
                // The supervisor forwards it to the script's process group.
                crate::process::signal(pid, crate::process::SIGTERM);
            }
        }
        Ok(())
    }

    fn find_by_name(&self, _name: &str, _array: Option<u32>) -> anyhow::Result<Vec<JobId>> {
        Ok(Vec::new()) // a local submit never times out: nothing to find
    }
}
