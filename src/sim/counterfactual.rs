//! Counterfactuals of a run: its observed task durations (and classes) replayed through the
//! scheduling core by the simulator's engine, at the walltime it ran with and at others, to
//! say what another walltime would have cost: core-hours, batch jobs, makespan, kills. The
//! replay models what the run measured: its startup, and its queue wait, taken to grow in
//! proportion to the walltime asked (a backfill scheduler finds room sooner for shorter batch
//! jobs; calibrated on the run's own mean wait). Pure: the facts come in, figures go out.

use crate::budget::{Budget, Buffer, Scale, DEFAULT_OVERRUN_RISK};
use crate::estimate::Estimator;

use super::engine::{simulate, Metrics, Params, Queue};
use super::policy::{Policy, Setup};

/// What a run was and what it measured.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// Durations of the tasks that finished, seconds, in the order they were added.
    pub durations: Vec<f64>,
    /// Their names, if any; the tasks past its end have none (empty: none has one).
    pub names: Vec<Option<String>>,
    pub walltime: f64,
    pub startup: f64,
    pub buffer: Buffer,
    pub slots: u32,
    pub cores: u32,
    pub task_time: Option<f64>,
    pub max_jobs: u32,
    pub scale: Scale,
    /// Mean queue wait of the run's batch jobs, seconds.
    pub queue_wait: f64,
}

/// One replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub walltime: f64,
    pub metrics: Metrics,
}

impl Replay {
    /// Core-hours consumed (each slot holds `cores / slots` cores).
    pub fn core_hours(&self, facts: &RunFacts) -> f64 {
        self.metrics.consumed * facts.cores as f64 / facts.slots.max(1) as f64 / 3600.0
    }
}

/// The run's durations replayed at `walltime`.
pub fn replay(facts: &RunFacts, walltime: f64) -> Replay {
    let hours = (facts.walltime / 3600.0).max(1e-9);
    let params = Params {
        max_jobs: facts.max_jobs.max(1),
        slots: facts.slots.max(1),
        queue: Queue {
            base: 0.0,
            per_hour: facts.queue_wait.max(0.0) / hours,
        },
        startup: facts.startup,
        idle_timeout: 30.0,
        seed: 12,
    };
    let setup = Setup {
        walltime,
        startup: facts.startup,
        slots: facts.slots.max(1),
        task_time: facts.task_time,
        mean: mean(&facts.durations),
        buffer: facts.buffer,
        idle_timeout: 30.0,
        durations: facts.durations.clone(),
        names: facts.names.clone(),
    };
    let policy = match facts.scale {
        Scale::Fast => Policy::Hpcluster,
        Scale::Frugal => Policy::HpclusterFrugal,
    };
    Replay {
        walltime,
        metrics: simulate(policy, &setup, &params),
    }
}

/// Walltimes worth trying: the smallest that still fits as many tasks per slot as the run's
/// walltime does, and the one that fits one more (tasks taken at the 99th percentile of what
/// was observed), other than the run's own; none without durations.
pub fn candidates(facts: &RunFacts) -> Vec<f64> {
    if facts.durations.is_empty() {
        return Vec::new();
    }
    let mut e = Estimator::new(facts.task_time.map(secs), DEFAULT_OVERRUN_RISK);
    for d in &facts.durations {
        e.observe(*d);
    }
    let task = e.default_estimate();
    let budget = Budget::new(
        secs(facts.walltime),
        facts.buffer,
        secs(facts.startup),
        facts.slots.max(1),
    );
    let fits = crate::plan::plan(&budget, task).map_or(1, |p| p.max_tasks.max(1));
    let mut out: Vec<f64> = [fits, fits + 1]
        .iter()
        .map(|&n| crate::plan::walltime_for(n, &budget, task).as_secs_f64())
        .filter(|w| (w - facts.walltime).abs() >= 1.0)
        .collect();
    out.dedup();
    out
}

fn secs(s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(s.max(0.0))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// `walltime W instead of V: X fewer core-hours, Y fewer batch jobs, makespan Z shorter`.
pub fn describe(facts: &RunFacts, base: &Replay, other: &Replay) -> String {
    let h = |s: f64| crate::duration::format_human(secs(s));
    let dc = other.core_hours(facts) - base.core_hours(facts);
    let dj = other.metrics.jobs as i64 - base.metrics.jobs as i64;
    let dm = other.metrics.makespan - base.metrics.makespan;
    let more_or_fewer = |x: f64| if x > 0.0 { "more" } else { "fewer" };
    let kills = match other.metrics.killed {
        0 => String::new(),
        k => format!(", {k} task(s) killed by the walltime"),
    };
    format!(
        "walltime {} instead of {}: {:.3} {} core-hours, {} {} batch job(s), makespan {} {}{kills}",
        h(other.walltime),
        h(base.walltime),
        dc.abs(),
        more_or_fewer(dc),
        dj.abs(),
        more_or_fewer(dj as f64),
        h(dm.abs()),
        if dm > 0.0 { "longer" } else { "shorter" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_run() -> RunFacts {
        RunFacts {
            durations: vec![4.0 * 3600.0; 20],
            names: vec![None; 20],
            walltime: 5.0 * 3600.0,
            startup: 60.0,
            buffer: Buffer::default(),
            slots: 1,
            cores: 1,
            task_time: Some(4.0 * 3600.0),
            max_jobs: 10,
            scale: Scale::Fast,
            queue_wait: 1800.0,
        }
    }

    #[test]
    fn the_seed_run_would_fit_in_a_smaller_walltime_and_queue_less() {
        let f = seed_run();
        let c = candidates(&f);
        // One 4 h task per slot: 4h14m (4 h + 1 min startup, / 0.95) fits it; 8h27m fits two.
        assert_eq!(
            c,
            vec![4.0 * 3600.0 + 14.0 * 60.0, 8.0 * 3600.0 + 27.0 * 60.0]
        );
        let base = replay(&f, f.walltime);
        let smaller = replay(&f, c[0]);
        assert_eq!(smaller.metrics.killed, 0);
        assert_eq!(smaller.metrics.jobs, base.metrics.jobs);
        assert!(smaller.metrics.makespan < base.metrics.makespan);
        let line = describe(&f, &base, &smaller);
        assert!(line.starts_with("walltime 4h14m instead of 5h: "), "{line}");
        assert!(line.contains("0 fewer batch job(s)"), "{line}");
        assert!(line.contains("shorter"), "{line}");
    }
}
