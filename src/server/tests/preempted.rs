//! Issue 11, item 5: preemption and node failure are normal events. A batch job the batch
//! system ends as preempted or lost with its node takes its worker's task with it; the task is
//! requeued without a failure and without using up its `retries`, a replacement batch job is
//! submitted, and the summary counts the lost batch jobs.

use super::*;

#[tokio::test(start_paused = true)]
async fn runs_lost_to_preemption_and_node_failure_do_not_use_up_retries() {
    // The rig's tasks have `retries = 3`: a fourth lost run would fail the task, unless the
    // batch jobs that took them were lost by no fault of the task.
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    let lost = [
        JobState::Preempted,
        JobState::NodeFailed,
        JobState::Preempted,
        JobState::NodeFailed,
    ];
    for (i, state) in lost.into_iter().enumerate() {
        let job = format!("f-{}", i + 1);
        pass(Duration::from_secs(2)).await;
        assert_eq!(
            rig.batch.0.lock().unwrap().submitted.len(),
            i + 1,
            "no replacement for the batch job lost before {job}"
        );
        let mut w = rig.worker(&job, Duration::from_secs(3600)).await;
        assert_eq!(w.ask_task().await, 0);
        // The batch system kills the worker (its connection closes), then says why.
        drop(w);
        settle().await;
        rig.batch
            .0
            .lock()
            .unwrap()
            .states
            .push((JobId::new(&job), state));
        pass(Duration::from_secs(15)).await;
    }
    let mut w = rig.worker("f-5", Duration::from_secs(3600)).await;
    assert_eq!(w.ask_task().await, 0);
    w.send(&Request::TaskEnded {
        task: 0,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
        run: 0,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: 0 });
    wait_for_journal().await;
    let ended = rig.journal_entries("ended", 0);
    let outcomes: Vec<&str> = ended
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["requeued", "requeued", "requeued", "requeued", "done"],
        "{ended:?}"
    );
    // Each forgiveness is journaled with its batch job, so a resumed `up` counts the same.
    let forgiven: Vec<String> = rig
        .journal_entries("forgiven", 0)
        .iter()
        .map(|e| e["job"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(forgiven, ["f-1", "f-2", "f-3", "f-4"]);
    let (summary, batch) = rig.finish().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.failed, s.batch_jobs_lost), (1, 0, 4));
    assert_eq!(batch.submitted.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_job_still_uses_up_retries() {
    // The same losses in batch jobs that merely failed: the fourth lost run fails the task
    // (what makes the test above fail without the rule).
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    for i in 0..4 {
        let job = format!("f-{}", i + 1);
        pass(Duration::from_secs(2)).await;
        let mut w = rig.worker(&job, Duration::from_secs(3600)).await;
        assert_eq!(w.ask_task().await, 0);
        drop(w);
        settle().await;
        rig.batch
            .0
            .lock()
            .unwrap()
            .states
            .push((JobId::new(&job), JobState::Failed));
        pass(Duration::from_secs(15)).await;
    }
    let (summary, _) = rig.finish().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.failed, s.batch_jobs_lost), (0, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_preemption_seen_before_the_worker_is_lost_is_forgiven_too() {
    // The poll says `preempted` while the worker still answers (set aside: a live worker
    // outranks a status line); its connection closes after: the lost runs are still not held
    // against the task's retries.
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    for i in 0..4 {
        let job = format!("f-{}", i + 1);
        pass(Duration::from_secs(2)).await;
        let mut w = rig.worker(&job, Duration::from_secs(3600)).await;
        assert_eq!(w.ask_task().await, 0);
        rig.batch
            .0
            .lock()
            .unwrap()
            .states
            .push((JobId::new(&job), JobState::Preempted));
        for _ in 0..3 {
            pass(Duration::from_secs(5)).await;
            w.send(&Request::Heartbeat).await;
            settle().await;
        }
        drop(w);
        settle().await;
        pass(Duration::from_secs(15)).await;
    }
    let mut w = rig.worker("f-5", Duration::from_secs(3600)).await;
    assert_eq!(w.ask_task().await, 0);
    w.send(&Request::TaskEnded {
        task: 0,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
        run: 0,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: 0 });
    let (summary, _) = rig.finish().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.failed, s.batch_jobs_lost), (1, 0, 4));
}
