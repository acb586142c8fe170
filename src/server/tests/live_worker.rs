//! Issue 11, item 2: a live worker outranks a status line. A batch job the batch system calls
//! ended while its worker is connected and answering stays running: its task is not
//! requeued, no second copy starts, and the task completes once, where it ran.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_batch_job_reported_ended_keeps_its_tasks_while_its_worker_answers() {
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    pass(Duration::from_secs(1)).await;
    assert_eq!(rig.batch.0.lock().unwrap().submitted, [JobId::new("f-1")]);
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    assert_eq!(w.ask_task().await, 0);
    // The status command says the batch job failed (as the local backend does once the
    // job's supervisor died), while its worker goes on heartbeating: several polls pass.
    rig.batch.0.lock().unwrap().states = vec![(JobId::new("f-1"), JobState::Failed)];
    for _ in 0..12 {
        pass(Duration::from_secs(5)).await;
        w.send(&Request::Heartbeat).await;
        settle().await;
    }
    wait_for_journal().await;
    assert!(
        rig.journal_entries("ended", 0).is_empty(),
        "the task was taken from a worker that still answers: {:?}",
        rig.journal_entries("ended", 0)
    );
    // Another worker gets no copy of it.
    let mut other = rig.worker("f-9", Duration::from_secs(3600)).await;
    other.send(&Request::Ask { slot: 0 }).await;
    settle().await;
    pass(super::super::run::TICK).await;
    wait_for_journal().await;
    assert_eq!(
        rig.journal_entries("started", 0).len(),
        1,
        "a second copy started"
    );
    w.send(&Request::TaskEnded {
        task: 0,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
        run: 0,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: 0 });
    let (summary, _) = rig.stop().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.failed, s.retried), (1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_batch_job_reported_ended_loses_its_tasks_once_its_worker_falls_silent() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    assert_eq!(w.ask_task().await, 0);
    rig.batch.0.lock().unwrap().states = vec![(JobId::new("f-1"), JobState::Failed)];
    // No heartbeat: the worker is lost at the heartbeat timeout, and only then.
    pass(HEARTBEAT_TIMEOUT + Duration::from_secs(1)).await;
    wait_for_journal().await;
    let ended = rig.journal_entries("ended", 0);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "requeued");
    assert_eq!(ended[0]["reason"], "no heartbeat");
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().retried, 1);
}
