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
//!
//! The journal is folded one entry at a time ([`Tally`]): what is kept is a tally per batch
//! job ([`batch_job`]) and a few bytes per task ([`tasks`]), never the journal's entries nor
//! its runs, so `report` and the end of `up` read a journal of any length in little memory.

pub mod batch_job;
pub mod record;
pub mod runs;
pub mod tasks;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cluster_dir::JobRecord;
use crate::journal::Entry;
use batch_job::JobTally;
use runs::{Pairing, Run, RunKind};
use tasks::{Finished, TaskTallies};

/// The facts of the configuration the ledger needs.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub cores: u32,
    pub slots: u32,
    /// The walltime each batch job was granted.
    pub walltime: Duration,
}

impl Facts {
    /// The cores each slot holds.
    fn per_slot(&self) -> f64 {
        self.cores.max(1) as f64 / self.slots.max(1) as f64
    }
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

/// The ledger of batch jobs `jobs` folded from a journal one entry at a time, as of `now`.
pub struct Tally<'a> {
    jobs: &'a [JobRecord],
    facts: Facts,
    /// Unix seconds.
    now: f64,
    pairing: Pairing,
    /// One per record of `jobs`; a batch job listed twice has its runs on its first record.
    by_job: Vec<JobTally>,
    /// The record of each batch job ID in `jobs` (its first).
    job_index: HashMap<String, usize>,
    /// Task seconds of the runs on batch jobs `jobs` does not know, by batch job.
    unknown: BTreeMap<String, f64>,
    /// Core-hours of the runs whose worker did not know its batch job.
    unattributed: f64,
    tasks: TaskTallies,
}

impl<'a> Tally<'a> {
    pub fn new(jobs: &'a [JobRecord], facts: Facts, now: Duration) -> Tally<'a> {
        let now = now.as_secs_f64();
        let mut job_index = HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            job_index.entry(job.id.to_string()).or_insert(i);
        }
        Tally {
            jobs,
            facts,
            now,
            pairing: Pairing::default(),
            by_job: jobs.iter().map(|j| JobTally::new(j, facts, now)).collect(),
            job_index,
            unknown: BTreeMap::new(),
            unattributed: 0.0,
            tasks: TaskTallies::default(),
        }
    }

    /// Folds in the journal's next entry.
    pub fn on_entry(&mut self, entry: Entry) {
        if let Entry::Added { spec, .. } = &entry {
            self.tasks.on_added(spec.name.as_deref());
        }
        if let Some(run) = self.pairing.on_entry(entry) {
            self.on_run(run);
        }
    }

    fn on_run(&mut self, run: Run) {
        self.tasks.on_run(&run);
        let Some(job) = run.job.as_deref() else {
            self.unattributed += run.secs * self.facts.per_slot() / 3600.0;
            return;
        };
        match self.job_index.get(job) {
            Some(&i) => self.by_job[i].add(&run),
            None => *self.unknown.entry(job.to_string()).or_default() += run.secs,
        }
    }

    /// The ledger, and the durations of the tasks that finished (runs still open are
    /// running until `now`).
    pub fn finish(mut self) -> (Ledger, Finished) {
        let open = std::mem::take(&mut self.pairing).still_open(self.now);
        for run in open {
            self.on_run(run);
        }
        let per_slot = self.facts.per_slot();
        let mut ledger = Ledger {
            unattributed: self.unattributed,
            ..Ledger::default()
        };
        for (job, tally) in self.jobs.iter().zip(&self.by_job) {
            let split = tally.split(job, self.facts, self.now);
            ledger.total.add(&split);
            ledger.jobs.push(JobLedger {
                id: job.id.to_string(),
                state: job.state.to_string(),
                runs: tally.runs,
                split,
            });
        }
        // Runs on batch jobs jobs.json does not know (another cluster directory's?) count apart.
        for secs in self.unknown.values() {
            ledger.unattributed += secs * per_slot / 3600.0;
        }
        ledger.tasks_done = self.tasks.ended(RunKind::Done);
        ledger.tasks_failed = self.tasks.ended(RunKind::Failed);
        (ledger, self.tasks.finished())
    }
}

/// The ledger of batch jobs `jobs` and journal `entries` at `now` (Unix time).
pub fn account(
    entries: impl IntoIterator<Item = Entry>,
    jobs: &[JobRecord],
    facts: Facts,
    now: Duration,
) -> Ledger {
    let mut tally = Tally::new(jobs, facts, now);
    entries.into_iter().for_each(|e| tally.on_entry(e));
    tally.finish().0
}

/// The durations (and names) of the tasks that finished, in the order the tasks were added:
/// what a counterfactual replays. Folded as the entries come; the first error is returned.
pub fn finished_durations(
    entries: impl IntoIterator<Item = anyhow::Result<Entry>>,
) -> anyhow::Result<Finished> {
    let mut pairing = Pairing::default();
    let mut tasks = TaskTallies::default();
    for e in entries {
        let e = e?;
        if let Entry::Added { spec, .. } = &e {
            tasks.on_added(spec.name.as_deref());
        }
        if let Some(run) = pairing.on_entry(e) {
            tasks.on_run(&run);
        }
    }
    Ok(tasks.finished())
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
