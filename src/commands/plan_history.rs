//! `hpcluster plan --history <cluster>`: `task_time`, `walltime` and `time_min` recommended
//! from the tasks a run finished (its journal): `task_time` is the duration only
//! `overrun_risk` of them exceeded; the walltime is the smallest that still fits as many of
//! those per slot as the configured one; `time_min` is startup + one task + buffer. The
//! recommended walltime is checked by replaying the durations through the scheduling core.

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::accounting::tasks::Finished;
use crate::budget::Budget;
use crate::config::Config;
use crate::duration::format_human as h;
use crate::estimate::Sketch;
use crate::journal::Entry;
use crate::sim::counterfactual::{self, RunFacts};

/// What a finished run recommends.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub cluster: String,
    pub tasks: usize,
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub median: Duration,
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub longest: Duration,
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub task_time: Duration,
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub walltime: Duration,
    /// Tasks of `task_time` per slot the recommended walltime fits.
    pub tasks_per_slot: u32,
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub time_min: Duration,
    /// The durations replayed at the recommended walltime against the configured one.
    pub replayed: Option<String>,
}

/// Recommendations from the finished tasks in a journal's entries.
pub fn recommend(
    config: &Config,
    cluster: &str,
    entries: impl IntoIterator<Item = anyhow::Result<Entry>>,
) -> anyhow::Result<Recommendation> {
    let Finished { durations, names } = crate::accounting::finished_durations(entries)?;
    if durations.is_empty() {
        anyhow::bail!(
            "cluster `{cluster}` has no finished task in its journal: nothing to learn from; \
             run some tasks first, or check `--history` and `cluster_root`"
        );
    }
    let mut sketch = Sketch::default();
    for d in &durations {
        sketch.add(*d);
    }
    let secs = |s: f64| Duration::from_secs(s.ceil() as u64);
    let task_time = secs(sketch.quantile(1.0 - config.overrun_risk));
    let budget = config.budget();
    let per_slot = crate::plan::plan(&budget, task_time).map_or(1, |p| p.max_tasks.max(1));
    let walltime = crate::plan::walltime_for(per_slot, &budget, task_time);
    let shaped = Budget::new(walltime, budget.buffer_rule, budget.startup, budget.slots);
    let facts = RunFacts {
        durations,
        names,
        walltime: budget.walltime.as_secs_f64(),
        startup: budget.startup.as_secs_f64(),
        buffer: budget.buffer_rule,
        slots: budget.slots,
        cores: config.cores,
        task_time: Some(task_time.as_secs_f64()),
        max_jobs: config.max_jobs,
        scale: budget.scale,
        queue_wait: 0.0,
    };
    let replayed = (walltime != budget.walltime).then(|| {
        let base = counterfactual::replay(&facts, facts.walltime);
        let other = counterfactual::replay(&facts, walltime.as_secs_f64());
        counterfactual::describe(&facts, &base, &other)
    });
    Ok(Recommendation {
        cluster: cluster.to_string(),
        tasks: sketch.len(),
        median: secs(sketch.quantile(0.5)),
        longest: secs(sketch.quantile(1.0)),
        task_time,
        walltime,
        tasks_per_slot: per_slot,
        time_min: crate::plan::time_min_for(&shaped, task_time),
        replayed,
    })
}

pub fn run(config: &Config, cluster: &str, json: bool) -> anyhow::Result<i32> {
    let path = config.cluster_root.join(cluster).join("journal.jsonl");
    let entries = crate::journal::stream::entries(&path)?.with_context(|| {
        format!(
            "failed to read journal `{}`: is `{cluster}` a cluster that ran (`--history` takes \
             its name, under `cluster_root`)?",
            path.display()
        )
    })?;
    let r = recommend(config, cluster, entries)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(0);
    }
    println!(
        "from {} finished task(s) of cluster `{}`: median {}, longest {}",
        r.tasks,
        r.cluster,
        h(r.median),
        h(r.longest)
    );
    println!(
        "task_time  {:<9} (only {}% of the tasks took longer: `overrun_risk`)",
        h(r.task_time),
        config.overrun_risk * 100.0
    );
    println!(
        "walltime   {:<9} (the smallest that still fits {} such task(s) per slot)",
        h(r.walltime),
        r.tasks_per_slot
    );
    println!(
        "time_min   {:<9} (SLURM backfill: startup + one task + buffer)",
        h(r.time_min)
    );
    if let Some(line) = &r.replayed {
        println!("replayed: {line}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<anyhow::Result<Entry>> {
        text.lines()
            .map(|l| serde_json::from_str(l).map_err(anyhow::Error::from))
            .collect()
    }

    #[test]
    fn a_finished_run_recommends_task_time_walltime_and_time_min() {
        let mut journal = String::new();
        for i in 0..100u64 {
            let secs = 600 + i * 3; // 10 min to 14m57s
            journal.push_str(&format!(
                "{{\"ev\":\"added\",\"id\":{i},\"spec\":{{\"cmd\":\"x\"}}}}\n\
                 {{\"ev\":\"started\",\"id\":{i},\"worker\":1,\"job\":\"7\",\"at\":0}}\n\
                 {{\"ev\":\"ended\",\"id\":{i},\"outcome\":\"done\",\"secs\":{secs},\"at\":{secs}}}\n"
            ));
        }
        let config = Config {
            walltime: Duration::from_secs(3600),
            ..Config::default()
        };
        let r = recommend(&config, "c", entries(&journal)).unwrap();
        assert_eq!(r.tasks, 100);
        // The 99th of 100: 600 + 98 * 3 s.
        assert_eq!(r.task_time, Duration::from_secs(894));
        // 1 h less 5% fits 3 tasks of 14m54s; the smallest walltime that does: 44m42s / 0.95,
        // rounded up to a second.
        assert_eq!(r.tasks_per_slot, 3);
        assert_eq!(r.walltime, Duration::from_secs(2824));
        // 14m54s + 5% of 2824 s (2m21s) = 17m15s: 18 min.
        assert_eq!(r.time_min, Duration::from_secs(18 * 60));
        assert!(r
            .replayed
            .unwrap()
            .starts_with("walltime 47m4s instead of 1h: "));
        let e = recommend(&config, "c", entries("")).unwrap_err();
        assert!(e.to_string().contains("has no finished task"), "{e}");
    }
}
