//! One local batch job: the `hpcluster local-job` supervisor the local backend starts. It runs
//! the job script with bash in a process group of its own, enforces the walltime as a batch
//! system does (SIGTERM to the group, SIGKILL after [`GRACE`]), and records the job's state in
//! `status.json` in its state directory, where [`super::local::read_status`] reads it.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::{JobState, JobStatus};
use crate::process::{signal, signal_group, SIGKILL, SIGTERM};

/// Time between SIGTERM and SIGKILL when the walltime is over or the job is cancelled.
pub const GRACE: Duration = Duration::from_secs(3);

/// `hpcluster local-job`: runs the script, enforces the walltime, records the final state.
pub fn run_supervisor(dir: &Path, walltime: Duration, script: &Path) -> anyhow::Result<i32> {
    let write = |status: &JobStatus| -> anyhow::Result<()> {
        crate::atomic_file::write(
            &dir.join("status.json"),
            &serde_json::to_vec_pretty(status)?,
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .context("failed to install the local batch job's signal handlers")?;
    }
    let deadline = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(walltime);
    let mut child = Command::new("bash")
        .arg(script)
        .env(
            "HPCLUSTER_JOB_DEADLINE",
            format!("{:.3}", deadline.as_secs_f64()),
        )
        .process_group(0)
        .spawn()
        .with_context(|| format!("failed to run `bash {}`", script.display()))?;
    let pgid = child.id() as i32;
    let started = SystemTime::now();
    let mut status = JobStatus {
        node: None,
        state: JobState::Running,
        native: "running".into(),
        started: Some(started),
        ended: None,
        reason: None,
    };
    write(&status)?;
    let t0 = Instant::now();
    let mut ending: Option<(JobState, Instant)> = None;
    let exit = loop {
        if let Some(exit) = child.try_wait()? {
            break exit;
        }
        if ending.is_none() {
            let reason = if stop.load(Ordering::SeqCst) {
                Some(JobState::Cancelled)
            } else if t0.elapsed() >= walltime {
                Some(JobState::Timeout)
            } else {
                None
            };
            if let Some(r) = reason {
                signal_group(pgid, SIGTERM);
                ending = Some((r, Instant::now()));
            }
        }
        if let Some((_, since)) = ending {
            if since.elapsed() >= GRACE {
                signal_group(pgid, SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Leftover background processes of the script go with it, and so does anything else in
    // this batch job's session (tasks run in process groups of their own), as a batch system
    // would kill every process of an ended job.
    signal_group(pgid, SIGKILL);
    kill_session_members();
    status.state = match ending {
        Some((r, _)) => r,
        None if exit.success() => JobState::Done,
        None => JobState::Failed,
    };
    status.native = exit
        .code()
        .map_or("killed".to_string(), |c| format!("exit {c}"));
    if status.state == JobState::Failed {
        status.reason = Some(format!("its script ended with {}", status.native));
    }
    status.ended = Some(SystemTime::now());
    write(&status)?;
    Ok(exit.code().unwrap_or(1))
}

/// SIGKILLs every other process of this supervisor's session (it is the session leader), in
/// sweeps until one finds none left: a process forked while a sweep read `/proc` (a task's
/// `sleep`, started by a shell the same sweep killed) is caught by the next. One sweep alone
/// once left a task's child running for two seconds after its batch job ended.
fn kill_session_members() {
    let Ok(sid) = nix::unistd::getsid(None) else {
        return;
    };
    let (sid, me) = (sid.as_raw(), std::process::id() as i32);
    for _ in 0..MAX_SWEEPS {
        let members = session_members(sid, me);
        if members.is_empty() {
            return;
        }
        for pid in members {
            signal(pid, SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many sweeps [`kill_session_members`] makes at most (a process that forks faster than
/// it is killed cannot hold the supervisor forever).
const MAX_SWEEPS: usize = 200;

/// The live processes of session `sid` but `me` (zombies are dead already: their parent, or
/// init once it is gone, reaps them). A local batch job's session is its supervisor's pid.
pub fn session_members(sid: i32, me: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
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
        if session_of(&stat) == Some(sid) && !crate::process::stat_ended(&stat) {
            out.push(pid);
        }
    }
    out
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
