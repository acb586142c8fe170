//! Issue 4 end to end on the real SLURM and SGE that `scripts/test.sh` starts (skipped with a
//! reason when absent, mandatory under `CI=true`): walltime 1 minute (SLURM's minimum), tasks
//! of 20 s with a task time of 25 s, so each worker runs two tasks and retires; all complete,
//! none is killed, and the retired batch jobs leave the queue well before their walltime.

#[path = "fixtures/support.rs"]
mod support;

use std::collections::HashMap;
use std::process::Command;

use support::{bin, recorded_jobs, scheduler_available, spawn, unique_name};

struct Real {
    backend: &'static str,
    /// `submit_command_extra` (JSON array).
    submit_extra: &'static str,
    /// Prints something for every job of this name still in the queue.
    live_by_name: fn(&str) -> Command,
}

fn run(r: &Real) {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name(&format!("{}tasks", r.backend));
    let tasks = tmp.path().join("tasks.txt");
    std::fs::write(&tasks, "sleep 20\n".repeat(4)).unwrap();
    let mut c = bin();
    c.current_dir(tmp.path())
        .env("HPCLUSTER_NAME", &name)
        .env("HPCLUSTER_POLL_INTERVAL", "1s")
        .env("HPCLUSTER_SUBMIT_COMMAND_EXTRA", r.submit_extra)
        .args([
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
        ]);
    let t0 = std::time::Instant::now();
    let out = spawn(c).wait(150);
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
    let dir = tmp.path().join(".hpcluster").join(&name);
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for l in journal.lines() {
        let e: serde_json::Value = serde_json::from_str(l).unwrap();
        if e["ev"] == "started" {
            *per_job
                .entry(e["job"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(per_job.len(), 2, "{per_job:?}\n{}", out.all());
    assert!(per_job.values().all(|n| *n == 2), "{per_job:?}");
    // The retired batch jobs ended by themselves, before their walltime.
    let jobs = recorded_jobs(&dir);
    for j in jobs["jobs"].as_array().unwrap() {
        assert_eq!(j["state"], "done", "{jobs:#}\n{}", out.all());
        let s = j["started"]["secs_since_epoch"].as_u64().unwrap();
        let e = j["ended"]["secs_since_epoch"].as_u64().unwrap();
        assert!(e.saturating_sub(s) < 60, "ran {}s: {jobs:#}", e - s);
    }
    assert!(took < 120.0, "took {took:.0}s");
    let live = (r.live_by_name)(&format!("{name}-1"))
        .output()
        .unwrap()
        .stdout;
    let live2 = (r.live_by_name)(&format!("{name}-2"))
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
    if scheduler_available(&["sinfo", "-h"]) {
        run(&Real {
            backend: "slurm",
            submit_extra: "[]",
            live_by_name: |name| {
                let mut c = Command::new("squeue");
                c.args(["-h", "-o", "%i", "--name", name]);
                c
            },
        });
    }
}

#[test]
fn sge_tasks_complete_and_retired_jobs_leave_before_their_walltime() {
    if scheduler_available(&["qstat", "-u", "*"]) {
        run(&Real {
            backend: "sge",
            // See backend_sge.rs: a login bash would source root's ~/.bashrc (pyenv rehash).
            submit_extra: r#"["-S", "/bin/sh"]"#,
            live_by_name: |name| {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("qstat -j {name} 2>/dev/null | grep job_number || true"),
                ]);
                c
            },
        });
    }
}
