//! Issue 10 end to end on the real SLURM that `scripts/test.sh` starts (skipped with a reason
//! when absent, mandatory under `CI=true`): an `--array` of 6 tasks where index 4 fails; `tasks
//! --state failed --json` names it with its exit code and its SLURM batch job; `retry --failed`
//! and the same `up` again run only it (the tasks' own log of runs proves it); `wait` then says
//! every task is done.

use serde_json::Value;

use crate::real::Sched;

#[test]
fn slurm_an_array_with_a_failure_is_listed_retried_alone_and_waited_for() {
    let Some(s) = Sched::slurm() else {
        return;
    };
    let t = s.test("fix", "1s");
    let dir = t.path().display().to_string();
    let cmd = format!("echo {{}} >> {dir}/runs; test {{}} -ne 4 || test -e {dir}/fixed");
    let up = || {
        t.hpcluster(&[
            "up",
            "--backend",
            s.backend,
            "--walltime",
            "1m",
            "--task-time",
            "5s",
        ])
        .args(&["--max-jobs", "1", "--array", "1-6", "--", &cmd])
        .spawn()
        .wait(150)
    };
    let first = up();
    assert_eq!(first.code, Some(1), "{}", first.all());
    let runs = std::fs::read_to_string(t.path().join("runs")).unwrap();
    let mut ran: Vec<u32> = runs.lines().map(|l| l.parse().unwrap()).collect();
    ran.sort_unstable();
    assert_eq!(ran, [1, 2, 3, 4, 5, 6], "{}", first.all());

    let failed: Value =
        serde_json::from_str(&t.run_ok(&["tasks", "--state", "failed", "--json"])).unwrap();
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0]["id"].as_u64(), failed[0]["exit_code"].as_i64()),
        (Some(3), Some(1))
    );
    let job = failed[0]["batch_job"].as_str().unwrap();
    assert!(job.parse::<u64>().is_ok(), "a SLURM job ID: {job}");
    assert_eq!(t.run(&["wait"]).code, Some(1));

    assert_eq!(
        t.run_ok(&["retry", "--failed"]).lines().next(),
        Some("queued again 1 task: 3")
    );
    std::fs::write(t.path().join("fixed"), "").unwrap();
    let second = up();
    assert_eq!(second.code, Some(0), "{}", second.all());
    let runs = std::fs::read_to_string(t.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 7, "{runs}");
    assert_eq!(
        runs.lines().last(),
        Some("4"),
        "only the failed task ran again"
    );
    assert_eq!(t.run(&["wait"]).code, Some(0));
    for (n, state) in t.recorded_states().iter().enumerate() {
        assert!(
            state != "pending" && state != "running",
            "batch job {n}: {state}"
        );
        let live = s.left_in_queue(&format!("{}-{}", t.name(), n + 1));
        assert_eq!(live.trim(), "", "left in the queue: {live}");
    }
}
