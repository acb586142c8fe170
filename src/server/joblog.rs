//! `up --joblog FILE`: one line per finished run in GNU parallel's joblog format, so scripts
//! written for `parallel --joblog` read it (`parallel --retry-failed --joblog FILE` runs the
//! failed commands again). The header is `Seq Host Starttime JobRuntime Send Receive Exitval
//! Signal Command`, tab-separated; `Seq` is the task ID plus one (parallel counts from 1), a
//! run that ended without an exit status (lost, timed out, cancelled) has `Exitval` -1, a
//! command's line breaks are written as NUL bytes, as parallel does. `FILE` is overwritten;
//! `+FILE` appends (as in parallel). Lines are written as runs end, and flushed at once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::task::{Outcome, TaskEvent, TaskId};

/// The joblog's header line.
pub const HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// An open joblog, and the host and command of every run it waits to log.
pub struct Joblog {
    path: PathBuf,
    out: BufWriter<File>,
    running: HashMap<TaskId, (String, String)>,
}

impl Joblog {
    /// Opens `spec` (`+PATH`: append to PATH, writing the header only if it is new). A file it
    /// creates gets `mode` (the journal's: it holds every command too), whatever the umask; a
    /// file that exists keeps its own.
    pub fn open(spec: &Path, mode: u32) -> anyhow::Result<Joblog> {
        let text = spec.to_string_lossy();
        let (path, append) = match text.strip_prefix('+') {
            Some(p) => (PathBuf::from(p), true),
            None => (spec.to_path_buf(), false),
        };
        let fresh = !append || std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
        let new = !path.exists();
        let file = File::options()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .mode(mode)
            .open(&path)
            .and_then(|f| {
                if new {
                    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                Ok(f)
            })
            .with_context(|| format!("failed to open joblog `{}`", path.display()))?;
        let mut log = Joblog {
            path,
            out: BufWriter::new(file),
            running: HashMap::new(),
        };
        if fresh {
            log.write(&format!("{HEADER}\n"))?;
        }
        Ok(log)
    }

    /// A run of `task` starts on `host`: its line will name them.
    pub fn started(&mut self, task: TaskId, host: &str, cmd: &str) {
        self.running
            .insert(task, (host.to_string(), cmd.to_string()));
    }

    /// A run ended at `now` (Unix time): its line, unless it never started.
    pub fn ended(&mut self, ev: &TaskEvent, now: Duration) -> anyhow::Result<()> {
        let Some((host, cmd)) = self.running.remove(&ev.task) else {
            return Ok(());
        };
        let Some((exitval, signal)) = exit_of(&ev.outcome) else {
            return Ok(());
        };
        let start = now.as_secs_f64() - ev.secs.max(0.0);
        let line = format_line(ev.task + 1, &host, start, ev.secs, exitval, signal, &cmd);
        self.write(&line)
    }

    fn write(&mut self, text: &str) -> anyhow::Result<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .with_context(|| format!("failed to write joblog `{}`", self.path.display()))
    }
}

/// `Exitval` of a checkpointed run: -2, neither an exit status nor the -1 of a lost run, so a
/// reader of the joblog tells a piece of work saved from a failure.
pub const CHECKPOINTED_EXITVAL: i32 = -2;

/// `Exitval` and `Signal` of a run that ended so; `None` for a task that never ran.
fn exit_of(outcome: &Outcome) -> Option<(i32, i32)> {
    Some(match outcome {
        Outcome::Done => (0, 0),
        Outcome::Failed { exit_code, .. } => (exit_code.unwrap_or(-1), 0),
        // As parallel records a command a signal ended: exit status 0, the signal.
        Outcome::Killed { signal, .. } => (0, signal.unwrap_or(0)),
        Outcome::Rerun {
            exit_code, signal, ..
        } => match (exit_code, signal) {
            (Some(c), _) => (*c, 0),
            (None, Some(s)) => (0, *s),
            (None, None) => (-1, 0),
        },
        Outcome::Requeued { .. } | Outcome::Cancelled { .. } => (-1, 0),
        // The run exited with `checkpoint_exit_code`; the joblog does not know that code.
        Outcome::Checkpointed => (CHECKPOINTED_EXITVAL, 0),
        Outcome::Returned => return None,
    })
}

/// One joblog line, as GNU parallel writes it.
pub fn format_line(
    seq: u64,
    host: &str,
    start: f64,
    runtime: f64,
    exitval: i32,
    signal: i32,
    cmd: &str,
) -> String {
    let host: String = host
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let host = if host.is_empty() {
        ":".to_string()
    } else {
        host
    };
    format!(
        "{seq}\t{host}\t{start:.3}\t{runtime:10.3}\t0\t0\t{exitval}\t{signal}\t{}\n",
        cmd.replace('\n', "\0")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_spelled_as_gnu_parallel_spells_them() {
        assert_eq!(
            format_line(4, "node 1", 1360490623.0671, 3.4449, 2, 0, "echo a\necho b"),
            "4\tnode_1\t1360490623.067\t     3.445\t0\t0\t2\t0\techo a\0echo b\n"
        );
    }

    #[test]
    fn every_finished_run_gets_a_line_and_given_back_tasks_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jl");
        let mut j = Joblog::open(&p, 0o600).unwrap();
        j.started(0, "n1", "true");
        let ev = |task, outcome| TaskEvent {
            task,
            outcome,
            secs: 1.0,
        };
        j.ended(&ev(0, Outcome::Done), Duration::from_secs(100))
            .unwrap();
        j.started(1, "n1", "sleep 9");
        j.ended(&ev(1, Outcome::Returned), Duration::from_secs(100))
            .unwrap();
        let failed = Outcome::Failed {
            reason: "exit status 3".into(),
            exit_code: Some(3),
            walltime: false,
        };
        j.started(2, "n2", "exit 3");
        j.ended(&ev(2, failed), Duration::from_secs(101)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], HEADER);
        assert!(lines[1].starts_with("1\tn1\t99.000\t     1.000\t0\t0\t0\t0\ttrue"));
        assert!(lines[2].starts_with("3\tn2\t100.000\t"), "{}", lines[2]);
        assert!(lines[2].ends_with("\t3\t0\texit 3"), "{}", lines[2]);
        // `+` appends without a second header.
        drop(j);
        let plus = PathBuf::from(format!("+{}", p.display()));
        Joblog::open(&plus, 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }
}
