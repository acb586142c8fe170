//! Connected workers: what each said of itself, what its slots run, and what happens to those
//! tasks when a run ends ([`Core::on_task_ended`]), when the worker leaves or is lost, or when
//! it falls silent.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Core, WorkerId};
use crate::backend::JobId;
use crate::budget::killed_by_walltime;
use crate::protocol::{Claim, RunEnd};
use crate::task::{Outcome, TaskEvent, TaskId, TaskState};

/// What a worker said of itself in its hello.
#[derive(Debug, Clone)]
pub struct WorkerHello {
    pub job: Option<JobId>,
    pub slots: u32,
    pub deadline: Duration,
    pub host: String,
    /// Tasks it already holds (a worker reconnecting to a restarted server).
    pub claims: Vec<Claim>,
}

#[derive(Debug, Clone)]
pub(super) struct Worker {
    pub hello: WorkerHello,
    pub started_per_slot: Vec<u32>,
    pub running: Vec<RunningTask>,
    pub parked: Vec<(u32, Duration)>,
    pub retired_slots: u32,
    pub last_seen: Duration,
    pub tasks_done: u64,
}

impl Worker {
    /// Slots not told to retire or stop.
    pub fn active_slots(&self) -> u32 {
        self.hello.slots.saturating_sub(self.retired_slots)
    }

    /// The slot index a message names, clamped to the worker's slots.
    pub fn slot_index(&self, slot: u32) -> usize {
        (slot as usize).min(self.started_per_slot.len().saturating_sub(1))
    }

    pub fn job_name(&self) -> Option<String> {
        self.hello.job.as_ref().map(|j| j.to_string())
    }
}

/// A task sent to a worker slot, running or (sent ahead) queued behind the slot's task.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunningTask {
    pub task: TaskId,
    pub slot: u32,
    /// When it started (or is expected to start, for a task sent ahead).
    pub since: Duration,
    /// The estimate it was admitted with.
    pub estimate: Duration,
}

impl Core {
    pub fn on_worker_hello(&mut self, id: WorkerId, hello: WorkerHello, now: Duration) {
        let slots = hello.slots.max(1) as usize;
        self.workers.insert(
            id,
            Worker {
                hello,
                started_per_slot: vec![0; slots],
                running: Vec::new(),
                parked: Vec::new(),
                retired_slots: 0,
                last_seen: now,
                tasks_done: 0,
            },
        );
    }

    /// Any message from a worker proves it is alive.
    pub fn on_heartbeat(&mut self, id: WorkerId, now: Duration) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.last_seen = now;
        }
    }

    /// A task ended on a worker.
    pub fn on_task_ended(
        &mut self,
        id: WorkerId,
        task: TaskId,
        end: RunEnd,
        secs: f64,
        now: Duration,
    ) -> Option<TaskEvent> {
        self.on_heartbeat(id, now);
        let w = self.workers.get_mut(&id)?;
        let pos = w.running.iter().position(|r| r.task == task)?;
        // `remove`, not `swap_remove`: a slot's tasks stay in the order they were sent.
        let since = w.running.remove(pos).since;
        let deadline = w.hello.deadline;
        if end == (RunEnd::Exited { code: 0 }) {
            w.tasks_done += 1;
        }
        self.estimates.stopped(task, since);
        let outcome = match end {
            RunEnd::NotStarted => return Some(self.tasks.give_back(task)),
            RunEnd::Exited { code: 0 } => {
                self.estimates.observe(secs);
                Outcome::Done
            }
            RunEnd::Exited { code } => Outcome::Failed {
                reason: format!("exit status {code}"),
            },
            RunEnd::CouldNotStart { why } => Outcome::Failed {
                reason: why.reason().to_string(),
            },
            RunEnd::Signaled { .. } if killed_by_walltime(now, deadline) => {
                return Some(self.lost_run(task, secs, "killed by the walltime".into(), true));
            }
            RunEnd::Signaled { signal } => Outcome::Failed {
                reason: format!("killed by signal {signal}"),
            },
            RunEnd::Interrupted { walltime } => {
                let reason = if walltime {
                    "killed by the walltime"
                } else {
                    "interrupted (the batch job was stopped)"
                };
                return Some(self.lost_run(task, secs, reason.into(), walltime));
            }
        };
        self.tasks.finish(task, &outcome);
        self.tasks.counts_mut().on_run_ended(secs);
        Some(TaskEvent {
            task,
            outcome,
            secs,
        })
    }

    /// A run of `task` was lost: requeued, or failed once its retries are used up.
    pub(super) fn lost_run(
        &mut self,
        task: TaskId,
        secs: f64,
        reason: String,
        walltime: bool,
    ) -> TaskEvent {
        self.tasks
            .requeue(task, secs, reason, walltime, self.cfg.retries)
    }

    /// The worker left cleanly; anything it still held is requeued.
    pub fn on_goodbye(&mut self, id: WorkerId, now: Duration) -> Vec<TaskEvent> {
        self.on_worker_lost(id, "worker left while running it", now)
    }

    /// The worker is gone (connection lost, batch job ended, heartbeat timeout): the task each
    /// slot ran is requeued (a walltime kill when the deadline had come); a second task of a
    /// slot was sent ahead, cannot have started, and goes back without a lost run.
    pub fn on_worker_lost(&mut self, id: WorkerId, why: &str, now: Duration) -> Vec<TaskEvent> {
        let Some(w) = self.workers.remove(&id) else {
            return Vec::new();
        };
        let walltime = killed_by_walltime(now, w.hello.deadline);
        let mut events = Vec::new();
        let mut slots_seen = BTreeSet::new();
        for RunningTask {
            task, since, slot, ..
        } in w.running
        {
            self.estimates.stopped(task, since);
            if !slots_seen.insert(slot) {
                events.push(self.tasks.give_back(task));
                continue;
            }
            let reason = if walltime {
                "killed by the walltime".to_string()
            } else {
                why.to_string()
            };
            events.push(self.lost_run(task, 0.0, reason, walltime));
        }
        events
    }

    /// Workers silent past the heartbeat timeout.
    pub fn silent_workers(&self, now: Duration) -> Vec<WorkerId> {
        self.workers
            .iter()
            .filter(|(_, w)| now.saturating_sub(w.last_seen) > self.cfg.heartbeat_timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Connected workers: (id, job, host, running tasks, tasks done, deadline).
    pub fn workers(
        &self,
    ) -> impl Iterator<Item = (WorkerId, Option<&JobId>, &str, usize, u64, Duration)> {
        self.workers.iter().map(|(id, w)| {
            (
                *id,
                w.hello.job.as_ref(),
                w.hello.host.as_str(),
                w.running.len(),
                w.tasks_done,
                w.hello.deadline,
            )
        })
    }

    /// Marks a task running on a worker slot from `since`, with the estimate it was admitted
    /// with.
    pub(super) fn run_on(
        &mut self,
        id: WorkerId,
        slot: u32,
        task: TaskId,
        since: Duration,
        estimate: Duration,
    ) {
        self.tasks
            .set_state(task, TaskState::Running { worker: id, slot });
        self.estimates.started(task, self.tasks.time(task), since);
        if let Some(w) = self.workers.get_mut(&id) {
            w.running.push(RunningTask {
                task,
                slot,
                since,
                estimate,
            });
        }
    }
}
