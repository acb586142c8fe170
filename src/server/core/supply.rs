//! Job supply: how many new batch jobs the pending work needs. Enough for the pending tasks
//! that the queued batch jobs and the connected workers cannot take, within `max_jobs`, never
//! more than the pending work can use, none once the queue is empty.

use std::time::Duration;

use super::Core;

impl Core {
    /// How many new batch jobs to submit, given `queued_jobs` submitted whose worker has not
    /// connected and `active_jobs` counting against `max_jobs`.
    pub fn jobs_wanted(
        &self,
        queued_jobs: u32,
        active_jobs: u32,
        max_jobs: u32,
        now: Duration,
    ) -> u32 {
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
        let mut supply = queued_jobs as f64 * per_job;
        for w in self.workers.values() {
            let left = budget.left(now, w.hello.deadline).as_secs_f64();
            supply += w.active_slots() as f64 * (left / est).floor();
        }
        let short = pending - supply;
        if short <= 0.0 {
            return 0;
        }
        let need = (short / per_job).ceil() as u32;
        need.min(max_jobs.saturating_sub(active_jobs))
    }
}
