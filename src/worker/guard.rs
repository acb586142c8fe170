//! The guard between a worker and each of its tasks (`hpcluster task-guard`, hidden): a task
//! never outlives its worker. The worker starts every task as `hpcluster task-guard --worker
//! PID -- /bin/sh -c CMD` in a process group of its own; the guard runs the command in that
//! same group and waits. When the worker dies (kill -9, the OOM killer, a crash) the guard
//! learns it at once from the parent-death signal (Linux: SIGTERM, which wakes it to look at its
//! parent's pid) or within [`POLL`] from that pid alone, sends SIGTERM to the task's whole group,
//! and SIGKILL [`GRACE`] later (or as soon as the command ended), which ends the guard too.
//! Before it woke on the signal, it only looked every [`POLL`]: a task went on for up to 50 ms
//! after its worker's death, while the server had already given it to another worker (the
//! fake-SLURM soak saw two copies at once, and a first copy that completed unreported). This holds on every backend and does not rely
//! on the batch system's process tracking (SLURM's `proctrack/pgid` misses other groups).
//!
//! Otherwise the guard is invisible: signals sent to the group (a timeout, the worker
//! stopping, a checkpoint signal) reach the command, which decides; the guard survives them,
//! and ends as the command ended: its exit code, or the same signal raised on itself, so the
//! worker reports `Exited` and `Signaled` as if it had waited for the command itself.

use std::ffi::OsString;
use std::process::ExitStatus;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::process::{own_group, parent_pid, signal_group, SIGKILL, SIGTERM};

/// How often the guard checks that its worker still lives (besides the parent-death signal).
/// `HPCLUSTER_GUARD_POLL_MS` sets it (a test makes it long, to see the signal work alone).
pub const POLL: Duration = Duration::from_millis(50);

/// How long a task whose worker died has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_millis(500);

/// Signals a process group receives that are the command's to handle, not the guard's: the
/// guard only notes them and keeps waiting for the command.
const PASSED_ON: [i32; 6] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
    signal_hook::consts::SIGUSR1,
    signal_hook::consts::SIGUSR2,
];

/// What wakes the guard.
enum Wake {
    /// The command ended.
    Ended(std::io::Result<ExitStatus>),
    /// A signal of [`PASSED_ON`] came: the parent-death signal, or one for the command.
    Signal,
}

/// `hpcluster task-guard --worker PID -- COMMAND...`: runs the command, ends its process group
/// when the worker `worker` dies, and ends as the command ended.
pub fn run(worker: i32, command: &[OsString]) -> anyhow::Result<i32> {
    crate::process::signal_on_parent_death(SIGTERM);
    let (tx, rx) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new(PASSED_ON)
        .context("failed to install the task guard's signal handlers")?;
    let woken = tx.clone();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if woken.send(Wake::Signal).is_err() {
                break;
            }
        }
    });
    let poll = std::env::var("HPCLUSTER_GUARD_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(POLL, Duration::from_millis);
    let (program, args) = command
        .split_first()
        .context("`task-guard` needs a command after `--`")?;
    if parent_pid() != worker {
        // The worker died before the guard was ready: the task does not start.
        return Ok(exit_code_worker_gone());
    }
    let mut child = std::process::Command::new(program)
        .args(args)
        .spawn()
        .with_context(|| format!("failed to start `{}`", program.to_string_lossy()))?;
    std::thread::spawn(move || {
        let _ = tx.send(Wake::Ended(child.wait()));
    });
    loop {
        match rx.recv_timeout(poll) {
            Ok(Wake::Ended(status)) => {
                return Ok(pass_on(status.context("failed to wait for the task")?))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(exit_code_worker_gone()),
            Ok(Wake::Signal) | Err(mpsc::RecvTimeoutError::Timeout) if parent_pid() != worker => {
                end_group(&rx);
                return Ok(exit_code_worker_gone());
            }
            Ok(Wake::Signal) | Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The worker is gone: SIGTERM to the task's group (the guard survives it), SIGKILL once the
/// command ended or [`GRACE`] passed, which takes the guard as well.
fn end_group(woken: &mpsc::Receiver<Wake>) {
    let group = own_group();
    signal_group(group, SIGTERM);
    let until = Instant::now() + GRACE;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match woken.recv_timeout(left) {
            Ok(Wake::Ended(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(Wake::Signal) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => break,
        }
    }
    signal_group(group, SIGKILL);
}

/// What the guard exits with when its worker is gone (nobody reads it).
fn exit_code_worker_gone() -> i32 {
    128 + signal_hook::consts::SIGKILL
}

/// The guard's exit status for the command's: its code, or the guard ends by the same signal.
fn pass_on(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => crate::process::exit_as_signaled(sig),
        _ => 1,
    }
}
