//! Job supply (issue 12): finish soonest within `max_jobs`, weighed by the delay before a new
//! batch job is ready; the frugal packing rule; successors of workers about to retire; queued
//! batch jobs no longer needed.

use super::*;
use crate::budget::Scale;

fn jobs(queued: u32, active: u32, max_jobs: u32, ready_after: Option<u64>) -> JobCounts {
    JobCounts {
        queued,
        active,
        max_jobs,
        ready_after: ready_after.map(s),
    }
}

fn core_of(budget: Budget) -> Core {
    Core::new(CoreConfig {
        budget,
        retries: 2,
        idle_timeout: s(30),
        heartbeat_timeout: s(30),
    })
}

fn unknown(walltime: u64, scale: Scale) -> Core {
    core_of(Budget::new(s(walltime), Buffer::Percent(5.0), Duration::ZERO, 1).with_scale(scale))
}

/// 20 tasks of unknown duration, walltime 1 h, max_jobs 10: ten batch jobs (the run
/// got one and ran the tasks one after another); 6 tasks with max_jobs 2: two.
#[test]
fn unknown_tasks_get_a_slot_each_within_max_jobs() {
    let mut c = unknown(H, Scale::Fast);
    c.on_tasks_added((0..20).map(|i| task(&i.to_string())));
    assert_eq!(c.jobs_wanted(0, 0, 10, s(0)), 10);
    let mut c = unknown(5, Scale::Fast);
    c.on_tasks_added((0..6).map(|i| task(&i.to_string())));
    assert_eq!(c.jobs_wanted(0, 0, 2, s(0)), 2);
    // Frugal packs: with nothing known, one batch job holds them all.
    let mut f = unknown(H, Scale::Frugal);
    f.on_tasks_added((0..20).map(|i| task(&i.to_string())));
    assert_eq!(f.jobs_wanted(0, 0, 10, s(0)), 1);
}

/// Tiny tasks do not get a batch job each when a batch job takes long to be ready.
#[test]
fn the_delay_before_a_batch_job_is_ready_weighs_against_tiny_tasks() {
    let mut c = unknown(H, Scale::Fast);
    for _ in 0..100 {
        c.learn(None, 1.0);
    }
    c.on_tasks_added((0..20).map(|i| task(&i.to_string())));
    // Estimate 1.1 s: with a 300 s wait, one slot gets all 22 s of work.
    assert_eq!(c.supply(jobs(0, 0, 10, Some(300)), s(0)).submit, 1);
    // Ready in a second or less: a slot per task, up to max_jobs.
    assert_eq!(c.supply(jobs(0, 0, 10, Some(1)), s(0)).submit, 10);
    // 5 s: each slot should get 5 s of work: 20 * 1.1 / 5 = 4.4, so 5.
    assert_eq!(c.supply(jobs(0, 0, 10, Some(5)), s(0)).submit, 5);
}

/// A worker whose task ends within the delay and that cannot start another is about to
/// retire: its successor is submitted now when max_jobs (a hard limit) leaves room.
#[test]
fn a_successor_queues_while_its_predecessor_finishes() {
    let budget = Budget::new(s(100), Buffer::Fixed(Duration::ZERO), Duration::ZERO, 1)
        .with_task_time(Some(s(30)));
    let mut c = core_of(budget);
    c.on_tasks_added((0..10).map(|i| task(&i.to_string())));
    c.on_worker_hello(1, hello(100), s(0));
    for now in [0, 30] {
        let t = run_id(&c.on_ask(1, 0, s(now)));
        c.on_task_ended(1, t, RunEnd::Exited { code: 0 }, 30.0, s(now + 30));
    }
    run_id(&c.on_ask(1, 0, s(60)));
    // Its task ends at 90 s, with 10 s left: it retires then. Ready after 20 s.
    // With room under max_jobs its successor queues now, while it still runs.
    assert_eq!(c.supply(jobs(0, 1, 2, Some(20)), s(75)).submit, 1);
    // One successor queued: nothing more.
    assert_eq!(c.supply(jobs(1, 2, 2, Some(20)), s(75)).submit, 0);
    // With max_jobs 1 the predecessor holds the only place until its batch job ends: no
    // successor above the limit.
    assert_eq!(c.supply(jobs(0, 1, 1, Some(20)), s(75)).submit, 0);
    assert_eq!(c.supply(jobs(0, 0, 1, Some(20)), s(95)).submit, 1);
    // Frugal never submits ahead.
    let mut f = core_of(budget.with_scale(Scale::Frugal));
    f.on_tasks_added((0..10).map(|i| task(&i.to_string())));
    f.on_worker_hello(1, hello(100), s(0));
    run_id(&f.on_ask(1, 0, s(60)));
    assert_eq!(f.supply(jobs(0, 1, 1, Some(20)), s(75)).submit, 0);
}

/// In a closed run, queued batch jobs beyond what the pending tasks need are cancelled; an
/// open cluster keeps them for tasks yet to come.
#[test]
fn queued_batch_jobs_no_longer_needed_are_cancelled_in_a_closed_run() {
    let mut c = unknown(H, Scale::Fast);
    c.on_tasks_added(vec![task("a"), task("b")]);
    assert_eq!(
        c.supply(jobs(3, 3, 10, None), s(0)).cancel,
        0,
        "open cluster"
    );
    c.close_input();
    assert_eq!(
        c.supply(jobs(3, 3, 10, None), s(0)),
        Supply {
            submit: 0,
            cancel: 1
        }
    );
    c.on_worker_hello(1, hello(H), s(0));
    c.on_worker_hello(2, hello(H), s(0));
    run_id(&c.on_ask(1, 0, s(0)));
    run_id(&c.on_ask(2, 0, s(0)));
    assert_eq!(c.supply(jobs(1, 3, 10, None), s(1)).cancel, 1);
    // Frugal cancels nothing.
    let mut f = unknown(H, Scale::Frugal);
    f.close_input();
    assert_eq!(f.supply(jobs(2, 2, 10, None), s(0)).cancel, 0);
}
