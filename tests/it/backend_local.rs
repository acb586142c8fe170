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

/// Whether process `pid` is alive (a zombie, ended and waiting to be reaped, is not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
    })
}

#[test]
fn a_local_job_s_end_takes_every_process_of_its_session_even_one_forked_during_the_sweep() {
    // The script starts 300 `sleep 300`, then leaves a shell behind that forks more as fast
    // as it can, recording each, and ends; each in a process group of its own (`set -m`), as
    // tasks are, so the end of the script's group does not take them. A sweep lists /proc first and then kills what it
    // listed, the 300 before the forker (pids ascend): whatever the forker starts meanwhile
    // is not in the list. The supervisor must leave none of them alive (one sweep left some).
    let t = Test::new().cluster("locsweep").poll("500ms");
    let pids = t.path().join("pids");
    let prologue = format!(
        "set -m; for i in $(seq 300); do sleep 300 & echo $! >> {p}; done; \
         ( while :; do sleep 300 & echo $! >> {p}; done ) & sleep 0.5; exit 0",
        p = pids.display()
    );
    let t = t.env("HPCLUSTER_JOB_SCRIPT_PROLOGUE", prologue);
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "1"]);
    t.wait_states(1, "done", 30);
    let out = up.terminate();
    let recorded: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(
        recorded.len() > 10,
        "the script forked only {} processes: {}",
        recorded.len(),
        out.all()
    );
    // Killed processes take a moment to be reaped by init.
    let mut left: Vec<i32> = recorded.clone();
    for _ in 0..50 {
        left.retain(|p| alive(*p));
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for p in &left {
        let _ = std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status();
    }
    assert!(
        left.is_empty(),
        "{} of the {} processes the job forked outlived its end: {left:?}",
        left.len(),
        recorded.len()
    );
}

/// The live processes of session `sid` (a local batch job's: its supervisor's pid).
fn session(sid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let rest: Vec<&str> = stat
                    .rsplit_once(')')
                    .map_or(vec![], |(_, r)| r.split_whitespace().collect());
                rest.first().is_some_and(|s| *s != "Z") && rest.get(3) == Some(&&*sid.to_string())
            })
        })
        .collect()
}

#[test]
fn a_batch_job_killed_whole_while_up_runs_ends_at_the_next_poll() {
    // `up` started the supervisor, so a supervisor killed with -9 stays `up`'s zombie until
    // `up` reaps it; a zombie looked alive, and the batch job stayed running (holding
    // `max_jobs`) until the end of the run.
    let t = local("locreap", "sleep 60");
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "1"]);
    t.wait_states(1, "running", 20);
    let sid = t.local_job_pid(1);
    let _ = std::process::Command::new("pkill")
        .args(["-KILL", "-s", &sid.to_string()])
        .status();
    t.wait_states(1, "failed", 10);
    let out = up.terminate();
    let jobs = t.jobs_json();
    assert_eq!(
        jobs["jobs"][0]["native"],
        "supervisor lost",
        "{jobs:#}\n{}",
        out.all()
    );
}

#[test]
fn a_batch_job_whose_supervisor_died_runs_while_its_processes_do_and_is_cancelled_whole() {
    // Only the supervisor is killed: the job script (and a worker, if it had one) goes on, so
    // the batch job is running, as a batch system would say, not failed while its processes
    // run. SIGTERM to `up` cancels it: every process of its session is asked to stop.
    let t = local("locorphan", "sleep 60");
    let up = t.spawn(&["up", "--backend", "local", "--jobs", "1"]);
    t.wait_states(1, "running", 20);
    let sid = t.local_job_pid(1);
    let _ = std::process::Command::new("kill")
        .args(["-9", &sid.to_string()])
        .status();
    // Several polls (500 ms) pass.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let jobs = t.jobs_json();
    assert_eq!(jobs["jobs"][0]["state"], "running", "{jobs:#}");
    assert!(!session(sid).is_empty(), "the job script should still run");
    let out = up.terminate();
    wait_for(10, "the batch job's processes to end", || {
        session(sid).is_empty().then_some(())
    });
    assert!(
        out.stderr.contains("cancelled 1 batch job"),
        "{}",
        out.all()
    );
}
