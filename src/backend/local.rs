//! The local backend: each batch job is a `hpcluster local-job` supervisor process that runs
//! the script with bash in its own process group and enforces the walltime.
//!
//! Everything is on disk under `<cluster dir>/local/<id>/` (`pid` of the supervisor, `status.json`
//! written atomically), so `status` and `cancel` work from any `hpcluster` process. The walltime
//! is enforced like a batch system does: SIGTERM to the group, SIGKILL after a grace period.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::{Backend, BackendKind, JobId, JobState, JobStatus, Runner, SubmitRequest};
use crate::cluster_dir::write_atomic;
use crate::config::Config;

/// Time between SIGTERM and SIGKILL when the walltime is over or the job is cancelled.
const GRACE: Duration = Duration::from_secs(3);

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
        // SAFETY: setsid is async-signal-safe; detaches the supervisor from our terminal.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .context("failed to start `hpcluster local-job`")?;
        write_atomic(&dir.join("pid"), child.id().to_string().as_bytes())?;
        Ok(id)
    }
}

/// Reads one local batch job's state from its directory.
pub fn read_status(dir: &Path) -> JobStatus {
    let pending = JobStatus {
        state: JobState::Pending,
        native: "starting".into(),
        started: None,
        ended: None,
    };
    let status: JobStatus = std::fs::read(dir.join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(pending);
    if status.state.is_final() || supervisor_alive(dir) != Some(false) {
        return status;
    }
    // The supervisor died without writing a final state (killed with SIGKILL, machine reboot).
    JobStatus {
        state: JobState::Failed,
        native: "supervisor lost".into(),
        ..status
    }
}

fn supervisor_pid(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn supervisor_alive(dir: &Path) -> Option<bool> {
    let pid = supervisor_pid(dir)?;
    // SAFETY: signal 0 only checks that the process exists.
    Some(unsafe { libc::kill(pid, 0) } == 0)
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
            if let Some(pid) = supervisor_pid(&dir) {
                // SAFETY: plain kill(2) of the supervisor we started; it forwards to the group.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        Ok(())
    }

    fn find_by_name(&self, _name: &str) -> anyhow::Result<Vec<JobId>> {
        Ok(Vec::new()) // a local submit never times out: nothing to find
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// `hpcluster local-job`: runs the script, enforces the walltime, records the final state.
pub fn run_supervisor(args: &crate::cli::LocalJobArgs) -> anyhow::Result<i32> {
    let walltime = crate::duration::parse_duration(&args.walltime)?;
    let dir = &args.state_dir;
    let write = |status: &JobStatus| -> anyhow::Result<()> {
        write_atomic(
            &dir.join("status.json"),
            &serde_json::to_vec_pretty(status)?,
        )
    };
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
    }
    let deadline = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(walltime);
    let mut child = Command::new("bash")
        .arg(&args.script)
        .env(
            "HPCLUSTER_JOB_DEADLINE",
            format!("{:.3}", deadline.as_secs_f64()),
        )
        .process_group(0)
        .spawn()
        .with_context(|| format!("failed to run `bash {}`", args.script.display()))?;
    let pgid = child.id() as i32;
    let started = SystemTime::now();
    let mut status = JobStatus {
        state: JobState::Running,
        native: "running".into(),
        started: Some(started),
        ended: None,
    };
    write(&status)?;
    let t0 = Instant::now();
    let mut ending: Option<(JobState, Instant)> = None;
    let exit = loop {
        if let Some(exit) = child.try_wait()? {
            break exit;
        }
        if ending.is_none() {
            let reason = if STOP.load(Ordering::SeqCst) {
                Some(JobState::Cancelled)
            } else if t0.elapsed() >= walltime {
                Some(JobState::Timeout)
            } else {
                None
            };
            if let Some(r) = reason {
                // SAFETY: signals the script's own process group.
                unsafe { libc::killpg(pgid, libc::SIGTERM) };
                ending = Some((r, Instant::now()));
            }
        }
        if let Some((_, since)) = ending {
            if since.elapsed() >= GRACE {
                // SAFETY: as above.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Leftover background processes of the script go with it, and so does anything else in
    // this batch job's session (tasks run in process groups of their own), as a batch system
    // would kill every process of an ended job.
    // SAFETY: as above; the group may already be empty.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    kill_session_members();
    status.state = match ending {
        Some((r, _)) => r,
        None if exit.success() => JobState::Done,
        None => JobState::Failed,
    };
    status.native = exit
        .code()
        .map_or("killed".to_string(), |c| format!("exit {c}"));
    status.ended = Some(SystemTime::now());
    write(&status)?;
    Ok(exit.code().unwrap_or(1))
}

/// SIGKILLs every other process of this supervisor's session (it is the session leader).
fn kill_session_members() {
    // SAFETY: getsid(0) and getpid() only read this process's ids.
    let (sid, me) = unsafe { (libc::getsid(0), libc::getpid()) };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        if session_of(&stat) == Some(sid) {
            // SAFETY: signals one process of our own session.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The session id in a `/proc/PID/stat` line (the 6th field; the command may hold spaces).
fn session_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod session_tests {
    #[test]
    fn session_field_is_read_after_the_command() {
        assert_eq!(super::session_of("42 (a b) c) S 1 40 41 0 -1"), Some(41));
        assert_eq!(super::session_of("garbage"), None);
    }
}
