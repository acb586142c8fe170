//! Issue 11's reproductions, on the local backend: a task never runs twice at once and a
//! completed task never runs again, after the faults that made it happen. The evidence is what
//! the tasks wrote themselves: each appends `start` and `done` lines to its own record and
//! holds an flock while it runs, so a second copy running at the same time writes `overlap`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{signal_pid, wait_for, Test};

/// A task that records itself in `records/ID.log` and sleeps `secs`.
const TASK: &str = r#"#!/bin/sh
id=$1; secs=$2; rec="$(dirname "$0")/records/$id"
exec 9>>"$rec.lock"
if ! flock -n 9; then echo "overlap $$" >> "$rec.log"; flock 9; fi
echo "start $$" >> "$rec.log"
sleep "$secs"
echo "done $$" >> "$rec.log"
"#;

/// Writes the task script and a tasks file of `n` tasks of `secs` each.
fn recorded_tasks(c: &Test, n: usize, secs: f64) -> PathBuf {
    let script = c.write("task.sh", TASK);
    std::fs::create_dir_all(c.path().join("records")).unwrap();
    let lines: String = (0..n)
        .map(|i| format!("sh {} {i} {secs}\n", script.display()))
        .collect();
    c.write("tasks.txt", &lines)
}

/// What task `id` recorded.
fn record(c: &Test, id: usize) -> String {
    std::fs::read_to_string(c.path().join(format!("records/{id}.log"))).unwrap_or_default()
}

/// Every task recorded exactly one `done` and no `overlap`.
fn each_done_once_never_two_at_once(c: &Test, n: usize, shown: &str) {
    for id in 0..n {
        let r = record(c, id);
        assert!(
            !r.contains("overlap"),
            "task {id} ran twice at once:\n{r}\n{shown}"
        );
        assert_eq!(
            r.lines().filter(|l| l.starts_with("done")).count(),
            1,
            "task {id} completed other than once:\n{r}\n{shown}"
        );
    }
}

fn started(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("records"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("start")))
}

/// `up` killed with -9 and resumed; then, while the resumed run's worker still runs its task,
/// the local batch job's supervisor is killed with -9 (its status then says the batch job
/// failed): the live worker outranks that status, so no second copy starts.
#[test]
fn a_dead_supervisor_of_a_resumed_run_starts_no_second_copy() {
    let c = Test::new().cluster("supkill").poll("200ms");
    let tasks = recorded_tasks(&c, 4, 3.0);
    let args = ["--walltime", "60s", "--task-time", "4s", "--max-jobs", "1"];
    let up = c.up_tasks("local", &tasks).args(&args).spawn();
    wait_for(30, "the first task to start", || {
        started(c.path()).then_some(())
    });
    up.signal(9);
    up.wait(10);
    let resumed = c.up_tasks("local", &tasks).args(&args).spawn();
    resumed.wait_for_stderr(30, "came back holding");
    signal_pid(c.local_job_pid(1), 9);
    let out = resumed.wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    each_done_once_never_two_at_once(&c, 4, &out.all());
}

/// `up` killed with -9 within moments of its first task's start (its `started` entry may not
/// be on disk yet), then resumed: the task is neither run twice at once nor run again once
/// completed.
#[test]
fn up_killed_at_the_first_start_runs_no_task_twice() {
    let c = Test::new().cluster("startkill").poll("200ms");
    let tasks = recorded_tasks(&c, 6, 2.0);
    let args = ["--walltime", "60s", "--task-time", "3s", "--max-jobs", "2"];
    let up = c.up_tasks("local", &tasks).args(&args).spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !started(c.path()) {
        assert!(std::time::Instant::now() < deadline, "no task started");
        std::thread::sleep(Duration::from_millis(2));
    }
    up.signal(9);
    up.wait(10);
    let out = c.up_tasks("local", &tasks).args(&args).spawn().wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    each_done_once_never_two_at_once(&c, 6, &out.all());
}
