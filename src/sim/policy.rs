//! The policies compared: hpcluster (the server's own [`Core`]) and the usual alternatives.
//!
//! The engine talks to every policy through [`Dispatcher`], shaped like the core's `on_*`
//! events so that hpcluster is driven by exactly the code the server runs: admission,
//! learned estimates and `jobs_wanted` all come from [`Core`]. The other policies are small
//! models of what users run otherwise, written here:
//! - greedy: a plain Dask worker takes tasks until the walltime kills it;
//! - retire after N: the seed's WorkerPlugin closes the worker after N finished tasks, counted
//!   at completion, so now and then the next task starts before the close ([`RACE`]);
//! - timer lifetime: Dask `--lifetime`, retire at walltime minus the buffer and a stagger,
//!   killing the running task;
//! - oracle: knows every duration and starts the first queued task that still finishes
//!   before the walltime (the upper bound).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::budget::{Budget, Buffer};
use crate::protocol::RunEnd;
use crate::server::core::{Core, CoreConfig, Dispatch, WorkerHello};
use crate::task::TaskSpec;

use super::workload::Rng;

/// Share of workers whose next task starts before the WorkerPlugin closes them
/// (queens-py/queens#57 saw the race in 5-10% of workers).
pub const RACE: f64 = 0.1;

/// The policies, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Greedy,
    RetireAfterN,
    TimerLifetime,
    Hpcluster,
    Oracle,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::Greedy,
        Policy::RetireAfterN,
        Policy::TimerLifetime,
        Policy::Hpcluster,
        Policy::Oracle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Greedy => "greedy",
            Policy::RetireAfterN => "retire after N",
            Policy::TimerLifetime => "timer lifetime",
            Policy::Hpcluster => "hpcluster",
            Policy::Oracle => "oracle",
        }
    }
}

/// What a policy tells a free slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Run(usize),
    Retire,
    Park,
    Stop,
}

/// The events a policy sees; times in seconds since the start of the simulation.
pub trait Dispatcher {
    fn on_hello(&mut self, worker: u64, slots: u32, deadline: f64, now: f64);
    fn on_ask(&mut self, worker: u64, slot: u32, now: f64) -> Decision;
    fn on_ended(&mut self, worker: u64, task: usize, secs: f64, now: f64);
    /// The worker exited after its last slot retired or stopped (its goodbye).
    fn on_exit(&mut self, worker: u64, now: f64);
    /// The batch job ended (walltime or lifetime): its running tasks go back to the queue.
    fn on_killed(&mut self, worker: u64, now: f64);
    /// Parked slots that can be served now, or that timed out.
    fn on_wake(&mut self, now: f64) -> Vec<(u64, u32, Decision)>;
    fn jobs_wanted(&self, queued: u32, active: u32, max_jobs: u32, now: f64) -> u32;
    fn is_finished(&self) -> bool;
}

/// What every policy is configured with.
#[derive(Debug, Clone)]
pub struct Setup {
    pub walltime: f64,
    pub startup: f64,
    pub slots: u32,
    /// The `task_time` a user would configure: the workload's mean.
    pub task_time: f64,
    pub buffer: Buffer,
    pub idle_timeout: f64,
}

impl Setup {
    /// The walltime budget of the simulated batch jobs (they grant what is asked).
    pub fn budget(&self) -> Budget {
        Budget::new(d(self.walltime), self.buffer, d(self.startup), self.slots)
            .with_task_time(Some(d(self.task_time)))
    }

    pub fn buffer_secs(&self) -> f64 {
        self.budget().buffer.as_secs_f64()
    }

    /// The N a user of the retire-after-N plugin would set: the plan's `max_tasks`, at least 1.
    pub fn retire_after(&self) -> u32 {
        crate::plan::plan(&self.budget(), d(self.task_time)).map_or(1, |p| p.max_tasks.max(1))
    }
}

fn d(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.max(0.0))
}

/// hpcluster: the server's scheduling core, unchanged.
pub struct CorePolicy {
    core: Core,
}

impl CorePolicy {
    pub fn new(setup: &Setup, tasks: usize) -> CorePolicy {
        let mut core = Core::new(CoreConfig {
            budget: setup.budget(),
            retries: u32::MAX,
            idle_timeout: d(setup.idle_timeout),
            heartbeat_timeout: Duration::MAX,
        });
        let specs = (0..tasks)
            .map(|i| TaskSpec {
                cmd: format!("task {i}"),
                ..TaskSpec::default()
            })
            .collect();
        core.on_tasks_added(specs);
        core.close_input();
        CorePolicy { core }
    }
}

fn from_dispatch(d: Dispatch) -> Decision {
    match d {
        Dispatch::Run { task, .. } => Decision::Run(task as usize),
        Dispatch::Retire { .. } => Decision::Retire,
        Dispatch::Park | Dispatch::Busy => Decision::Park,
        Dispatch::Stop => Decision::Stop,
    }
}

impl Dispatcher for CorePolicy {
    fn on_hello(&mut self, worker: u64, slots: u32, deadline: f64, now: f64) {
        let hello = WorkerHello {
            job: None,
            slots,
            deadline: d(deadline),
            host: format!("node{worker}"),
            claims: Vec::new(),
        };
        self.core.on_worker_hello(worker, hello, d(now));
    }

    fn on_ask(&mut self, worker: u64, slot: u32, now: f64) -> Decision {
        from_dispatch(self.core.on_ask(worker, slot, d(now)))
    }

    fn on_ended(&mut self, worker: u64, task: usize, secs: f64, now: f64) {
        let end = RunEnd::Exited { code: 0 };
        self.core
            .on_task_ended(worker, task as u64, end, secs, d(now));
    }

    fn on_exit(&mut self, worker: u64, now: f64) {
        self.core.on_goodbye(worker, d(now));
    }

    fn on_killed(&mut self, worker: u64, now: f64) {
        self.core
            .on_worker_lost(worker, "the batch job ended", d(now));
    }

    fn on_wake(&mut self, now: f64) -> Vec<(u64, u32, Decision)> {
        self.core
            .on_wake(d(now))
            .into_iter()
            .map(|(w, s, x)| (w, s, from_dispatch(x)))
            .collect()
    }

    fn jobs_wanted(&self, queued: u32, active: u32, max_jobs: u32, now: f64) -> u32 {
        self.core.jobs_wanted(queued, active, max_jobs, d(now))
    }

    fn is_finished(&self) -> bool {
        self.core.is_finished()
    }
}

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

/// Greedy, retire after N, timer lifetime and the oracle.
pub struct Simple {
    policy: Policy,
    durations: Vec<f64>,
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
    pub fn new(policy: Policy, setup: &Setup, durations: &[f64], seed: u64) -> Simple {
        Simple {
            policy,
            durations: durations.to_vec(),
            queue: (0..durations.len()).collect(),
            running: 0,
            workers: HashMap::new(),
            retire_after: setup.retire_after(),
            idle_timeout: setup.idle_timeout,
            slots: setup.slots.max(1),
            mean: setup.task_time.max(1.0),
            per_slot: ((setup.walltime - setup.startup) / setup.task_time.max(1.0))
                .floor()
                .max(1.0),
            rng: Rng::new(seed ^ 0x5EED),
        }
    }

    fn pick(&mut self, deadline: f64, now: f64) -> Option<usize> {
        if self.policy != Policy::Oracle {
            return self.queue.pop_front();
        }
        let pos = self
            .queue
            .iter()
            .position(|&t| now + self.durations[t] <= deadline)?;
        self.queue.remove(pos)
    }

    fn decide(&mut self, worker: u64, slot: u32, now: f64) -> Decision {
        let Some(w) = self.workers.get(&worker) else {
            return Decision::Stop;
        };
        let deadline = w.deadline;
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
        match self.pick(deadline, now) {
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
    /// cannot take (the same accounting as the core's, without a buffer), within `max_jobs`.
    fn jobs_wanted(&self, queued: u32, active: u32, max_jobs: u32, now: f64) -> u32 {
        let per_job = self.per_slot * self.slots as f64;
        let mut supply = queued as f64 * per_job;
        for w in self.workers.values() {
            let left = (w.deadline - now).max(0.0);
            let open = self.slots.saturating_sub(w.closed) as f64;
            supply += open * (left / self.mean).floor();
        }
        let short = self.queue.len() as f64 - supply;
        if short <= 0.0 {
            return 0;
        }
        ((short / per_job).ceil() as u32).min(max_jobs.saturating_sub(active))
    }

    fn is_finished(&self) -> bool {
        self.queue.is_empty() && self.running == 0
    }
}

/// The dispatcher for `policy`.
pub fn dispatcher(
    policy: Policy,
    setup: &Setup,
    durations: &[f64],
    seed: u64,
) -> Box<dyn Dispatcher> {
    match policy {
        Policy::Hpcluster => Box::new(CorePolicy::new(setup, durations.len())),
        other => Box::new(Simple::new(other, setup, durations, seed)),
    }
}
