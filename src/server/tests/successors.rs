//! Issue 12, item 6, in the server's loop on paused time: the time from a submission to its
//! worker's hello is measured and successors are submitted ahead of their predecessors'
//! retirement when `max_jobs` leaves room (it is a hard limit: a predecessor counts until its
//! batch job ends), and queued batch jobs a closed run no longer needs are cancelled while it
//! runs. What counts is what the fake batch system was asked.

use super::*;

/// Task `t` ends after `secs` on worker `w`, acknowledged.
async fn finish_task(w: &mut FakeWorker, t: u64, secs: f64) {
    w.send(&Request::TaskEnded {
        task: t,
        end: RunEnd::Exited { code: 0 },
        secs,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: t });
}

/// `secs` of paused time pass, the workers sending a heartbeat every 5 s.
async fn beat(workers: &mut [FakeWorker], secs: u64) {
    for _ in 0..secs.div_ceil(5) {
        pass(Duration::from_secs(5.min(secs))).await;
        for w in workers.iter_mut() {
            w.send(&Request::Heartbeat).await;
        }
        settle().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_successor_waits_for_room_under_max_jobs() {
    // 5 tasks of 60 s, walltime 1 h (buffer 3 min), max_jobs 4: four batch jobs at once.
    let rig = Rig::start(5, true, FakeBatch::default()).await;
    pass(Duration::from_secs(1)).await;
    assert_eq!(rig.batch.0.lock().unwrap().submitted.len(), 4);
    // Their workers connect 20 s after the submission, each with 250 s left: time for one
    // task (60 s + the 180 s buffer), not two.
    pass(Duration::from_secs(19)).await;
    let mut workers = Vec::new();
    for job in ["f-1", "f-2", "f-3", "f-4"] {
        let mut w = rig.worker(job, Duration::from_secs(250)).await;
        w.ask_task().await;
        workers.push(w);
    }
    // Their tasks end at 80 s and they retire then; the fifth task needs a successor, but
    // four batch jobs live hold every place max_jobs gives: none above it.
    beat(&mut workers, 45).await;
    assert_eq!(
        rig.batch.0.lock().unwrap().submitted.len(),
        4,
        "above max_jobs"
    );
    for (i, w) in workers.iter_mut().enumerate() {
        finish_task(w, i as u64, 60.0).await;
    }
    // The first predecessor's batch job ends: its place goes to the successor.
    rig.batch.0.lock().unwrap().states = vec![(JobId::new("f-1"), JobState::Done)];
    beat(&mut workers[1..], 70).await;
    let submitted = rig.batch.0.lock().unwrap().submitted.clone();
    assert_eq!(
        submitted.len(),
        5,
        "no successor once f-1 ended: {submitted:?}"
    );
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().done, 4);
}

#[tokio::test(start_paused = true)]
async fn queued_batch_jobs_a_closed_run_no_longer_needs_are_cancelled_while_it_runs() {
    let rig = Rig::start(5, true, FakeBatch::default()).await;
    pass(Duration::from_secs(1)).await;
    assert_eq!(rig.batch.0.lock().unwrap().submitted.len(), 4);
    // One worker takes every task, one after another (they end in 1 s each).
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    for _ in 0..4 {
        let t = w.ask_task().await;
        finish_task(&mut w, t, 1.0).await;
    }
    let last = w.ask_task().await;
    assert!(rig.batch.0.lock().unwrap().cancelled.is_empty());
    // Nothing pending: the three batch jobs still queued are not needed.
    pass(Duration::from_secs(1)).await;
    let mut cancelled = rig.batch.0.lock().unwrap().cancelled.clone();
    cancelled.sort_by_key(|j| j.to_string());
    assert_eq!(
        cancelled,
        ["f-2", "f-3", "f-4"].map(JobId::new),
        "while the last task runs"
    );
    finish_task(&mut w, last, 1.0).await;
    let (summary, batch) = rig.stop().await;
    assert_eq!(summary.unwrap().done, 5);
    assert_eq!(batch.submitted.len(), 4, "none submitted again");
}
