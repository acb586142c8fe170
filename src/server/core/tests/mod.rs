//! Unit tests of the scheduling core, time passed in: dispatch, admission, losses and retries
//! here; sending ahead in [`prefetch`]; a restarted server's orphans and claims in [`restart`].

mod checkpoints;
mod failures;
mod forgiven;
mod learning;
mod prefetch;
mod requests;
mod restart;
mod stale;
mod supply;
mod warnings;

use super::*;
use crate::backend::JobId;
use crate::budget::Buffer;
use crate::protocol::{Claim, RunEnd};
use crate::task::{Outcome, TaskHistory};

const H: u64 = 3600;

fn s(x: u64) -> Duration {
    Duration::from_secs(x)
}

fn core(task_time: u64, walltime: u64) -> Core {
    core_with(Buffer::Percent(5.0), task_time, walltime)
}

fn core_with(buffer: Buffer, task_time: u64, walltime: u64) -> Core {
    Core::new(CoreConfig {
        budget: Budget::new(s(walltime), buffer, Duration::ZERO, 1)
            .with_task_time(Some(s(task_time))),
        retries: 2,
        idle_timeout: s(30),
        heartbeat_timeout: s(30),
    })
}

fn hello(deadline: u64) -> WorkerHello {
    WorkerHello {
        job: None,
        slots: 1,
        deadline: s(deadline),
        host: "n1".into(),
        claims: Vec::new(),
    }
}

fn task(cmd: &str) -> TaskSpec {
    TaskSpec {
        cmd: cmd.into(),
        ..TaskSpec::default()
    }
}

fn run_id(d: &Dispatch) -> TaskId {
    match d {
        Dispatch::Run { task, .. } => *task,
        other => panic!("expected a task, got {other:?}"),
    }
}

#[test]
fn seed_scenario_second_four_hour_task_is_not_started() {
    let mut c = core(4 * H, 5 * H);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.close_input();
    c.on_worker_hello(1, hello(5 * H), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    assert_eq!(t, 0);
    let ev = c
        .on_task_ended(1, t, RunEnd::Exited { code: 0 }, (4 * H) as f64, s(4 * H))
        .unwrap();
    assert_eq!(ev.outcome, Outcome::Done);
    match c.on_ask(1, 0, s(4 * H)) {
        Dispatch::Retire { reason } => assert!(reason.contains("1h left"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A fresh worker takes the second task.
    c.on_worker_hello(2, hello(4 * H + 5 * H), s(4 * H));
    assert_eq!(run_id(&c.on_ask(2, 0, s(4 * H))), 1);
}

#[test]
fn tasks_with_own_time_are_packed_into_the_remaining_time() {
    let mut c = core(3, 7);
    let mut specs = Vec::new();
    for i in 0..4 {
        let mut t = task(&format!("short{i}"));
        t.time = Some(1.0);
        specs.push(t);
    }
    let mut long = task("long");
    long.time = Some(3.0);
    specs.push(long);
    c.on_tasks_added(specs);
    c.close_input();
    c.on_worker_hello(1, hello(7), s(0));
    let mut now = 0;
    let mut ran = Vec::new();
    loop {
        match c.on_ask(1, 0, s(now)) {
            Dispatch::Run { task, spec, .. } => {
                let d = spec.time.unwrap() as u64;
                now += d;
                ran.push(task);
                c.on_task_ended(1, task, RunEnd::Exited { code: 0 }, d as f64, s(now));
            }
            Dispatch::Retire { .. } | Dispatch::Stop => break,
            Dispatch::Park | Dispatch::Busy => panic!("parked with work left"),
        }
    }
    // 4 x 1 s, then the 3 s task would end at 7 s > 7 - 0.35: not started.
    assert_eq!(ran, vec![0, 1, 2, 3]);
    assert_eq!(c.counts().pending, 1);
}

#[test]
fn a_lost_worker_requeues_its_task_until_retries_run_out() {
    let mut c = core(10, 100);
    c.on_tasks_added(vec![task("x")]);
    c.close_input();
    for w in 1..=3 {
        c.on_worker_hello(w, hello(1000), s(0));
        let t = run_id(&c.on_ask(w, 0, s(0)));
        let ev = c.on_worker_lost(w, "connection lost", s(5));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].task, t);
        if w < 3 {
            assert!(matches!(
                ev[0].outcome,
                Outcome::Requeued {
                    walltime: false,
                    ..
                }
            ));
        } else {
            match &ev[0].outcome {
                Outcome::Failed { reason, .. } => {
                    assert!(reason.contains("3 times (retries = 2)"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(c.is_finished());
    assert_eq!(c.counts().failed, 1);
}

#[test]
fn a_worker_lost_at_its_deadline_counts_a_walltime_kill() {
    let mut c = core(10, 100);
    c.on_tasks_added(vec![task("x")]);
    c.on_worker_hello(1, hello(100), s(0));
    run_id(&c.on_ask(1, 0, s(80)));
    let ev = c.on_worker_lost(1, "connection lost", s(100));
    assert!(matches!(
        ev[0].outcome,
        Outcome::Requeued { walltime: true, .. }
    ));
    assert_eq!(c.counts().walltime_kills, 1);
}

#[test]
fn without_admission_tasks_start_whatever_the_deadline() {
    let mut c = core(4 * H, 5 * H);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.cfg.budget.admission = false;
    c.on_worker_hello(1, hello(5 * H), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    c.on_task_ended(1, t, RunEnd::Exited { code: 0 }, (4 * H) as f64, s(4 * H));
    assert_eq!(run_id(&c.on_ask(1, 0, s(4 * H))), 1);
}

#[test]
fn max_tasks_caps_each_slot() {
    let mut c = core(1, 100);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.cfg.budget.task_cap = Some(1);
    c.on_worker_hello(1, hello(100), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    c.on_task_ended(1, t, RunEnd::Exited { code: 0 }, 1.0, s(1));
    assert!(
        matches!(c.on_ask(1, 0, s(1)), Dispatch::Retire { reason } if reason.contains("max_tasks (1)"))
    );
}

#[test]
fn parked_slots_get_new_tasks_then_stop_or_time_out() {
    let mut c = core(1, 100);
    c.on_worker_hello(1, hello(100), s(0));
    assert_eq!(c.on_ask(1, 0, s(0)), Dispatch::Park);
    assert!(c.on_wake(s(1)).is_empty());
    c.on_tasks_added(vec![task("late")]);
    let woken = c.on_wake(s(2));
    assert_eq!(woken.len(), 1);
    let t = run_id(&woken[0].2);
    c.on_task_ended(1, t, RunEnd::Exited { code: 0 }, 1.0, s(3));
    assert_eq!(c.on_ask(1, 0, s(3)), Dispatch::Park);
    let woken = c.on_wake(s(40));
    assert!(matches!(woken[0].2, Dispatch::Retire { .. }));
    c.close_input();
    c.on_worker_hello(2, hello(100), s(41));
    assert_eq!(c.on_ask(2, 0, s(41)), Dispatch::Stop);
}

#[test]
fn failed_exit_is_final_and_not_retried() {
    let mut c = core(1, 100);
    c.on_tasks_added(vec![task("false")]);
    c.close_input();
    c.on_worker_hello(1, hello(100), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let ev = c
        .on_task_ended(1, t, RunEnd::Exited { code: 3 }, 0.1, s(1))
        .unwrap();
    assert_eq!(
        ev.outcome,
        Outcome::Failed {
            reason: "exit status 3".into(),
            exit_code: Some(3),
            walltime: false,
        }
    );
    assert!(c.is_finished());
}

#[test]
fn jobs_wanted_follows_pending_work_and_max_jobs() {
    let mut c = core(4 * H, 5 * H);
    assert_eq!(c.jobs_wanted(0, 0, 10, s(0)), 0);
    c.on_tasks_added((0..25).map(|i| task(&i.to_string())));
    // one task per 5 h batch job: 25 wanted, 10 allowed
    assert_eq!(c.jobs_wanted(0, 0, 10, s(0)), 10);
    assert_eq!(c.jobs_wanted(10, 10, 10, s(0)), 0);
    // 3 queued jobs cover 3 tasks; 7 more fit under max_jobs
    assert_eq!(c.jobs_wanted(3, 3, 10, s(0)), 7);
    // a connected worker with a fresh deadline covers one task
    c.on_worker_hello(1, hello(5 * H), s(0));
    assert_eq!(c.jobs_wanted(0, 1, 100, s(0)), 24);
}

#[test]
fn interrupted_tasks_go_back_to_the_front() {
    let mut c = core(1, 100);
    c.on_tasks_added(vec![task("a"), task("b")]);
    c.on_worker_hello(1, hello(100), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let ev = c
        .on_task_ended(1, t, RunEnd::Interrupted { walltime: false }, 0.5, s(1))
        .unwrap();
    assert!(matches!(ev.outcome, Outcome::Requeued { .. }));
    assert_eq!(run_id(&c.on_ask(1, 0, s(1))), t);
}

#[test]
fn a_long_running_task_raises_the_estimate_before_it_finishes() {
    // task_time 30 min, 2 h batch jobs: a task running for 70 min says tasks take that long.
    let mut c = core(30 * 60, 2 * H);
    c.on_tasks_added((0..3).map(|i| task(&i.to_string())));
    c.on_worker_hello(1, hello(2 * H), s(0));
    c.on_worker_hello(2, hello(2 * H + 10), s(0));
    run_id(&c.on_ask(1, 0, s(0)));
    assert_eq!(c.default_estimate_at(s(0)), s(30 * 60));
    // worker 2 finished tasks until 80 min; worker 1's task still runs at 70 min elapsed
    let t = run_id(&c.on_ask(2, 0, s(10 * 60)));
    c.on_task_ended(2, t, RunEnd::Exited { code: 0 }, 600.0, s(20 * 60));
    assert!(c.default_estimate_at(s(70 * 60)) >= s(77 * 60));
    // 40 min left on worker 2: with the raised estimate, no task starts
    assert!(matches!(
        c.on_ask(2, 0, s(80 * 60)),
        Dispatch::Retire { .. }
    ));
}

#[test]
fn a_task_whose_own_time_exceeds_any_batch_job_fails_at_once() {
    let mut c = core(60, 100);
    let mut t = task("huge");
    t.time = Some(99.0);
    c.on_tasks_added(vec![t]);
    match c.task_state(0).unwrap() {
        TaskState::Failed { reason } => {
            assert!(reason.contains("raise `walltime`"), "{reason}");
            // The walltime that would fit it is named (issue 13).
            assert!(reason.contains("raise `walltime` to "), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.counts().pending, 0);
}

#[test]
fn a_task_time_beyond_any_clock_fails_the_task_instead_of_the_server() {
    let mut c = core(60, H);
    let specs: Vec<TaskSpec> = [1e20, f64::INFINITY, f64::NAN, -5.0]
        .into_iter()
        .map(|t| TaskSpec {
            time: Some(t),
            ..task("x")
        })
        .collect();
    c.on_tasks_added(specs);
    assert!(matches!(c.task_state(0), Some(TaskState::Failed { .. })));
    assert!(matches!(c.task_state(1), Some(TaskState::Failed { .. })));
    // NaN and negative times say nothing: they count as zero and fit.
    assert_eq!(c.task_state(2), Some(&TaskState::Pending));
    assert_eq!(c.task_state(3), Some(&TaskState::Pending));
}
