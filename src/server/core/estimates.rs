//! How long a task is expected to take, at a given moment: a task's own `time`; else what the
//! [`Estimator`] has learned (or `task_time`), raised to the elapsed time of the oldest running
//! task that uses the default estimate (times the margin), and capped at what a fresh batch job
//! offers, so a fresh worker can always take one and nothing loops.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::estimate::{Estimator, MARGIN};
use crate::task::TaskId;

#[derive(Debug)]
pub(super) struct Estimates {
    estimator: Estimator,
    /// The budget's usable time: no estimate exceeds it.
    usable: Duration,
    /// Start times of running tasks that use the default estimate: the oldest one's elapsed
    /// time bounds the estimate from below (a task running 70 min says tasks take >= 70 min,
    /// before any of the long ones has finished and taught the estimator).
    running_default: BTreeSet<(Duration, TaskId)>,
}

impl Estimates {
    pub fn new(task_time: Option<Duration>, usable: Duration) -> Estimates {
        Estimates {
            estimator: Estimator::new(task_time),
            usable,
            running_default: BTreeSet::new(),
        }
    }

    /// The estimate for a task with its own `time` (seconds) or none, at `now`.
    pub fn for_task(&self, own: Option<f64>, now: Duration) -> Duration {
        match own {
            Some(t) => self.estimator.estimate(Some(t)),
            None => self.default_at(now),
        }
    }

    /// The estimate for tasks without their own time, at `now`.
    pub fn default_at(&self, now: Duration) -> Duration {
        let mut est = self.estimator.default_estimate();
        if let Some((since, _)) = self.running_default.first() {
            est = est.max(now.saturating_sub(*since).mul_f64(MARGIN));
        }
        est.min(self.usable)
    }

    /// The learned estimate for tasks without their own time, without the running bound.
    pub fn default(&self) -> Duration {
        self.estimator.default_estimate().min(self.usable)
    }

    /// A task that uses the default estimate (`own` is `None`) started at `since`.
    pub fn started(&mut self, task: TaskId, own: Option<f64>, since: Duration) {
        if own.is_none() {
            self.running_default.insert((since, task));
        }
    }

    /// A task that started at `since` is no longer running.
    pub fn stopped(&mut self, task: TaskId, since: Duration) {
        self.running_default.remove(&(since, task));
    }

    /// A finished task's duration teaches the estimate.
    pub fn observe(&mut self, secs: f64) {
        self.estimator.observe(secs);
    }
}
