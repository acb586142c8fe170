//! Issue 4 end to end on the real SLURM and SGE that `scripts/test.sh` starts (skipped with a
//! reason when absent, mandatory under `CI=true`): walltime 1 minute (SLURM's minimum), tasks
//! of 20 s with a task time of 25 s, so each worker runs two tasks and retires; all complete,
//! none is killed, and the retired batch jobs leave the queue well before their walltime.

use std::collections::HashMap;

use crate::harness::ev;
use crate::real::Sched;

fn run(r: &Sched) {
    let t = r.test("tasks", "1s");
    let tasks = t.write("tasks.txt", &"sleep 20\n".repeat(4));
    let t0 = std::time::Instant::now();
    let out = t
        .spawn(&[
            "up",
            "--backend",
            r.backend,
            "--walltime",
            "1m",
            "--task-time",
            "25s",
            "--max-jobs",
            "2",
            "--tasks",
            tasks.to_str().unwrap(),
        ])
        .wait(150);
    let took = t0.elapsed().as_secs_f64();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(" task(s) done, "))
        .unwrap_or_default();
    assert!(
        line.starts_with("4 task(s) done, 0 failed, 0 not run; 0 retried (0 killed by the walltime); 2 batch job(s)"),
        "{}",
        out.all()
    );
    // Two tasks per batch job: each worker retired when a third could not finish.
    let journal = t.journal();
    assert!(!journal.is_empty(), "no journal:\n{}", out.all());
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for e in ev(&journal, "started") {
        *per_job
            .entry(e["job"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_job.len(), 2, "{per_job:?}\n{}", out.all());
    assert!(per_job.values().all(|n| *n == 2), "{per_job:?}");
    // The retired batch jobs ended by themselves, before their walltime.
    let jobs = t.jobs_json();
    for j in jobs["jobs"].as_array().unwrap() {
        assert_eq!(j["state"], "done", "{jobs:#}\n{}", out.all());
        let s = j["started"]["secs_since_epoch"].as_u64().unwrap();
        let e = j["ended"]["secs_since_epoch"].as_u64().unwrap();
        assert!(e.saturating_sub(s) < 60, "ran {}s: {jobs:#}", e - s);
    }
    assert!(took < 120.0, "took {took:.0}s");
    let live = (r.live_by_name)(&format!("{}-1", t.name()))
        .output()
        .unwrap()
        .stdout;
    let live2 = (r.live_by_name)(&format!("{}-2", t.name()))
        .output()
        .unwrap()
        .stdout;
    assert!(
        live.is_empty() && live2.is_empty(),
        "left in the queue: {}{}",
        String::from_utf8_lossy(&live),
        String::from_utf8_lossy(&live2)
    );
}

#[test]
fn slurm_tasks_complete_and_retired_jobs_leave_before_their_walltime() {
    if let Some(s) = Sched::slurm() {
        run(&s);
    }
}

#[test]
fn sge_tasks_complete_and_retired_jobs_leave_before_their_walltime() {
    if let Some(s) = Sched::sge() {
        run(&s);
    }
}
