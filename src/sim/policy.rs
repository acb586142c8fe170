//! The policies compared: hpcluster (the server's own [`Core`]) and the usual alternatives.
//!
//! The engine talks to every policy through [`Dispatcher`], shaped like the core's `on_*`
//! events so that hpcluster is driven by exactly the code the server runs: admission,
//! learned estimates, best fit and job supply all come from [`Core`]. hpcluster runs three
//! ways: as configured by default (finish soonest, best fit), with best fit off (FIFO, to show
//! what best fit buys on mixed classes), and with `scale = "frugal"` (fewest batch jobs). The
//! other policies are small models of what users run otherwise ([`super::baselines`]), and the
//! oracle packs known durations ([`super::oracle`]).

use std::time::Duration;

use crate::budget::{Budget, Buffer, Scale};
use crate::protocol::RunEnd;
use crate::server::core::{Core, CoreConfig, Dispatch, JobCounts, WorkerHello};
use crate::task::TaskSpec;

use super::baselines::Simple;
use super::oracle::Packed;

/// The policies, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Greedy,
    RetireAfterN,
    TimerLifetime,
    Hpcluster,
    HpclusterFifo,
    HpclusterFrugal,
    Oracle,
}

impl Policy {
    pub const ALL: [Policy; 7] = [
        Policy::Greedy,
        Policy::RetireAfterN,
        Policy::TimerLifetime,
        Policy::Hpcluster,
        Policy::HpclusterFifo,
        Policy::HpclusterFrugal,
        Policy::Oracle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Greedy => "greedy",
            Policy::RetireAfterN => "retire after N",
            Policy::TimerLifetime => "timer lifetime",
            Policy::Hpcluster => "hpcluster",
            Policy::HpclusterFifo => "hpcluster FIFO",
            Policy::HpclusterFrugal => "hpcluster frugal",
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
    /// (batch jobs to submit, queued ones to cancel), given the batch jobs queued and active
    /// and the measured time from a submission to its worker's first ask.
    fn supply(
        &self,
        queued: u32,
        active: u32,
        max_jobs: u32,
        ready_after: Option<f64>,
        now: f64,
    ) -> (u32, u32);
    fn is_finished(&self) -> bool;
}

/// What every policy is configured with, and the tasks.
#[derive(Debug, Clone)]
pub struct Setup {
    pub walltime: f64,
    pub startup: f64,
    pub slots: u32,
    /// The `task_time` the user configures (none: hpcluster learns alone).
    pub task_time: Option<f64>,
    /// What the other policies are told when there is no `task_time`: the true mean (their
    /// best case: each needs a number from the user).
    pub mean: f64,
    pub buffer: Buffer,
    pub idle_timeout: f64,
    pub durations: Vec<f64>,
    /// Each task's name (class), if any; the tasks past its end have none (empty: none has
    /// one).
    pub names: Vec<Option<String>>,
}

impl Setup {
    /// The walltime budget of the simulated batch jobs (they grant what is asked).
    pub fn budget(&self) -> Budget {
        Budget::new(d(self.walltime), self.buffer, d(self.startup), self.slots)
            .with_task_time(self.task_time.map(d))
    }

    pub fn buffer_secs(&self) -> f64 {
        self.budget().buffer.as_secs_f64()
    }

    /// The task time the other policies work with.
    pub fn guess(&self) -> f64 {
        self.task_time.unwrap_or(self.mean)
    }

    /// The N a user of the retire-after-N plugin would set: the plan's `max_tasks`, at least 1.
    pub fn retire_after(&self) -> u32 {
        crate::plan::plan(&self.budget(), d(self.guess())).map_or(1, |p| p.max_tasks.max(1))
    }
}

pub(super) fn d(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.max(0.0))
}

/// hpcluster: the server's scheduling core, unchanged.
pub struct CorePolicy {
    core: Core,
}

impl CorePolicy {
    pub fn new(setup: &Setup, budget: Budget) -> CorePolicy {
        let mut core = Core::new(CoreConfig {
            budget,
            retries: u32::MAX,
            idle_timeout: d(setup.idle_timeout),
            heartbeat_timeout: Duration::MAX,
        });
        // One task at a time into the table, without a command (the core reads none): a
        // million specs side by side would be the replay's largest allocation.
        core.on_tasks_added((0..setup.durations.len()).map(|i| TaskSpec {
            name: setup.names.get(i).cloned().flatten(),
            ..TaskSpec::default()
        }));
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

    fn supply(
        &self,
        queued: u32,
        active: u32,
        max_jobs: u32,
        ready_after: Option<f64>,
        now: f64,
    ) -> (u32, u32) {
        let jobs = JobCounts {
            queued,
            active,
            max_jobs,
            ready_after: ready_after.map(d),
        };
        let s = self.core.supply(jobs, d(now));
        (s.submit, s.cancel)
    }

    fn is_finished(&self) -> bool {
        self.core.is_finished()
    }
}

/// The dispatcher for `policy`.
pub fn dispatcher(policy: Policy, setup: &Setup, seed: u64) -> Box<dyn Dispatcher> {
    let budget = setup.budget();
    match policy {
        Policy::Hpcluster => Box::new(CorePolicy::new(setup, budget)),
        Policy::HpclusterFifo => Box::new(CorePolicy::new(setup, budget.with_best_fit(false))),
        Policy::HpclusterFrugal => {
            Box::new(CorePolicy::new(setup, budget.with_scale(Scale::Frugal)))
        }
        Policy::Oracle => Box::new(Packed::new(setup)),
        other => Box::new(Simple::new(other, setup, seed)),
    }
}
