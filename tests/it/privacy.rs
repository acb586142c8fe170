//! Issue 13 item 7: a cluster is private by default. After a real run on the local backend the
//! cluster directory is 0700 and the journal (every task's command and `env`), the secret and
//! the task outputs the worker wrote are 0600; `cluster_access = "group"` makes them 0750 and
//! 0640; a joblog `up` creates follows the journal. Modes are read from the files the run left.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{lines, Test};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs two tasks that write to stdout and stderr, with a joblog; returns the modes of
/// (cluster directory, journal, secret, a task's directory of outputs, its stdout, its stderr,
/// the joblog).
fn modes_after_a_run(c: &Test) -> [u32; 7] {
    let tasks = c.write("tasks.txt", &lines(&["echo out; echo err >&2"; 2]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&[
            "--walltime",
            "1h",
            "--task-time",
            "1s",
            "--joblog",
            "runs.log",
        ])
        .spawn()
        .wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(c.task_output(0), "out\n");
    let dir = c.cluster_dir();
    [
        mode(&dir),
        mode(&dir.join("journal.jsonl")),
        mode(&dir.join("secret")),
        mode(&dir.join("tasks/000")),
        mode(&dir.join("tasks/000/0.out")),
        mode(&dir.join("tasks/000/1.err")),
        mode(&c.path().join("runs.log")),
    ]
}

#[test]
fn a_cluster_is_private_by_default() {
    let c = Test::new().cluster("private").poll("200ms");
    let got = modes_after_a_run(&c);
    assert_eq!(
        got,
        [0o700, 0o600, 0o600, 0o700, 0o600, 0o600, 0o600],
        "{:?}",
        got.map(|m| format!("{m:o}"))
    );
}

#[test]
fn a_cluster_shared_with_the_group_is_readable_by_it() {
    let c = Test::new()
        .cluster("group")
        .poll("200ms")
        .env("HPCLUSTER_CLUSTER_ACCESS", "group");
    let got = modes_after_a_run(&c);
    // The secret stays the owner's: a reader of the group must not be able to act as a worker.
    assert_eq!(
        got,
        [0o750, 0o640, 0o600, 0o750, 0o640, 0o640, 0o640],
        "{:?}",
        got.map(|m| format!("{m:o}"))
    );
}

/// A journal left readable by all (by an older version) is made private when `up` resumes.
#[test]
fn a_resumed_cluster_narrows_a_journal_left_readable_by_all() {
    let c = Test::new().cluster("narrow").poll("200ms");
    modes_after_a_run(&c);
    let journal = c.cluster_dir().join("journal.jsonl");
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(c.cluster_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = c
        .hpcluster(&["up", "--backend", "local", "--walltime", "1h"])
        .args(&["--task-time", "1s", "--tasks", "tasks.txt"])
        .spawn()
        .wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(mode(&c.cluster_dir()), 0o700);
    assert_eq!(mode(&journal), 0o600);
}
