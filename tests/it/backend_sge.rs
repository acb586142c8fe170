//! Against the real SGE that `scripts/test.sh` starts (skipped with a reason when absent,
//! mandatory under `CI=true`).

use crate::real::{self, Sched};

#[test]
fn sge_jobs_and_an_array_go_pending_running_done() {
    if let Some(s) = Sched::sge() {
        real::jobs_and_array(&s);
    }
}

#[test]
fn sge_cancel_one_then_down_leaves_nothing() {
    if let Some(s) = Sched::sge() {
        real::cancel_one_then_down(&s);
    }
}

#[test]
fn sge_walltime_kill_is_reported_as_timeout() {
    if let Some(s) = Sched::sge() {
        real::walltime_kill(&s, 60);
    }
}

#[test]
fn sge_failing_prologue_stops_up_with_the_exit_status_and_the_marker() {
    if let Some(s) = Sched::sge() {
        real::failing_prologue(&s, "exit_status 3");
    }
}

#[test]
fn sge_log_directories_that_do_not_exist_are_created_and_hold_the_logs() {
    if let Some(s) = Sched::sge() {
        real::log_directories(&s);
    }
}
