//! Task time estimates, learned from the durations observed so far.
//!
//! An estimate answers: how long may a task of this kind take, such that the chance it takes
//! longer is below the overrun risk `r` (the `overrun_risk` key, 1% by default)? A task's own
//! `time` wins. Otherwise, from a [`Sketch`] of the last [`WINDOW`] durations of its class:
//! - nothing seen yet: the cluster's `task_time`, or zero (unknown: the first tasks start and
//!   teach the estimate);
//! - with `task_time`: the larger of `task_time` and the `1 - r` quantile of what was seen
//!   (the longest task seen, until `1/r` tasks have finished): the user's promise stands until
//!   a task contradicts it, and then the first finished task already counts;
//! - without `task_time`: the `1 - r` quantile times `1 + 1/sqrt(n)` for `n` finished tasks:
//!   twice the first task's time, 1.5 times the longest of four, converging to the quantile.
//!   A few samples say little about the tail, so the estimate starts wide and narrows.
//!
//! Tasks fall into classes by name ([`class_of`]): `sim-1`, `sim-2` are class `sim`; unnamed
//! tasks are the class `""`. Each class learns on its own; a class with nothing seen borrows
//! what the whole run has seen.

use std::collections::VecDeque;
use std::time::Duration;

/// Durations kept per class (the most recent).
pub const WINDOW: usize = 1000;
/// Margin on the elapsed time of a task still running (the running bound of the estimate).
pub const MARGIN: f64 = 1.10;

/// The class of a task by its name: the name without its trailing index (digits and the
/// separators `-_.:/#` and spaces before them), so `fit-07`, `fit_8` and `fit 9` are all
/// `fit`. Unnamed tasks, and names that are all index, are the class `""` (the whole run).
pub fn class_of(name: Option<&str>) -> &str {
    let Some(name) = name else { return "" };
    let sep = |c: char| c.is_ascii_digit() || "-_.:/# ".contains(c);
    name.trim_end_matches(sep)
}

/// The most recent durations of one class, kept in arrival order and sorted, so a quantile
/// is a lookup.
#[derive(Debug, Clone, Default)]
pub struct Sketch {
    recent: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl Sketch {
    /// Records one duration (seconds); the oldest falls out past [`WINDOW`].
    pub fn add(&mut self, secs: f64) {
        if !secs.is_finite() || secs < 0.0 {
            return;
        }
        if self.recent.len() == WINDOW {
            if let Some(old) = self.recent.pop_front() {
                let at = self.sorted.partition_point(|v| *v < old);
                self.sorted.remove(at);
            }
        }
        self.recent.push_back(secs);
        let at = self.sorted.partition_point(|v| *v < secs);
        self.sorted.insert(at, secs);
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The q-quantile (nearest rank) of the durations kept; zero when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        quantile_sorted(&self.sorted, q)
    }

    /// The durations kept, shortest first.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }
}

/// Learns task durations of one class; answers its estimate.
#[derive(Debug, Clone)]
pub struct Estimator {
    task_time: Option<Duration>,
    /// The accepted chance that a task runs longer than its estimate.
    risk: f64,
    sketch: Sketch,
}

impl Estimator {
    pub fn new(task_time: Option<Duration>, risk: f64) -> Estimator {
        Estimator {
            task_time,
            risk: risk.clamp(1e-6, 0.5),
            sketch: Sketch::default(),
        }
    }

    /// Records one finished task's duration.
    pub fn observe(&mut self, secs: f64) {
        self.sketch.add(secs);
    }

    /// The estimate for a task with its own `time` (seconds) or none.
    pub fn estimate(&self, own: Option<f64>) -> Duration {
        if let Some(t) = own {
            return crate::duration::from_secs_saturating(t);
        }
        self.default_estimate()
    }

    /// The estimate for a task that gives no time of its own (see the module's rule).
    pub fn default_estimate(&self) -> Duration {
        let n = self.sketch.len();
        if n == 0 {
            return self.task_time.unwrap_or(Duration::ZERO);
        }
        let seen = self.sketch.quantile(1.0 - self.risk);
        match self.task_time {
            Some(t) => t.max(secs(seen)),
            None => secs(seen * (1.0 + 1.0 / (n as f64).sqrt())),
        }
    }

    /// Tasks observed (in the window).
    pub fn samples(&self) -> usize {
        self.sketch.len()
    }

    pub fn sketch(&self) -> &Sketch {
        &self.sketch
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 1e12))
}

/// The q-quantile (nearest rank) of `values`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    quantile_sorted(&v, q)
}

fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISK: f64 = 0.01;

    #[test]
    fn own_time_wins_and_a_task_longer_than_task_time_raises_the_estimate_at_once() {
        // Behaviour changed on purpose (issue 12): observations above `task_time` count from
        // the first finished task, not after ten.
        let mut e = Estimator::new(Some(Duration::from_secs(100)), RISK);
        assert_eq!(e.estimate(Some(5.0)), Duration::from_secs(5));
        assert_eq!(e.estimate(None), Duration::from_secs(100));
        e.observe(200.0);
        assert_eq!(e.estimate(None), Duration::from_secs(200));
    }

    #[test]
    fn learning_never_goes_below_task_time() {
        let mut e = Estimator::new(Some(Duration::from_secs(100)), RISK);
        for _ in 0..50 {
            e.observe(10.0);
        }
        assert_eq!(e.estimate(None), Duration::from_secs(100));
    }

    #[test]
    fn without_task_time_the_first_task_sets_a_wide_estimate_that_narrows() {
        let mut e = Estimator::new(None, RISK);
        assert_eq!(e.estimate(None), Duration::ZERO);
        e.observe(3.0);
        // Never zero once a task has finished: twice the first.
        assert_eq!(e.estimate(None), Duration::from_secs(6));
        for _ in 0..3 {
            e.observe(3.0);
        }
        assert_eq!(e.estimate(None), Duration::from_secs_f64(4.5));
        for _ in 0..96 {
            e.observe(3.0);
        }
        assert_eq!(e.estimate(None), Duration::from_secs_f64(3.3));
    }

    #[test]
    fn the_estimate_is_the_quantile_at_the_overrun_risk() {
        let mut e = Estimator::new(Some(Duration::from_secs(1)), 0.05);
        for i in 1..=100 {
            e.observe(i as f64);
        }
        assert_eq!(e.estimate(None), Duration::from_secs(95));
        let mut strict = Estimator::new(Some(Duration::from_secs(1)), 0.01);
        for i in 1..=100 {
            strict.observe(i as f64);
        }
        assert_eq!(strict.estimate(None), Duration::from_secs(99));
    }

    #[test]
    fn the_sketch_keeps_the_most_recent_window_sorted() {
        let mut s = Sketch::default();
        for i in 0..WINDOW + 10 {
            s.add(i as f64);
        }
        s.add(f64::NAN);
        s.add(-1.0);
        assert_eq!(s.len(), WINDOW);
        assert_eq!(s.sorted()[0], 10.0);
        assert_eq!(s.quantile(1.0), (WINDOW + 9) as f64);
        assert!(s.sorted().windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn classes_come_from_names_without_their_index() {
        assert_eq!(class_of(None), "");
        assert_eq!(class_of(Some("fit-07")), "fit");
        assert_eq!(class_of(Some("fit_8")), "fit");
        assert_eq!(class_of(Some("big")), "big");
        assert_eq!(class_of(Some("sim.v2-3")), "sim.v");
        assert_eq!(class_of(Some("42")), "");
    }

    #[test]
    fn quantile_nearest_rank() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.95), 4.0);
        assert_eq!(quantile(&[], 0.9), 0.0);
    }
}
