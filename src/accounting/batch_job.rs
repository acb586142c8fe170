//! One batch job's share of the ledger ([`JobTally`]): the runs of tasks on it folded as the
//! journal gives them (a count, the first start, task time by category), and at the end its
//! split of the core-hours it consumed. What `jobs.json` recorded of it (its start, its end or
//! `now`, whether it has ended) is known before the journal is read, so each run is clamped
//! and counted as it comes; only the runs known between journal entries, not measured, wait
//! for the end (they share what the measured ones left of the batch job).

use crate::cluster_dir::JobRecord;

use super::runs::{Run, RunKind};
use super::{unix, Facts, Split};

/// What the runs on one batch job add up to.
#[derive(Debug, Clone)]
pub struct JobTally {
    /// Its start and end (`now` if it has not ended), Unix seconds; `None`: never started.
    window: Option<(f64, f64)>,
    /// It has ended: a run still open on it was lost with it.
    ended: bool,
    /// Each slot's share of the batch job's cores.
    per_slot: f64,
    /// Runs of tasks on it.
    pub runs: usize,
    /// The earliest start of a run on it (infinite: none yet).
    first: f64,
    /// Measured task time by category ([`slot`]), core-hours, summed in the journal's order.
    measured: [f64; 6],
    /// Runs not measured: (category, core-hours at most), in the journal's order.
    unmeasured: Vec<(RunKind, f64)>,
}

impl JobTally {
    /// An empty tally for batch job `job` at `now` (Unix seconds).
    pub fn new(job: &JobRecord, facts: Facts, now: f64) -> JobTally {
        let window = job.started.map(unix).map(|started| {
            let end = job.ended.map_or(now, unix).max(started);
            (started, end)
        });
        JobTally {
            window,
            ended: job.state.is_final(),
            per_slot: facts.per_slot(),
            runs: 0,
            first: f64::INFINITY,
            measured: [0.0; 6],
            unmeasured: Vec::new(),
        }
    }

    /// Counts a run on it. A run never outlasts its batch job; one still open on a batch job
    /// that has ended was lost with it.
    pub fn add(&mut self, run: &Run) {
        self.runs += 1;
        let Some((_, end)) = self.window else { return };
        self.first = self.first.min(run.started);
        let t = hours(run.secs.min(end - run.started).max(0.0)) * self.per_slot;
        let kind = match run.kind {
            RunKind::Running if self.ended => RunKind::Lost,
            k => k,
        };
        if run.measured {
            self.measured[slot(kind)] += t;
        } else {
            self.unmeasured.push((kind, t));
        }
    }

    /// Its split, core-hours, as of `now` (Unix seconds).
    pub fn split(&self, job: &JobRecord, facts: Facts, now: f64) -> Split {
        let cores = facts.cores.max(1) as f64;
        let submitted = unix(job.submitted);
        let mut s = Split::default();
        let Some((started, end)) = self.window else {
            let until = job.ended.map_or(now, unix);
            s.queue_wait_hours = hours((until - submitted).max(0.0));
            return s;
        };
        s.queue_wait_hours = hours((started - submitted).max(0.0));
        s.consumed = hours(end - started) * cores;
        if self.ended {
            let unused = facts.walltime.as_secs_f64() - (end - started);
            s.tail_returned = hours(unused.max(0.0)) * cores;
        }
        s.startup = if self.first.is_finite() {
            hours((self.first - started).clamp(0.0, end - started)) * cores
        } else {
            s.consumed
        };
        for kind in KINDS {
            *category(&mut s, kind) = self.measured[slot(kind)];
        }
        // Runs whose end was not reported (the server stopped, their worker was lost) are
        // known only between journal entries, an upper bound (one may have waited behind
        // another task, sent ahead): together they take at most what the measured ones left.
        let left = (s.consumed - s.parts()).max(0.0);
        let bound: f64 = self.unmeasured.iter().map(|(_, t)| t).sum();
        let scale = if bound > left { left / bound } else { 1.0 };
        for &(kind, t) in &self.unmeasured {
            *category(&mut s, kind) += t * scale;
        }
        s.idle = (s.consumed - s.parts()).max(0.0);
        s
    }
}

fn hours(secs: f64) -> f64 {
    secs / 3600.0
}

/// Every kind of run, each with its own category.
const KINDS: [RunKind; 6] = [
    RunKind::Done,
    RunKind::Failed,
    RunKind::KilledByWalltime,
    RunKind::Lost,
    RunKind::Checkpointed,
    RunKind::Running,
];

/// Where a kind of run's time is kept in [`JobTally::measured`].
fn slot(kind: RunKind) -> usize {
    match kind {
        RunKind::Done => 0,
        RunKind::Failed => 1,
        RunKind::KilledByWalltime => 2,
        RunKind::Lost => 3,
        RunKind::Checkpointed => 4,
        RunKind::Running => 5,
    }
}

/// The category of a run's time.
fn category(s: &mut Split, kind: RunKind) -> &mut f64 {
    match kind {
        RunKind::Done => &mut s.useful,
        RunKind::Failed => &mut s.failed,
        RunKind::KilledByWalltime => &mut s.killed_by_walltime,
        RunKind::Lost => &mut s.rerun,
        RunKind::Checkpointed => &mut s.checkpointed,
        RunKind::Running => &mut s.running,
    }
}
