//! The real SLURM and SGE that `scripts/test.sh` starts: what differs between them ([`Sched`]),
//! and the scenarios `backend_slurm.rs` and `backend_sge.rs` run on each. Tests skip with a
//! reason when no scheduler answers, and fail under `CI=true`.
//!
//! The worker in a real batch job connects to the server (which binds 0.0.0.0 and advertises
//! this host's name). Scenarios about batch jobs alone keep it from starting with a long
//! prologue; the life-cycle scenario gives the workers a few short tasks so they connect, run
//! them, are told to stop when every task has ended, and their batch jobs end `done`.

use std::process::Command;

use crate::harness::{wait_for, Invocation, Test};

/// The SLURM node, shared by the tests that submit to it and held alone by a test that needs
/// every CPU of it in a known state (backfill): another test's batch job on a CPU would keep
/// the backfilled job from starting at all.
static SLURM_NODE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's hold on the node: shared, or the whole node.
pub enum NodeHold {
    None,
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Whole(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

/// What differs between the schedulers.
pub struct Sched {
    /// Held for as long as the test runs (never read: its drop releases the node).
    #[allow(dead_code)]
    pub hold: NodeHold,
    pub backend: &'static str,
    /// Cancels one batch job behind hpcluster's back.
    pub cancel: &'static str,
    /// Lists the IDs of jobs still queued or running with a given name (argv before the name).
    pub live_by_name: fn(&str) -> Command,
    /// `submit_command_extra` (a JSON array) giving a batch job a short walltime.
    pub short_walltime: &'static str,
    /// `submit_command_extra` (a JSON array) for every batch job of the tests.
    pub submit_extra: &'static str,
}

impl Sched {
    /// The real SLURM, if `sinfo` answers.
    pub fn slurm() -> Option<Sched> {
        let hold = NodeHold::Shared(SLURM_NODE.read().unwrap_or_else(|e| e.into_inner()));
        Self::slurm_holding(hold)
    }

    /// The real SLURM, with the whole node to this test (no other test's batch job on it).
    pub fn slurm_alone() -> Option<Sched> {
        let hold = NodeHold::Whole(SLURM_NODE.write().unwrap_or_else(|e| e.into_inner()));
        Self::slurm_holding(hold)
    }

    fn slurm_holding(hold: NodeHold) -> Option<Sched> {
        scheduler_available(&["sinfo", "-h"]).then_some(Sched {
            hold,
            backend: "slurm",
            cancel: "scancel",
            live_by_name: |name| {
                let mut c = Command::new("squeue");
                c.args(["-h", "-o", "%i", "--name", name]);
                c
            },
            short_walltime: r#"["--time=1"]"#,
            submit_extra: "[]",
        })
    }

    /// The real SGE, if `qstat` answers.
    pub fn sge() -> Option<Sched> {
        scheduler_available(&["qstat", "-u", "*"]).then_some(Sched {
            hold: NodeHold::None,
            backend: "sge",
            cancel: "qdel",
            // Jobs still known to qstat under that name, as `job_number:` lines.
            live_by_name: |name| {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("qstat -j {name} 2>/dev/null | grep job_number || true"),
                ]);
                c
            },
            short_walltime: r#"["-S", "/bin/sh", "-l", "h_rt=0:0:5"]"#,
            // SGE starts job scripts as login shells. With `-S /bin/bash` that sources the
            // submitting user's ~/.bashrc, which on the test machine runs `pyenv rehash`: it
            // waits up to 60 s for a lock that a job killed in the middle of it leaves behind,
            // longer than these tests' walltimes. A login `sh` reads ~/.profile only.
            submit_extra: r#"["-S", "/bin/sh"]"#,
        })
    }

    /// A cluster on this scheduler, with its submit arguments, polled every `poll`.
    pub fn test(&self, prefix: &str, poll: &str) -> Test {
        Test::new()
            .cluster(&format!("{}{prefix}", self.backend))
            .poll(poll)
            .env("HPCLUSTER_SUBMIT_COMMAND_EXTRA", self.submit_extra)
    }

    /// What is left in the queue of batch job `job_name` (empty: nothing); the listing must
    /// succeed.
    pub fn left_in_queue(&self, job_name: &str) -> String {
        let out = (self.live_by_name)(job_name).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Whether a real scheduler answers `probe`; under `CI=true` a missing one fails the test.
pub fn scheduler_available(probe: &[&str]) -> bool {
    let ok = Command::new(probe[0])
        .args(&probe[1..])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let reason = format!(
            "`{}` does not answer: no real scheduler here",
            probe.join(" ")
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason} (CI=true makes real-scheduler tests mandatory; run scripts/test.sh as root)");
        }
        eprintln!("skipped: {reason}; run scripts/test.sh as root to start one");
    }
    ok
}

/// `up --backend B` with a job script that runs `prologue` instead of the worker.
fn up(s: &Sched, t: &Test, prologue: &str) -> Invocation {
    t.hpcluster(&["up", "--backend", s.backend])
        .env("HPCLUSTER_JOB_SCRIPT_PROLOGUE", prologue)
}

/// A few batch jobs and an array go pending -> running -> done. A task time of 40 s in a
/// 1-minute walltime gives each batch job one task, so none is cancelled as not needed.
pub fn jobs_and_array(s: &Sched) {
    let t = s.test("life", "500ms");
    let tasks = t.write("tasks.txt", "sleep 6\nsleep 6\nsleep 6\n");
    let out = up(s, &t, "sleep 1")
        .env("HPCLUSTER_MAX_ARRAY_SIZE", "2")
        .args(&[
            "--jobs",
            "3",
            "--walltime",
            "1m",
            "--task-time",
            "40s",
            "--tasks",
            tasks.to_str().unwrap(),
        ])
        .spawn()
        .wait(100);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout.contains("3 task(s) done, 0 failed, 0 not run"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("submitted 3 batch job(s)"),
        "{}",
        out.all()
    );
    assert_eq!(
        out.stderr.matches("pending -> running").count(),
        3,
        "{}",
        out.all()
    );
    assert_eq!(out.stderr.matches("-> done").count(), 3, "{}", out.all());
    assert!(!out.stderr.contains("cancelled"), "{}", out.all());
    let states = t.recorded_states();
    assert_eq!(states, vec!["done"; 3], "{}", out.all());
}

/// One batch job cancelled behind hpcluster's back is reported cancelled; `down` stops the
/// server, which cancels the rest, and nothing is left in the queue.
pub fn cancel_one_then_down(s: &Sched) {
    let t = s.test("down", "500ms");
    let up = up(s, &t, "sleep 300").args(&["--jobs", "3"]).spawn();
    let ids = wait_for(60, "3 running batch jobs", || {
        let st = t.job_states();
        (st.len() == 3 && st.iter().all(|(_, s)| s == "running"))
            .then(|| st.into_iter().map(|(id, _)| id).collect::<Vec<_>>())
    });
    let cancel = Command::new(s.cancel).arg(&ids[0]).output().unwrap();
    assert!(
        cancel.status.success(),
        "failed: {} {}: {cancel:?}",
        s.cancel,
        ids[0]
    );
    wait_for(60, "the cancelled batch job", || {
        t.job_states()
            .iter()
            .any(|(id, st)| id == &ids[0] && st == "cancelled")
            .then_some(())
    });
    let down = t.run_ok(&["down"]);
    assert!(down.contains("stopping the server"), "{down}");
    let out = up.wait(60);
    assert_eq!(out.code, Some(130), "{}", out.all());
    let first = format!("batch job {}: ", ids[0]);
    let last = out
        .stderr
        .lines()
        .rfind(|l| l.contains(&first))
        .unwrap_or("");
    assert!(last.ends_with("-> cancelled"), "{}", out.all());
    assert!(
        out.stderr
            .contains("cancelled 2 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    // `down` waited for the batch system to confirm.
    let states = t.recorded_states();
    assert_eq!(states, vec!["cancelled"; 3], "{down}\n{}", out.all());
    let live = s.left_in_queue(&format!("{}-1", t.name()));
    assert_eq!(live.trim(), "", "left in the queue: {live}");
}

/// A batch job that outlives its walltime is reported as timeout.
pub fn walltime_kill(s: &Sched, within_secs: u64) {
    let t = s.test("wall", "500ms");
    let up = up(s, &t, "sleep 600")
        .env("HPCLUSTER_SUBMIT_COMMAND_EXTRA", s.short_walltime)
        .args(&["--jobs", "1"])
        .spawn();
    t.wait_states(1, "timeout", within_secs);
    let out = up.terminate();
    assert!(out.stderr.contains("running -> timeout"), "{}", out.all());
    let states = t.job_states();
    assert_eq!(states[0].1, "timeout", "{states:?}");
}

/// Issue 9: batch jobs whose script fails before the worker starts (`exit 3` after a marker on
/// stderr) stop `up` with what the batch system says of them (`reason`: its exit code in its
/// own words) and what they wrote (the marker); `status --json` keeps both per batch job, and
/// nothing is left in the queue.
pub fn failing_prologue(s: &Sched, reason: &str) {
    let t = s.test("fail", "500ms");
    let marker = format!("MARKER-{}", t.name());
    // One task: one batch job at a time, so the run stops after exactly three.
    let tasks = t.write("tasks.txt", "true\n");
    let out = up(s, &t, &format!("echo {marker} >&2; exit 3"))
        .args(&[
            "--walltime",
            "1m",
            "--task-time",
            "10s",
            "--tasks",
            tasks.to_str().unwrap(),
        ])
        .spawn()
        .wait(150);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr.contains(
            "error: 3 batch jobs in a row ended before their worker connected to the server:"
        ),
        "{}",
        out.all()
    );
    let error = &out.stderr[out.stderr.rfind("\nerror: 3 batch jobs").unwrap()..];
    assert!(error.contains(reason), "{reason}: {}", out.all());
    assert_eq!(error.matches(&marker).count(), 3, "{}", out.all());
    let status = t.run_ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3, "{status}");
    for j in jobs {
        assert_eq!(j["state"], "failed", "{status}");
        assert!(
            j["reason"].as_str().unwrap_or("").contains(reason),
            "{status}"
        );
        assert!(
            j["wrote"]["tail"][0]
                .as_str()
                .unwrap_or("")
                .contains(&marker),
            "{status}"
        );
    }
    for n in 1..=3 {
        let live = s.left_in_queue(&format!("{}-{n}", t.name()));
        assert_eq!(live.trim(), "", "left in the queue: {live}");
    }
}

/// Issue 9: `log_directory`, relative or absolute, need not exist: `up` creates it, two tasks
/// complete, and the batch jobs' output files land in it.
pub fn log_directories(s: &Sched) {
    for (i, written) in ["rel/logs", "ABS/deep/logs"].iter().enumerate() {
        let t = s.test(&format!("logdir{i}"), "500ms");
        let written = written.replace("ABS", t.path().to_str().unwrap());
        let dir = t.path().join(&written);
        let t = t.env("HPCLUSTER_LOG_DIRECTORY", &written);
        assert!(!dir.exists());
        let tasks = t.write("tasks.txt", "true\ntrue\n");
        let out = up(s, &t, "true")
            .args(&[
                "--walltime",
                "1m",
                "--task-time",
                "10s",
                "--tasks",
                tasks.to_str().unwrap(),
            ])
            .spawn()
            .wait(120);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(
            out.stdout.contains("2 task(s) done, 0 failed, 0 not run"),
            "{}",
            out.all()
        );
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let prefix = format!("{}-1", t.name());
        assert!(
            files.iter().any(|f| f.starts_with(&prefix)),
            "{}: {files:?}\n{}",
            dir.display(),
            out.all()
        );
    }
}
