//! A restarted server: tasks left running wait for their worker, claims, disowns, requeues.

use super::*;

/// A core restarted with tasks 0 and 1 left running on batch job "7" and task 2 pending.
fn restarted_core() -> Core {
    let mut c = core(60, H);
    c.restore_orphan(task("a"), "7".into(), TaskHistory::default(), s(60));
    c.restore_orphan(task("b"), "7".into(), TaskHistory::default(), s(60));
    c.restore_task(task("c"), TaskState::Pending, TaskHistory::default());
    c.close_input();
    c
}

fn rejoin(job: &str, claims: &[(u64, u32)]) -> WorkerHello {
    WorkerHello {
        job: Some(JobId::new(job)),
        claims: claims
            .iter()
            .map(|&(task, slot)| Claim {
                task,
                slot,
                secs: 5.0,
            })
            .collect(),
        ..hello(H)
    }
}

#[test]
fn tasks_left_running_wait_for_their_worker_and_are_not_dispatched() {
    let mut c = restarted_core();
    assert_eq!(c.counts().running, 2);
    assert_eq!(c.counts().pending, 1);
    // Another worker only gets the pending task.
    c.on_worker_hello(9, hello(H), s(1));
    assert_eq!(run_id(&c.on_ask(9, 0, s(1))), 2);
    assert!(!c.is_finished());
}

#[test]
fn a_returning_worker_claims_its_tasks_and_reports_them() {
    let mut c = restarted_core();
    c.on_worker_hello(1, rejoin("7", &[(0, 0), (1, 1)]), s(2));
    let out = c.on_claims(1, s(2));
    assert_eq!(out, ClaimOutcome::default());
    assert_eq!(
        c.task_state(1),
        Some(&TaskState::Running { worker: 1, slot: 1 })
    );
    let ev = c
        .on_task_ended(1, 0, RunEnd::Exited { code: 0 }, 30.0, s(10))
        .unwrap();
    assert_eq!(ev.outcome, Outcome::Done);
    assert_eq!(c.counts().running, 1);
    assert_eq!(c.counts().requeued, 0);
}

#[test]
fn claims_of_other_tasks_are_disowned_and_unclaimed_tasks_requeued() {
    let mut c = restarted_core();
    // Task 2 was never this job's; task 1 is not claimed.
    c.on_worker_hello(1, rejoin("7", &[(0, 0), (2, 1)]), s(2));
    let out = c.on_claims(1, s(2));
    assert_eq!(out.disowned, [2]);
    assert_eq!(out.requeued.len(), 1);
    assert_eq!(out.requeued[0].task, 1);
    assert_eq!(c.task_state(1), Some(&TaskState::Pending));
    assert_eq!(c.task_state(2), Some(&TaskState::Pending));
}

#[test]
fn tasks_left_running_are_requeued_when_their_job_ends_or_their_worker_stays_away() {
    let mut c = restarted_core();
    let evs = c.on_job_ended("7");
    assert_eq!(evs.iter().map(|e| e.task).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(c.counts().pending, 3);
    assert_eq!(c.counts().running, 0);

    let mut c = restarted_core();
    assert!(c.expire_orphans(s(59)).is_empty());
    assert_eq!(c.expire_orphans(s(60)).len(), 2);
    assert_eq!(c.counts().running, 0);
    // A worker coming back after that has its claims disowned.
    c.on_worker_hello(1, rejoin("7", &[(0, 0)]), s(61));
    assert_eq!(c.on_claims(1, s(61)).disowned, [0]);
}

#[test]
fn a_worker_reconnecting_to_the_same_server_takes_its_tasks_from_its_old_connection() {
    let mut c = core(60, H);
    c.on_tasks_added(vec![task("a"), task("b")]);
    let first = WorkerHello {
        job: Some(JobId::new("7")),
        ..hello(H)
    };
    c.on_worker_hello(1, first, s(0));
    assert_eq!(run_id(&c.on_ask(1, 0, s(0))), 0);
    // The same batch job's worker comes back on a new connection before the old one is seen
    // closed: it keeps task 0, and the old connection's loss then requeues nothing.
    c.on_worker_hello(2, rejoin("7", &[(0, 0)]), s(5));
    assert_eq!(c.on_claims(2, s(5)), ClaimOutcome::default());
    assert_eq!(
        c.task_state(0),
        Some(&TaskState::Running { worker: 2, slot: 0 })
    );
    assert!(c.on_worker_lost(1, "connection reset", s(6)).is_empty());
    assert_eq!(c.counts().running, 1);
    let ev = c
        .on_task_ended(2, 0, RunEnd::Exited { code: 0 }, 10.0, s(10))
        .unwrap();
    assert_eq!(ev.outcome, Outcome::Done);
    // Another job's worker cannot take it.
    let mut c = core(60, H);
    c.on_tasks_added(vec![task("a")]);
    c.on_worker_hello(
        1,
        WorkerHello {
            job: Some(JobId::new("7")),
            ..hello(H)
        },
        s(0),
    );
    c.on_ask(1, 0, s(0));
    c.on_worker_hello(2, rejoin("8", &[(0, 0)]), s(5));
    assert_eq!(c.on_claims(2, s(5)).disowned, [0]);
}
