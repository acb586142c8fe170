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

/// Issue 11, item 5: a node on which batch jobs fail repeatedly is excluded. The fake SLURM
/// puts batch jobs 4101 and 4102 on node `n3`; 4101 ends `NODE_FAIL`, 4102 `BOOT_FAIL` (failed
/// starts count only once the job script has run on another node: unit tests in
/// server/node_faults.rs): the next `sbatch` carries `--exclude=n3`, `jobs.json` keeps it (so a
/// resumed `up` goes on excluding it), and `status` says which node and why.
#[test]
fn a_node_where_batch_jobs_fail_twice_is_excluded_from_new_submissions_and_after_a_resume() {
    let t = Test::new()
        .cluster("exclude")
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
        .env("FAKE_LOST", "4101=NODE_FAIL 4102=BOOT_FAIL")
        .env("FAKE_NODES", "4101=n3 4102=n3 4103=n4")
        .env("HPCLUSTER_MAX_JOBS", "1")
        .env("HPCLUSTER_MAX_ARRAY_SIZE", "1");
    let tasks = t.write("tasks.txt", "sleep 1\n");
    let up = t.up_tasks("slurm", &tasks).spawn();
    wait_for(60, "a third batch job", || {
        (t.calls_of("sbatch").len() >= 3).then_some(())
    });
    up.wait_for_stderr(30, "node `n3` is excluded from new submissions");
    let status = t.run_ok(&["status", "--json"]);
    let text = t.run_ok(&["status"]);
    let out = up.terminate();
    let sbatch = t.calls_of("sbatch");
    assert!(
        !sbatch[0].contains("--exclude") && !sbatch[1].contains("--exclude"),
        "{sbatch:?}"
    );
    assert!(sbatch[2].contains(" --exclude=n3 "), "{sbatch:?}");
    let said = "node `n3` is excluded from new submissions: 2 batch jobs failed there: 4101 \
                ended node_failed, 4102 ended node_failed";
    assert_eq!(out.stderr.matches(said).count(), 1, "{}", out.all());
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let excluded = v["excluded_nodes"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{status}");
    assert_eq!(excluded[0]["node"], "n3", "{status}");
    assert_eq!(
        excluded[0]["jobs"],
        serde_json::json!(["4101", "4102"]),
        "{status}"
    );
    let job_node = |id: &str| {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .map(|j| j["node"].clone())
    };
    assert_eq!(job_node("4101"), Some(serde_json::json!("n3")), "{status}");
    assert!(
        text.contains("node `n3` is excluded from new submissions since "),
        "{text}"
    );
    // A resumed `up` reads the exclusion from `jobs.json` and submits with it. Its first
    // sbatch is refused (as SLURM refuses a batch job no node is left for): the error says
    // which nodes were excluded and how to clear them.
    let up = t
        .up_tasks("slurm", &tasks)
        .env("FAKE_FAIL_sbatch_AT", "4")
        .spawn();
    wait_for(60, "a fourth batch job", || {
        (t.calls_of("sbatch").len() >= 4).then_some(())
    });
    up.wait_for_stderr(30, "will retry");
    let out = up.terminate();
    let sbatch = t.calls_of("sbatch");
    assert!(
        sbatch[3].contains(" --exclude=n3 "),
        "{sbatch:?}\n{}",
        out.all()
    );
    assert!(
        !out.stderr.contains("is excluded from new submissions"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains(
            "submitted with node(s) `n3` excluded after batch jobs failed there (see `hpcluster \
             status`); if no other node can run the batch job, fix the node(s) and delete \
             `excluded_nodes` from `"
        ),
        "{}",
        out.all()
    );
}
