//! The policies users run without hpcluster, as small models: a plain Dask worker that takes
//! tasks until the walltime kills it (greedy); the seed's WorkerPlugin that closes the worker
//! after N finished tasks, counted at completion, so now and then the next task starts before
//! the close ([`RACE`]); Dask `--lifetime`, retiring at walltime minus the buffer and a
//! stagger and killing the running task (timer lifetime). Each needs a number from the user:
//! `task_time`, or the true mean when the case gives none (their best case). They submit
//! batch jobs by packing the queued tasks with that number, without a buffer.

use std::collections::{HashMap, VecDeque};

use super::policy::{Decision, Dispatcher, Policy, Setup};
use super::workload::Rng;

/// Share of workers whose next task starts before the WorkerPlugin closes them
/// (queens-py/queens#57 saw the race in 5-10% of workers).
pub const RACE: f64 = 0.1;

#[derive(Debug, Default)]
struct SimpleWorker {
    deadline: f64,
    completed: u32,
    /// Starts allowed past the cap (the WorkerPlugin's race).
    grace: u32,
    running: Vec<usize>,
    parked: Vec<(u32, f64)>,
    /// Slots told to retire or stop.
    closed: u32,
}

/// Greedy, retire after N and timer lifetime.
pub struct Simple {
    policy: Policy,
    queue: VecDeque<usize>,
    running: usize,
    workers: HashMap<u64, SimpleWorker>,
    retire_after: u32,
    idle_timeout: f64,
    slots: u32,
    /// Mean task time and tasks a fresh batch job can run per slot, for `jobs_wanted`.
    mean: f64,
    per_slot: f64,
    rng: Rng,
}

impl Simple {
    pub fn new(policy: Policy, setup: &Setup, seed: u64) -> Simple {
        let guess = setup.guess().max(1.0);
        Simple {
            policy,
            queue: (0..setup.durations.len()).collect(),
            running: 0,
            workers: HashMap::new(),
            retire_after: setup.retire_after(),
            idle_timeout: setup.idle_timeout,
            slots: setup.slots.max(1),
            mean: guess,
            per_slot: ((setup.walltime - setup.startup) / guess).floor().max(1.0),
            rng: Rng::new(seed ^ 0x5EED),
        }
    }

    fn decide(&mut self, worker: u64, slot: u32, now: f64) -> Decision {
        let Some(w) = self.workers.get(&worker) else {
            return Decision::Stop;
        };
        if self.policy == Policy::RetireAfterN && w.completed >= self.retire_after {
            if w.grace == 0 {
                return Decision::Retire;
            }
            self.workers.get_mut(&worker).expect("checked").grace -= 1;
        }
        if self.queue.is_empty() {
            if self.is_finished() {
                return Decision::Stop;
            }
            let w = self.workers.get_mut(&worker).expect("checked");
            w.parked.push((slot, now));
            return Decision::Park;
        }
        match self.queue.pop_front() {
            Some(task) => {
                self.running += 1;
                let w = self.workers.get_mut(&worker).expect("checked");
                w.running.push(task);
                Decision::Run(task)
            }
            None => Decision::Retire,
        }
    }
}

impl Dispatcher for Simple {
    fn on_hello(&mut self, worker: u64, _slots: u32, deadline: f64, _now: f64) {
        let w = SimpleWorker {
            deadline,
            ..SimpleWorker::default()
        };
        self.workers.insert(worker, w);
    }

    fn on_ask(&mut self, worker: u64, slot: u32, now: f64) -> Decision {
        let x = self.decide(worker, slot, now);
        if matches!(x, Decision::Retire | Decision::Stop) {
            if let Some(w) = self.workers.get_mut(&worker) {
                w.closed += 1;
            }
        }
        x
    }

    fn on_ended(&mut self, worker: u64, task: usize, _secs: f64, _now: f64) {
        let race = self.rng.uniform() < RACE;
        let n = self.retire_after;
        if let Some(w) = self.workers.get_mut(&worker) {
            w.running.retain(|&t| t != task);
            w.completed += 1;
            if w.completed == n && race {
                w.grace = 1;
            }
            self.running -= 1;
        }
    }

    fn on_exit(&mut self, worker: u64, _now: f64) {
        self.workers.remove(&worker);
    }

    fn on_killed(&mut self, worker: u64, _now: f64) {
        if let Some(w) = self.workers.remove(&worker) {
            for t in w.running.into_iter().rev() {
                self.running -= 1;
                self.queue.push_front(t);
            }
        }
    }

    fn on_wake(&mut self, now: f64) -> Vec<(u64, u32, Decision)> {
        let mut out = Vec::new();
        let mut ids: Vec<u64> = self.workers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let parked = std::mem::take(&mut self.workers.get_mut(&id).expect("key").parked);
            for (slot, since) in parked {
                if !self.queue.is_empty() || self.is_finished() {
                    let x = self.on_ask(id, slot, now);
                    if x != Decision::Park {
                        out.push((id, slot, x));
                    }
                } else if now - since >= self.idle_timeout {
                    self.workers.get_mut(&id).expect("key").closed += 1;
                    out.push((id, slot, Decision::Retire));
                } else {
                    let w = self.workers.get_mut(&id).expect("key");
                    w.parked.push((slot, since));
                }
            }
        }
        out
    }

    /// Enough batch jobs for the queued tasks that queued batch jobs and connected workers
    /// cannot take (the core's frugal accounting, without a buffer), within `max_jobs`.
    fn supply(
        &self,
        queued: u32,
        active: u32,
        max_jobs: u32,
        _ready_after: Option<f64>,
        now: f64,
    ) -> (u32, u32) {
        let per_job = self.per_slot * self.slots as f64;
        let mut supply = queued as f64 * per_job;
        for w in self.workers.values() {
            let left = (w.deadline - now).max(0.0);
            let open = self.slots.saturating_sub(w.closed) as f64;
            supply += open * (left / self.mean).floor();
        }
        let short = self.queue.len() as f64 - supply;
        if short <= 0.0 {
            return (0, 0);
        }
        let n = ((short / per_job).ceil() as u32).min(max_jobs.saturating_sub(active));
        (n, 0)
    }

    fn is_finished(&self) -> bool {
        self.queue.is_empty() && self.running == 0
    }
}
