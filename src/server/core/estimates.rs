//! How long a task is expected to take, at a given moment: a task's own `time`; else what its
//! class has learned ([`Estimator`], at the budget's overrun risk), or what the whole run has
//! learned while its class has seen nothing, raised by the oldest running task of that class
//! once it runs past it (to its elapsed time times the margin), and capped at what a fresh
//! batch job offers, so a fresh worker can always take one and nothing loops.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::estimate::{Estimator, MARGIN};
use crate::task::TaskId;

#[derive(Debug)]
pub(super) struct Estimates {
    task_time: Option<Duration>,
    risk: f64,
    /// The budget's usable time: no estimate exceeds it.
    usable: Duration,
    /// Every duration of the run, whatever its class: what a class with nothing seen uses.
    pooled: Estimator,
    /// Per class of task (see [`crate::estimate::class_of`]); `""` holds the unnamed tasks.
    classes: HashMap<Box<str>, Class>,
}

/// What one class has learned, and its tasks running now.
#[derive(Debug)]
struct Class {
    estimator: Estimator,
    /// Start times of running tasks of this class that use the default estimate: the oldest
    /// one's elapsed time bounds the estimate from below (a task running 70 min says tasks
    /// take >= 70 min, before any of the long ones has finished and taught the estimator).
    running: BTreeSet<(Duration, TaskId)>,
}

impl Estimates {
    pub fn new(task_time: Option<Duration>, risk: f64, usable: Duration) -> Estimates {
        Estimates {
            task_time,
            risk,
            usable,
            pooled: Estimator::new(task_time, risk),
            classes: HashMap::new(),
        }
    }

    /// The estimate for a task of `class` with its own `time` (seconds) or none, at `now`.
    pub fn for_task(&self, class: &str, own: Option<f64>, now: Duration) -> Duration {
        match own {
            Some(t) => self.pooled.estimate(Some(t)),
            None => self.class_at(class, now),
        }
    }

    /// The estimate for tasks of `class` without their own time, at `now`.
    pub fn class_at(&self, class: &str, now: Duration) -> Duration {
        let c = self.classes.get(class);
        let mut est = match c {
            Some(c) if c.estimator.samples() > 0 => c.estimator.default_estimate(),
            _ => self.pooled.default_estimate(),
        };
        if let Some((since, _)) = c.and_then(|c| c.running.first()) {
            est = raised(est, now.saturating_sub(*since));
        }
        est.min(self.usable)
    }

    /// The estimate for tasks without their own time over the whole run, at `now`: what the
    /// run has learned, raised to the oldest running task of any class.
    pub fn default_at(&self, now: Duration) -> Duration {
        let mut est = self.pooled.default_estimate();
        let oldest = self
            .classes
            .values()
            .filter_map(|c| c.running.first())
            .min();
        if let Some((since, _)) = oldest {
            est = raised(est, now.saturating_sub(*since));
        }
        est.min(self.usable)
    }

    /// The learned estimate for tasks without their own time, without the running bound.
    pub fn default(&self) -> Duration {
        self.pooled.default_estimate().min(self.usable)
    }

    /// Whether the estimate of a task rests on something known: its own time, `task_time`, or
    /// a finished task of its class or of the run (not only the elapsed time of running ones).
    pub fn known(&self, class: &str, own: Option<f64>) -> bool {
        let learned = |e: &Estimator| e.samples() > 0;
        own.is_some()
            || self.task_time.is_some()
            || learned(&self.pooled)
            || self
                .classes
                .get(class)
                .is_some_and(|c| learned(&c.estimator))
    }

    /// Whether an estimate is the cap: what the run has seen does not fit a batch job at all.
    pub fn at_cap(&self, estimate: Duration) -> bool {
        estimate >= self.usable
    }

    /// A task of `class` that uses the default estimate (`own` is `None`) started at `since`.
    pub fn started(&mut self, class: &str, task: TaskId, own: Option<f64>, since: Duration) {
        if own.is_none() {
            self.class_mut(class).running.insert((since, task));
        }
    }

    /// A task of `class` that started at `since` is no longer running.
    pub fn stopped(&mut self, class: &str, task: TaskId, since: Duration) {
        if let Some(c) = self.classes.get_mut(class) {
            c.running.remove(&(since, task));
        }
    }

    /// A finished task's duration teaches its class and the whole run.
    pub fn observe(&mut self, class: &str, secs: f64) {
        self.pooled.observe(secs);
        self.class_mut(class).estimator.observe(secs);
    }

    fn class_mut(&mut self, class: &str) -> &mut Class {
        if !self.classes.contains_key(class) {
            let estimator = Estimator::new(self.task_time, self.risk);
            let c = Class {
                estimator,
                running: BTreeSet::new(),
            };
            self.classes.insert(class.into(), c);
        }
        self.classes.get_mut(class).expect("inserted above")
    }
}

/// An estimate raised by a task still running after `elapsed`: only once it has run past the
/// estimate (a task within its expected time says nothing new), to its elapsed time times
/// the margin.
fn raised(estimate: Duration, elapsed: Duration) -> Duration {
    if elapsed > estimate {
        elapsed.mul_f64(MARGIN)
    } else {
        estimate
    }
}
