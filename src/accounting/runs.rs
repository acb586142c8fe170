//! Runs of tasks, read from the journal: each `started` entry paired with the `ended` entry of
//! the same task that follows it, with the batch job it ran on, how it ended and how long it
//! took. Pure over the entries; `now` closes the runs still open.

use crate::journal::Entry;
use crate::task::{Outcome, TaskSpec};

/// How a run ended, for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Exit 0.
    Done,
    /// Exit status or signal: the task's own failure.
    Failed,
    /// Killed by the walltime, to be run again.
    KilledByWalltime,
    /// Lost otherwise (worker lost, interrupted, a server restart), to be run again.
    Lost,
    /// Saved its state and exited with `checkpoint_exit_code`, to go on in a later run.
    Checkpointed,
    /// Still running at `now`.
    Running,
}

/// One run of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub task: u64,
    /// The batch job it ran on (`None`: a worker that did not know its batch job).
    pub job: Option<String>,
    /// When it was handed to its worker, Unix seconds.
    pub started: f64,
    /// How long it ran, seconds.
    pub secs: f64,
    pub kind: RunKind,
    /// `secs` is the worker's measure of the run; else it is the time between entries of the
    /// journal (the run's end was not reported), an upper bound: a task sent ahead waited
    /// behind another before it started.
    pub measured: bool,
}

/// What the journal says: the tasks as added, and every run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub specs: Vec<TaskSpec>,
    pub runs: Vec<Run>,
}

/// Parses the journal's text into entries; a torn last line (a crash mid-write) is left out,
/// any other unreadable line is an error naming it.
pub fn parse_entries(text: &str, origin: &str) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim();
        if body.is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(body) {
            Ok(e) => out.push(e),
            Err(_) if !line.ends_with('\n') => break,
            Err(e) => anyhow::bail!("journal `{origin}` line {} is corrupt ({e})", n + 1),
        }
    }
    Ok(out)
}

/// The runs of a journal. A run whose end is missing when its task starts again (the server
/// stopped meanwhile) was lost, and lasted until that next start at most; a run still open at
/// the end is running until `now`.
pub fn history(entries: &[Entry], now: f64) -> History {
    let mut h = History::default();
    let mut open: std::collections::HashMap<u64, (Option<String>, f64)> = Default::default();
    for e in entries {
        match e {
            Entry::Added { spec, .. } => h.specs.push(spec.clone()),
            // A task queued again by `hpcluster retry` has no run of its own here.
            Entry::Retried { .. } => {}
            // A forgiven run was already counted lost when its `requeued` end was read.
            Entry::Forgiven { .. } => {}
            Entry::Started { id, job, at, .. } => {
                if let Some((job, started)) = open.insert(*id, (job.clone(), *at)) {
                    let secs = (at - started).max(0.0);
                    h.runs
                        .push(run(*id, job, started, secs, RunKind::Lost, false));
                }
            }
            Entry::Ended {
                id,
                outcome,
                secs,
                at,
            } => {
                let Some((job, started)) = open.remove(id) else {
                    continue;
                };
                // A run lost with its worker has no time of its own: it lasted until its end
                // was written at most.
                let measured = *secs > 0.0;
                let took = if measured {
                    *secs
                } else {
                    (at - started).max(0.0)
                };
                let kind = match outcome {
                    Outcome::Done => RunKind::Done,
                    Outcome::Failed { walltime: true, .. } => RunKind::KilledByWalltime,
                    // The task's own failure, final or run again (`retries_on_failure`).
                    Outcome::Failed { .. } | Outcome::Killed { .. } | Outcome::Rerun { .. } => {
                        RunKind::Failed
                    }
                    // Stopped by `hpcluster cancel`: its time is lost like a lost run's.
                    Outcome::Cancelled { .. } => RunKind::Lost,
                    Outcome::Requeued { walltime: true, .. } => RunKind::KilledByWalltime,
                    Outcome::Requeued { .. } => RunKind::Lost,
                    Outcome::Returned => continue,
                    Outcome::Checkpointed => RunKind::Checkpointed,
                };
                h.runs.push(run(*id, job, started, took, kind, measured));
            }
        }
    }
    let mut still: Vec<_> = open.into_iter().collect();
    still.sort_by_key(|(id, _)| *id);
    for (id, (job, started)) in still {
        let secs = (now - started).max(0.0);
        h.runs
            .push(run(id, job, started, secs, RunKind::Running, false));
    }
    h
}

fn run(
    task: u64,
    job: Option<String>,
    started: f64,
    secs: f64,
    kind: RunKind,
    measured: bool,
) -> Run {
    Run {
        task,
        job,
        started,
        secs,
        kind,
        measured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_pair_starts_with_ends_and_lost_ones_are_closed() {
        let text = concat!(
            "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n",
            "{\"ev\":\"added\",\"id\":1,\"spec\":{\"cmd\":\"b\"}}\n",
            "{\"ev\":\"started\",\"id\":0,\"worker\":1,\"job\":\"7\",\"at\":100.0}\n",
            "{\"ev\":\"started\",\"id\":1,\"worker\":1,\"job\":\"7\",\"at\":100.0}\n",
            "{\"ev\":\"ended\",\"id\":0,\"outcome\":\"done\",\"secs\":30.0,\"at\":130.0}\n",
            "{\"ev\":\"ended\",\"id\":1,\"outcome\":\"requeued\",\"reason\":\"killed by the walltime\",\"walltime\":true,\"secs\":0.0,\"at\":160.0}\n",
            "{\"ev\":\"started\",\"id\":1,\"worker\":2,\"job\":\"8\",\"at\":200.0}\n",
            "{\"ev\":\"started\",\"id\":1,\"worker\":3,\"job\":\"9\",\"at\":210.0}\n",
            "{\"ev\":\"ended\",\"id\":1,\"outcome\":\"ret",
        );
        let entries = parse_entries(text, "j").unwrap();
        let h = history(&entries, 250.0);
        assert_eq!(h.specs.len(), 2);
        let got: Vec<_> = h
            .runs
            .iter()
            .map(|r| (r.task, r.job.clone().unwrap(), r.secs, r.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "7".into(), 30.0, RunKind::Done),
                (1, "7".into(), 60.0, RunKind::KilledByWalltime),
                (1, "8".into(), 10.0, RunKind::Lost),
                (1, "9".into(), 40.0, RunKind::Running),
            ]
        );
        let e = parse_entries("not json\n{}\n", "j").unwrap_err();
        assert!(
            format!("{e:#}").contains("journal `j` line 1 is corrupt"),
            "{e:#}"
        );
    }
}
