//! The local backend through the binary: batch jobs run, get their ID in the environment,
//! time out at the walltime, and are cancelled by SIGTERM to `up` or by `down`.
//!
//! `up --jobs N` is an open cluster; the job scripts' prologue keeps the worker from starting
//! (or exits first), so these tests are about batch jobs only.

use crate::harness::{wait_for, Test};

/// A local cluster whose job scripts run `prologue` instead of the worker, polled every 500 ms.
fn local(prefix: &str, prologue: &str) -> Test {
    Test::new()
        .cluster(prefix)
        .poll("500ms")
        .env("HPCLUSTER_JOB_SCRIPT_PROLOGUE", prologue)
}

#[test]
fn local_jobs_run_with_their_id_and_end_done() {
    let t = local("loc", "echo \"id=$HPCLUSTER_LOCAL_JOB_ID\"; exit 0");
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "2"]);
    t.wait_states(2, "done", 30);
    let out = up.terminate();
    assert!(
        out.stderr
            .contains("submitted 2 batch job(s): local-1 local-2"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("batch job local-1: "), "{}", out.all());
    assert!(out.stderr.contains("-> done"), "{}", out.all());
    let log = t
        .cluster_dir()
        .join(format!("logs/{}-1.local-2.out", t.name()));
    assert_eq!(std::fs::read_to_string(log).unwrap(), "id=local-2\n");
}

#[test]
fn local_walltime_kill_is_reported_as_timeout() {
    let t = local("locwall", "sleep 60");
    let up = t.spawn(&[
        "up",
        "--backend",
        "local",
        "--walltime",
        "2s",
        "--jobs",
        "1",
    ]);
    t.wait_states(1, "timeout", 30);
    let out = up.terminate();
    assert!(
        out.stderr.contains("batch job local-1: running -> timeout"),
        "{}",
        out.all()
    );
}

#[test]
fn sigterm_to_up_cancels_its_local_jobs() {
    let t = local("locint", "sleep 60");
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "2"]);
    t.wait_states(2, "running", 20);
    let out = up.terminate();
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert!(
        out.stderr
            .contains("terminated (SIGTERM): cancelling the batch jobs"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("cancelled 2 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    // Without a server, `status` asks the backend itself.
    wait_for(20, "both batch jobs cancelled", || {
        let st = t.job_states();
        (st.len() == 2 && st.iter().all(|(_, s)| s == "cancelled")).then_some(())
    });
}

#[test]
fn down_cancels_local_jobs_from_another_process() {
    let t = local("locdown", "sleep 60");
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "2"]);
    t.wait_states(2, "running", 20);
    let down = t.run_ok(&["down"]);
    assert!(down.contains("stopping the server"), "{down}");
    let out = up.wait(20);
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert!(
        out.stderr
            .contains("cancelled 2 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    assert_eq!(t.recorded_states(), vec!["cancelled"; 2], "{down}");
    // Nothing of the jobs is left running: their supervisors are gone.
    for n in 1..=2 {
        let proc = format!("/proc/{}", t.local_job_pid(n));
        wait_for(10, &format!("the supervisor of local-{n} to exit"), || {
            (!std::path::Path::new(&proc).exists()).then_some(())
        });
    }
}
