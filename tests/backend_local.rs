//! The local backend through the binary: batch jobs run, get their ID in the environment,
//! time out at the walltime, and are cancelled by SIGTERM to `up` or by `down`.

#[path = "fixtures/support.rs"]
mod support;

use support::{bin, job_states, real_up, run_ok, spawn, unique_name, wait_for};

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
    let out = run_ok(c);
    assert!(
        out.contains("submitted 2 batch jobs: local-1 local-2"),
        "{out}"
    );
    assert!(out.contains("all 2 batch jobs ended (0 not done)"), "{out}");
    let log = tmp
        .path()
        .join(format!(".hpcluster/{name}/logs/{name}-1.local-2.out"));
    assert_eq!(std::fs::read_to_string(log).unwrap(), "id=local-2\n");
}

#[test]
fn local_walltime_kill_is_reported_as_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locwall");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--walltime", "2s"]);
    let out = spawn(c).wait(30);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("batch job local-1: running -> timeout"),
        "{stdout}"
    );
}

#[test]
fn sigterm_to_up_cancels_its_local_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locint");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--jobs", "2"]);
    let up = spawn(c);
    wait_for(20, "running local jobs", || {
        let st = job_states(tmp.path(), &name);
        (st.len() == 2 && st.iter().all(|(_, s)| s == "running")).then_some(())
    });
    let out = up.terminate();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("interrupted: cancelled 2 batch jobs: local-1 local-2"),
        "{stdout}"
    );
    wait_for(20, "cancelled local jobs", || {
        let st = job_states(tmp.path(), &name);
        st.iter().all(|(_, s)| s == "cancelled").then_some(())
    });
}

#[test]
fn down_cancels_local_jobs_from_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let name = unique_name("locdown");
    let mut c = real_up(tmp.path(), &name, "local", "sleep 60");
    c.args(["--jobs", "2"]);
    let up = spawn(c);
    wait_for(20, "running local jobs", || {
        (job_states(tmp.path(), &name).len() == 2).then_some(())
    });
    let down = run_ok({
        let mut c = bin();
        c.current_dir(tmp.path())
            .env("HPCLUSTER_NAME", &name)
            .arg("down");
        c
    });
    assert!(down.contains("cancelled 2 batch jobs"), "{down}");
    let out = up.wait(20);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("all 2 batch jobs ended (2 not done)"),
        "{stdout}"
    );
    let st = job_states(tmp.path(), &name);
    assert!(st.iter().all(|(_, s)| s == "cancelled"), "{st:?}");
}
