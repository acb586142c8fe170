//! The ledger of a cluster's core-hours: where the time of every batch job went, from what the
//! batch system recorded (`jobs.json`: submitted, started, ended) and what the journal recorded
//! (every run of every task, on which batch job, how long, how it ended). Pure over those
//! records, with `now` passed in, so a running cluster has a ledger too and a resumed one
//! counts its whole history.
//!
//! A batch job consumes `cores` from its start to its end (or `now`). Its worker's slots each
//! hold `cores / slots`. The consumed core-hours split into: startup (from the batch job's
//! start to its first task; all of it when no task ran), useful (runs that finished), failed
//! (runs that exited non-zero), killed by the walltime, re-run (runs lost otherwise and run
//! again), checkpointed (runs that saved their state and exited with `checkpoint_exit_code`),
//! running now, and idle (the rest: slots between tasks or waiting, the worker's exit). Beside them, not consumed: the tail
//! returned (the walltime a batch job did not use because its worker retired) and the queue
//! wait (wall time before the start, not charged).

pub mod record;
pub mod runs;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cluster_dir::JobRecord;
use crate::journal::Entry;
use runs::{History, RunKind};

/// The facts of the configuration the ledger needs.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub cores: u32,
    pub slots: u32,
    /// The walltime each batch job was granted.
    pub walltime: Duration,
}

/// Core-hours by category (queue wait in hours of wall time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Split {
    pub consumed: f64,
    pub startup: f64,
    pub useful: f64,
    pub failed: f64,
    pub killed_by_walltime: f64,
    pub rerun: f64,
    pub checkpointed: f64,
    pub running: f64,
    pub idle: f64,
    /// Not consumed: the walltime given back by retiring before it.
    pub tail_returned: f64,
    /// Not consumed, not charged: hours between submission and start.
    pub queue_wait_hours: f64,
}

impl Split {
    /// The categories that make up `consumed`, summed.
    pub fn parts(&self) -> f64 {
        self.startup
            + self.useful
            + self.failed
            + self.killed_by_walltime
            + self.rerun
            + self.checkpointed
            + self.running
            + self.idle
    }

    fn add(&mut self, o: &Split) {
        self.consumed += o.consumed;
        self.startup += o.startup;
        self.useful += o.useful;
        self.failed += o.failed;
        self.killed_by_walltime += o.killed_by_walltime;
        self.rerun += o.rerun;
        self.checkpointed += o.checkpointed;
        self.running += o.running;
        self.idle += o.idle;
        self.tail_returned += o.tail_returned;
        self.queue_wait_hours += o.queue_wait_hours;
    }
}

/// One batch job's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobLedger {
    pub id: String,
    pub state: String,
    /// Runs of tasks on it.
    pub runs: usize,
    #[serde(flatten)]
    pub split: Split,
}

/// The ledger of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ledger {
    pub jobs: Vec<JobLedger>,
    pub total: Split,
    /// Task time of runs whose worker did not know its batch job (not in any `consumed`).
    pub unattributed: f64,
    pub tasks_done: usize,
    pub tasks_failed: usize,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The ledger of batch jobs `jobs` and journal `entries` at `now` (Unix time).
pub fn account(entries: &[Entry], jobs: &[JobRecord], facts: Facts, now: Duration) -> Ledger {
    let now = now.as_secs_f64();
    let history = runs::history(entries, now);
    let cores = facts.cores.max(1) as f64;
    let per_slot = cores / facts.slots.max(1) as f64;
    let mut by_job: BTreeMap<&str, Vec<&runs::Run>> = BTreeMap::new();
    let mut ledger = Ledger::default();
    for r in &history.runs {
        match &r.job {
            Some(j) => by_job.entry(j.as_str()).or_default().push(r),
            None => ledger.unattributed += r.secs * per_slot / 3600.0,
        }
    }
    for job in jobs {
        let id = job.id.to_string();
        let runs = by_job.remove(id.as_str()).unwrap_or_default();
        let split = job_split(job, &runs, facts, now);
        ledger.total.add(&split);
        ledger.jobs.push(JobLedger {
            id,
            state: job.state.to_string(),
            runs: runs.len(),
            split,
        });
    }
    // Runs on batch jobs jobs.json does not know (another cluster directory's?) count apart.
    for runs in by_job.values() {
        ledger.unattributed += runs.iter().map(|r| r.secs).sum::<f64>() * per_slot / 3600.0;
    }
    let mut ended: BTreeMap<u64, RunKind> = BTreeMap::new();
    for r in &history.runs {
        ended.insert(r.task, r.kind);
    }
    ledger.tasks_done = ended.values().filter(|k| **k == RunKind::Done).count();
    ledger.tasks_failed = ended.values().filter(|k| **k == RunKind::Failed).count();
    ledger
}

/// One batch job's split, core-hours.
fn job_split(job: &JobRecord, runs: &[&runs::Run], facts: Facts, now: f64) -> Split {
    let cores = facts.cores.max(1) as f64;
    let per_slot = cores / facts.slots.max(1) as f64;
    let hours = |secs: f64| secs / 3600.0;
    let submitted = unix(job.submitted);
    let mut s = Split::default();
    let Some(started) = job.started.map(unix) else {
        let until = job.ended.map_or(now, unix);
        s.queue_wait_hours = hours((until - submitted).max(0.0));
        return s;
    };
    s.queue_wait_hours = hours((started - submitted).max(0.0));
    let end = job.ended.map_or(now, unix).max(started);
    s.consumed = hours(end - started) * cores;
    if job.state.is_final() {
        let unused = facts.walltime.as_secs_f64() - (end - started);
        s.tail_returned = hours(unused.max(0.0)) * cores;
    }
    let first = runs.iter().map(|r| r.started).fold(f64::INFINITY, f64::min);
    s.startup = if first.is_finite() {
        hours((first - started).clamp(0.0, end - started)) * cores
    } else {
        s.consumed
    };
    // Runs the worker measured count as measured. A run whose end was not reported (the
    // server stopped, its worker was lost) is known only between journal entries, an upper
    // bound (it may have waited behind another task, sent ahead): it never outlasts its batch
    // job, and such runs together take at most what the measured ones left of it.
    let mut unmeasured: Vec<(RunKind, f64)> = Vec::new();
    for r in runs {
        let t = hours(r.secs.min(end - r.started).max(0.0)) * per_slot;
        let kind = match r.kind {
            RunKind::Running if job.state.is_final() => RunKind::Lost,
            k => k,
        };
        if !r.measured {
            unmeasured.push((kind, t));
            continue;
        }
        *category(&mut s, kind) += t;
    }
    let left = (s.consumed - s.parts()).max(0.0);
    let bound: f64 = unmeasured.iter().map(|(_, t)| t).sum();
    let scale = if bound > left { left / bound } else { 1.0 };
    for (kind, t) in unmeasured {
        *category(&mut s, kind) += t * scale;
    }
    s.idle = (s.consumed - s.parts()).max(0.0);
    s
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

/// The durations (and names) of the tasks that finished, in the order the tasks were added:
/// what a counterfactual replays.
pub fn finished_durations(entries: &[Entry]) -> (Vec<f64>, Vec<Option<String>>) {
    let h: History = runs::history(entries, 0.0);
    let mut done: BTreeMap<u64, f64> = BTreeMap::new();
    for r in h.runs.iter().filter(|r| r.kind == RunKind::Done) {
        done.insert(r.task, r.secs);
    }
    let names = done
        .keys()
        .map(|t| h.specs.get(*t as usize).and_then(|s| s.name.clone()))
        .collect();
    (done.into_values().collect(), names)
}

/// The mean queue wait of the batch jobs that started, seconds.
pub fn mean_queue_wait(jobs: &[JobRecord]) -> f64 {
    let waits: Vec<f64> = jobs
        .iter()
        .filter_map(|j| Some(unix(j.started?) - unix(j.submitted)))
        .map(|w| w.max(0.0))
        .collect();
    waits.iter().sum::<f64>() / waits.len().max(1) as f64
}

#[cfg(test)]
mod tests;
