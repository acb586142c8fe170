//! The discrete-event engine: batch jobs that wait in the queue, start, run a worker, and die
//! at their walltime; tasks that take their drawn duration; one [`Dispatcher`] deciding.
//!
//! Time is integer milliseconds since the start of the simulation, so events order exactly
//! and a run is the same on every machine. After every event the policy is asked how many
//! batch jobs to submit and which queued ones to cancel (`supply`, told the measured time from
//! a submission to its worker's readiness), and the run ends when it has finished. The queue
//! wait of a batch job is exponential, with a mean that grows with the walltime it asks for
//! ([`Queue`]: a short batch job fits the holes a backfill scheduler finds sooner).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::policy::{dispatcher, Decision, Dispatcher, Policy, Setup};
use super::workload::Rng;

/// The queue wait of a batch job: exponential with mean `base + per_hour * walltime hours`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Queue {
    pub base: f64,
    pub per_hour: f64,
}

impl Queue {
    /// The mean wait of a batch job asking for `walltime` seconds.
    pub fn mean(&self, walltime: f64) -> f64 {
        self.base + self.per_hour * walltime / 3600.0
    }
}

/// Everything about the simulated cluster that is not the workload or the policy.
#[derive(Debug, Clone)]
pub struct Params {
    pub max_jobs: u32,
    pub slots: u32,
    /// The queue wait of a batch job.
    pub queue: Queue,
    /// From a batch job's start to its worker's first request, seconds.
    pub startup: f64,
    pub idle_timeout: f64,
    pub seed: u64,
}

/// What one run measured (seconds of core time, summed over slots).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub useful: f64,
    pub consumed: f64,
    pub lost: f64,
    pub killed: u64,
    pub jobs: u64,
    /// Batch jobs cancelled while queued (successors not needed after all).
    pub cancelled: u64,
    pub makespan: f64,
    /// Batch jobs that started times the walltime, seconds: what the runs asked for.
    pub asked: f64,
    pub done: usize,
    /// Fewest and most tasks started by a batch job that started.
    pub tasks_per_job: (u32, u32),
    /// The run hit the job cap before finishing (no policy should).
    pub stalled: bool,
}

impl Metrics {
    /// Useful core-hours over consumed core-hours.
    pub fn efficiency(&self) -> f64 {
        if self.consumed > 0.0 {
            self.useful / self.consumed
        } else {
            0.0
        }
    }

    /// Useful core-hours over the walltime the started batch jobs asked for: how much of each
    /// batch job was used (the rest was returned or wasted).
    pub fn walltime_used(&self) -> f64 {
        if self.asked > 0.0 {
            self.useful / self.asked
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    JobStart(usize),
    WorkerReady(usize),
    TaskEnd {
        job: usize,
        run: u64,
    },
    /// Walltime (or the timer lifetime) reached.
    JobEnd(usize),
    Wake,
}

#[derive(Debug, Default)]
struct Job {
    submitted: u64,
    start: Option<u64>,
    ended: bool,
    connected: bool,
    open_slots: u32,
    started_tasks: u32,
    /// (run id, slot, task, started at).
    running: Vec<(u64, u32, usize, u64)>,
}

struct Sim<'a> {
    now: u64,
    seq: u64,
    /// (time, rank, sequence, event): a task that ends exactly at the walltime has finished.
    heap: BinaryHeap<Reverse<(u64, u8, u64, Ev)>>,
    jobs: Vec<Job>,
    durations: &'a [f64],
    policy: Policy,
    setup: &'a Setup,
    params: &'a Params,
    d: Box<dyn Dispatcher>,
    rng: Rng,
    m: Metrics,
    runs: u64,
    /// From submission to the worker's first ask, of the last batch jobs, milliseconds.
    ready: std::collections::VecDeque<u64>,
}

fn ms(secs: f64) -> u64 {
    (secs.max(0.0) * 1000.0).round() as u64
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Sim<'_> {
    fn at(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        let rank = u8::from(!matches!(ev, Ev::TaskEnd { .. }));
        self.heap.push(Reverse((t, rank, self.seq, ev)));
    }

    fn submit(&mut self) {
        let queued: Vec<usize> = (0..self.jobs.len())
            .filter(|&j| !self.jobs[j].ended && !self.jobs[j].connected)
            .collect();
        let active = self.jobs.iter().filter(|j| !j.ended).count() as u32;
        let now = secs(self.now);
        let mut ready: Vec<u64> = self.ready.iter().copied().collect();
        ready.sort_unstable();
        let ready_after = ready.get(ready.len() / 2).map(|&r| secs(r));
        let (n, cancel) = self.d.supply(
            queued.len() as u32,
            active,
            self.params.max_jobs,
            ready_after,
            now,
        );
        // The youngest queued batch jobs not yet started are cancelled first.
        let unstarted: Vec<usize> = queued
            .iter()
            .rev()
            .copied()
            .filter(|&j| self.jobs[j].start.is_none())
            .take(cancel as usize)
            .collect();
        for job in unstarted {
            self.jobs[job].ended = true;
            self.m.cancelled += 1;
        }
        let mean = self.params.queue.mean(self.setup.walltime);
        for _ in 0..n {
            let id = self.jobs.len();
            self.jobs.push(Job {
                submitted: self.now,
                ..Job::default()
            });
            let wait = self.rng.exponential(mean);
            self.at(self.now + ms(wait), Ev::JobStart(id));
        }
        self.m.jobs += n as u64;
    }

    fn handle(&mut self, job: usize, slot: u32, x: Decision) {
        match x {
            Decision::Run(task) => {
                self.runs += 1;
                let run = self.runs;
                let j = &mut self.jobs[job];
                j.running.push((run, slot, task, self.now));
                j.started_tasks += 1;
                let end = self.now + ms(self.durations[task]);
                self.at(end, Ev::TaskEnd { job, run });
            }
            Decision::Park => {
                let t = self.now + ms(self.setup.idle_timeout) + 1;
                self.at(t, Ev::Wake);
            }
            Decision::Retire | Decision::Stop => {
                let j = &mut self.jobs[job];
                j.open_slots = j.open_slots.saturating_sub(1);
                if j.open_slots == 0 && j.running.is_empty() {
                    self.end_job(job);
                    self.d.on_exit(job as u64, secs(self.now));
                }
            }
        }
    }

    fn end_job(&mut self, job: usize) {
        let j = &mut self.jobs[job];
        if j.ended {
            return;
        }
        j.ended = true;
        if let Some(start) = j.start {
            let slots = self.params.slots as f64;
            self.m.consumed += slots * secs(self.now.saturating_sub(start));
            self.m.asked += slots * self.setup.walltime;
        }
    }

    fn wake(&mut self) {
        for (w, slot, x) in self.d.on_wake(secs(self.now)) {
            self.handle(w as usize, slot, x);
        }
    }

    fn step(&mut self, ev: Ev) {
        let now = secs(self.now);
        match ev {
            Ev::JobStart(job) if !self.jobs[job].ended => {
                self.jobs[job].start = Some(self.now);
                self.at(self.now + ms(self.setup.startup), Ev::WorkerReady(job));
                self.at(self.now + ms(self.setup.walltime), Ev::JobEnd(job));
                if self.policy == Policy::TimerLifetime {
                    let b = self.setup.buffer_secs();
                    let life = self.setup.walltime - b - b * (self.rng.uniform() - 0.5);
                    self.at(self.now + ms(life), Ev::JobEnd(job));
                }
            }
            Ev::WorkerReady(job) if !self.jobs[job].ended => {
                let start = secs(self.jobs[job].start.unwrap_or(self.now));
                let deadline = start + self.setup.walltime;
                let slots = self.params.slots;
                self.jobs[job].connected = true;
                self.jobs[job].open_slots = slots;
                self.ready
                    .push_back(self.now.saturating_sub(self.jobs[job].submitted));
                if self.ready.len() > 16 {
                    self.ready.pop_front();
                }
                self.d.on_hello(job as u64, slots, deadline, now);
                for slot in 0..slots {
                    let x = self.d.on_ask(job as u64, slot, now);
                    self.handle(job, slot, x);
                }
            }
            Ev::TaskEnd { job, run } => {
                let j = &mut self.jobs[job];
                let Some(pos) = j.running.iter().position(|r| r.0 == run) else {
                    return;
                };
                let (_, slot, task, _) = j.running.swap_remove(pos);
                let dur = self.durations[task];
                self.m.useful += dur;
                self.m.done += 1;
                self.m.makespan = now;
                self.d.on_ended(job as u64, task, dur, now);
                let x = self.d.on_ask(job as u64, slot, now);
                self.handle(job, slot, x);
                self.wake();
            }
            Ev::JobEnd(job) if !self.jobs[job].ended => {
                for (_, _, _, started) in std::mem::take(&mut self.jobs[job].running) {
                    self.m.killed += 1;
                    self.m.lost += secs(self.now.saturating_sub(started));
                }
                self.d.on_killed(job as u64, now);
                self.end_job(job);
                self.wake();
            }
            Ev::Wake => self.wake(),
            _ => {}
        }
    }
}

/// Simulates one workload on one policy (the durations are `setup`'s).
pub fn simulate(policy: Policy, setup: &Setup, params: &Params) -> Metrics {
    let durations = &setup.durations;
    let mut sim = Sim {
        now: 0,
        seq: 0,
        heap: BinaryHeap::new(),
        jobs: Vec::new(),
        durations,
        policy,
        setup,
        params,
        d: dispatcher(policy, setup, params.seed),
        rng: Rng::new(params.seed),
        m: Metrics::default(),
        runs: 0,
        ready: std::collections::VecDeque::new(),
    };
    let job_cap = 20 * durations.len() as u64 + 100;
    sim.submit();
    while let Some(Reverse((t, _, _, ev))) = sim.heap.pop() {
        sim.now = t;
        sim.step(ev);
        if sim.d.is_finished() {
            break;
        }
        if sim.m.jobs > job_cap {
            sim.m.stalled = true;
            break;
        }
        sim.submit();
    }
    // Workers still alive are idle: they stop now; batch jobs still queued are cancelled.
    for job in 0..sim.jobs.len() {
        sim.end_job(job);
    }
    let started = sim.jobs.iter().filter(|j| j.start.is_some());
    let min = started.clone().map(|j| j.started_tasks).min().unwrap_or(0);
    let max = started.map(|j| j.started_tasks).max().unwrap_or(0);
    sim.m.tasks_per_job = (min, max);
    sim.m
}
