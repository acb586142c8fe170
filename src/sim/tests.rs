//! Unit tests of the simulator: determinism, the seed scenario, and sane metrics.

use super::policy::Policy;
use super::workload::{Rng, Shape, Workload};
use super::*;

const HOUR: f64 = 3600.0;

fn small() -> SuiteSize {
    SuiteSize {
        tasks: 60,
        max_jobs: 8,
    }
}

fn one(w: &Workload, walltime: f64, policy: Policy) -> Metrics {
    let p = params(&small(), 42);
    simulate(&w.durations, policy, &setup(w, walltime, &p), &p)
}

fn seed_workload() -> Workload {
    let mut rng = Rng::new(1);
    Workload::generate(
        "seed",
        Shape::Constant,
        4.0 * HOUR,
        4.0 * HOUR,
        60,
        &[],
        &mut rng,
    )
}

#[test]
fn seed_scenario_hpcluster_runs_one_task_per_batch_job_and_kills_none() {
    let m = one(&seed_workload(), 5.0 * HOUR, Policy::Hpcluster);
    assert_eq!(m.done, 60);
    assert_eq!(m.killed, 0);
    assert_eq!(m.tasks_per_job, (1, 1), "{m:?}");
    assert_eq!(m.jobs, 60);
}

#[test]
fn seed_scenario_greedy_kills_tasks() {
    let m = one(&seed_workload(), 5.0 * HOUR, Policy::Greedy);
    assert_eq!(m.done, 60);
    assert!(m.killed > 0, "{m:?}");
    assert!(m.lost > 0.0);
}

#[test]
fn efficiencies_are_shares_and_the_quick_suite_passes_the_smoke_check() {
    let rows = run_suite(&small(), 7);
    assert_eq!(rows.len(), 6 * 3 * Policy::ALL.len());
    for r in &rows {
        let e = r.metrics.efficiency();
        assert!((0.0..=1.0).contains(&e), "{r:?}");
        assert!(e > 0.0, "{r:?}");
        assert_eq!(r.metrics.done, 60, "{r:?}");
    }
    assert_eq!(failures(&rows), Vec::<String>::new());
}

#[test]
fn oracle_is_at_least_every_policy_on_a_constant_workload() {
    let mut rng = Rng::new(5);
    let w = Workload::generate("c", Shape::Constant, 1800.0, 1e9, 60, &[], &mut rng);
    for walltime in [2.0 * HOUR, 4.0 * HOUR] {
        let oracle = one(&w, walltime, Policy::Oracle).efficiency();
        for policy in Policy::ALL {
            let e = one(&w, walltime, policy).efficiency();
            assert!(
                e <= oracle + 1e-9,
                "{policy:?} at {walltime}: {e} > {oracle}"
            );
        }
    }
}

#[test]
fn runs_are_deterministic_per_seed() {
    let rows = |seed| {
        let p = params(&small(), seed);
        let mut rng = Rng::new(seed);
        let w = Workload::generate(
            "n",
            Shape::Normal { cv: 0.3 },
            1800.0,
            5400.0,
            60,
            &[],
            &mut rng,
        );
        simulate(
            &w.durations,
            Policy::Hpcluster,
            &setup(&w, 2.0 * HOUR, &p),
            &p,
        )
    };
    assert_eq!(rows(3), rows(3));
    assert_ne!(rows(3), rows(4));
}
