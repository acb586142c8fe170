//! Issue 11, item 1: results a lost worker left on disk are read before its tasks are given
//! up on. The worker wrote its task's result into its batch job's results directory (as the
//! real worker does before it reports), then its connection closed or its heartbeats stopped
//! before the report got through: the task completes from that file instead of being requeued
//! and run a second time, and the file goes once the journal holds the end.

use super::*;
use crate::held_results::{worker_dir, HeldResult};

/// Asks for a task in slot 0; returns its task and run IDs.
async fn ask_run(w: &mut FakeWorker) -> (u64, u64) {
    w.send(&Request::Ask { slot: 0 }).await;
    match w.recv().await {
        Reply::Run { task, run, .. } => (task, run),
        other => panic!("expected a task, got {other:?}"),
    }
}

/// The journal's `ended` entries of `task`, once there is one (the server learns of a closed
/// connection in real time; a few ticks at most).
async fn ended_entries(rig: &Rig, task: u64) -> Vec<serde_json::Value> {
    for _ in 0..40 {
        pass(super::super::run::TICK).await;
        wait_for_journal().await;
        let ended = rig.journal_entries("ended", task);
        if !ended.is_empty() {
            return ended;
        }
    }
    Vec::new()
}

/// Writes what a worker of batch job `job` holds on disk for a run that ended with `end`.
fn leave_result(rig: &Rig, job: &str, task: u64, run: u64, end: RunEnd) -> std::path::PathBuf {
    let held = HeldResult {
        task,
        run,
        end,
        secs: 42.0,
    };
    held.write(&worker_dir(rig._dir.path(), job), 0o600)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_result_left_by_a_worker_whose_connection_closed_completes_its_task() {
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let (task, run) = ask_run(&mut w).await;
    let file = leave_result(&rig, "f-1", task, run, RunEnd::Exited { code: 0 });
    // Killed before its report went out: the connection closes.
    drop(w);
    let ended = ended_entries(&rig, task).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "done", "{ended:?}");
    pass(super::super::run::TICK).await;
    wait_for_journal().await;
    pass(super::super::run::TICK).await;
    assert!(
        !file.exists(),
        "the file read stays once the journal has it"
    );
    let (summary, _) = rig.finish().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.retried), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failure_left_by_a_silent_worker_is_its_copy_s_end_not_a_lost_run() {
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let (task, run) = ask_run(&mut w).await;
    leave_result(&rig, "f-1", task, run, RunEnd::Exited { code: 3 });
    // No heartbeat: the server gives up on the worker at the heartbeat timeout.
    pass(HEARTBEAT_TIMEOUT + Duration::from_secs(1)).await;
    wait_for_journal().await;
    let ended = rig.journal_entries("ended", task);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "failed", "{ended:?}");
    let (summary, _) = rig.stop().await;
    let s = summary.unwrap();
    assert_eq!((s.done, s.failed, s.retried), (0, 1, 0));
    drop(w);
}

#[tokio::test(start_paused = true)]
async fn without_a_result_left_the_lost_worker_s_task_is_requeued() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let (task, run) = ask_run(&mut w).await;
    // A result of another batch job's worker changes nothing here.
    leave_result(&rig, "f-2", task, run, RunEnd::Exited { code: 0 });
    drop(w);
    let ended = ended_entries(&rig, task).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "requeued", "{ended:?}");
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().retried, 1);
}

#[tokio::test(start_paused = true)]
async fn a_task_of_a_worker_whose_connection_closed_is_requeued_only_after_the_fence() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let (task, _) = ask_run(&mut w).await;
    drop(w);
    // Real time for the server to see the close, then half the fence of the server's time.
    for _ in 0..10 {
        wait_for_journal().await;
    }
    pass(Duration::from_millis(500)).await;
    wait_for_journal().await;
    assert!(
        rig.journal_entries("ended", task).is_empty(),
        "requeued before the fence"
    );
    let ended = ended_entries(&rig, task).await;
    assert_eq!(ended[0]["outcome"], "requeued", "{ended:?}");
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().retried, 1);
}
