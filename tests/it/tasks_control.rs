//! Issue 10, items 2 to 4 while `up` runs (an open cluster fed by `submit`): `tasks` asks the
//! server and shows running tasks with their batch job and host, in the same shape as the
//! journal gives after the run; `cancel` stops a running task (its process is gone) and takes
//! a pending one off the queue (it never starts); `explain` says why a task waits; `logs
//! --follow` prints a task's output until it ends; `retry` queues an ended task into the
//! running server; `wait` returns when the named tasks end.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{wait_for, Test};

fn tasks(c: &Test, args: &[&str]) -> Vec<Value> {
    let out = c.run_ok(&[&["tasks", "--json"], args].concat());
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn state_of(c: &Test, id: u64) -> String {
    tasks(c, &[&id.to_string()])[0]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn tasks_of_a_running_server_are_listed_cancelled_explained_followed_and_retried() {
    let c = Test::new().cluster("ctl").poll("200ms");
    let dir = c.path().display().to_string();
    // One worker slot: task 0 runs, task 1 waits behind it (tasks of 10 s are not sent ahead).
    let up = c.spawn(&[
        "up",
        "--backend",
        "local",
        "--walltime",
        "10m",
        "--task-time",
        "10s",
        "--max-jobs",
        "1",
    ]);
    wait_for(30, "the server", || {
        c.cluster_dir().join("server.json").exists().then_some(())
    });
    let long = format!("echo $$ > {dir}/pid.{{}}; sleep 60");
    let added = c.run_ok(&["submit", "--array", "0-1", "--", &long]);
    assert_eq!(added, "added 2 tasks (ids 0..1)\n");
    wait_for(30, "task 0 to run", || {
        c.path().join("pid.0").exists().then_some(())
    });
    let running = tasks(&c, &["0"]);
    assert_eq!(running[0]["state"], "running");
    assert_eq!(running[0]["batch_job"], "local-1");
    assert!(running[0]["host"].is_string(), "{running:?}");
    let live_keys = keys(&running[0]);

    let why = c.run_ok(&["explain", "1"]);
    assert!(why.starts_with("task 1 is pending: echo $$ >"), "{why}");
    assert!(
        why.contains("  it is pending: 0 tasks ahead of it"),
        "{why}"
    );
    assert!(
        why.contains("  batch jobs: ") && why.contains("at most 1 at once"),
        "{why}"
    );

    // Cancel the pending one, then the running one: its process is stopped.
    assert_eq!(c.run_ok(&["cancel", "1"]), "cancelled 1 task: 1\n");
    let pid = std::fs::read_to_string(c.path().join("pid.0")).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    assert!(std::path::Path::new(&proc).exists());
    assert_eq!(c.run_ok(&["cancel", "0"]), "cancelled 1 task: 0\n");
    wait_for(10, "the cancelled task's process to end", || {
        (!std::path::Path::new(&proc).exists()).then_some(())
    });
    let again = c.run(&["cancel", "0"]);
    assert_eq!(again.code, Some(1));
    assert_eq!(
        again.stderr,
        "error: task 0 was not cancelled: it has already ended (cancelled)\n"
    );

    // A task that prints over a second: `logs --follow` prints it all and returns at its end.
    let chatty = "for i in 1 2 3; do echo line $i; sleep 0.4; done";
    assert_eq!(
        c.run_ok(&["submit", "--", chatty]),
        "added 1 task (ids 2..2)\n"
    );
    let followed = c.run_ok(&["logs", "2", "--follow"]);
    assert_eq!(followed, "line 1\nline 2\nline 3\n");
    assert_eq!(state_of(&c, 2), "done");

    // A task that fails, is fixed, and is retried into the running server.
    let flaky = format!("echo run >> {dir}/flaky; test -e {dir}/fixed");
    c.run_ok(&["submit", "--", &flaky]);
    assert_eq!(c.run(&["wait", "3"]).code, Some(1));
    std::fs::write(c.path().join("fixed"), "").unwrap();
    assert_eq!(c.run_ok(&["retry", "3"]), "queued again 1 task: 3\n");
    assert_eq!(c.run(&["wait", "3", "2"]).code, Some(0));
    let flaky_runs = std::fs::read_to_string(c.path().join("flaky")).unwrap();
    assert_eq!(flaky_runs, "run\nrun\n");
    let refused = c.run(&["retry", "3", "99"]);
    assert_eq!(refused.code, Some(1));
    assert_eq!(refused.stdout, "queued again 1 task: 3\n");
    assert_eq!(
        refused.stderr,
        "error: task 99 was not queued again: no such task\n"
    );
    assert_eq!(c.run(&["wait", "3"]).code, Some(0));
    let flaky_runs = std::fs::read_to_string(c.path().join("flaky")).unwrap();
    assert_eq!(
        flaky_runs, "run\nrun\nrun\n",
        "a done task retried runs again"
    );

    let out = up.terminate();
    assert!(
        !c.path().join("pid.1").exists(),
        "the cancelled pending task never started"
    );
    // After the run the journal answers, in the same shape.
    let after = tasks(&c, &[]);
    assert_eq!(after.len(), 4, "{}", out.all());
    assert!(after.iter().all(|t| keys(t) == live_keys), "{after:#?}");
    let states: Vec<&str> = after.iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["cancelled", "cancelled", "done", "done"]);
    assert_eq!(after[3]["attempts"], 3);
}
