//! Reports of copies the core no longer counts on (issue 11): a finished result is kept
//! whenever it arrives, unless the task completed elsewhere; a stale copy's failure changes
//! nothing. Each order of events of `docs/reliability.md` ("Copies of a task") has a test.

use super::*;
use crate::protocol::RunId;

const OK: RunEnd = RunEnd::Exited { code: 0 };
const KILL9: RunEnd = RunEnd::Signaled { signal: 9 };

fn of_job(job: &str, claims: Vec<Claim>) -> WorkerHello {
    WorkerHello {
        job: Some(JobId::new(job)),
        claims,
        ..hello(H)
    }
}

fn run_of(d: &Dispatch) -> (TaskId, RunId) {
    match d {
        Dispatch::Run { task, run, .. } => (*task, *run),
        other => panic!("expected a task, got {other:?}"),
    }
}

/// One task, started on worker 1 (batch job "7") as run `r1`, then requeued because the
/// server lost that worker (its connection dropped) while the task went on running.
fn requeued_while_running() -> (Core, RunId) {
    let mut c = core(10, H);
    c.on_tasks_added(vec![task("x")]);
    c.close_input();
    c.on_worker_hello(1, of_job("7", Vec::new()), s(0));
    let (t, r1) = run_of(&c.on_ask(1, 0, s(0)));
    assert_eq!(t, 0);
    c.on_worker_lost(1, "connection closed", s(3));
    assert_eq!(c.task_state(0), Some(&TaskState::Pending));
    (c, r1)
}

/// Worker 1 comes back as worker 3 holding the finished copy `r1`, whose report follows.
fn comes_back_finished(c: &mut Core, r1: RunId, now: u64) {
    let done = Claim {
        task: 0,
        slot: u32::MAX,
        secs: 4.0,
        run: r1,
    };
    c.on_worker_hello(3, of_job("7", vec![done]), s(now));
    let out = c.on_claims(3, s(now));
    assert_eq!(
        out,
        ClaimOutcome::default(),
        "a finished copy is not disowned"
    );
}

#[test]
fn a_result_reported_after_the_requeue_withdraws_the_pending_copy() {
    let (mut c, r1) = requeued_while_running();
    comes_back_finished(&mut c, r1, 5);
    let out = c.on_run_ended(3, 0, r1, OK, 4.0, s(5));
    assert_eq!(out.event.map(|e| e.outcome), Some(Outcome::Done));
    assert!(out.stop.is_empty());
    assert_eq!(c.task_state(0), Some(&TaskState::Done));
    assert_eq!((c.counts().pending, c.counts().done), (0, 1));
    assert!(c.is_finished());
    // Nothing is left to run: the pending copy is gone from the queue.
    c.on_worker_hello(2, hello(H), s(6));
    assert_eq!(c.on_ask(2, 0, s(6)), Dispatch::Stop);
}

#[test]
fn a_result_reported_after_the_copy_started_stops_that_copy() {
    let (mut c, r1) = requeued_while_running();
    c.on_worker_hello(2, hello(H), s(4));
    let (_, r2) = run_of(&c.on_ask(2, 0, s(4)));
    assert_ne!(r1, r2, "every start has its own run ID");
    comes_back_finished(&mut c, r1, 5);
    let out = c.on_run_ended(3, 0, r1, OK, 4.0, s(5));
    assert_eq!(out.event.map(|e| e.outcome), Some(Outcome::Done));
    assert_eq!(out.stop, [(2, 0, r2)], "the running copy is stopped");
    // The stopped copy's end ("killed by signal 9") changes nothing.
    let late = c.on_run_ended(2, 0, r2, KILL9, 1.0, s(6));
    assert_eq!(late, Reported::default());
    assert_eq!(c.task_state(0), Some(&TaskState::Done));
    let n = c.counts();
    assert_eq!((n.done, n.failed, n.killed, n.running), (1, 0, 0, 0));
    assert!(c.is_finished());
}

#[test]
fn when_the_new_copy_finishes_first_the_late_reports_change_nothing() {
    let (mut c, r1) = requeued_while_running();
    c.on_worker_hello(2, hello(H), s(4));
    let (_, r2) = run_of(&c.on_ask(2, 0, s(4)));
    let first = c.on_run_ended(2, 0, r2, OK, 5.0, s(9));
    assert_eq!(first.event.map(|e| e.outcome), Some(Outcome::Done));
    let before = c.counts().clone();
    comes_back_finished(&mut c, r1, 10);
    assert_eq!(
        c.on_run_ended(3, 0, r1, OK, 4.0, s(10)),
        Reported::default()
    );
    assert_eq!(
        c.on_run_ended(3, 0, r1, KILL9, 4.0, s(10)),
        Reported::default()
    );
    assert_eq!(c.counts(), &before, "a second success is not counted");
    assert_eq!(c.counts().done, 1);
}

#[test]
fn a_late_failure_of_a_stale_copy_leaves_the_running_copy_alone() {
    let (mut c, r1) = requeued_while_running();
    c.on_worker_hello(2, hello(H), s(4));
    let (_, r2) = run_of(&c.on_ask(2, 0, s(4)));
    comes_back_finished(&mut c, r1, 5);
    assert_eq!(
        c.on_run_ended(3, 0, r1, KILL9, 4.0, s(5)),
        Reported::default()
    );
    assert_eq!(
        c.on_run_ended(3, 0, r1, RunEnd::Exited { code: 1 }, 4.0, s(5)),
        Reported::default()
    );
    assert_eq!(
        c.task_state(0),
        Some(&TaskState::Running { worker: 2, slot: 0 })
    );
    let out = c.on_run_ended(2, 0, r2, OK, 3.0, s(7));
    assert_eq!(out.event.map(|e| e.outcome), Some(Outcome::Done));
    assert_eq!((c.counts().failed, c.counts().done), (0, 1));
}

/// The reproduction of issue 11: a copy disowned at the hello of its worker, and a new copy
/// of the same task sent to the same worker; the disowned copy's "killed by signal 9" used
/// to mark the task killed (and `up` exited 1) while the new copy went on to complete it.
#[test]
fn a_disowned_copy_killed_on_the_same_worker_does_not_end_the_new_copy() {
    let (mut c, r1) = requeued_while_running();
    let still_running = Claim {
        task: 0,
        slot: 0,
        secs: 3.0,
        run: r1,
    };
    c.on_worker_hello(3, of_job("7", vec![still_running]), s(5));
    assert_eq!(c.on_claims(3, s(5)).disowned, [(0, r1)]);
    let (_, r2) = run_of(&c.on_ask(3, 0, s(5)));
    assert_eq!(
        c.on_run_ended(3, 0, r1, KILL9, 3.0, s(5)),
        Reported::default()
    );
    assert_eq!(
        c.task_state(0),
        Some(&TaskState::Running { worker: 3, slot: 0 })
    );
    let out = c.on_run_ended(3, 0, r2, OK, 2.0, s(7));
    assert_eq!(out.event.map(|e| e.outcome), Some(Outcome::Done));
    assert_eq!((c.counts().killed, c.counts().done), (0, 1));
}

#[test]
fn a_success_after_the_task_failed_makes_it_done() {
    let mut c = core(10, H).with_failure_rules(0, None);
    c.on_tasks_added(vec![task("x")]);
    c.close_input();
    c.on_worker_hello(1, hello(H), s(0));
    let (_, r1) = run_of(&c.on_ask(1, 0, s(0)));
    c.on_worker_lost(1, "connection closed", s(1));
    c.on_worker_hello(2, hello(H), s(2));
    let (_, r2) = run_of(&c.on_ask(2, 0, s(2)));
    c.on_run_ended(2, 0, r2, RunEnd::Exited { code: 3 }, 1.0, s(3));
    assert_eq!(c.counts().failed, 1);
    c.on_worker_hello(4, hello(H), s(4));
    let out = c.on_run_ended(4, 0, r1, OK, 4.0, s(4));
    assert_eq!(out.event.map(|e| e.outcome), Some(Outcome::Done));
    assert_eq!((c.counts().failed, c.counts().done), (0, 1));
}

#[test]
fn a_cancelled_task_stays_cancelled_whatever_a_stale_copy_reports() {
    let (mut c, r1) = requeued_while_running();
    c.on_cancel(&[0], s(4));
    comes_back_finished(&mut c, r1, 5);
    assert_eq!(c.on_run_ended(3, 0, r1, OK, 4.0, s(5)), Reported::default());
    assert_eq!(c.task_state(0), Some(&TaskState::Cancelled));
}

#[test]
fn an_orphan_is_claimed_by_its_own_run_only() {
    let orphaned = || {
        let mut c = core(60, H);
        c.restore_orphan(task("a"), "7".into(), TaskHistory::default(), 41, s(60));
        c.close_input();
        c
    };
    let claim = |run| Claim {
        task: 0,
        slot: 0,
        secs: 5.0,
        run,
    };
    // Another start of the task on the same batch job is not the one the journal recorded.
    let mut c = orphaned();
    c.on_worker_hello(1, of_job("7", vec![claim(40)]), s(1));
    let out = c.on_claims(1, s(1));
    assert_eq!(out.disowned, [(0, 40)]);
    assert_eq!(out.requeued.len(), 1);
    // The recorded start is its worker's again, and its report ends the task.
    let mut c = orphaned();
    c.on_worker_hello(1, of_job("7", vec![claim(41)]), s(1));
    assert_eq!(c.on_claims(1, s(1)), ClaimOutcome::default());
    let end = c.on_run_ended(1, 0, 41, OK, 9.0, s(3));
    assert_eq!(end.event.map(|e| e.outcome), Some(Outcome::Done));
}
