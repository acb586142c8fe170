//! Issue 4's fault tests on the local backend: a worker killed, a batch job cancelled, the
//! server killed and resumed, a client with a wrong secret, garbage on the server's port, `up`
//! giving up. Evidence comes from the summary line, `journal.jsonl` and `jobs.json`.

use crate::harness::{assert_each_done_once, ends, ev, lines, signal_pid, summary, wait_for, Test};

/// Waits until task 0 runs: the journal has its `started` entry (synced within a tick).
fn wait_started(c: &Test) {
    let path = c.cluster_dir().join("journal.jsonl");
    wait_for(30, "task 0 to start", || {
        let text = std::fs::read_to_string(&path).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["ev"] == "started" && e["id"] == 0)
            .then_some(())
    });
}

/// A worker killed with SIGKILL mid-task: its task is requeued, runs again and completes once.
#[test]
fn a_worker_killed_mid_task_has_its_task_run_again_once() {
    let c = Test::new().cluster("wkill").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 3"; 3]));
    let up = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "30s", "--task-time", "5s", "--max-jobs", "1"])
        .spawn();
    wait_started(&c);
    let pids = c.worker_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    signal_pid(pids[0], 9);
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, _, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, retried, killed),
        (3, 0, 1, 0),
        "{}",
        out.all()
    );
    assert!(jobs >= 2, "a replacement batch job: {}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 3, &out.all());
    assert_eq!(ends(&journal, 0, "requeued"), 1, "{journal:#?}");
    assert_eq!(
        ev(&journal, "started").filter(|e| e["id"] == 0).count(),
        2,
        "{journal:#?}"
    );
}

/// A worker's batch job cancelled mid-task (SIGTERM to the local job's supervisor, as the
/// batch system would): the task is requeued, runs again and completes once.
#[test]
fn a_batch_job_cancelled_mid_task_has_its_task_run_again_once() {
    let c = Test::new().cluster("jcancel").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 3"; 3]));
    let up = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "30s", "--task-time", "5s", "--max-jobs", "1"])
        .spawn();
    wait_started(&c);
    signal_pid(c.local_job_pid(1), 15);
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, _, retried, _, _] = summary(&out);
    assert_eq!((done, failed, retried), (3, 0, 1), "{}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 3, &out.all());
    assert_eq!(ends(&journal, 0, "requeued"), 1, "{journal:#?}");
    let first_job = ev(&journal, "started").next().unwrap()["job"].clone();
    assert_eq!(first_job, "local-1");
    assert!(
        ev(&journal, "started").any(|e| e["id"] == 0 && e["job"] != "local-1"),
        "task 0 ran again in another batch job: {journal:#?}"
    );
    assert_eq!(c.recorded_states()[0], "cancelled");
}

/// The server killed with SIGKILL and started again on the same cluster with the same tasks
/// file resumes from its journal: no completed task runs again, the file's tasks are not added
/// twice, and every task finishes.
#[test]
fn a_killed_server_resumes_without_running_completed_tasks_again() {
    let c = Test::new().cluster("resume").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 1"; 6]));
    let args = ["--walltime", "60s", "--task-time", "2s", "--max-jobs", "1"];
    let up = c.up_tasks("local", &tasks).args(&args).spawn();
    wait_for(60, "2 tasks done", || {
        (ev(&c.journal(), "ended")
            .filter(|e| e["outcome"] == "done")
            .count()
            >= 2)
            .then_some(())
    });
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let before = c.journal();
    let done_before: Vec<u64> = ev(&before, "ended")
        .filter(|e| e["outcome"] == "done")
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert!(
        done_before.len() >= 2 && done_before.len() < 6,
        "{before:#?}"
    );
    let out = c.up_tasks("local", &tasks).args(&args).spawn().wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stderr.contains("resumed 6 task(s) from the journal"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("resuming them, 0 new"), "{}", out.all());
    let [done, failed, not_run, ..] = summary(&out);
    assert_eq!((done, failed, not_run), (6, 0, 0), "{}", out.all());
    let after = c.journal();
    for e in ev(&after[before.len()..], "started") {
        let id = e["id"].as_u64().unwrap();
        assert!(
            !done_before.contains(&id),
            "task {id} was done before the crash and started again: {after:#?}"
        );
    }
    assert_each_done_once(&after, 6, &out.all());
}

/// Resuming with a tasks file that does not start with the journal's tasks is refused.
#[test]
fn resuming_with_a_different_tasks_file_is_refused() {
    let c = Test::new().cluster("resumediff").poll("200ms");
    let first = c.write("a.txt", &lines(&["true"]));
    let out = c
        .up_tasks("local", &first)
        .args(&["--walltime", "30s", "--task-time", "2s"])
        .spawn()
        .wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let other = c.write("b.txt", &lines(&["false", "true"]));
    let out = c
        .up_tasks("local", &other)
        .args(&["--walltime", "30s", "--task-time", "2s"])
        .spawn()
        .wait(30);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("already holds 1 task(s) that are not the first tasks of the tasks file"),
        "{}",
        out.all()
    );
    assert_eq!(ev(&c.journal(), "added").count(), 1);
}

/// A client with a wrong secret is refused and the server carries on: with the right secret
/// back, the same client is served.
#[test]
fn a_client_with_a_wrong_secret_is_refused() {
    let c = Test::new().cluster("secret").poll("200ms");
    let up = c.spawn(&["up", "--backend", "local"]);
    let server = c.cluster_dir().join("server.json");
    wait_for(20, "server.json", || server.exists().then_some(()));
    let secret_file = c.cluster_dir().join("secret");
    let right = std::fs::read_to_string(&secret_file).unwrap();
    let wrong: String = right
        .trim()
        .chars()
        .map(|ch| if ch == '0' { '1' } else { '0' })
        .collect();
    std::fs::write(&secret_file, &wrong).unwrap();
    let out = c.run(&["submit", "--", "echo", "hi"]);
    let err = out.stderr;
    assert_eq!(out.code, Some(1), "{err}");
    assert!(err.contains("secret"), "{err}");
    std::fs::write(&secret_file, &right).unwrap();
    let ok = c.run_ok(&["submit", "--", "echo", "hi"]);
    assert!(!ok.is_empty());
    let out = up.terminate();
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert_eq!(ev(&c.journal(), "added").count(), 1, "{}", out.all());
}

/// Garbage on the server's port (no handshake, a huge frame length) is dropped without
/// disturbing the run: every task still completes.
#[test]
fn garbage_on_the_server_port_does_not_disturb_the_run() {
    use std::io::Write;
    let c = Test::new().cluster("garbage").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 2"; 2]));
    let up = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "30s", "--task-time", "3s"])
        .spawn();
    let server = c.cluster_dir().join("server.json");
    let address = wait_for(20, "server.json", || {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&server).ok()?).ok()?;
        v["address"].as_str().map(str::to_string)
    });
    let port = address.rsplit(':').next().unwrap();
    let mut garbage = Vec::new();
    for _ in 0..3 {
        let mut s =
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        let _ = s.write_all(&[0xff; 16]);
        let _ = s.write_all(&vec![b'x'; 1 << 20]);
        garbage.push(s);
    }
    let out = up.wait(60);
    drop(garbage);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (2, 0), "{}", out.all());
}

/// `up` killed (kill -9) while its workers run tasks, then started again: the workers keep
/// their tasks running, reconnect to the new server and claim them; nothing runs twice, and
/// the batch job is re-attached, neither cancelled nor submitted again.
#[test]
fn a_restarted_server_gets_back_the_tasks_its_workers_kept_running() {
    let c = Test::new().cluster("reattach").poll("200ms");
    let ran = c.path().join("ran.txt");
    let cmd = format!("sleep 4; echo $HPCLUSTER_TASK_ID >> {}", ran.display());
    let tasks = c.write("tasks.txt", &lines(&[cmd.as_str(), cmd.as_str()]));
    let args = [
        "--walltime",
        "60s",
        "--task-time",
        "10s",
        "--max-jobs",
        "1",
        "--slots",
        "2",
    ];
    let up = c.up_tasks("local", &tasks).args(&args).spawn();
    wait_for(30, "2 tasks started", || {
        (ev(&c.journal(), "started").count() >= 2).then_some(())
    });
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let out = c.up_tasks("local", &tasks).args(&args).spawn().wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stderr.contains("re-attached 1 batch job(s)"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("came back holding 2 task(s)"),
        "{}",
        out.all()
    );
    let [done, failed, not_run, retried, walltime_kills, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, walltime_kills),
        (2, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 2, &out.all());
    assert_eq!(
        ev(&journal, "started").count(),
        2,
        "a task started twice: {journal:#?}"
    );
    let mut ran: Vec<String> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ran.sort();
    assert_eq!(ran, ["0", "1"], "each task ran exactly once");
    let states = c.recorded_states();
    assert_eq!(states, ["done"], "the batch job ended by itself");
}

/// When `up` gives up (here: batch jobs end before their worker connects), it still cancels
/// the batch jobs it submitted: none is left queued or running.
#[test]
fn up_that_gives_up_cancels_its_batch_jobs() {
    let c = Test::new().cluster("giveup").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["true"; 20]));
    let cmd = c.up_tasks("local", &tasks).args(&[
        "--walltime",
        "60s",
        "--task-time",
        "30s",
        "--max-jobs",
        "4",
    ]);
    // Batch jobs 1-3 fail before their worker starts; the others hang on in their prologue.
    let cmd = cmd.env(
        "HPCLUSTER_JOB_SCRIPT_PROLOGUE",
        "case $HPCLUSTER_LOCAL_JOB_ID in local-1|local-2|local-3) exit 3;; *) sleep 60;; esac",
    );
    let out = cmd.spawn().wait(90);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("3 batch jobs in a row ended before their worker connected"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("cancelled "), "{}", out.all());
    let states = c.recorded_states();
    assert!(states.len() >= 4, "{states:?}");
    assert!(
        states
            .iter()
            .all(|s| !["pending", "running", "unknown"].contains(&s.as_str())),
        "batch jobs left behind: {states:?}\n{}",
        out.all()
    );
}
