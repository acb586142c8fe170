//! The efficiency simulator: how much of the allocated core time each policy turns into
//! finished tasks, with hpcluster driven through the server's own scheduling core.
//!
//! [`workload`] draws task durations (and classes) from a seeded generator, [`policy`] holds
//! hpcluster (the real [`crate::server::core::Core`]) and the interface every policy speaks,
//! [`baselines`] the policies users run otherwise, [`oracle`] the packing of known durations
//! the others are measured against, [`engine`] simulates batch jobs and tasks (queue waits
//! that grow with the walltime asked, startup, walltime kills), [`counterfactual`] replays a
//! finished run's durations at other walltimes, and [`report`] writes the Markdown tables and
//! the SVG plot. `cargo bench --bench simulate` runs the suite.

pub mod baselines;
pub mod counterfactual;
pub mod engine;
pub mod oracle;
pub mod policy;
pub mod report;
pub mod workload;

use crate::budget::Buffer;

use engine::{simulate, Metrics, Params, Queue};
use policy::{Policy, Setup};
use workload::Workload;

/// How big a suite to run.
#[derive(Debug, Clone)]
pub struct SuiteSize {
    pub tasks: usize,
    pub max_jobs: u32,
}

impl SuiteSize {
    pub fn full() -> SuiteSize {
        SuiteSize {
            tasks: 2000,
            max_jobs: 50,
        }
    }

    pub fn quick() -> SuiteSize {
        SuiteSize {
            tasks: 200,
            max_jobs: 10,
        }
    }
}

/// One (workload, walltime, policy) result.
#[derive(Debug, Clone)]
pub struct Row {
    pub workload: String,
    pub walltime: f64,
    pub policy: Policy,
    pub metrics: Metrics,
    /// Efficiency over the oracle's on the same workload.
    pub vs_oracle: f64,
    /// The walltime the policy's batch jobs asked for (the oracle picks its own).
    pub asked: f64,
    /// Batch jobs the oracle's packing needs at the case's own walltime.
    pub packed_here: usize,
    /// Every duration fits the configured task_time plus the buffer: admission guarantees
    /// that hpcluster kills nothing here.
    pub within_estimate: bool,
}

/// The cluster every run of the suite simulates: queue waits of 2 min plus 2.5 min per hour
/// of walltime asked (a backfill scheduler finds room sooner for short batch jobs), startup
/// 60 s, one slot per worker.
pub fn params(size: &SuiteSize, seed: u64) -> Params {
    Params {
        max_jobs: size.max_jobs,
        slots: 1,
        queue: Queue {
            base: 120.0,
            per_hour: 150.0,
        },
        startup: 60.0,
        idle_timeout: 300.0,
        seed,
    }
}

/// The policy settings for a workload at a walltime: the workload's `task_time` (the mean,
/// none, or a misleading one) and hpcluster's default buffer.
pub fn setup(w: &Workload, walltime: f64, p: &Params) -> Setup {
    Setup {
        walltime,
        startup: p.startup,
        slots: p.slots,
        task_time: w.task_time,
        mean: w.mean(),
        buffer: Buffer::default(),
        idle_timeout: p.idle_timeout,
        durations: w.durations.clone(),
        names: w.names.clone(),
    }
}

/// Runs every policy on one workload at one walltime; the oracle at the walltime it picks.
pub fn run_case(w: &Workload, walltime: f64, p: &Params) -> Vec<Row> {
    let s = setup(w, walltime, p);
    let within_estimate = s.task_time.is_some_and(|t| w.max() <= t + s.buffer_secs());
    let oracle_walltime =
        oracle::best_packing(&w.durations, walltime, p.startup).map_or(walltime, |pk| pk.walltime);
    let packed_here = oracle::pack(&w.durations, walltime, p.startup).map_or(0, |pk| pk.jobs.len());
    let results: Vec<(Policy, f64, Metrics)> = Policy::ALL
        .iter()
        .map(|&policy| {
            let mut s = s.clone();
            if policy == Policy::Oracle {
                s.walltime = oracle_walltime;
            }
            (policy, s.walltime, simulate(policy, &s, p))
        })
        .collect();
    let oracle = results
        .iter()
        .find(|(policy, _, _)| *policy == Policy::Oracle)
        .map(|(_, _, m)| m.efficiency())
        .unwrap_or(0.0);
    results
        .into_iter()
        .map(|(policy, asked, metrics)| Row {
            workload: w.name.clone(),
            walltime,
            policy,
            vs_oracle: if oracle > 0.0 {
                metrics.efficiency() / oracle
            } else {
                0.0
            },
            asked,
            packed_here,
            metrics,
            within_estimate,
        })
        .collect()
}

/// The whole suite.
pub fn run_suite(size: &SuiteSize, seed: u64) -> Vec<Row> {
    let p = params(size, seed);
    workload::suite(size.tasks, seed)
        .iter()
        .flat_map(|w| w.walltimes.iter().flat_map(|&wt| run_case(w, wt, &p)))
        .collect()
}

/// Cases where hpcluster killed a task although every duration stayed within the estimate
/// (the smoke check: admission guarantees none), or where a run stalled.
pub fn failures(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        if r.metrics.stalled {
            out.push(format!(
                "{} on `{}` at {}: stalled",
                r.policy.name(),
                r.workload,
                report::hours(r.walltime)
            ));
        }
        if r.policy == Policy::Hpcluster && r.within_estimate && r.metrics.killed > 0 {
            out.push(format!(
                "hpcluster killed {} tasks on `{}` at {} although every task fits its estimate",
                r.metrics.killed,
                r.workload,
                report::hours(r.walltime)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
