//! Issue 11, item 1 ("reports that live only in worker memory"): a task's result waits on its
//! worker's side on disk until the server acknowledges it. The server is stopped (SIGSTOP)
//! while a task ends, so its report is never acknowledged; then the server is killed, with or
//! without the worker, and `up` is run again. The task must not run again: the count of its
//! runs is what the task itself wrote.

use crate::harness::{lines, signal_pid, summary, wait_for, Test};

const ARGS: [&str; 6] = ["--walltime", "60s", "--task-time", "10s", "--max-jobs", "1"];

/// Starts `up` with one task that counts its runs, and stops the server (SIGSTOP) once the
/// task runs; returns the test, the tasks file, the stopped `up` and the count file.
fn a_task_ends_while_the_server_is_stopped(
    prefix: &str,
) -> (
    Test,
    std::path::PathBuf,
    crate::harness::Background,
    std::path::PathBuf,
) {
    let c = Test::new().cluster(prefix).poll("200ms");
    let count = c.path().join("count.txt");
    let cmd = format!("echo ran >> {}; sleep 2", count.display());
    let tasks = c.write("tasks.txt", &lines(&[cmd.as_str()]));
    let up = c.up_tasks("local", &tasks).args(&ARGS).spawn();
    wait_for(30, "the task to run", || count.exists().then_some(()));
    up.signal(19);
    // The task ends (2 s) and its worker reports it to a server that cannot acknowledge it.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    (c, tasks, up, count)
}

fn runs(count: &std::path::Path) -> usize {
    std::fs::read_to_string(count).unwrap().lines().count()
}

/// The worker and its batch job die with the server: the resumed `up` finds the result the
/// worker left in the cluster directory.
#[test]
fn a_result_whose_worker_died_unacknowledged_is_kept_by_the_resumed_server() {
    let (c, tasks, up, count) = a_task_ends_while_the_server_is_stopped("heldgone");
    let workers = c.worker_pids();
    assert_eq!(workers.len(), 1, "{workers:?}");
    signal_pid(workers[0], 9);
    signal_pid(c.local_job_pid(1), 9);
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let out = c.up_tasks("local", &tasks).args(&ARGS).spawn().wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(summary(&out)[..2], [1, 0], "{}", out.all());
    assert_eq!(
        runs(&count),
        1,
        "the completed task ran again: {}",
        out.all()
    );
}

/// The worker outlives the server: its report went out on the old connection and was lost
/// with it; the worker sends it again when it reconnects to the resumed `up`.
#[test]
fn a_report_lost_with_its_connection_is_sent_again_on_reconnection() {
    let (c, tasks, up, count) = a_task_ends_while_the_server_is_stopped("heldlink");
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let out = c.up_tasks("local", &tasks).args(&ARGS).spawn().wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(summary(&out)[..2], [1, 0], "{}", out.all());
    assert_eq!(
        runs(&count),
        1,
        "the completed task ran again: {}",
        out.all()
    );
}

/// The same, with the result's file out of the resumed server's reach (as in a node's local
/// scratch): only the worker's sending again on reconnection keeps the result.
#[test]
fn a_worker_sends_its_unacknowledged_report_again_when_it_reconnects() {
    let (c, tasks, up, count) = a_task_ends_while_the_server_is_stopped("heldsend");
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    // (absent before results were kept on disk)
    let _ = std::fs::remove_dir_all(c.cluster_dir().join("results"));
    let out = c.up_tasks("local", &tasks).args(&ARGS).spawn().wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(summary(&out)[..2], [1, 0], "{}", out.all());
    assert_eq!(
        runs(&count),
        1,
        "the completed task ran again: {}",
        out.all()
    );
}
