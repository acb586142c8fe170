//! Task time estimates, learned from the durations observed so far.
//!
//! The rule: a task's own `time` wins. Otherwise, until [`MIN_SAMPLES`] tasks have finished,
//! the cluster's `task_time`. From then on, the larger of `task_time` and the learned estimate,
//! which is the 95th percentile of the last [`WINDOW`] durations plus 10%: observations only
//! ever make the estimate safer, never shorter than what the user promised. With no
//! `task_time`, the learned estimate alone (zero before the first samples: the first tasks are
//! started optimistically and teach the estimate).

use std::time::Duration;

/// Finished tasks needed before observations count.
pub const MIN_SAMPLES: usize = 10;
/// Durations kept (the most recent).
pub const WINDOW: usize = 1000;
/// The quantile of observed durations that is learned.
pub const QUANTILE: f64 = 0.95;
/// Margin added on top of the learned quantile.
pub const MARGIN: f64 = 1.10;

/// Learns task durations; answers estimates.
#[derive(Debug, Clone)]
pub struct Estimator {
    task_time: Option<Duration>,
    samples: Vec<f64>,
    next: usize,
    learned: Option<Duration>,
    since_update: usize,
}

impl Estimator {
    pub fn new(task_time: Option<Duration>) -> Estimator {
        Estimator {
            task_time,
            samples: Vec::new(),
            next: 0,
            learned: None,
            since_update: 0,
        }
    }

    /// Records one finished task's duration.
    pub fn observe(&mut self, secs: f64) {
        if !secs.is_finite() || secs < 0.0 {
            return;
        }
        if self.samples.len() < WINDOW {
            self.samples.push(secs);
        } else {
            self.samples[self.next] = secs;
            self.next = (self.next + 1) % WINDOW;
        }
        self.since_update += 1;
        // Recompute at most every 16 samples once warm: dispatch stays O(1).
        if self.samples.len() >= MIN_SAMPLES
            && (self.learned.is_none() || self.since_update >= 16 || self.samples.len() < 64)
        {
            self.learned = Some(Duration::from_secs_f64(
                quantile(&self.samples, QUANTILE) * MARGIN,
            ));
            self.since_update = 0;
        }
    }

    /// The estimate for a task with its own `time` (seconds) or none.
    pub fn estimate(&self, own: Option<f64>) -> Duration {
        if let Some(t) = own {
            return crate::duration::from_secs_saturating(t);
        }
        self.default_estimate()
    }

    /// The estimate for a task that gives no time of its own.
    pub fn default_estimate(&self) -> Duration {
        match (self.task_time, self.learned) {
            (Some(t), Some(l)) => t.max(l),
            (Some(t), None) => t,
            (None, Some(l)) => l,
            (None, None) => Duration::ZERO,
        }
    }

    pub fn samples(&self) -> usize {
        self.samples.len()
    }
}

/// The q-quantile (nearest rank) of `values`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_time_wins_then_task_time_until_enough_samples() {
        let mut e = Estimator::new(Some(Duration::from_secs(100)));
        assert_eq!(e.estimate(Some(5.0)), Duration::from_secs(5));
        for _ in 0..MIN_SAMPLES - 1 {
            e.observe(200.0);
        }
        assert_eq!(e.estimate(None), Duration::from_secs(100));
        e.observe(200.0);
        assert_eq!(e.estimate(None), Duration::from_secs(220));
    }

    #[test]
    fn learning_never_goes_below_task_time() {
        let mut e = Estimator::new(Some(Duration::from_secs(100)));
        for _ in 0..50 {
            e.observe(10.0);
        }
        assert_eq!(e.estimate(None), Duration::from_secs(100));
    }

    #[test]
    fn without_task_time_the_learned_quantile_is_used() {
        let mut e = Estimator::new(None);
        assert_eq!(e.estimate(None), Duration::ZERO);
        for i in 1..=60 {
            e.observe(i as f64);
        }
        let est = e.estimate(None).as_secs_f64();
        assert!((est - 57.0 * MARGIN).abs() < 1e-6, "{est}");
    }

    #[test]
    fn quantile_nearest_rank() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.95), 4.0);
        assert_eq!(quantile(&[], 0.9), 0.0);
    }
}
