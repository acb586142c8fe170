//! Issue 11, item 2 ("a start not yet on disk"): a worker hears of a task only once the
//! journal's `started` entry for it is on disk. Before, the `run` reply went out at once and the
//! entry followed within the group-commit window (20 ms) or the next tick: an `up` killed -9 in
//! that moment left a copy running that the resumed `up` knew nothing of, and it started a
//! second one. What counts is the journal file at the moment each reply arrives.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_run_reply_comes_only_once_its_started_entry_is_on_disk() {
    let rig = Rig::start(3, false, FakeBatch::default()).await;
    let mut workers = Vec::new();
    for job in ["f-1", "f-2", "f-3"] {
        workers.push(rig.worker(job, Duration::from_secs(3600)).await);
    }
    // Three asks in one round: one group commit may cover them all, and each reply still
    // waits for it.
    for w in workers.iter_mut() {
        w.send(&Request::Ask { slot: 0 }).await;
    }
    for w in workers.iter_mut() {
        let Reply::Run { task, run, .. } = w.recv().await else {
            panic!("expected a task");
        };
        // Read the moment the reply is in: no waiting for a write still in flight.
        let started = rig.journal_entries("started", task);
        assert_eq!(
            started.len(),
            1,
            "task {task} was handed out before its `started` entry was on disk"
        );
        assert_eq!(started[0]["run"], run, "{started:?}");
    }
    let (summary, _) = rig.stop().await;
    assert!(summary.unwrap().interrupted);
}

#[tokio::test(start_paused = true)]
async fn a_report_acknowledged_and_the_next_task_keep_their_order() {
    // The ack of task 0 and the run of task 1 go out after the same sync, in that order.
    let rig = Rig::start(2, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let t = w.ask_task().await;
    w.send(&Request::TaskEnded {
        run: 0,
        task: t,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
    })
    .await;
    w.send(&Request::Ask { slot: 0 }).await;
    assert_eq!(w.recv().await, Reply::Ack { task: t });
    let Reply::Run { task, .. } = w.recv().await else {
        panic!("expected the second task");
    };
    assert_eq!(rig.journal_entries("started", task).len(), 1);
    assert_eq!(rig.journal_entries("ended", t).len(), 1);
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().done, 1);
}
