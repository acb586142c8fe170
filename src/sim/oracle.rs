//! The oracle: it knows every duration. It packs them into batch jobs by first-fit decreasing
//! (the longest task first, into the first batch job it still fits, within the walltime less
//! the startup and no buffer), for a few walltimes around the one asked (half to double), and
//! picks the walltime whose packing consumes the fewest core-hours. Each batch job then runs
//! exactly its packed tasks and its worker exits: no task is killed, nothing idles, and the
//! only overhead is each batch job's startup. It is an upper bound no online policy reaches,
//! so the efficiency of the others is reported against it.

use std::collections::{HashMap, VecDeque};

use super::policy::{Decision, Dispatcher, Setup};

/// Walltimes the oracle considers, as multiples of the one asked.
pub const WALLTIME_CHOICES: [f64; 5] = [0.5, 0.75, 1.0, 1.5, 2.0];

/// Durations packed into batch jobs of one walltime.
#[derive(Debug, Clone, PartialEq)]
pub struct Packing {
    pub walltime: f64,
    /// The tasks of each batch job (one slot each).
    pub jobs: Vec<Vec<usize>>,
    /// Startup plus task time of every batch job, seconds.
    pub consumed: f64,
}

/// First-fit decreasing into batch jobs of `walltime` (less `startup`); `None` when a task
/// does not fit at all.
pub fn pack(durations: &[f64], walltime: f64, startup: f64) -> Option<Packing> {
    let capacity = walltime - startup;
    let mut order: Vec<usize> = (0..durations.len()).collect();
    order.sort_by(|a, b| durations[*b].total_cmp(&durations[*a]).then(a.cmp(b)));
    let mut jobs: Vec<Vec<usize>> = Vec::new();
    let mut free: Vec<f64> = Vec::new();
    for t in order {
        let d = durations[t];
        if d > capacity {
            return None;
        }
        match free.iter().position(|f| *f >= d) {
            Some(j) => {
                free[j] -= d;
                jobs[j].push(t);
            }
            None => {
                free.push(capacity - d);
                jobs.push(vec![t]);
            }
        }
    }
    let used: f64 = durations.iter().sum();
    Some(Packing {
        walltime,
        consumed: used + startup * jobs.len() as f64,
        jobs,
    })
}

/// The packing of the walltime (of [`WALLTIME_CHOICES`] times `walltime`) that consumes least;
/// of equals, the shorter walltime.
pub fn best_packing(durations: &[f64], walltime: f64, startup: f64) -> Option<Packing> {
    WALLTIME_CHOICES
        .iter()
        .filter_map(|k| pack(durations, walltime * k, startup))
        .min_by(|a, b| {
            a.consumed
                .total_cmp(&b.consumed)
                .then(a.jobs.len().cmp(&b.jobs.len()))
        })
}

/// The oracle as a dispatcher: each batch job that starts takes the next packed one.
pub struct Packed {
    unassigned: VecDeque<Vec<usize>>,
    assigned: HashMap<u64, VecDeque<usize>>,
    left: usize,
}

impl Packed {
    /// Runs the packing of `setup`'s walltime (the caller sets it to the oracle's choice).
    pub fn new(setup: &Setup) -> Packed {
        let jobs = pack(&setup.durations, setup.walltime, setup.startup)
            .map(|p| p.jobs)
            .unwrap_or_default();
        Packed {
            unassigned: jobs.into_iter().collect(),
            assigned: HashMap::new(),
            left: setup.durations.len(),
        }
    }
}

impl Dispatcher for Packed {
    fn on_hello(&mut self, worker: u64, _slots: u32, _deadline: f64, _now: f64) {
        let tasks = self.unassigned.pop_front().unwrap_or_default();
        self.assigned.insert(worker, tasks.into_iter().collect());
    }

    fn on_ask(&mut self, worker: u64, _slot: u32, _now: f64) -> Decision {
        match self.assigned.get_mut(&worker).and_then(|q| q.pop_front()) {
            Some(t) => Decision::Run(t),
            None if self.is_finished() => Decision::Stop,
            None => Decision::Retire,
        }
    }

    fn on_ended(&mut self, _worker: u64, _task: usize, _secs: f64, _now: f64) {
        self.left = self.left.saturating_sub(1);
    }

    fn on_exit(&mut self, worker: u64, _now: f64) {
        self.assigned.remove(&worker);
    }

    fn on_killed(&mut self, worker: u64, _now: f64) {
        self.assigned.remove(&worker);
    }

    fn on_wake(&mut self, _now: f64) -> Vec<(u64, u32, Decision)> {
        Vec::new()
    }

    fn supply(
        &self,
        queued: u32,
        active: u32,
        max_jobs: u32,
        _ready_after: Option<f64>,
        _now: f64,
    ) -> (u32, u32) {
        let wanted = (self.unassigned.len() as u32).saturating_sub(queued);
        (wanted.min(max_jobs.saturating_sub(active)), 0)
    }

    fn is_finished(&self) -> bool {
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_decreasing_fills_batch_jobs_longest_first() {
        let p = pack(&[3.0, 5.0, 2.0, 4.0, 1.0], 11.0, 1.0).unwrap();
        // Capacity 10: 5+4+1, 3+2.
        assert_eq!(p.jobs, vec![vec![1, 3, 4], vec![0, 2]]);
        assert_eq!(p.consumed, 15.0 + 2.0);
        assert_eq!(pack(&[12.0], 11.0, 1.0), None);
    }

    #[test]
    fn the_oracle_picks_the_walltime_that_consumes_least() {
        let d = vec![30.0; 9];
        // Startup 10: walltime 100 holds 3 per batch job (3 jobs), 150 holds 4 (3 jobs),
        // 200 holds 6 (2 jobs: the least startup).
        let p = best_packing(&d, 100.0, 10.0).unwrap();
        assert_eq!(p.walltime, 200.0);
        assert_eq!(p.jobs.len(), 2);
        // Equal core-hours: the shorter walltime (it queues less).
        assert_eq!(best_packing(&d[..8], 100.0, 10.0).unwrap().walltime, 150.0);
    }
}
