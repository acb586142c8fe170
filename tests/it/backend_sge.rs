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
