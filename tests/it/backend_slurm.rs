//! Against the real SLURM that `scripts/test.sh` starts (skipped with a reason when absent,
//! mandatory under `CI=true`).

use crate::real::{self, Sched};

#[test]
fn slurm_jobs_and_an_array_go_pending_running_done() {
    if let Some(s) = Sched::slurm() {
        real::jobs_and_array(&s);
    }
}

#[test]
fn slurm_cancel_one_then_down_leaves_nothing() {
    if let Some(s) = Sched::slurm() {
        real::cancel_one_then_down(&s);
    }
}

#[test]
fn slurm_walltime_kill_is_reported_as_timeout() {
    // 60 s limit, checked every 30 s, plus KillWait.
    if let Some(s) = Sched::slurm() {
        real::walltime_kill(&s, 150);
    }
}

#[test]
fn slurm_failing_prologue_stops_up_with_the_exit_code_and_the_marker() {
    if let Some(s) = Sched::slurm() {
        real::failing_prologue(&s, "ExitCode=3:0");
    }
}

#[test]
fn slurm_log_directories_that_do_not_exist_are_created_and_hold_the_logs() {
    if let Some(s) = Sched::slurm() {
        real::log_directories(&s);
    }
}
