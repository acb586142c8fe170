//! `hpcluster report`: the ledger of a cluster's core-hours ([`crate::accounting`]) from its
//! `jobs.json` and journal, finished or running, per batch job and in total, with
//! counterfactuals: the run's observed durations replayed through the scheduling core at other
//! walltimes ([`crate::sim::counterfactual`]). `up` prints the two headline lines at its end.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::accounting::record::RunRecord;
use crate::accounting::{self, Facts, Ledger, Split};
use crate::cluster_dir::{self, ClusterDir};
use crate::config::Config;
use crate::sim::counterfactual::{self, RunFacts};

/// One replay of the run's durations.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    pub walltime_seconds: f64,
    pub core_hours: f64,
    pub batch_jobs: u64,
    pub makespan_hours: f64,
    pub tasks_killed: u64,
    /// Against the replay at the run's own walltime (`None` for that one).
    pub line: Option<String>,
}

/// The report of one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cluster: String,
    pub cores: u32,
    pub slots: u32,
    pub walltime_seconds: f64,
    pub ledger: Ledger,
    /// The finished durations replayed at the run's walltime, then at the candidates.
    pub replays: Vec<Replayed>,
}

/// The report of the cluster at `dir` as of `now` (Unix time).
pub fn build(config: &Config, dir: &Path, now: std::time::Duration) -> anyhow::Result<Report> {
    let cluster = ClusterDir::open(dir)?;
    let jobs = cluster.load_jobs()?;
    let path = cluster.file("journal.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(e).with_context(|| format!("failed to read journal `{}`", path.display()))
        }
    };
    let entries = accounting::runs::parse_entries(&text, &path.display().to_string())?;
    // The run's own settings, as `up` recorded them; else the configuration's.
    let record = RunRecord::read(cluster.path()).unwrap_or_else(|| RunRecord::of(config));
    let budget = record.budget();
    let facts = Facts {
        cores: record.cores,
        slots: budget.slots,
        walltime: budget.walltime,
    };
    let ledger = accounting::account(&entries, &jobs.jobs, facts, now);
    let (durations, names) = accounting::finished_durations(&entries);
    let run = RunFacts {
        durations,
        names,
        walltime: budget.walltime.as_secs_f64(),
        startup: budget.startup.as_secs_f64(),
        buffer: budget.buffer_rule,
        slots: budget.slots,
        cores: record.cores,
        task_time: budget.task_time.map(|t| t.as_secs_f64()),
        max_jobs: record.max_jobs,
        scale: budget.scale,
        queue_wait: accounting::mean_queue_wait(&jobs.jobs),
    };
    Ok(Report {
        cluster: config.name.clone(),
        cores: record.cores,
        slots: budget.slots,
        walltime_seconds: budget.walltime.as_secs_f64(),
        ledger,
        replays: replays(&run),
    })
}

fn replays(run: &RunFacts) -> Vec<Replayed> {
    if run.durations.is_empty() {
        return Vec::new();
    }
    let base = counterfactual::replay(run, run.walltime);
    let shown = |r: &counterfactual::Replay, line: Option<String>| Replayed {
        walltime_seconds: r.walltime,
        core_hours: r.core_hours(run),
        batch_jobs: r.metrics.jobs,
        makespan_hours: r.metrics.makespan / 3600.0,
        tasks_killed: r.metrics.killed,
        line,
    };
    let mut out = vec![shown(&base, None)];
    for w in counterfactual::candidates(run) {
        let other = counterfactual::replay(run, w);
        out.push(shown(
            &other,
            Some(counterfactual::describe(run, &base, &other)),
        ));
    }
    out
}

/// The two lines `up` ends with: where the core-hours went, and the first counterfactual.
pub fn headlines(r: &Report) -> [String; 2] {
    let t = &r.ledger.total;
    let pct = |x: f64| {
        if t.consumed > 0.0 {
            100.0 * x / t.consumed
        } else {
            0.0
        }
    };
    let lost = t.killed_by_walltime + t.rerun;
    let first =
        format!(
        "ledger: {:.3} core-hours consumed by {} batch job(s): {:.0}% task time, {:.0}% startup, \
         {:.0}% idle, {:.0}% lost to kills and re-runs; {:.3} core-hours of walltime returned \
         early (`hpcluster report` for more)",
        t.consumed,
        r.ledger.jobs.iter().filter(|j| j.split.consumed > 0.0).count(),
        pct(t.useful + t.failed),
        pct(t.startup),
        pct(t.idle),
        pct(lost),
        t.tail_returned
    );
    let second = match r.replays.iter().find_map(|x| x.line.clone()) {
        Some(line) => format!("counterfactual: {line}"),
        None if r.replays.is_empty() => "counterfactual: none (no task finished)".to_string(),
        None => "counterfactual: no other walltime fits the tasks differently".to_string(),
    };
    [first, second]
}

pub fn run(config: &Config, json: bool) -> anyhow::Result<i32> {
    let dir = cluster_dir::path_for(config);
    let r = build(config, &dir, crate::time::unix_now())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(0);
    }
    print_text(&r);
    Ok(0)
}

fn print_text(r: &Report) {
    let l = &r.ledger;
    let h = |s: f64| crate::duration::format_human(std::time::Duration::from_secs_f64(s.max(0.0)));
    println!(
        "cluster `{}`: {} batch job(s), {} task(s) done, {} failed; {} core(s) and {} slot(s) per \
         batch job, walltime {}",
        r.cluster,
        l.jobs.len(),
        l.tasks_done,
        l.tasks_failed,
        r.cores,
        r.slots,
        h(r.walltime_seconds)
    );
    println!();
    let t = &l.total;
    let share = |x: f64| {
        if t.consumed > 0.0 {
            format!("{:5.1}%", 100.0 * x / t.consumed)
        } else {
            "    -".into()
        }
    };
    println!("core-hours                 total   of consumed");
    for (name, v) in rows(t) {
        println!("{name:<24} {v:>8.3}   {}", share(v));
    }
    println!(
        "tail returned            {:>8.3}   (not consumed: workers retired before their walltime)",
        t.tail_returned
    );
    println!(
        "queue wait               {:>8.3}   hours of wall time (not charged)",
        t.queue_wait_hours
    );
    if l.unattributed > 0.0 {
        println!(
            "task time on no known batch job: {:.3} core-hours (not in the above)",
            l.unattributed
        );
    }
    println!();
    println!(
        "{:<16} {:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5}",
        "batch job",
        "state",
        "queued",
        "consumed",
        "startup",
        "useful",
        "lost",
        "idle",
        "returned",
        "runs"
    );
    for j in &l.jobs {
        let s = &j.split;
        println!(
            "{:<16} {:<10} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>5}",
            j.id,
            j.state,
            h(s.queue_wait_hours * 3600.0),
            s.consumed,
            s.startup,
            s.useful,
            s.killed_by_walltime + s.rerun,
            s.idle,
            s.tail_returned,
            j.runs
        );
    }
    println!();
    match r.replays.first() {
        None => println!("counterfactuals: none (no task finished)"),
        Some(base) => {
            println!(
                "counterfactuals ({} finished durations replayed through the scheduling core):",
                l.tasks_done
            );
            println!(
                "  as run, walltime {}: {:.3} core-hours, {} batch job(s), makespan {}",
                h(base.walltime_seconds),
                base.core_hours,
                base.batch_jobs,
                h(base.makespan_hours * 3600.0)
            );
            for x in r.replays.iter().filter_map(|x| x.line.as_ref()) {
                println!("  {x}");
            }
        }
    }
}

/// The categories of consumed core-hours, in print order.
fn rows(t: &Split) -> [(&'static str, f64); 10] {
    [
        ("consumed", t.consumed),
        ("  startup", t.startup),
        ("  useful task time", t.useful),
        ("  failed task time", t.failed),
        ("  killed by the walltime", t.killed_by_walltime),
        ("  re-run (lost runs)", t.rerun),
        ("  checkpointed", t.checkpointed),
        ("  running now", t.running),
        ("  idle", t.idle),
        ("  (sum of the above)", t.parts()),
    ]
}
