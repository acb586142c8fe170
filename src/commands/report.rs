//! `hpcluster report`: the ledger of a cluster's core-hours ([`crate::accounting`]) from its
//! `jobs.json` and journal, finished or running, per batch job and in total, with
//! counterfactuals: the run's observed durations replayed through the scheduling core at other
//! walltimes ([`crate::sim::counterfactual`]). `up` prints the two headline lines at its end.

use std::path::Path;

use serde::Serialize;

use crate::accounting::record::RunRecord;
use crate::accounting::{self, Facts, Ledger, Split, Tally};
use crate::cluster_dir::{self, ClusterDir};
use crate::config::Config;
use crate::journal;
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
    // The run's own settings, as `up` recorded them; else the configuration's.
    let record = RunRecord::read(cluster.path()).unwrap_or_else(|| RunRecord::of(config));
    let budget = record.budget();
    let facts = Facts {
        cores: record.cores,
        slots: budget.slots,
        walltime: budget.walltime,
    };
    // The journal is folded as it is read: its length costs time, not memory.
    let mut tally = Tally::new(&jobs.jobs, facts, now);
    if let Some(entries) = journal::stream::entries(&cluster.file("journal.jsonl"))? {
        for entry in entries {
            tally.on_entry(entry?);
        }
    }
    let (ledger, finished) = tally.finish();
    let run = RunFacts {
        durations: finished.durations,
        names: finished.names,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture cluster directory of `tests/fixtures/ledger`, as a running cluster: batch
    /// job E still running with a task on it, F still queued, a run on no known batch job open.
    fn running_cluster() -> tempfile::TempDir {
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ledger");
        let dir = tempfile::tempdir().unwrap();
        let journal = std::fs::read_to_string(fixture.join("journal.jsonl")).unwrap();
        let whole = &journal[..journal.rfind('\n').unwrap() + 1];
        let more = "{\"ev\":\"started\",\"id\":10,\"worker\":2,\"job\":\"E\",\"at\":1700003055}\n\
                    {\"ev\":\"added\",\"id\":15,\"spec\":{\"cmd\":\"task 15\"}}\n\
                    {\"ev\":\"started\",\"id\":15,\"worker\":3,\"at\":1700003070.25}\n";
        std::fs::write(dir.path().join("journal.jsonl"), format!("{whole}{more}")).unwrap();
        std::fs::copy(fixture.join("run.json"), dir.path().join("run.json")).unwrap();
        let mut jobs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join("jobs.json")).unwrap())
                .unwrap();
        let list = jobs["jobs"].as_array_mut().unwrap();
        let e = &mut list[4];
        e["state"] = "running".into();
        e.as_object_mut().unwrap().remove("ended");
        let mut f = list[3].clone();
        f["id"]["id"] = "F".into();
        f["state"] = "pending".into();
        f.as_object_mut().unwrap().remove("ended");
        list.push(f);
        std::fs::write(
            dir.path().join("jobs.json"),
            serde_json::to_vec_pretty(&jobs).unwrap(),
        )
        .unwrap();
        dir
    }

    /// The ledger, the finished durations and the counterfactuals of a crafted running cluster
    /// (requeues, retries, a checkpoint, cancelled, failed, killed and re-run tasks, runs on
    /// five batch jobs, on unknown ones and on none, runs lost without an end) are what the
    /// in-memory ledger computed before the journal was streamed, to the last bit: its figures
    /// are in `report-running.json`, written by `report` before the change.
    #[test]
    fn the_streamed_ledger_of_a_running_cluster_is_the_in_memory_one() {
        let dir = running_cluster();
        let config = Config {
            name: "ledger".into(),
            ..Config::default()
        };
        let now = std::time::Duration::from_secs_f64(1_700_004_000.5);
        let r = build(&config, dir.path(), now).unwrap();
        let got = serde_json::to_string_pretty(&r).unwrap() + "\n";
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ledger");
        let want = std::fs::read_to_string(fixture.join("report-running.json")).unwrap();
        assert_eq!(got, want);
    }
}
