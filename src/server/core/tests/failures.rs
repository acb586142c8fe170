//! Failed runs: reruns (`retries_on_failure`, kept apart from `retries`), kills by a signal,
//! timeouts, and tasks the walltime killed: what they needed, and the hopeless ones that end.

use super::*;

fn core_rerun(n: u32) -> Core {
    core(10, 100).with_failure_rules(n, Some(s(30)))
}

fn end(c: &mut Core, w: WorkerId, t: TaskId, how: RunEnd, secs: f64, at: u64) -> Outcome {
    c.on_task_ended(w, t, how, secs, s(at)).unwrap().outcome
}

#[test]
fn a_failed_run_runs_again_while_retries_on_failure_last_then_fails_with_its_exit_code() {
    let mut c = core_rerun(1);
    c.on_tasks_added(vec![task("flaky")]);
    c.on_worker_hello(1, hello(1000), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let first = end(&mut c, 1, t, RunEnd::Exited { code: 3 }, 1.0, 1);
    assert_eq!(
        first,
        Outcome::Rerun {
            reason: "exit status 3".into(),
            exit_code: Some(3),
            signal: None
        }
    );
    assert_eq!((c.counts().pending, c.counts().reruns), (1, 1));
    // A rerun is no lost run: `retries` stays whole.
    assert_eq!(c.tasks.lost_runs(t), 0);
    assert_eq!(run_id(&c.on_ask(1, 0, s(1))), t);
    let second = end(&mut c, 1, t, RunEnd::Exited { code: 4 }, 1.0, 2);
    assert_eq!(
        second,
        Outcome::Failed {
            reason: "exit status 4, 2 times (retries_on_failure = 1)".into(),
            exit_code: Some(4),
            walltime: false,
        }
    );
    assert_eq!(c.counts().failed, 1);
    assert_eq!(c.tasks.history(t).attempts, 2);
}

#[test]
fn a_task_sets_its_own_retries_on_failure() {
    let mut c = core_rerun(5);
    let mut once = task("false");
    once.retries_on_failure = Some(0);
    c.on_tasks_added(vec![once]);
    c.on_worker_hello(1, hello(1000), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let o = end(&mut c, 1, t, RunEnd::Exited { code: 1 }, 1.0, 1);
    assert!(matches!(o, Outcome::Failed { .. }), "{o:?}");
}

#[test]
fn a_signal_nobody_sent_ends_the_task_killed() {
    let mut c = core(10, 1000);
    c.on_tasks_added(vec![task("oom")]);
    c.on_worker_hello(1, hello(1000), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let o = end(&mut c, 1, t, RunEnd::Signaled { signal: 9 }, 5.0, 5);
    assert_eq!(
        o,
        Outcome::Killed {
            reason: "killed by signal 9".into(),
            signal: Some(9)
        }
    );
    assert_eq!((c.counts().killed, c.counts().failed), (1, 0));
    assert_eq!(c.task_state(t).unwrap().name(), StateName::Killed);
}

#[test]
fn the_timeout_goes_to_the_worker_and_a_run_past_it_fails_with_the_reason() {
    let mut c = core_rerun(0);
    let mut own = task("b");
    own.timeout = Some(5.0);
    c.on_tasks_added(vec![task("a"), own]);
    c.on_worker_hello(1, hello(1000), s(0));
    let Dispatch::Run { spec, task: t, .. } = c.on_ask(1, 0, s(0)) else {
        panic!()
    };
    assert_eq!(spec.timeout, Some(30.0), "the cluster's task_timeout");
    let o = end(&mut c, 1, t, RunEnd::TimedOut, 32.0, 32);
    assert_eq!(
        o,
        Outcome::Failed {
            reason: "timed out after 32s (task_timeout 30s)".into(),
            exit_code: None,
            walltime: false,
        }
    );
    let Dispatch::Run { spec, .. } = c.on_ask(1, 0, s(32)) else {
        panic!()
    };
    assert_eq!(spec.timeout, Some(5.0), "the task's own timeout wins");
}

/// Walltime 100 s, buffer 5 s: usable 95 s.
#[test]
fn a_task_the_walltime_killed_after_nearly_a_whole_batch_job_fails_at_once_with_the_walltime_that_fits(
) {
    let mut c = core(10, 100);
    c.on_tasks_added(vec![task("sleep 200"), task("true")]);
    c.on_worker_hello(1, hello(100), s(0));
    assert_eq!(run_id(&c.on_ask(1, 0, s(1))), 0);
    // The batch system kills the whole batch job: the server sees its worker go at 100.4 s.
    let ev = c.on_worker_lost(1, "connection closed", Duration::from_millis(100_400));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].secs, 99.0, "the real running time, to the deadline");
    match &ev[0].outcome {
        Outcome::Failed { reason, .. } => assert_eq!(
            reason,
            "needs more than the walltime allows: ran >= 1m39s, usable 1m35s; raise `walltime` to 1m55s"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.counts().walltime_kills, 1);
    assert_eq!(c.counts().requeued, 0);
    // The other task is unaffected.
    c.on_worker_hello(2, hello(300), s(101));
    assert_eq!(run_id(&c.on_ask(2, 0, s(101))), 1);
}

#[test]
fn a_task_killed_after_a_short_run_learns_what_it_needs_and_waits_for_a_worker_with_that_time() {
    let mut c = core(10, 100);
    c.on_tasks_added(vec![task("sleep 30")]);
    c.on_worker_hello(1, hello(100), s(0));
    // Started late (estimate 10 s), killed at the deadline after 20 s.
    let t = run_id(&c.on_ask(1, 0, s(80)));
    let o = end(
        &mut c,
        1,
        t,
        RunEnd::Interrupted { walltime: true },
        20.0,
        100,
    );
    assert!(
        matches!(o, Outcome::Requeued { walltime: true, .. }),
        "{o:?}"
    );
    assert_eq!(c.tasks.time(t), Some(20.0 * crate::estimate::MARGIN));
    // A worker with 25 s left (20 s of it with the buffer) cannot take 22 s; a fresh one can.
    c.on_worker_hello(2, hello(125), s(100));
    assert!(matches!(c.on_ask(2, 0, s(100)), Dispatch::Retire { .. }));
    c.on_worker_hello(3, hello(200), s(100));
    assert_eq!(run_id(&c.on_ask(3, 0, s(100))), t);
}

#[test]
fn a_resumed_task_that_its_kills_showed_cannot_fit_fails_instead_of_waiting_forever() {
    let mut c = core(10, 100);
    let mut h = TaskHistory::default();
    h.on_started(Some("1".into()), Some("n".into()), 0.0);
    h.on_ended(
        &Outcome::Requeued {
            reason: "killed by the walltime".into(),
            walltime: true,
        },
        90.0,
    );
    c.restore_task(task("sleep 200"), TaskState::Pending, h);
    match c.task_state(0).unwrap() {
        TaskState::Failed { reason } => {
            assert!(
                reason.starts_with("needs more than the walltime allows: ran >= 1m30s"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}
