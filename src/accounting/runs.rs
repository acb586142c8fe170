//! Runs of tasks, read from the journal one entry at a time ([`Pairing`]): each `started`
//! entry paired with the `ended` entry of the same task that follows it, with the batch job it
//! ran on, how it ended and how long it took. Only the runs still open are held; `now` closes
//! them at the end.

use std::collections::HashMap;

use crate::journal::Entry;
use crate::task::Outcome;

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

/// The runs of a journal as its entries come. A run whose end is missing when its task starts
/// again (the server stopped meanwhile) was lost, and lasted until that next start at most; a
/// run still open at the end is running until `now`.
#[derive(Debug, Default)]
pub struct Pairing {
    /// The runs started and not yet ended, by task: (batch job, started).
    open: HashMap<u64, (Option<String>, f64)>,
}

impl Pairing {
    /// The run this entry closes, if any: a start closes its task's previous run if that one
    /// never ended; an end closes its run (unless the task was given back unstarted).
    pub fn on_entry(&mut self, entry: Entry) -> Option<Run> {
        match entry {
            // A task queued again by `hpcluster retry` has no run of its own here.
            // A forgiven run was already counted lost when its `requeued` end was read.
            Entry::Added { .. } | Entry::Retried { .. } | Entry::Forgiven { .. } => None,
            Entry::Started { id, job, at, .. } => {
                let (job, started) = self.open.insert(id, (job, at))?;
                let secs = (at - started).max(0.0);
                Some(run(id, job, started, secs, RunKind::Lost, false))
            }
            Entry::Ended {
                id,
                outcome,
                secs,
                at,
            } => {
                let (job, started) = self.open.remove(&id)?;
                // A run lost with its worker has no time of its own: it lasted until its end
                // was written at most.
                let measured = secs > 0.0;
                let took = if measured {
                    secs
                } else {
                    (at - started).max(0.0)
                };
                let kind = kind_of(&outcome)?;
                Some(run(id, job, started, took, kind, measured))
            }
        }
    }

    /// The runs still open, running until `now`, in task order.
    pub fn still_open(self, now: f64) -> Vec<Run> {
        let mut still: Vec<_> = self.open.into_iter().collect();
        still.sort_by_key(|(id, _)| *id);
        still
            .into_iter()
            .map(|(id, (job, started))| {
                let secs = (now - started).max(0.0);
                run(id, job, started, secs, RunKind::Running, false)
            })
            .collect()
    }
}

/// How a run that ended this way counts (`None`: given back unstarted, no run).
fn kind_of(outcome: &Outcome) -> Option<RunKind> {
    Some(match outcome {
        Outcome::Done => RunKind::Done,
        Outcome::Failed { walltime: true, .. } => RunKind::KilledByWalltime,
        // The task's own failure, final or run again (`retries_on_failure`).
        Outcome::Failed { .. } | Outcome::Killed { .. } | Outcome::Rerun { .. } => RunKind::Failed,
        // Stopped by `hpcluster cancel`: its time is lost like a lost run's.
        Outcome::Cancelled { .. } => RunKind::Lost,
        Outcome::Requeued { walltime: true, .. } => RunKind::KilledByWalltime,
        Outcome::Requeued { .. } => RunKind::Lost,
        Outcome::Returned => return None,
        Outcome::Checkpointed => RunKind::Checkpointed,
    })
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
            "{\"ev\":\"ended\",\"id\":1,\"outcome\":\"returned\",\"secs\":0.0,\"at\":211.0}\n",
            "{\"ev\":\"started\",\"id\":1,\"worker\":3,\"job\":\"9\",\"at\":210.0}\n",
        );
        let mut pairing = Pairing::default();
        let mut runs: Vec<Run> = text
            .lines()
            .map(|l| serde_json::from_str::<Entry>(l).unwrap())
            .filter_map(|e| pairing.on_entry(e))
            .collect();
        runs.extend(pairing.still_open(250.0));
        let got: Vec<_> = runs
            .iter()
            .map(|r| (r.task, r.job.clone().unwrap(), r.secs, r.kind, r.measured))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "7".into(), 30.0, RunKind::Done, true),
                (1, "7".into(), 60.0, RunKind::KilledByWalltime, false),
                (1, "8".into(), 10.0, RunKind::Lost, false),
                (1, "9".into(), 40.0, RunKind::Running, false),
            ]
        );
    }
}
