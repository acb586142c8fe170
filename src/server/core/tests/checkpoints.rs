//! The checkpoint contract in the core: an exit with `checkpoint_exit_code` requeues the task
//! first in line as checkpointed, neither a failure nor a lost run; a task that checkpoints
//! starts in any time left that holds its lead and a piece of work, and is never failed as
//! longer than a batch job.

use super::super::CheckpointRule;
use super::*;
use crate::task::CheckpointSignal;

fn rule() -> Option<CheckpointRule> {
    Some(CheckpointRule {
        signal: crate::process::Signal::SIGUSR1,
        lead: s(60),
        exit_code: 85,
        max_checkpoints: 100,
    })
}

/// Retries and reruns none: any failure or lost run would end the task.
fn core_ck(checkpointable: bool) -> Core {
    let mut c = core(10, H).with_checkpoint_rule(rule(), checkpointable);
    c.tasks.rules.retries = 0;
    c
}

fn long_task(cmd: &str, checkpointable: Option<bool>) -> TaskSpec {
    TaskSpec {
        cmd: cmd.into(),
        time: Some((10 * H) as f64),
        checkpointable,
        ..TaskSpec::default()
    }
}

#[test]
fn an_exit_with_the_checkpoint_code_requeues_the_task_first_in_line_without_a_failure() {
    let mut c = core_ck(false);
    c.on_tasks_added(vec![task("long"), task("next")]);
    c.on_worker_hello(1, hello(H), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let ev = c
        .on_task_ended(1, t, RunEnd::Exited { code: 85 }, 50.0, s(50))
        .unwrap();
    assert_eq!(ev.outcome, Outcome::Checkpointed);
    let h = c.tasks.history(t);
    assert_eq!((h.lost_runs, h.failures, h.attempts), (0, 0, 1));
    let counts = c.counts();
    assert_eq!(
        (
            counts.pending,
            counts.checkpointed,
            counts.reruns,
            counts.requeued
        ),
        (2, 1, 0, 0)
    );
    let why = c.explain(t, s(50)).unwrap().join("\n");
    assert!(
        why.contains("its last run: checkpointed: saved its state before the deadline"),
        "{why}"
    );
    // First in line again, ahead of the task that waited; its next run is attempt 2.
    match c.on_ask(1, 0, s(51)) {
        Dispatch::Run { task, spec, .. } => {
            assert_eq!((task, spec.attempt), (t, Some(2)));
            assert_eq!(
                spec.checkpoint,
                Some(Box::new(CheckpointSignal {
                    signal: "USR1".into(),
                    lead: 60.0
                }))
            );
        }
        other => panic!("{other:?}"),
    }
    let ev = c.on_task_ended(1, t, RunEnd::Exited { code: 0 }, 9.0, s(60));
    assert_eq!(ev.unwrap().outcome, Outcome::Done);
}

#[test]
fn without_a_checkpoint_signal_the_checkpoint_code_is_a_failure() {
    let mut c = core(10, H);
    c.on_tasks_added(vec![task("a")]);
    c.on_worker_hello(1, hello(H), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let ev = c.on_task_ended(1, t, RunEnd::Exited { code: 85 }, 5.0, s(5));
    assert!(
        matches!(
            ev.unwrap().outcome,
            Outcome::Failed {
                exit_code: Some(85),
                ..
            }
        ),
        "exit 85 means nothing unless checkpointing is configured"
    );
}

#[test]
fn a_checkpointable_task_longer_than_any_batch_job_runs_in_pieces_instead_of_failing() {
    let mut c = core_ck(false);
    c.on_tasks_added(vec![long_task("ck", Some(true)), long_task("plain", None)]);
    assert_eq!(c.tasks.state(0), Some(&TaskState::Pending));
    assert!(
        matches!(c.tasks.state(1), Some(TaskState::Failed { reason }) if reason.contains("needs more than the walltime allows")),
        "{:?}",
        c.tasks.state(1)
    );
    // 200 s left: the lead (60 s) and twice the lead of work fit; 170 s left: they do not.
    c.on_worker_hello(1, hello(1000), s(0));
    assert!(matches!(c.on_ask(1, 0, s(830)), Dispatch::Retire { .. }));
    c.on_worker_hello(2, hello(1000), s(0));
    let why = c.explain(0, s(800)).unwrap().join("\n");
    assert!(why.contains("it checkpoints (`checkpointable`)"), "{why}");
    match c.on_ask(2, 0, s(800)) {
        Dispatch::Run { task, spec, .. } => {
            assert_eq!((task, spec.checkpointable), (0, Some(true)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_clusters_checkpointable_holds_for_tasks_that_say_nothing_and_a_task_may_refuse_it() {
    let mut c = core_ck(true);
    c.on_tasks_added(vec![long_task("ck", None), long_task("no", Some(false))]);
    assert_eq!(c.tasks.state(0), Some(&TaskState::Pending));
    assert!(matches!(c.tasks.state(1), Some(TaskState::Failed { .. })));
    // Without a checkpoint signal nothing is checkpointable.
    let mut plain = core(10, H).with_checkpoint_rule(None, true);
    plain.on_tasks_added(vec![long_task("ck", Some(true))]);
    assert!(matches!(
        plain.tasks.state(0),
        Some(TaskState::Failed { .. })
    ));
}

/// Issue 11: a task that exits with `checkpoint_exit_code` run after run (at once, say) was
/// requeued for ever. `max_checkpoints` checkpointed runs are allowed; the next fails it,
/// naming the setting. The count comes back from the journal, and `retry` makes it whole.
#[test]
fn a_task_that_checkpoints_more_than_max_checkpoints_times_fails_naming_the_setting() {
    let mut c = core_ck(false);
    if let Some(r) = c.tasks.rules.checkpoint.as_mut() {
        r.max_checkpoints = 3;
    }
    c.on_tasks_added(vec![task("loop")]);
    c.on_worker_hello(1, hello(H), s(0));
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let t = run_id(&c.on_ask(1, 0, s(i)));
        let ev = c.on_task_ended(1, t, RunEnd::Exited { code: 85 }, 0.5, s(i));
        outcomes.push(ev.unwrap().outcome);
    }
    assert!(
        outcomes[..3].iter().all(|o| *o == Outcome::Checkpointed),
        "{outcomes:?}"
    );
    match &outcomes[3] {
        Outcome::Failed {
            reason,
            exit_code: Some(85),
            walltime: false,
        } => assert_eq!(
            reason,
            "exited with `checkpoint_exit_code` (85) after 3 checkpointed runs: \
             `max_checkpoints` (3) allows no more; raise `max_checkpoints` if it needs more \
             pieces, or see why its runs do not finish it (`hpcluster logs 0`)"
        ),
        other => panic!("the fourth exit 85 should fail the task: {other:?}"),
    }
    assert_eq!(c.counts().failed, 1);
    assert_eq!(c.counts().pending, 0);
    // `retry` gives it its checkpoints again.
    assert_eq!(c.on_retry(&[0], false).retried, vec![0]);
    let t = run_id(&c.on_ask(1, 0, s(10)));
    let ev = c.on_task_ended(1, t, RunEnd::Exited { code: 85 }, 0.5, s(10));
    assert_eq!(ev.unwrap().outcome, Outcome::Checkpointed);
}

#[test]
fn checkpointed_runs_before_a_resume_count_toward_max_checkpoints_after_it() {
    let journal = "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n\
        {\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":0}\n\
        {\"ev\":\"ended\",\"id\":0,\"outcome\":\"checkpointed\",\"secs\":1.0,\"at\":1}\n\
        {\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":2}\n\
        {\"ev\":\"ended\",\"id\":0,\"outcome\":\"checkpointed\",\"secs\":1.0,\"at\":3}\n";
    let r = crate::journal::parse_journal(journal, "j").unwrap();
    let t = r.tasks.into_iter().next().unwrap();
    assert_eq!(t.history.checkpoints, 2);
    let mut c = core_ck(false);
    if let Some(r) = c.tasks.rules.checkpoint.as_mut() {
        r.max_checkpoints = 2;
    }
    c.restore_task(t.spec, t.state, t.history);
    c.on_worker_hello(1, hello(H), s(0));
    let t = run_id(&c.on_ask(1, 0, s(0)));
    let ev = c.on_task_ended(1, t, RunEnd::Exited { code: 85 }, 1.0, s(1));
    assert!(
        matches!(&ev.unwrap().outcome, Outcome::Failed { reason, .. } if reason.contains("`max_checkpoints` (2)")),
        "the replayed checkpoints were not counted"
    );
}
