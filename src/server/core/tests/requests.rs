//! What clients ask of tasks: pages of them, cancel, retry, explain; and that a running core
//! and the journal it writes show every task the same way.

use super::*;
use crate::journal::{parse_journal, Entry};
use crate::task::TaskInfo;

fn infos(c: &Core, now: u64) -> Vec<TaskInfo> {
    c.task_page(&TaskQuery::default(), s(now)).tasks
}

#[test]
fn cancel_takes_pending_and_running_tasks_and_refuses_ended_ones() {
    let mut c = core(10, 1000);
    c.on_tasks_added(vec![task("a"), task("b"), task("c")]);
    c.on_worker_hello(1, hello(1000), s(0));
    let running = run_id(&c.on_ask(1, 0, s(0)));
    let out = c.on_cancel(&[running, 1, 9], s(4));
    assert_eq!(out.stop, [(1, running)], "its worker is told to stop it");
    assert_eq!(out.refused, [(9, "no such task".to_string())]);
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.events[0].secs, 4.0);
    assert_eq!(c.counts().cancelled, 2);
    // The cancelled pending task left its queue: the next ask gets task 2.
    assert_eq!(run_id(&c.on_ask(1, 0, s(5))), 2);
    let again = c.on_cancel(&[1], s(6));
    assert_eq!(
        again.refused,
        [(1, "it has already ended (cancelled)".to_string())]
    );
}

#[test]
fn a_cancelled_orphan_cannot_be_claimed_back() {
    let mut c = core(60, H);
    c.restore_orphan(task("a"), "7".into(), TaskHistory::default(), s(60));
    let out = c.on_cancel(&[0], s(1));
    assert!(out.stop.is_empty());
    let mut h = hello(H);
    h.job = Some(JobId::new("7"));
    h.claims = vec![Claim {
        task: 0,
        slot: 0,
        secs: 1.0,
    }];
    c.on_worker_hello(1, h, s(2));
    assert_eq!(c.on_claims(1, s(2)).disowned, [0]);
    assert_eq!(c.task_state(0), Some(&TaskState::Cancelled));
}

#[test]
fn retry_queues_ended_tasks_again_with_their_retries_whole() {
    let mut c = core(10, 1000).with_failure_rules(1, None);
    c.on_tasks_added(vec![task("false"), task("true"), task("sleep 9")]);
    c.on_worker_hello(1, hello(1000), s(0));
    for _ in 0..2 {
        let t = run_id(&c.on_ask(1, 0, s(0)));
        assert_eq!(t, 0);
        c.on_task_ended(1, 0, RunEnd::Exited { code: 1 }, 1.0, s(1));
    }
    assert_eq!(c.counts().failed, 1);
    let t1 = run_id(&c.on_ask(1, 0, s(1)));
    c.on_task_ended(1, t1, RunEnd::Exited { code: 0 }, 1.0, s(2));
    let running = run_id(&c.on_ask(1, 0, s(2)));
    let out = c.on_retry(&[running], true);
    assert_eq!(out.retried, [0]);
    assert_eq!(out.refused, [(2, "it has not ended (running)".to_string())]);
    assert_eq!(c.tasks.history(0).failures, 0);
    assert_eq!(c.counts().failed, 0);
    // Done tasks can be run again by name.
    assert_eq!(c.on_retry(&[1], false).retried, [1]);
    assert_eq!(c.counts().pending, 2);
}

#[test]
fn pages_select_by_state_and_follow_the_task_table() {
    let mut c = core(10, 1000);
    c.on_tasks_added(vec![task("a"), task("b"), task("c")]);
    c.on_worker_hello(1, hello(1000), s(0));
    let t = run_id(&c.on_ask(1, 0, s(10)));
    let q = TaskQuery {
        states: vec![StateName::Running],
        ..TaskQuery::default()
    };
    let page = c.task_page(&q, s(13));
    assert_eq!(page.tasks.len(), 1);
    let i = &page.tasks[0];
    assert_eq!(
        (i.id, i.state, i.duration),
        (t, StateName::Running, Some(3.0))
    );
    assert_eq!(i.host.as_deref(), Some("n1"));
}

#[test]
fn explain_says_a_pending_task_waits_for_a_fresh_batch_job_when_no_worker_has_the_time() {
    let mut c = core(10, 100);
    c.on_tasks_added(vec![task("a"), task("b")]);
    assert!(c
        .explain(1, s(0))
        .unwrap()
        .contains(&"no worker is connected yet".to_string()));
    c.on_worker_hello(1, hello(100), s(0));
    run_id(&c.on_ask(1, 0, s(0)));
    let why = c.explain(1, s(90)).unwrap();
    assert_eq!(
        why[0],
        "it is pending: 0 tasks ahead of it in the queue of tasks that take the default estimate"
    );
    // Raised by the task running for 90 s, capped at what a fresh batch job offers.
    assert!(
        why[1].starts_with("its estimate is 1m35s (from `task_time`"),
        "{why:?}"
    );
    assert_eq!(
        why.last().unwrap(),
        "no connected worker has the time for it (the most any has left is 5s): it waits for a \
         fresh batch job, which offers 1m35s"
    );
    let running = c.explain(0, s(90)).unwrap();
    assert!(running[0].starts_with("it runs on worker 1"), "{running:?}");
    assert_eq!(c.explain(7, s(0)), None);
}

/// What a server would journal for a core's events (as `server/commit.rs` does).
fn journal_of(c: &Core, events: &[(Entry, u64)]) -> String {
    let mut text = String::new();
    for id in 0..c.task_count() as u64 {
        let spec = c.tasks.spec(id);
        let spec = TaskSpec {
            timeout: None,
            ..spec
        };
        let e = Entry::Added { id, spec };
        text.push_str(&serde_json::to_string(&e).unwrap());
        text.push('\n');
    }
    for (e, _) in events {
        text.push_str(&serde_json::to_string(e).unwrap());
        text.push('\n');
    }
    text
}

#[test]
fn a_running_core_and_its_journal_show_every_task_the_same_way() {
    let mut c = core(10, 100).with_failure_rules(1, None);
    c.on_tasks_added(vec![
        task("ok"),
        task("flaky"),
        task("oom"),
        task("long"),
        task("left"),
    ]);
    c.on_worker_hello(1, hello(100), s(0));
    let mut j = Vec::new();
    let run = |c: &mut Core, j: &mut Vec<(Entry, u64)>, at: u64, how: RunEnd, secs: f64| {
        let t = run_id(&c.on_ask(1, 0, s(at)));
        j.push((
            Entry::Started {
                id: t,
                worker: 1,
                job: None,
                host: Some("n1".into()),
                at: at as f64,
            },
            at,
        ));
        let end = at + secs as u64;
        let ev = c.on_task_ended(1, t, how, secs, s(end)).unwrap();
        j.push((
            Entry::Ended {
                id: t,
                outcome: ev.outcome,
                secs,
                at: end as f64,
            },
            end,
        ));
    };
    run(&mut c, &mut j, 0, RunEnd::Exited { code: 0 }, 2.0);
    run(&mut c, &mut j, 2, RunEnd::Exited { code: 5 }, 1.0);
    run(&mut c, &mut j, 3, RunEnd::Exited { code: 0 }, 1.0);
    run(&mut c, &mut j, 4, RunEnd::Signaled { signal: 9 }, 1.0);
    run(&mut c, &mut j, 5, RunEnd::Signaled { signal: 9 }, 1.0);
    // The walltime kills "long" after 92 s: more than a fresh batch job offers.
    let long = run_id(&c.on_ask(1, 0, s(8)));
    j.push((
        Entry::Started {
            id: long,
            worker: 1,
            job: None,
            host: Some("n1".into()),
            at: 8.0,
        },
        8,
    ));
    for ev in c.on_worker_lost(1, "connection closed", s(100)) {
        let (outcome, secs) = (ev.outcome, ev.secs);
        j.push((
            Entry::Ended {
                id: ev.task,
                outcome,
                secs,
                at: 100.0,
            },
            100,
        ));
    }
    let out = c.on_cancel(&[4], s(7));
    for ev in out.events {
        j.push((
            Entry::Ended {
                id: ev.task,
                outcome: ev.outcome,
                secs: ev.secs,
                at: 7.0,
            },
            7,
        ));
    }
    let replay = parse_journal(&journal_of(&c, &j), "j").unwrap();
    let from_journal = replay.page(&TaskQuery::default(), 8.0).tasks;
    assert_eq!(from_journal, infos(&c, 8));
    assert_eq!(replay.counts(), *c.counts());
    let states: Vec<StateName> = from_journal.iter().map(|t| t.state).collect();
    use StateName::*;
    assert_eq!(states, [Done, Done, Killed, Failed, Cancelled]);
    assert_eq!(replay.counts().walltime_kills, 1);
}
