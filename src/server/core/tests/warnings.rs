//! The batch system's warning that a batch job ends soon: the worker's tasks are admitted
//! against the warning plus `checkpoint_lead`, not the deadline of its hello; the deadline of
//! its hello still says what the walltime ended.

use super::super::CheckpointRule;
use super::*;

/// A 10 s buffer, 10 s tasks, a 60 s lead.
fn core_warned() -> Core {
    core_with(Buffer::Fixed(s(10)), 10, H).with_checkpoint_rule(
        Some(CheckpointRule {
            signal: crate::process::Signal::SIGUSR1,
            lead: s(60),
            exit_code: 85,
            max_checkpoints: 100,
        }),
        false,
    )
}

fn timed(cmd: &str, secs: f64) -> TaskSpec {
    TaskSpec {
        time: Some(secs),
        ..task(cmd)
    }
}

#[test]
fn a_warned_worker_starts_only_tasks_that_end_within_the_lead() {
    let mut c = core_warned();
    c.on_tasks_added(vec![timed("long", 100.0), timed("short", 30.0)]);
    c.on_worker_hello(1, hello(H), s(0));
    // Warned at 100 s: tasks must end by 160 s (with the 10 s buffer).
    assert_eq!(c.on_warned(1, s(100), s(101)), Some(s(160)));
    // The 100 s task no longer fits; the 30 s one does (best fit behind it).
    assert_eq!(run_id(&c.on_ask(1, 0, s(101))), 1);
    c.on_task_ended(1, 1, RunEnd::Exited { code: 0 }, 30.0, s(131));
    match c.on_ask(1, 0, s(131)) {
        Dispatch::Retire { reason } => assert!(reason.contains("left"), "{reason}"),
        other => panic!("the 100 s task started 29 s before the warned end: {other:?}"),
    }
    // Another worker, not warned, takes it.
    c.on_worker_hello(2, hello(H), s(131));
    assert_eq!(run_id(&c.on_ask(2, 0, s(131))), 0);
}

#[test]
fn a_warning_never_moves_the_deadline_later_and_needs_a_checkpoint_lead() {
    let mut c = core_warned();
    c.on_worker_hello(1, hello(100), s(0));
    // Warned at 90 s: 90 + 60 is after the deadline of 100 s.
    assert_eq!(c.on_warned(1, s(90), s(90)), None);
    assert_eq!(c.workers[&1].admit_by(), s(100));
    assert_eq!(c.on_warned(1, s(20), s(20)), Some(s(80)));
    // A second warning later than the first changes nothing.
    assert_eq!(c.on_warned(1, s(30), s(30)), None);
    assert_eq!(c.workers[&1].admit_by(), s(80));
    // Without `checkpoint_signal` the warning's lead is not known: nothing moves.
    let mut plain = core(10, H);
    plain.on_worker_hello(1, hello(H), s(0));
    assert_eq!(plain.on_warned(1, s(100), s(100)), None);
    assert_eq!(plain.workers[&1].admit_by(), s(H));
    // Nor for a worker the core does not know.
    assert_eq!(c.on_warned(9, s(20), s(20)), None);
}

#[test]
fn a_run_lost_after_the_warning_but_before_the_walltime_is_no_walltime_kill() {
    let mut c = core_warned();
    c.on_tasks_added(vec![timed("a", 30.0)]);
    c.on_worker_hello(1, hello(H), s(0));
    run_id(&c.on_ask(1, 0, s(0)));
    c.on_warned(1, s(100), s(100));
    // Lost at 200 s: after the warned end (160 s), long before the deadline of its hello.
    let ev = c.on_worker_lost(1, "connection closed", s(200));
    assert!(
        matches!(
            ev[0].outcome,
            Outcome::Requeued {
                walltime: false,
                ..
            }
        ),
        "{:?}",
        ev[0].outcome
    );
}
