//! The efficiency simulator: how much of the allocated core time each policy turns into
//! finished tasks, with hpcluster driven through the server's own scheduling core.
//!
//! [`workload`] draws task durations from a seeded generator, [`policy`] holds hpcluster (the
//! real [`crate::server::core::Core`]) and the policies it is compared with, [`engine`]
//! simulates batch jobs and tasks, and [`report`] writes the Markdown table and the SVG plot.
//! `cargo bench --bench simulate` runs the suite.

pub mod engine;
pub mod policy;
pub mod report;
pub mod workload;

use crate::budget::Buffer;

use engine::{simulate, Metrics, Params};
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
    /// Efficiency over the oracle's on the same workload and walltime.
    pub vs_oracle: f64,
    /// Every duration fits the configured task_time plus the buffer: admission guarantees
    /// that hpcluster kills nothing here.
    pub within_estimate: bool,
}

/// The cluster every run of the suite simulates.
pub fn params(size: &SuiteSize, seed: u64) -> Params {
    Params {
        max_jobs: size.max_jobs,
        slots: 1,
        queue_wait_mean: 300.0,
        startup: 60.0,
        idle_timeout: 300.0,
        seed,
    }
}

/// The policy settings for a workload at a walltime: task_time is the workload's mean and the
/// buffer is hpcluster's default.
pub fn setup(w: &Workload, walltime: f64, p: &Params) -> Setup {
    Setup {
        walltime,
        startup: p.startup,
        slots: p.slots,
        task_time: w.mean(),
        buffer: Buffer::default(),
        idle_timeout: p.idle_timeout,
    }
}

/// Runs every policy on one workload at one walltime.
pub fn run_case(w: &Workload, walltime: f64, p: &Params) -> Vec<Row> {
    let s = setup(w, walltime, p);
    let within_estimate = w.max() <= s.task_time + s.buffer_secs();
    let results: Vec<(Policy, Metrics)> = Policy::ALL
        .iter()
        .map(|&policy| (policy, simulate(&w.durations, policy, &s, p)))
        .collect();
    let oracle = results
        .iter()
        .find(|(policy, _)| *policy == Policy::Oracle)
        .map(|(_, m)| m.efficiency())
        .unwrap_or(0.0);
    results
        .into_iter()
        .map(|(policy, metrics)| Row {
            workload: w.name.clone(),
            walltime,
            policy,
            vs_oracle: if oracle > 0.0 {
                metrics.efficiency() / oracle
            } else {
                0.0
            },
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

/// Cases where hpcluster killed a task although the oracle killed none and every duration
/// stayed within the estimate (the smoke check), or where a run stalled.
pub fn failures(rows: &[Row]) -> Vec<String> {
    let oracle_killed = |r: &Row| {
        rows.iter()
            .find(|o| {
                o.policy == Policy::Oracle && o.workload == r.workload && o.walltime == r.walltime
            })
            .map(|o| o.metrics.killed)
            .unwrap_or(0)
    };
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
        let guaranteed = r.within_estimate && oracle_killed(r) == 0;
        if r.policy == Policy::Hpcluster && guaranteed && r.metrics.killed > 0 {
            out.push(format!(
                "hpcluster killed {} tasks on `{}` at {} where the oracle killed none",
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
