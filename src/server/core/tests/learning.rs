//! Issue 12 in the core: estimates learned from the first finished task and per class,
//! admission at the overrun risk, the best fit at the tail of a batch job, the fresh slot
//! that may take a task as long as a batch job, and slots that leave when nothing can come
//! back to them.

use super::*;

fn no_task_time(buffer: Buffer, walltime: u64) -> Core {
    Core::new(CoreConfig {
        budget: Budget::new(s(walltime), buffer, Duration::ZERO, 1),
        retries: 2,
        idle_timeout: s(30),
        heartbeat_timeout: s(30),
    })
}

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

fn named(name: &str) -> TaskSpec {
    TaskSpec {
        cmd: format!("run {name}"),
        name: Some(name.into()),
        ..TaskSpec::default()
    }
}

fn done(c: &mut Core, w: WorkerId, t: TaskId, secs: f64, now: Duration) {
    c.on_task_ended(w, t, RunEnd::Exited { code: 0 }, secs, now);
}

/// The seed failure without `task_time` (issue 12): 6 tasks of 3 s, walltime 5 s. The first
/// finished task teaches the estimate, so a worker with 2 s left does not start a 3 s task.
#[test]
fn without_task_time_the_first_finished_task_stops_a_start_that_cannot_finish() {
    let mut c = no_task_time(Buffer::Percent(5.0), 5);
    c.on_tasks_added((0..6).map(|i| task(&i.to_string())));
    c.close_input();
    c.on_worker_hello(1, hello(5), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    done(&mut c, 1, t, 3.0, s(3));
    assert_eq!(
        c.default_estimate(),
        ms(4750),
        "twice 3 s, capped at the usable time"
    );
    match c.on_ask(1, 0, s(3)) {
        Dispatch::Retire { reason } => assert!(reason.contains("2s left"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A fresh worker (connected 0.3 s into its batch job) still takes one: the estimate is
    // at the cap, and nothing loops.
    c.on_worker_hello(
        2,
        WorkerHello {
            deadline: ms(8000),
            ..hello(0)
        },
        ms(3300),
    );
    assert_eq!(run_id(&c.on_ask(2, 0, ms(3300))), 1);
}

/// A slot that has used its batch job does not take a task at the cap: only a fresh one does.
#[test]
fn only_a_fresh_slot_takes_a_task_whose_estimate_fills_a_batch_job() {
    let mut c = no_task_time(Buffer::Fixed(Duration::ZERO), 100);
    c.on_tasks_added((0..3).map(|i| task(&i.to_string())));
    c.on_worker_hello(1, hello(100), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    done(&mut c, 1, t, 90.0, s(90));
    assert_eq!(c.default_estimate(), s(100));
    // Its slot has started a task: it retires.
    assert!(matches!(c.on_ask(1, 0, s(90)), Dispatch::Retire { .. }));
    // Fresh, but connected at half its walltime: not fresh enough.
    c.on_worker_hello(2, hello(150), s(100));
    assert!(matches!(c.on_ask(2, 0, s(100)), Dispatch::Retire { .. }));
    c.on_worker_hello(3, hello(195), s(100));
    assert_eq!(run_id(&c.on_ask(3, 0, s(100))), 1);
}

/// Each class learns on its own: long tasks do not make short ones look long.
#[test]
fn classes_learn_apart_and_a_new_class_borrows_the_whole_run() {
    let mut c = no_task_time(Buffer::Fixed(Duration::ZERO), 10 * H);
    c.on_tasks_added(vec![named("long-1"), named("short-1"), named("new-1")]);
    c.on_worker_hello(1, hello(10 * H), s(0));
    c.on_worker_hello(2, hello(10 * H), s(0));
    let long = run_id(&c.on_ask(1, 0, s(0)));
    let short = run_id(&c.on_ask(2, 0, s(0)));
    done(&mut c, 2, short, 100.0, s(100));
    done(&mut c, 1, long, 3000.0, s(3000));
    assert_eq!(c.estimates.class_at("short", s(3000)), s(200));
    assert_eq!(c.estimates.class_at("long", s(3000)), s(6000));
    // The pooled sketch holds both: its 99th percentile is the longest, times 1 + 1/sqrt(2).
    let pooled = c.estimates.class_at("new", s(3000)).as_secs_f64();
    assert!(
        (pooled - 3000.0 * (1.0 + 0.5f64.sqrt())).abs() < 1e-6,
        "{pooled}"
    );
}

/// The oldest task does not fit the tail of a batch job: the slot takes the pending task that
/// fits best (the longest that fits) instead of retiring; FIFO (best fit off) takes the first
/// task with its own time that fits, never a shorter class.
#[test]
fn at_the_tail_of_a_batch_job_the_best_fitting_class_is_taken() {
    let setup = |best_fit: bool| {
        let mut c = no_task_time(Buffer::Fixed(Duration::ZERO), 4 * H);
        c.cfg.budget = c.cfg.budget.with_best_fit(best_fit);
        // One task seen per class, no task_time: estimates are twice that, long 60 min,
        // mid 25 min, short 10 min.
        for (name, secs) in [("long", 1800.0), ("mid", 750.0), ("short", 300.0)] {
            c.learn(Some(name), secs);
        }
        let mut t20 = task("twenty");
        t20.time = Some(20.0 * 60.0);
        let mut t5 = task("five");
        t5.time = Some(5.0 * 60.0);
        c.on_tasks_added(vec![
            named("long-1"),
            named("long-2"),
            named("short-1"),
            named("mid-1"),
            t20,
            t5,
        ]);
        c.on_worker_hello(1, hello(4 * H), s(0));
        assert_eq!(
            run_id(&c.on_ask(1, 0, s(0))),
            0,
            "FIFO while the oldest fits"
        );
        let now = s(3 * H + 30 * 60);
        c.on_task_ended(1, 0, RunEnd::Exited { code: 0 }, 1800.0, now);
        c.on_ask(1, 0, now)
    };
    // 30 min left: long-2 (60 min) does not fit; mid-1 (25 min) is the longest that does.
    assert_eq!(run_id(&setup(true)), 3);
    assert_eq!(run_id(&setup(false)), 4);
}

/// The overrun risk sets the quantile admission uses.
#[test]
fn a_higher_overrun_risk_admits_what_a_strict_one_refuses() {
    let run = |risk: f64| {
        let mut c = Core::new(CoreConfig {
            budget: Budget::new(s(1000), Buffer::Fixed(Duration::ZERO), Duration::ZERO, 1)
                .with_task_time(Some(s(1)))
                .with_overrun_risk(risk),
            retries: 2,
            idle_timeout: s(30),
            heartbeat_timeout: s(30),
        });
        for i in 1..=100 {
            c.learn(None, i as f64);
        }
        c.on_tasks_added(vec![task("x")]);
        c.on_worker_hello(1, hello(1000), s(0));
        // 97 s left: the 99th percentile (99 s) does not fit, the 95th does.
        c.on_ask(1, 0, s(903))
    };
    assert!(matches!(run(0.01), Dispatch::Retire { .. }));
    assert!(matches!(run(0.05), Dispatch::Run { .. }));
}

/// In a closed run with nothing pending, a slot leaves at once unless a running task could
/// come back to it (it would fit the slot's time left); then it waits for it.
#[test]
fn a_slot_with_nothing_to_wait_for_leaves_at_once() {
    let mut c = core(3, 10);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.close_input();
    c.on_worker_hello(1, hello(10), s(0));
    c.on_worker_hello(2, hello(100), s(0));
    run_id(&c.on_ask(1, 0, s(0)));
    let b = run_id(&c.on_ask(2, 0, s(0)));
    done(&mut c, 2, b, 3.0, s(3));
    // Worker 2 has 97 s left: task a (3 s) could come back to it: it waits.
    assert_eq!(c.on_ask(2, 0, s(3)), Dispatch::Park);
    // Worker 1 asks at 8 s with 2 s left (less the buffer): nothing could come back.
    let mut c = core(3, 10);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.close_input();
    c.on_worker_hello(1, hello(10), s(0));
    c.on_worker_hello(2, hello(100), s(5));
    let a = run_id(&c.on_ask(1, 0, s(0)));
    run_id(&c.on_ask(2, 0, s(5)));
    done(&mut c, 1, a, 3.0, s(8));
    match c.on_ask(1, 0, s(8)) {
        Dispatch::Retire { reason } => assert_eq!(
            reason,
            "nothing pending, and no running task could come back to this worker's time left"
        ),
        other => panic!("{other:?}"),
    }
    // An open cluster keeps the idle wait.
    let mut open = core(3, 10);
    open.on_tasks_added(vec![task("a")]);
    open.on_worker_hello(1, hello(10), s(0));
    let a = run_id(&open.on_ask(1, 0, s(0)));
    done(&mut open, 1, a, 3.0, s(8));
    assert_eq!(open.on_ask(1, 0, s(8)), Dispatch::Park);
}

/// A parked slot leaves once the running tasks it waited for could no longer come back.
#[test]
fn a_parked_slot_leaves_when_its_time_left_no_longer_fits_a_running_task() {
    let mut c = core(30, 100);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.close_input();
    c.on_worker_hello(1, hello(100), s(0));
    c.on_worker_hello(2, hello(1000), s(0));
    run_id(&c.on_ask(2, 0, s(0)));
    let b = run_id(&c.on_ask(1, 0, s(0)));
    done(&mut c, 1, b, 30.0, s(30));
    assert_eq!(c.on_ask(1, 0, s(30)), Dispatch::Park);
    assert!(c.on_wake(s(40)).is_empty());
    // At 55 s (before the idle timeout) worker 1 has 40 s left less the 5 s buffer: task a,
    // running for 55 s, is expected to need 60.5 s if it came back.
    let woken = c.on_wake(s(55));
    assert!(
        matches!(woken.as_slice(), [(1, 0, Dispatch::Retire { .. })]),
        "{woken:?}"
    );
}
