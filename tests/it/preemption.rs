//! Issue 11, item 5: preemption and node failure are normal events. The fake SLURM of
//! `tests/fake-bin` reports its first batch jobs `PREEMPTED`, `NODE_FAIL`, `BOOT_FAIL` and
//! `PREEMPTED` again (`FAKE_LOST`): each is replaced by a new submission while the task waits,
//! none counts as a batch job that failed to start (three of those in a row stop `up`), and
//! `jobs.json` and `status --json` say how each ended. (The fake's jobs never start a worker;
//! the tasks of a lost batch job, requeued without using up their retries, are checked in
//! process: `src/server/tests/preempted.rs`.)

use crate::harness::{wait_for, Test};

#[test]
fn preempted_and_node_failed_batch_jobs_are_replaced_not_counted_as_failed_starts() {
    let t = Test::new()
        .cluster("preempt")
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
        .env(
            "FAKE_LOST",
            "4101=PREEMPTED 4102=NODE_FAIL 4103=BOOT_FAIL 4104=PREEMPTED",
        )
        .env("HPCLUSTER_MAX_JOBS", "2")
        .env("HPCLUSTER_MAX_ARRAY_SIZE", "1");
    let tasks = t.write("tasks.txt", "sleep 1\n");
    let up = t.up_tasks("slurm", &tasks).spawn();
    wait_for(60, "a fifth batch job", || {
        (t.calls_of("sbatch").len() >= 5).then_some(())
    });
    let status = t.run_ok(&["status", "--json"]);
    let out = up.terminate();
    let states = t.job_states();
    let state_of = |id: &str| {
        states
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no batch job {id} in jobs.json: {states:?}"))
    };
    assert_eq!(state_of("4101"), "preempted", "{}", out.all());
    assert_eq!(state_of("4102"), "node_failed", "{}", out.all());
    assert_eq!(state_of("4103"), "node_failed", "{}", out.all());
    assert_eq!(state_of("4104"), "preempted", "{}", out.all());
    assert!(
        !out.stderr.contains("ended before their worker connected"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("batch job 4101 ended preempted, by no fault of its tasks"),
        "{}",
        out.all()
    );
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let shown: Vec<&str> = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["state"].as_str())
        .collect();
    assert!(shown.contains(&"preempted"), "{status}");
    assert!(shown.contains(&"node_failed"), "{status}");
    // Every batch job the fake created had ended or was cancelled when `up` stopped.
    let lost = ["4101", "4102", "4103", "4104"];
    let live: Vec<String> = t
        .fake_live()
        .into_iter()
        .filter(|id| !lost.contains(&id.as_str()))
        .collect();
    assert!(live.is_empty(), "{live:?}\n{}", out.all());
}
