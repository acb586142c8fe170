//! Against the real SGE that `scripts/test.sh` starts (skipped with a reason when absent,
//! mandatory under `CI=true`).

#[path = "fixtures/real_scenarios.rs"]
mod scenarios;
#[path = "fixtures/support.rs"]
mod support;

use std::process::Command;

use scenarios::Sched;

fn sge() -> Option<Sched> {
    support::scheduler_available(&["qstat", "-u", "*"]).then_some(Sched {
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
        // submitting user's ~/.bashrc, which on the test machine runs `pyenv rehash`: it waits
        // up to 60 s for a lock that a job killed in the middle of it leaves behind, longer
        // than these tests' walltimes. A login `sh` reads ~/.profile only.
        submit_extra: r#"["-S", "/bin/sh"]"#,
    })
}

#[test]
fn sge_jobs_and_an_array_go_pending_running_done() {
    if let Some(s) = sge() {
        scenarios::jobs_and_array(&s);
    }
}

#[test]
fn sge_cancel_one_then_down_leaves_nothing() {
    if let Some(s) = sge() {
        scenarios::cancel_one_then_down(&s);
    }
}

#[test]
fn sge_walltime_kill_is_reported_as_timeout() {
    if let Some(s) = sge() {
        scenarios::walltime_kill(&s, 60);
    }
}
