//! The local backend through the binary: batch jobs run, get their ID in the environment,
//! time out at the walltime, and are cancelled by SIGTERM to `up` or by `down`.
//!
//! `up --jobs N` is an open cluster; the job scripts' prologue keeps the worker from starting
//! (or exits first), so these tests are about batch jobs only.

#[path = "fixtures/support.rs"]
mod support;

use std::path::PathBuf;

use support::{bin, real_up, recorded_states, run_ok, spawn, unique_name, wait_states};

fn cluster(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    tmp.path().join(".hpcluster").join(name)
}

#[test]
fn local_jobs_run_with_their_id_and_end_done() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("loc");
    let mut c = real_up(
        tmp.path(),
        &name,
        "local",
        "echo \"id=$HPCLUSTER_LOCAL_JOB_ID\"; exit 0",
    );
    c.args(["--jobs", "2"]);
    let up = spawn(c);
    wait_states(&cluster(&tmp, &name), 2, "done", 30);
    let out = up.terminate();
    assert!(
        out.stderr
            .contains("submitted 2 batch job(s): local-1 local-2"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("batch job local-1: "), "{}", out.all());
    assert!(out.stderr.contains("-> done"), "{}", out.all());
    let log = cluster(&tmp, &name).join(format!("logs/{name}-1.local-2.out"));
    assert_eq!(std::fs::read_to_string(log).unwrap(), "id=local-2\n");
}

#[test]
fn local_walltime_kill_is_reported_as_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locwall");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--walltime", "2s", "--jobs", "1"]);
    let up = spawn(c);
    wait_states(&cluster(&tmp, &name), 1, "timeout", 30);
    let out = up.terminate();
    assert!(
        out.stderr.contains("batch job local-1: running -> timeout"),
        "{}",
        out.all()
    );
}

#[test]
fn sigterm_to_up_cancels_its_local_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locint");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--jobs", "2"]);
    let up = spawn(c);
    wait_states(&cluster(&tmp, &name), 2, "running", 20);
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
    support::wait_for(20, "both batch jobs cancelled", || {
        let st = support::job_states(tmp.path(), &name);
        (st.len() == 2 && st.iter().all(|(_, s)| s == "cancelled")).then_some(())
    });
}

#[test]
fn down_cancels_local_jobs_from_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locdown");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--jobs", "2"]);
    let up = spawn(c);
    wait_states(&cluster(&tmp, &name), 2, "running", 20);
    let down = run_ok({
        let mut c = bin();
        c.current_dir(tmp.path())
            .env("HPCLUSTER_NAME", &name)
            .arg("down");
        c
    });
    assert!(down.contains("stopping the server"), "{down}");
    let out = up.wait(20);
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert!(
        out.stderr
            .contains("cancelled 2 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    assert_eq!(
        recorded_states(&cluster(&tmp, &name)),
        vec!["cancelled"; 2],
        "{down}"
    );
    // Nothing of the jobs is left running: their supervisors are gone.
    for n in 1..=2 {
        let pid =
            std::fs::read_to_string(cluster(&tmp, &name).join(format!("local/local-{n}/pid")))
                .unwrap();
        let proc = format!("/proc/{}", pid.trim());
        support::wait_for(10, &format!("the supervisor of local-{n} to exit"), || {
            (!std::path::Path::new(&proc).exists()).then_some(())
        });
    }
}
