//! Against the real SLURM that `scripts/test.sh` starts (skipped with a reason when absent,
//! mandatory under `CI=true`).

#[path = "fixtures/real_scenarios.rs"]
mod scenarios;
#[path = "fixtures/support.rs"]
mod support;

use std::process::Command;

use scenarios::Sched;

fn slurm() -> Option<Sched> {
    support::scheduler_available(&["sinfo", "-h"]).then_some(Sched {
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

#[test]
fn slurm_jobs_and_an_array_go_pending_running_done() {
    if let Some(s) = slurm() {
        scenarios::jobs_and_array(&s);
    }
}

#[test]
fn slurm_cancel_one_then_down_leaves_nothing() {
    if let Some(s) = slurm() {
        scenarios::cancel_one_then_down(&s);
    }
}

#[test]
fn slurm_walltime_kill_is_reported_as_timeout() {
    // 60 s limit, checked every 30 s, plus KillWait.
    if let Some(s) = slurm() {
        scenarios::walltime_kill(&s, 150);
    }
}
