//! Job supply: how many new batch jobs the pending work needs, and how many queued ones it no
//! longer needs. Two rules, the budget's [`Scale`]:
//!
//! - `fast` (the default) finishes soonest: one worker slot per pending task, up to `max_jobs`,
//!   since workers retire when nothing fits and the core-hours come out nearly the same. A slot
//!   is only worth its wait, though: each new slot should get at least the delay before it is
//!   ready (the measured time from submission to a worker's hello, or `startup`) in work, so
//!   tiny tasks do not get a batch job each (`slots = ceil(pending * estimate / max(estimate,
//!   delay))`, never fewer than packing needs). Workers count as supply while they can start
//!   another task once their running ones end; one that cannot and whose tasks end within that
//!   delay is about to retire, so its successor is submitted while it still runs and waits in
//!   the queue meanwhile, when `max_jobs` (a hard limit: the predecessor counts until its batch
//!   job ends) leaves room. In a run whose task list is closed, queued batch jobs beyond what
//!   the pending tasks need are cancelled.
//! - `frugal` packs: enough batch jobs for the pending tasks that queued batch jobs and
//!   connected workers cannot take within their walltimes, fewest batch jobs first; no
//!   successors ahead, nothing cancelled.

use std::time::Duration;

use super::Core;
use crate::budget::Scale;

/// What the server knows of its batch jobs when it asks for supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCounts {
    /// Submitted, not ended, no worker connected yet.
    pub queued: u32,
    /// Not ended and not retired: counted against `max_jobs`.
    pub active: u32,
    pub max_jobs: u32,
    /// How long this run's batch jobs took from submission to their worker's hello (queue wait
    /// and startup); `None` before any worker connected.
    pub ready_after: Option<Duration>,
}

/// The answer of [`Core::supply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Supply {
    /// New batch jobs to submit.
    pub submit: u32,
    /// Queued batch jobs (not yet connected) no longer needed.
    pub cancel: u32,
}

impl Core {
    /// How many new batch jobs to submit, given `queued_jobs` submitted whose worker has not
    /// connected and `active_jobs` counting against `max_jobs` (no measured delay yet).
    pub fn jobs_wanted(
        &self,
        queued_jobs: u32,
        active_jobs: u32,
        max_jobs: u32,
        now: Duration,
    ) -> u32 {
        let jobs = JobCounts {
            queued: queued_jobs,
            active: active_jobs,
            max_jobs,
            ready_after: None,
        };
        self.supply(jobs, now).submit
    }

    /// New batch jobs to submit and queued ones to cancel (module doc).
    pub fn supply(&self, jobs: JobCounts, now: Duration) -> Supply {
        match self.cfg.budget.scale {
            Scale::Fast => self.supply_fast(jobs, now),
            Scale::Frugal => Supply {
                submit: self.supply_frugal(jobs, now),
                cancel: 0,
            },
        }
    }

    fn supply_fast(&self, jobs: JobCounts, now: Duration) -> Supply {
        let budget = &self.cfg.budget;
        let slots = budget.slots.max(1) as f64;
        let pending = self.tasks.counts().pending as f64;
        let est = self.estimates.default_at(now);
        let delay = jobs
            .ready_after
            .unwrap_or(Duration::ZERO)
            .max(budget.startup);
        let wanted_slots = if pending == 0.0 {
            0.0
        } else if est.is_zero() {
            pending
        } else {
            let e = est.as_secs_f64();
            let per_slot_min = e.max(delay.as_secs_f64());
            let spread = (pending * e / per_slot_min).ceil();
            let packed = (pending / (budget.usable.as_secs_f64() / e).floor().max(1.0)).ceil();
            spread.max(packed).min(pending)
        };
        // A worker counts while it can start another task once its running ones end; one
        // that cannot retires: its successor may queue now, while it finishes.
        let mut staying_slots = 0.0;
        for w in self.workers.values() {
            let active = w.active_slots();
            if active == 0 {
                continue;
            }
            let free_at = w
                .running
                .iter()
                .map(|r| r.since.saturating_add(r.estimate))
                .fold(now, Duration::max);
            if budget.left(free_at, w.admit_by()) >= est {
                staying_slots += active as f64;
            }
        }
        let supply_slots = jobs.queued as f64 * slots + staying_slots;
        let short = wanted_slots - supply_slots;
        if short <= 0.0 {
            let cancel = if self.input_closed {
                let surplus = ((supply_slots - wanted_slots) / slots).floor() as u32;
                surplus.min(jobs.queued)
            } else {
                0
            };
            return Supply { submit: 0, cancel };
        }
        let room = jobs.max_jobs.saturating_sub(jobs.active);
        Supply {
            submit: ((short / slots).ceil() as u32).min(room),
            cancel: 0,
        }
    }

    /// The packing rule: capacity counted in tasks over whole walltimes.
    fn supply_frugal(&self, jobs: JobCounts, now: Duration) -> u32 {
        let pending = self.tasks.counts().pending as f64;
        if pending == 0.0 {
            return 0;
        }
        let budget = &self.cfg.budget;
        let est = self
            .estimates
            .default_at(now)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let per_slot = (budget.usable.as_secs_f64() / est).floor().max(1.0);
        let per_job = per_slot * budget.slots.max(1) as f64;
        let mut supply = jobs.queued as f64 * per_job;
        for w in self.workers.values() {
            let left = budget.left(now, w.admit_by()).as_secs_f64();
            supply += w.active_slots() as f64 * (left / est).floor();
        }
        let short = pending - supply;
        if short <= 0.0 {
            return 0;
        }
        let need = (short / per_job).ceil() as u32;
        need.min(jobs.max_jobs.saturating_sub(jobs.active))
    }
}
