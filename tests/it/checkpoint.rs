//! Issue 11 item 4, the checkpoint contract on the local backend: what every task finds in its
//! environment to save and resume its state (`HPCLUSTER_DEADLINE`, `HPCLUSTER_ATTEMPT`).

use crate::harness::{summary, Test};

/// Each run sees its batch job's deadline (Unix seconds, within the walltime of now) and
/// which run of the task it is: 1, then 2 for the run after a failed one.
#[test]
fn every_run_sees_its_deadline_and_its_attempt() {
    let c = Test::new()
        .cluster("ckenv")
        .poll("200ms")
        .config("retries_on_failure = 1\n");
    let d = c.path().display().to_string();
    let tasks = c.write(
        "tasks.txt",
        &format!(
            "echo $HPCLUSTER_ATTEMPT $HPCLUSTER_DEADLINE >> {d}/runs; [ $HPCLUSTER_ATTEMPT -ge 2 ]\n"
        ),
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "60s", "--task-time", "5s"])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (1, 0), "{}", out.all());
    let runs = std::fs::read_to_string(c.path().join("runs")).unwrap();
    let runs: Vec<(u32, u64)> = runs
        .lines()
        .map(|l| {
            let (a, d) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), d.parse().unwrap())
        })
        .collect();
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    for (_, deadline) in runs {
        assert!(
            deadline > before && deadline <= before + 60 + 30,
            "deadline {deadline}, started {before}"
        );
    }
}
