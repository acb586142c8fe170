//! `hpcluster report` (issue 12, item 7) on local runs: the categories of the ledger add up to
//! the core-hours the batch jobs consumed, which match what the batch system recorded
//! (`jobs.json`), the useful time matches what the tasks themselves measured, a resumed run is
//! accounted over its whole history, and a counterfactual line is printed, by `report` and at
//! the end of `up`.

use serde_json::Value;

use crate::harness::{lines, wait_for, Test};

/// A task that appends `<task> <seconds it ran>` to `own` in the sandbox.
fn timed(t: &Test, body: &str) -> String {
    let own = t.path().join("own").display().to_string();
    format!(
        "s=$(date +%s.%N); {body}; r=$?; e=$(date +%s.%N); \
         echo \"$HPCLUSTER_TASK_ID $(awk \"BEGIN{{print $e - $s}}\")\" >> {own}; exit $r"
    )
}

/// Seconds the tasks measured themselves, in total.
fn own_seconds(t: &Test) -> f64 {
    std::fs::read_to_string(t.path().join("own"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Core-hours between each batch job's recorded start and end, as `jobs.json` has them.
fn recorded_core_hours(t: &Test, cores: f64) -> f64 {
    t.job_times()
        .values()
        .map(|(s, e)| e.unwrap() - s.unwrap())
        .sum::<f64>()
        * cores
        / 3600.0
}

fn total(report: &Value, key: &str) -> f64 {
    report["ledger"]["total"][key].as_f64().unwrap()
}

fn assert_adds_up(report: &Value) {
    let consumed = total(report, "consumed");
    let parts: f64 = [
        "startup",
        "useful",
        "failed",
        "killed_by_walltime",
        "rerun",
        "checkpointed",
        "running",
        "idle",
    ]
    .iter()
    .map(|k| total(report, k))
    .sum();
    assert!(consumed > 0.0, "{report:#}");
    assert!(
        (parts - consumed).abs() <= 0.01 * consumed,
        "categories {parts} against consumed {consumed}: {report:#}"
    );
}

#[test]
fn the_ledger_adds_up_to_what_the_batch_jobs_consumed_and_names_a_counterfactual() {
    let c = Test::new().cluster("ledger").poll("200ms");
    let mut tasks: Vec<String> = (0..5).map(|_| timed(&c, "sleep 1")).collect();
    tasks.push(timed(&c, "sleep 0.5; false"));
    let file = c.write(
        "tasks.txt",
        &lines(&tasks.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    let out = c
        .up_tasks("local", &file)
        .args(&[
            "--walltime",
            "5s",
            "--cores",
            "2",
            "--slots",
            "2",
            "--max-jobs",
            "2",
        ])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(1), "one task fails: {}", out.all());
    assert!(out.stdout.contains("\nledger: "), "{}", out.all());
    assert!(out.stdout.contains("\ncounterfactual: "), "{}", out.all());
    let report: Value = serde_json::from_str(&c.run_ok(&["report", "--json"])).unwrap();
    assert_adds_up(&report);
    let consumed = total(&report, "consumed");
    let recorded = recorded_core_hours(&c, 2.0);
    assert!(
        (consumed - recorded).abs() <= 0.01 * recorded,
        "ledger {consumed} against jobs.json {recorded}"
    );
    // Task time at one core per slot: the tasks' own clocks agree within 2%, plus what
    // starting each of the 6 runs costs the worker (the task guard's exec and the shell's,
    // counted as the run's time: up to 50 ms each on a loaded 2-core machine).
    let tasks = total(&report, "useful") + total(&report, "failed");
    let own = own_seconds(&c) / 3600.0;
    let launch = 6.0 * 0.05 / 3600.0;
    assert!(
        (tasks - own).abs() <= 0.02 * own + launch,
        "ledger {tasks} against the tasks' {own}"
    );
    assert!(total(&report, "failed") > 0.0, "{report:#}");
    assert_eq!(report["walltime_seconds"], 5.0);
    let text = c.run_ok(&["report"]);
    assert!(text.contains("core-hours "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("walltime ") && l.contains(" instead of 5s: ")),
        "no counterfactual line:\n{text}"
    );
}

/// A run stopped half way and resumed: the ledger covers both runs' batch jobs, and the task
/// time it counts is what the tasks measured (main's summary claimed 120% of the workers'
/// time for a resumed run).
#[test]
fn a_resumed_run_is_accounted_over_its_whole_history() {
    let c = Test::new().cluster("resumed").poll("200ms");
    let tasks: Vec<String> = (0..6).map(|_| timed(&c, "sleep 1")).collect();
    let file = c.write(
        "tasks.txt",
        &lines(&tasks.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    let args = ["--walltime", "1h", "--max-jobs", "1"];
    let first = c.up_tasks("local", &file).args(&args).spawn();
    wait_for(60, "two tasks done", || {
        (own_seconds(&c) >= 1.9).then_some(())
    });
    let first = first.terminate();
    assert_eq!(first.code, Some(130), "{}", first.all());
    let second = c.up_tasks("local", &file).args(&args).spawn().wait(120);
    assert_eq!(second.code, Some(0), "{}", second.all());
    let report: Value = serde_json::from_str(&c.run_ok(&["report", "--json"])).unwrap();
    assert_adds_up(&report);
    assert!(c.job_times().len() >= 2, "{}", c.jobs_json());
    let recorded = recorded_core_hours(&c, 1.0);
    let consumed = total(&report, "consumed");
    assert!(
        (consumed - recorded).abs() <= 0.01 * recorded,
        "{consumed} vs {recorded}"
    );
    let useful = total(&report, "useful");
    let own = own_seconds(&c) / 3600.0;
    assert!(useful <= consumed, "{report:#}");
    assert!(
        (useful - own).abs() <= 0.02 * own,
        "ledger {useful} against the tasks' {own}"
    );
}

/// `report` on a crafted cluster directory (`tests/fixtures/ledger`: requeues, retries, a
/// checkpoint, cancelled, failed, killed and re-run tasks, five batch jobs, runs on an unknown
/// batch job and on none, a run lost without an end, a torn last line) prints, as text and as
/// JSON, byte for byte what it printed when it replayed the whole journal in memory; the
/// journal is now read one entry at a time.
#[test]
fn the_report_of_a_crafted_cluster_is_what_the_in_memory_ledger_printed() {
    let c = Test::new().named("ledger");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ledger");
    let dir = c.cluster_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["journal.jsonl", "jobs.json", "run.json"] {
        std::fs::copy(fixture.join(file), dir.join(file)).unwrap();
    }
    let want = |file: &str| std::fs::read_to_string(fixture.join(file)).unwrap();
    assert_eq!(c.run_ok(&["report"]), want("report.txt"));
    assert_eq!(c.run_ok(&["report", "--json"]), want("report.json"));
}
