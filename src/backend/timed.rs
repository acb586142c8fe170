//! One batch-system command, run with a time limit: a `squeue` that hangs, or an `sbatch` whose
//! controller never answers, is stopped after its limit (its whole process group, so a wrapper
//! script's children go too) and reported as [`TimedOut`], never waited on for ever.
//!
//! A [`Stop`] handle shared with the server tells a running query (`squeue`, `qstat`, a lookup
//! by name) to give up at once when the server stops: its answer no longer matters, and `up`
//! must exit promptly on Ctrl-C. Submits and cancels are let run to their own limit: killing
//! one half-way could leave a batch job nobody knows of.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

/// What a command does, which sets its time limit and whether [`Stop`] ends it early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `sbatch`, `qsub`, `bsub`: limited by `submit_timeout`.
    Submit,
    /// Status, lookups by name, final states, explanations: limited by `status_timeout`, and
    /// stopped at once when the server stops.
    Query,
    /// `scancel`, `qdel`, `bkill`: limited by `cancel_timeout`.
    Cancel,
}

/// The time limit of each kind of command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub submit: Duration,
    pub query: Duration,
    pub cancel: Duration,
}

impl Timeouts {
    /// The limit of one kind of command, and the configuration key that sets it.
    pub fn of(&self, kind: CommandKind) -> (Duration, &'static str) {
        match kind {
            CommandKind::Submit => (self.submit, "submit_timeout"),
            CommandKind::Query => (self.query, "status_timeout"),
            CommandKind::Cancel => (self.cancel, "cancel_timeout"),
        }
    }
}

impl Default for Timeouts {
    /// The documented defaults (docs/configuration.md).
    fn default() -> Timeouts {
        Timeouts {
            submit: Duration::from_secs(120),
            query: Duration::from_secs(60),
            cancel: Duration::from_secs(60),
        }
    }
}

/// How long a query may take once the server is stopping: long enough for a healthy
/// controller to answer, short enough that Ctrl-C ends `up` within seconds.
pub const STOPPING_QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Tells running and future queries that the server is stopping (shared by clones).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// From now on queries give up at once, and new ones get [`STOPPING_QUERY_TIMEOUT`].
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A command that did not finish within its limit (or was stopped because the server stops).
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{command}` did not finish within {} (`{key}`); it was stopped{}",
    crate::duration::format_human(*.after),
    if *.stopping { " because hpcluster is stopping" } else { "" })]
pub struct TimedOut {
    pub command: String,
    pub after: Duration,
    pub key: &'static str,
    /// Stopped early because the server stops, not by its limit.
    pub stopping: bool,
}

/// What a finished command printed.
pub struct Printed {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Reads a pipe to its end on a thread of its own; the bytes come back on the channel.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

/// Runs `cmd` (stdin already set) in a process group of its own, with `limit`; a [`Query`]
/// also ends when `stop` says so. Returns its exit code and output, or a [`TimedOut`] error.
///
/// [`Query`]: CommandKind::Query
pub fn run(
    mut cmd: Command,
    shown: &str,
    kind: CommandKind,
    timeouts: &Timeouts,
    stop: &Stop,
) -> anyhow::Result<Printed> {
    let (mut limit, key) = timeouts.of(kind);
    // A query started before the stop ends when it comes; one started after gets a short limit.
    let mut stoppable = kind == CommandKind::Query;
    if stoppable && stop.is_stopping() {
        limit = limit.min(STOPPING_QUERY_TIMEOUT);
        stoppable = false;
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to run `{shown}`"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let started = Instant::now();
    let deadline = started + limit;
    let mut pause = Duration::from_millis(2);
    let timed_out = |stopping| TimedOut {
        command: shown.to_string(),
        after: started.elapsed().min(limit),
        key,
        stopping,
    };
    let status = loop {
        if let Some(status) = child.try_wait().context("failed to wait for a command")? {
            break status;
        }
        let stopping = stoppable && stop.is_stopping();
        if Instant::now() >= deadline || stopping {
            kill_group(&mut child);
            return Err(timed_out(stopping && Instant::now() < deadline).into());
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    // A child of the command may still hold the pipes open: wait no longer than the limit.
    let left = |d: Instant| d.saturating_duration_since(Instant::now());
    let stdout = out.recv_timeout(left(deadline)).unwrap_or_default();
    let stderr = err.recv_timeout(left(deadline)).unwrap_or_default();
    Ok(Printed {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Ends the command and everything it started (its process group), and reaps it.
fn kill_group(child: &mut std::process::Child) {
    crate::process::signal_group(child.id() as i32, crate::process::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `e` (or anything in its chain) is a [`TimedOut`].
pub fn is_timed_out(e: &anyhow::Error) -> bool {
    e.downcast_ref::<TimedOut>().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]).stdin(Stdio::null());
        c
    }

    fn short(query: u64) -> Timeouts {
        Timeouts {
            submit: Duration::from_secs(5),
            query: Duration::from_millis(query),
            cancel: Duration::from_secs(5),
        }
    }

    #[test]
    fn output_and_exit_code_come_back() {
        let p = run(
            sh("echo out; echo err >&2; exit 3"),
            "sh",
            CommandKind::Query,
            &short(5000),
            &Stop::new(),
        )
        .unwrap();
        assert_eq!(p.code, Some(3));
        assert_eq!(p.stdout, "out\n");
        assert_eq!(p.stderr, "err\n");
    }

    #[test]
    fn a_hung_command_and_its_children_are_stopped_at_the_limit() {
        let t0 = Instant::now();
        // The child `sleep` holds the pipes: only killing the group frees them.
        let e = run(
            sh("sleep 30; echo never"),
            "squeue -h",
            CommandKind::Query,
            &short(300),
            &Stop::new(),
        )
        .err()
        .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert!(is_timed_out(&e));
        assert_eq!(
            e.to_string(),
            "`squeue -h` did not finish within 0.3s (`status_timeout`); it was stopped"
        );
    }

    #[test]
    fn stop_ends_a_running_query_at_once_but_not_a_cancel() {
        let stop = Stop::new();
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            s.stop();
        });
        let t0 = Instant::now();
        let e = run(
            sh("sleep 30"),
            "squeue",
            CommandKind::Query,
            &short(20_000),
            &stop,
        )
        .err()
        .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert!(
            e.to_string().ends_with("because hpcluster is stopping"),
            "{e}"
        );
        let p = run(
            sh("sleep 0.3; echo cancelled"),
            "scancel",
            CommandKind::Cancel,
            &short(100),
            &stop,
        )
        .unwrap();
        assert_eq!(p.stdout, "cancelled\n");
    }
}
