//! Walltimes shaped for backfill (issue 12, item 5) on the real SLURM that `scripts/test.sh`
//! starts (8 CPUs, `sched/backfill`; skipped with a reason when absent, mandatory under
//! `CI=true`; run under `flock /tmp/hpcluster-realsched.lock`). A 7-CPU job runs for 10 min
//! and an 8-CPU job is reserved to start after it; a 1-CPU job asking 60 min stays pending. The
//! batch job of `up --walltime 60m --time-min 5m` is started by backfill with a shorter limit
//! while both wait; its worker logs the limit SLURM granted (read back from `squeue`) and
//! admits tasks against it: a task of 9m30s, which the 60 min asked would hold, is never
//! started on it.

use std::process::Command;

use crate::harness::wait_for;
use crate::real::Sched;

/// `sbatch ARGS --wrap CMD` with a name; returns the job ID.
fn sbatch(name: &str, args: &[&str], wrap: &str) -> String {
    let out = Command::new("sbatch")
        .args(["--parsable", "-J", name, "-o", "/dev/null"])
        .args(args)
        .args(["--wrap", wrap])
        .output()
        .unwrap();
    assert!(out.status.success(), "sbatch {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `squeue`'s state and time limit of a job: (`RUNNING`, `9:00`).
fn squeue(id: &str) -> (String, String) {
    let out = Command::new("squeue")
        .args(["-h", "-j", id, "-o", "%T %l"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut w = text.split_whitespace().map(String::from);
    (w.next().unwrap_or_default(), w.next().unwrap_or_default())
}

/// `[D-]H:MM:SS` or `M:SS` into seconds.
fn slurm_secs(limit: &str) -> u64 {
    let (days, rest) = match limit.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().unwrap(), r),
        None => (0, limit),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse().unwrap()).collect();
    let secs = parts.iter().fold(0, |acc, p| acc * 60 + p);
    days * 86_400 + secs
}

/// Cancels the helper jobs whatever happens to the test.
struct Cancel(Vec<String>);

impl Drop for Cancel {
    fn drop(&mut self) {
        let _ = Command::new("scancel").args(&self.0).output();
    }
}

#[test]
fn slurm_backfill_starts_a_time_min_batch_job_whose_worker_admits_against_its_granted_limit() {
    let Some(s) = Sched::slurm_alone() else {
        return;
    };
    let t = s.test("backfill", "1s");
    let name = t.name().to_string();
    let blocker = sbatch(
        &format!("{name}-blocker"),
        &["-c", "7", "-t", "10"],
        "sleep 600",
    );
    let mut helpers = Cancel(vec![blocker.clone()]);
    wait_for(60, "the 7-CPU job running", || {
        (squeue(&blocker).0 == "RUNNING").then_some(())
    });
    let reserved = sbatch(&format!("{name}-reserved"), &["-c", "8", "-t", "5"], "true");
    helpers.0.push(reserved.clone());
    let plain = sbatch(&format!("{name}-plain"), &["-c", "1", "-t", "60"], "true");
    helpers.0.push(plain.clone());
    let mut tasks = String::new();
    for _ in 0..3 {
        tasks.push_str("{\"cmd\": \"sleep 1\", \"time\": \"1m\"}\n");
    }
    tasks.push_str("{\"cmd\": \"sleep 1\", \"time\": \"9m30s\"}\n");
    let file = t.write("tasks.jsonl", &tasks);
    let up = t
        .hpcluster(&[
            "up",
            "--backend",
            "slurm",
            "--tasks",
            file.to_str().unwrap(),
        ])
        .args(&["--walltime", "60m", "--time-min", "5m", "--buffer", "30s"])
        .args(&["--max-jobs", "1"])
        .spawn();
    let ours = wait_for(60, "the first batch job submitted", || {
        t.recorded_ids().first().cloned()
    });
    // Cancelled too if the test fails before `up` can cancel it.
    helpers.0.push(ours.clone());
    wait_for(90, "our batch job running", || {
        (squeue(&ours).0 == "RUNNING").then_some(())
    });
    // Started by backfill: the reserved job and the plain one still wait.
    assert_eq!(squeue(&reserved).0, "PENDING");
    assert_eq!(squeue(&plain).0, "PENDING");
    let (_, limit) = squeue(&ours);
    let granted = slurm_secs(&limit);
    eprintln!("batch job {ours} started by backfill with a limit of {limit} (60:00 asked)");
    assert!((300..3600).contains(&granted), "granted {limit}");
    // The worker logs the limit it was granted, and the three short tasks end.
    let log = t
        .cluster_dir()
        .join("logs")
        .join(format!("{name}-1-{ours}.err"));
    let said = format!(
        "the batch system granted a walltime of {} (1h asked)",
        humantime(granted)
    );
    wait_for(60, "the worker's log and the short tasks", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let journal = t.journal();
        let ended = journal.iter().filter(|e| e["ev"] == "ended").count();
        (text.contains(&said) && ended >= 3).then_some(())
    });
    let out = up.terminate();
    let journal = t.journal();
    let started: Vec<u64> = journal
        .iter()
        .filter(|e| e["ev"] == "started" && e["job"] == ours.as_str())
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(started, vec![0, 1, 2], "{journal:#?}\n{}", out.all());
    // Each started with its estimate (1 min) and the buffer (30 s) before the granted end.
    let (job_start, _) = t.job_times()[&ours];
    let end = job_start.expect("a start in jobs.json") + granted as f64;
    for e in journal.iter().filter(|e| e["ev"] == "started") {
        let at = e["at"].as_f64().unwrap();
        assert!(at + 60.0 + 30.0 <= end + 1.0, "{e} crosses {end}");
    }
    drop(helpers);
}

/// Seconds as hpcluster writes them (`9m`, `4m30s`).
fn humantime(secs: u64) -> String {
    hpcluster::duration::format_human(std::time::Duration::from_secs(secs))
}
