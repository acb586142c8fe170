//! The ledger on made-up records: every category of a batch job, a job still queued, a running
//! cluster, and the durations a counterfactual replays.

use std::time::{Duration, SystemTime};

use super::*;
use crate::backend::{JobId, JobState};
use crate::task::{Outcome, TaskSpec};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn job(id: &str, submitted: u64, started: Option<u64>, ended: Option<u64>) -> JobRecord {
    JobRecord {
        id: JobId::new(id),
        name: "c-1".into(),
        state: if ended.is_some() {
            JobState::Done
        } else if started.is_some() {
            JobState::Running
        } else {
            JobState::Pending
        },
        native: String::new(),
        submitted: at(submitted),
        started: started.map(at),
        ended: ended.map(at),
        cancel_requested: false,
        vanished: false,
        reason: None,
        wrote: None,
        missed_polls: 0,
        node: None,
    }
}

fn added(id: u64, name: Option<&str>) -> Entry {
    Entry::Added {
        id,
        spec: TaskSpec {
            cmd: format!("task {id}"),
            name: name.map(String::from),
            ..TaskSpec::default()
        },
    }
}

fn started(id: u64, job: &str, at: f64) -> Entry {
    Entry::Started {
        run: 0,
        id,
        worker: 1,
        job: Some(job.into()),
        host: None,
        at,
    }
}

fn ended(id: u64, outcome: Outcome, secs: f64, at: f64) -> Entry {
    Entry::Ended {
        id,
        outcome,
        secs,
        at,
    }
}

fn facts() -> Facts {
    Facts {
        cores: 2,
        slots: 2,
        walltime: Duration::from_secs(3600),
    }
}

const H: f64 = 3600.0;

#[test]
fn a_batch_job_splits_into_its_categories_and_they_add_up() {
    // Batch job 7: queued 600 s, ran 1800 s on 2 cores (1 hour of core time), 2 slots.
    let jobs = [job("7", 0, Some(600), Some(2400))];
    let entries = [
        added(0, None),
        added(1, None),
        added(2, None),
        added(3, None),
        started(0, "7", 900.0),
        started(1, "7", 900.0),
        ended(0, Outcome::Done, 600.0, 1500.0),
        ended(
            1,
            Outcome::Failed {
                reason: "exit status 1".into(),
                exit_code: Some(1),
                walltime: false,
            },
            300.0,
            1200.0,
        ),
        started(2, "7", 1500.0),
        ended(
            2,
            Outcome::Requeued {
                reason: "killed by the walltime".into(),
                walltime: true,
            },
            0.0,
            1800.0,
        ),
        started(3, "7", 1200.0),
        ended(
            3,
            Outcome::Requeued {
                reason: "interrupted".into(),
                walltime: false,
            },
            120.0,
            1320.0,
        ),
    ];
    let l = account(entries, &jobs, facts(), Duration::from_secs(5000));
    let s = l.total;
    assert_eq!(s.consumed, 1.0);
    assert_eq!(s.startup, 300.0 * 2.0 / H);
    // Each slot holds one core.
    assert_eq!(s.useful, 600.0 / H);
    assert_eq!(s.failed, 300.0 / H);
    // Lost with its worker: no time of its own, until its end was written.
    assert_eq!(s.killed_by_walltime, 300.0 / H);
    assert_eq!(s.rerun, 120.0 / H);
    assert_eq!(s.checkpointed, 0.0);
    assert!((s.idle - (3600.0 - 600.0 - 600.0 - 300.0 - 300.0 - 120.0) / H).abs() < 1e-12);
    assert!((s.parts() - s.consumed).abs() < 1e-12);
    assert_eq!(s.tail_returned, 1800.0 * 2.0 / H);
    assert_eq!(s.queue_wait_hours, 600.0 / H);
    assert_eq!((l.tasks_done, l.tasks_failed), (1, 1));
    assert_eq!(l.jobs[0].runs, 4);
}

#[test]
fn a_checkpointed_run_is_counted_as_checkpointed() {
    let jobs = [job("7", 0, Some(0), Some(1000))];
    let entries = [
        added(0, None),
        started(0, "7", 100.0),
        ended(0, Outcome::Checkpointed, 800.0, 900.0),
    ];
    let s = account(entries, &jobs, facts(), Duration::from_secs(1000)).total;
    assert_eq!(s.checkpointed, 800.0 / H);
    assert_eq!((s.useful, s.failed, s.rerun), (0.0, 0.0, 0.0));
    assert!((s.parts() - s.consumed).abs() < 1e-12);
}

#[test]
fn a_running_cluster_counts_to_now_and_a_queued_job_only_waits() {
    let jobs = [job("7", 0, Some(100), None), job("8", 50, None, None)];
    let entries = [added(0, None), started(0, "7", 200.0)];
    let l = account(entries, &jobs, facts(), Duration::from_secs(1000));
    assert_eq!(l.jobs[0].split.consumed, 900.0 * 2.0 / H);
    assert_eq!(l.jobs[0].split.running, 800.0 / H);
    assert_eq!(
        l.jobs[0].split.tail_returned, 0.0,
        "not ended: nothing returned yet"
    );
    assert_eq!(l.jobs[1].split.consumed, 0.0);
    assert_eq!(l.jobs[1].split.queue_wait_hours, 950.0 / H);
    // A batch job on which no task ran: all of it is startup.
    let idle_job = [job("9", 0, Some(0), Some(60))];
    let l = account([], &idle_job, facts(), Duration::from_secs(100));
    assert_eq!(l.total.startup, l.total.consumed);
}

#[test]
fn a_counterfactual_replays_the_finished_durations_with_their_names() {
    let entries = [
        added(0, Some("fit-1")),
        added(1, None),
        added(2, Some("fit-2")),
        started(2, "7", 0.0),
        ended(2, Outcome::Done, 5.0, 5.0),
        started(0, "7", 5.0),
        ended(0, Outcome::Done, 3.0, 8.0),
        started(1, "7", 8.0),
    ];
    let f = finished_durations(entries.map(Ok)).unwrap();
    assert_eq!(f.durations, vec![3.0, 5.0]);
    assert_eq!(f.names, vec![Some("fit-1".into()), Some("fit-2".into())]);
    let jobs = [job("7", 0, Some(30), Some(90)), job("8", 0, Some(10), None)];
    assert_eq!(mean_queue_wait(&jobs), 20.0);
}

/// A run whose end the journal lacks (the server stopped mid-run) lasted until its batch job
/// ended at most, however late its task started again.
#[test]
fn a_run_without_an_end_never_outlasts_its_batch_job() {
    let jobs = [
        job("7", 0, Some(0), Some(100)),
        job("8", 500, Some(500), Some(700)),
    ];
    let entries = [
        added(0, None),
        started(0, "7", 40.0),
        started(0, "8", 510.0),
        ended(0, Outcome::Done, 30.0, 540.0),
        added(1, None),
        started(1, "7", 50.0),
    ];
    let l = account(entries, &jobs, facts(), Duration::from_secs(1000));
    assert_eq!(l.jobs[0].split.rerun, (60.0 + 50.0) / H);
    assert_eq!(l.jobs[0].split.running, 0.0, "its batch job has ended");
    assert!((l.total.parts() - l.total.consumed).abs() < 1e-12);
}

/// A task sent ahead and lost with its batch job is known only from when it was sent: with
/// the slot's measured run, it takes at most what the batch job has left (no double count).
#[test]
fn lost_runs_known_only_from_the_journal_take_at_most_what_is_left() {
    let one = Facts {
        cores: 1,
        slots: 1,
        walltime: Duration::from_secs(3600),
    };
    let jobs = [job("7", 0, Some(0), Some(100))];
    let entries = [
        added(0, None),
        added(1, None),
        started(0, "7", 10.0),
        started(1, "7", 11.0),
        ended(0, Outcome::Done, 60.0, 70.0),
    ];
    let l = account(entries, &jobs, one, Duration::from_secs(1000));
    let s = l.total;
    assert_eq!(s.useful, 60.0 / H);
    assert!((s.rerun - 30.0 / H).abs() < 1e-12, "{s:?}");
    assert_eq!(s.idle, 0.0);
    assert!((s.parts() - s.consumed).abs() < 1e-12);
}

/// Runs of a task the journal has not added (yet): a journal the server did not write. They
/// count by their ID, take the name of the task added later under it, and an ID far out of
/// range costs one entry, not a table up to it.
#[test]
fn runs_of_tasks_not_added_count_by_their_id() {
    let entries = [
        started(1, "7", 0.0),
        ended(1, Outcome::Done, 2.0, 2.0),
        added(0, Some("a")),
        added(1, Some("b")),
        started(u64::MAX, "7", 3.0),
        ended(u64::MAX, Outcome::Done, 4.0, 7.0),
    ];
    let f = finished_durations(entries.clone().map(Ok)).unwrap();
    assert_eq!(f.durations, vec![2.0, 4.0]);
    assert_eq!(f.names, vec![Some("b".into()), None]);
    let jobs = [job("7", 0, Some(0), Some(10))];
    let l = account(entries, &jobs, facts(), Duration::from_secs(10));
    assert_eq!((l.tasks_done, l.jobs[0].runs), (2, 2));
}
