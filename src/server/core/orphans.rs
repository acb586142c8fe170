//! Tasks a restarted server found running, and the claims of workers that come back.
//!
//! A task the journal left running (a `started` entry without an `ended` one) on a batch job
//! that is still alive is restored as an orphan of that job ([`Core::restore_orphan`]):
//! running, nobody's, not dispatched. [`Core::on_claims`] gives a returning worker its orphans
//! back; claims of anything else are disowned (the worker stops them: they were requeued
//! meanwhile) and orphans of its job it does not claim are requeued. Orphans are also requeued
//! when their batch job ends ([`Core::on_job_ended`]) or when their time to be claimed runs out
//! ([`Core::expire_orphans`]).

use std::collections::HashMap;
use std::time::Duration;

use super::{Core, WorkerId};
use crate::task::{TaskEvent, TaskHistory, TaskId, TaskSpec, TaskState};

/// The worker of a task the journal left running on a batch job that may still be alive:
/// nobody, until that job's worker reconnects and claims it.
const ORPHAN: WorkerId = WorkerId::MAX;

/// Orphans by batch job: until when they wait, and which tasks.
#[derive(Debug, Default)]
pub(super) struct Orphans(HashMap<String, (Duration, Vec<TaskId>)>);

impl Orphans {
    /// A task is no orphan anymore (`hpcluster cancel` ended it): no worker can claim it.
    pub fn forget(&mut self, task: TaskId) {
        for (_, tasks) in self.0.values_mut() {
            tasks.retain(|t| *t != task);
        }
    }
}

/// What the core makes of a worker's claims.
#[derive(Debug, Default, PartialEq)]
pub struct ClaimOutcome {
    /// Claimed tasks that are not the worker's: it must stop them.
    pub disowned: Vec<TaskId>,
    /// Tasks of its batch job it did not claim, requeued.
    pub requeued: Vec<TaskEvent>,
}

impl Core {
    /// Restores a task the journal left running on batch job `job`, which may still be alive:
    /// it stays running (nobody's) until the job's worker claims it, the job ends
    /// ([`Core::on_job_ended`]) or `until` passes ([`Core::expire_orphans`]).
    pub fn restore_orphan(
        &mut self,
        spec: TaskSpec,
        job: String,
        history: TaskHistory,
        until: Duration,
    ) {
        let running = TaskState::Running {
            worker: ORPHAN,
            slot: 0,
        };
        let id = self.tasks.add(spec, running, history);
        self.orphans
            .0
            .entry(job)
            .or_insert_with(|| (until, Vec::new()))
            .1
            .push(id);
    }

    /// A worker's claims (in its hello, after it reconnected): tasks the journal left running
    /// on its batch job become its own again; claims of anything else are disowned; tasks of
    /// its job it does not claim are requeued.
    pub fn on_claims(&mut self, id: WorkerId, now: Duration) -> ClaimOutcome {
        let mut out = ClaimOutcome::default();
        let Some(w) = self.workers.get(&id) else {
            return out;
        };
        let claims = w.hello.claims.clone();
        let job = w.job_name();
        let mut held = job
            .as_ref()
            .and_then(|j| self.orphans.0.remove(j))
            .map(|(_, tasks)| tasks)
            .unwrap_or_default();
        for c in claims {
            match held.iter().position(|t| *t == c.task) {
                Some(pos) => {
                    held.swap_remove(pos);
                }
                // Still on an older connection of the same batch job that the server has not
                // seen close yet (the worker reconnected after a network fault): moved over.
                None if self.take_from_same_job(c.task, id, job.as_deref()) => {}
                None => {
                    out.disowned.push(c.task);
                    continue;
                }
            }
            let estimate =
                self.estimates
                    .for_task(self.tasks.class(c.task), self.tasks.time(c.task), now);
            self.run_on(id, c.slot, c.task, now, estimate);
        }
        for task in held {
            out.requeued.push(self.lost_run(
                task,
                0.0,
                "its worker came back without it after the server restarted".into(),
                false,
            ));
        }
        out
    }

    /// Removes `task` from another worker of batch job `job` (not `to`) that runs it.
    fn take_from_same_job(&mut self, task: TaskId, to: WorkerId, job: Option<&str>) -> bool {
        let Some(job) = job else {
            return false;
        };
        let Some(TaskState::Running { worker, .. }) = self.tasks.state(task).cloned() else {
            return false;
        };
        if worker == to || worker == ORPHAN {
            return false;
        }
        let Some(old) = self.workers.get_mut(&worker) else {
            return false;
        };
        if old.job_name().as_deref() != Some(job) {
            return false;
        }
        let Some(pos) = old.running.iter().position(|r| r.task == task) else {
            return false;
        };
        let moved = old.running.remove(pos);
        self.estimates
            .stopped(self.tasks.class(task), task, moved.since);
        true
    }

    /// A batch job ended: tasks the journal left running on it are requeued.
    pub fn on_job_ended(&mut self, job: &str) -> Vec<TaskEvent> {
        let Some((_, tasks)) = self.orphans.0.remove(job) else {
            return Vec::new();
        };
        self.requeue_orphans(tasks, "its batch job ended while the server was down")
    }

    /// Tasks the journal left running whose worker has not come back in time are requeued.
    pub fn expire_orphans(&mut self, now: Duration) -> Vec<TaskEvent> {
        let expired: Vec<String> = self
            .orphans
            .0
            .iter()
            .filter(|(_, (until, _))| now >= *until)
            .map(|(job, _)| job.clone())
            .collect();
        let mut events = Vec::new();
        for job in expired {
            if let Some((_, tasks)) = self.orphans.0.remove(&job) {
                events.extend(self.requeue_orphans(
                    tasks,
                    "its worker did not come back after the server restarted",
                ));
            }
        }
        events
    }

    fn requeue_orphans(&mut self, tasks: Vec<TaskId>, reason: &str) -> Vec<TaskEvent> {
        tasks
            .into_iter()
            .map(|t| self.lost_run(t, 0.0, reason.into(), false))
            .collect()
    }
}
