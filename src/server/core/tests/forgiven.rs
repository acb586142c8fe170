//! Runs lost with a preempted batch job are forgiven, and the forgiveness survives a resume:
//! the journal holds it (`forgiven`), so the replayed task has the retries it had before.

use super::*;
use crate::journal::{parse_journal, Entry};

/// Runs task 0 in batch job `job` and loses its worker; returns the journal lines it wrote.
fn lose_in(c: &mut Core, worker: WorkerId, job: &str, at: u64) -> Vec<Entry> {
    let hello = WorkerHello {
        job: Some(JobId::new(job)),
        ..hello(at + H)
    };
    c.on_worker_hello(worker, hello, s(at));
    let t = run_id(&c.on_ask(worker, 0, s(at)));
    let mut out = vec![Entry::Started {
        run: 0,
        id: t,
        worker,
        job: Some(job.into()),
        host: Some("n1".into()),
        at: at as f64,
    }];
    for ev in c.on_worker_lost(worker, "connection closed", s(at + 5)) {
        out.push(Entry::Ended {
            id: ev.task,
            outcome: ev.outcome,
            secs: ev.secs,
            at: (at + 5) as f64,
        });
    }
    out
}

fn text(c: &Core, entries: &[Entry]) -> String {
    let mut text = serde_json::to_string(&Entry::Added {
        id: 0,
        spec: c.tasks.spec(0),
    })
    .unwrap();
    text.push('\n');
    for e in entries {
        text.push_str(&serde_json::to_string(e).unwrap());
        text.push('\n');
    }
    text
}

/// Issue 11: forgiveness was not journaled, and a resumed `up` counted the runs again.
#[test]
fn runs_forgiven_before_a_resume_stay_forgiven_after_it() {
    let mut c = core(10, H); // retries = 2
    c.on_tasks_added(vec![task("x")]);
    let mut journal = Vec::new();
    journal.extend(lose_in(&mut c, 1, "7", 0));
    journal.extend(lose_in(&mut c, 2, "8", 10));
    assert_eq!(c.tasks.lost_runs(0), 2);
    // Both batch jobs were preempted: both runs are forgiven, each journaled.
    for job in ["7", "8"] {
        for id in c.on_job_end_known(job, true) {
            journal.push(Entry::Forgiven {
                id,
                job: job.into(),
                at: 30.0,
            });
        }
    }
    assert_eq!(c.tasks.lost_runs(0), 0);
    let forgiven = journal
        .iter()
        .filter(|e| matches!(e, Entry::Forgiven { .. }))
        .count();
    assert_eq!(forgiven, 2);

    let replay = parse_journal(&text(&c, &journal), "j").unwrap();
    let t = replay.tasks.into_iter().next().unwrap();
    assert_eq!(t.history.lost_runs, 0, "{:?}", t.history);
    assert_eq!(t.history.attempts, 2);
    // A resumed core gives the task its two retries again: two more lost runs requeue it,
    // the third fails it.
    let mut resumed = core(10, H);
    resumed.restore_task(t.spec, t.state, t.history);
    resumed.close_input();
    for (i, w) in (11..=13).enumerate() {
        resumed.on_worker_hello(w, hello(H), s(40));
        run_id(&resumed.on_ask(w, 0, s(40)));
        let ev = resumed.on_worker_lost(w, "connection closed", s(45));
        match (i, &ev[0].outcome) {
            (0 | 1, Outcome::Requeued { .. }) => {}
            (2, Outcome::Failed { reason, .. }) => {
                assert!(reason.contains("3 times (retries = 2)"), "{reason}")
            }
            (i, other) => panic!("lost run {} after the resume ended {other:?}", i + 1),
        }
    }
}

/// A batch job that merely failed forgives nothing, and nothing is journaled; a task that has
/// ended meanwhile keeps its state (the replay applies the same rule).
#[test]
fn only_lost_batch_jobs_forgive_and_an_ended_task_is_not_changed() {
    let mut c = core(10, H);
    c.on_tasks_added(vec![task("x")]);
    let mut journal = lose_in(&mut c, 1, "7", 0);
    assert!(c.on_job_end_known("7", false).is_empty());
    assert_eq!(c.tasks.lost_runs(0), 1);
    // The task is done before batch job 8's end is known: nothing to forgive.
    journal.extend(lose_in(&mut c, 2, "8", 10));
    c.on_worker_hello(3, hello(H), s(20));
    let t = run_id(&c.on_ask(3, 0, s(20)));
    c.on_task_ended(3, t, RunEnd::Exited { code: 0 }, 1.0, s(21));
    assert!(c.on_job_end_known("8", true).is_empty());
    // A journal that says so anyway (hand-edited) does not change an ended task either.
    journal.push(Entry::Ended {
        id: 0,
        outcome: Outcome::Done,
        secs: 1.0,
        at: 21.0,
    });
    journal.push(Entry::Forgiven {
        id: 0,
        job: "8".into(),
        at: 22.0,
    });
    let replay = parse_journal(&text(&c, &journal), "j").unwrap();
    assert_eq!(replay.tasks[0].state, TaskState::Done);
    assert_eq!(replay.tasks[0].history.lost_runs, 2);
}

/// The entry as it is on disk, and a journal written before it still replays.
#[test]
fn the_forgiven_entry_reads_back_and_an_old_journal_still_replays() {
    let line = serde_json::to_string(&Entry::Forgiven {
        id: 3,
        job: "4101".into(),
        at: 12.5,
    })
    .unwrap();
    assert_eq!(line, r#"{"ev":"forgiven","id":3,"job":"4101","at":12.5}"#);
    let old = "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n\
        {\"ev\":\"started\",\"id\":0,\"worker\":1,\"job\":\"7\",\"at\":0}\n\
        {\"ev\":\"ended\",\"id\":0,\"outcome\":\"requeued\",\"reason\":\"lost\",\"walltime\":false,\"secs\":5.0,\"at\":5}\n";
    let r = parse_journal(old, "j").unwrap();
    assert_eq!(r.tasks[0].history.lost_runs, 1);
    let new = format!("{old}{line}\n").replace("\"id\":3", "\"id\":0");
    let r = parse_journal(&new, "j").unwrap();
    assert_eq!(r.tasks[0].history.lost_runs, 0);
    assert_eq!(r.tasks[0].state, TaskState::Pending);
}
