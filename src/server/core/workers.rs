//! Connected workers: what each said of itself, what its slots run, and what happens to those
//! tasks when a run ends ([`Core::on_task_ended`]: done; failed, killed or timed out, and run
//! again while `retries_on_failure` last; checkpointed, an exit with `checkpoint_exit_code`,
//! and first in line again; lost to the walltime), when the worker leaves or is
//! lost, or when it falls silent. A run lost to the walltime teaches the task what it needs at
//! least; a task that needs more than a fresh batch job offers fails at once, with the
//! walltime that would fit it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::tasks::FailedRun;
use super::{secs_to_duration, tenths, Core, Reported, WorkerId};
use crate::backend::JobId;
use crate::budget::killed_by_walltime;
use crate::duration::format_human;
use crate::protocol::{Claim, RunEnd, RunId};
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
    /// Its batch job and host as every task it runs records them (one copy, shared).
    pub job: Option<Arc<str>>,
    pub host: Arc<str>,
    pub started_per_slot: Vec<u32>,
    pub running: Vec<RunningTask>,
    pub parked: Vec<(u32, Duration)>,
    pub retired_slots: u32,
    pub last_seen: Duration,
    pub tasks_done: u64,
    /// Until when tasks are admitted after the batch system warned that the batch job ends
    /// soon ([`super::warnings`]); none until then.
    pub warned_until: Option<Duration>,
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

    /// The deadline tasks are admitted against: the one of its hello, or earlier once the
    /// batch system warned that its batch job ends soon.
    pub fn admit_by(&self) -> Duration {
        self.warned_until
            .map_or(self.hello.deadline, |w| w.min(self.hello.deadline))
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
    /// Which start of the task this copy is (0: a copy claimed by a worker that predates run
    /// IDs, known by its worker alone).
    pub run: RunId,
}

impl Core {
    pub fn on_worker_hello(&mut self, id: WorkerId, hello: WorkerHello, now: Duration) {
        let slots = hello.slots.max(1) as usize;
        self.workers.insert(
            id,
            Worker {
                job: hello.job.as_ref().map(|j| Arc::from(j.to_string())),
                host: Arc::from(hello.host.as_str()),
                hello,
                started_per_slot: vec![0; slots],
                running: Vec::new(),
                parked: Vec::new(),
                retired_slots: 0,
                last_seen: now,
                tasks_done: 0,
                warned_until: None,
            },
        );
    }

    /// Any message from a worker proves it is alive.
    pub fn on_heartbeat(&mut self, id: WorkerId, now: Duration) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.last_seen = now;
        }
    }

    /// A task ended on a worker, the report naming no run: the copy that worker runs.
    pub fn on_task_ended(
        &mut self,
        id: WorkerId,
        task: TaskId,
        end: RunEnd,
        secs: f64,
        now: Duration,
    ) -> Option<TaskEvent> {
        self.on_run_ended(id, task, 0, end, secs, now).event
    }

    /// Run `run` of a task ended on a worker. The copy the task's state names (that worker,
    /// that run) ends the task's run as its report says; any other copy is stale
    /// (see [`Core::on_stale_report`]). `run` 0 (an older worker): the copy that worker runs.
    pub fn on_run_ended(
        &mut self,
        id: WorkerId,
        task: TaskId,
        run: RunId,
        end: RunEnd,
        secs: f64,
        now: Duration,
    ) -> Reported {
        self.on_heartbeat(id, now);
        let current = self.workers.get(&id).and_then(|w| {
            w.running
                .iter()
                .position(|r| r.task == task && (run == 0 || r.run == 0 || r.run == run))
        });
        let Some(pos) = current else {
            return self.on_stale_report(id, task, end, secs);
        };
        Reported {
            event: self.current_run_ended(id, pos, end, secs, now),
            stop: Vec::new(),
        }
    }

    /// The copy at `pos` of worker `id`'s running tasks ended.
    fn current_run_ended(
        &mut self,
        id: WorkerId,
        pos: usize,
        end: RunEnd,
        secs: f64,
        now: Duration,
    ) -> Option<TaskEvent> {
        let w = self.workers.get_mut(&id)?;
        let task = w.running.get(pos)?.task;
        // `remove`, not `swap_remove`: a slot's tasks stay in the order they were sent.
        let since = w.running.remove(pos).since;
        let deadline = w.hello.deadline;
        if end == (RunEnd::Exited { code: 0 }) {
            w.tasks_done += 1;
        }
        self.estimates.stopped(self.tasks.class(task), task, since);
        let failed = |reason: String, exit_code, signal, killed| FailedRun {
            reason,
            exit_code,
            signal,
            killed,
        };
        let end = match end {
            RunEnd::NotStarted => return Some(self.tasks.give_back(task)),
            RunEnd::Exited { code: 0 } => {
                self.estimates.observe(self.tasks.class(task), secs);
                return Some(self.tasks.finish(task, Outcome::Done, secs));
            }
            RunEnd::Exited { code } => match self.tasks.rules.checkpoint {
                Some(rule) if rule.exit_code == code => {
                    return Some(self.tasks.checkpointed(task, secs, rule));
                }
                _ => failed(format!("exit status {code}"), Some(code), None, false),
            },
            RunEnd::CouldNotStart { why } => failed(why.reason().to_string(), None, None, false),
            RunEnd::Signaled { .. } if killed_by_walltime(now, deadline) => {
                return Some(self.lost_run(task, secs, "killed by the walltime".into(), true));
            }
            RunEnd::Signaled { signal } => failed(
                format!("killed by signal {signal}"),
                None,
                Some(signal),
                true,
            ),
            RunEnd::TimedOut => {
                let limit = self.tasks.spec(task).timeout.unwrap_or(secs);
                let reason = format!(
                    "timed out after {} (task_timeout {})",
                    format_human(tenths(secs)),
                    format_human(secs_to_duration(limit))
                );
                failed(reason, None, None, false)
            }
            RunEnd::Interrupted { walltime } => {
                let reason = if walltime {
                    "killed by the walltime"
                } else {
                    "interrupted (the batch job was stopped)"
                };
                return Some(self.lost_run(task, secs, reason.into(), walltime));
            }
        };
        Some(self.tasks.failed_run(task, secs, end))
    }

    /// A run of `task` was lost after `secs`: requeued, or failed once its retries are used
    /// up. A walltime kill shows the task needs more than `secs`: if that is more than a fresh
    /// batch job offers, it fails at once instead of being killed again.
    pub(super) fn lost_run(
        &mut self,
        task: TaskId,
        secs: f64,
        reason: String,
        walltime: bool,
    ) -> TaskEvent {
        if walltime {
            let mut h = self.tasks.history(task).clone();
            h.learn_needs(secs);
            if let Some(reason) = self.never_fits(&self.tasks.spec(task), &h) {
                self.tasks.counts_mut().on_lost_run(true, false);
                let outcome = Outcome::Failed {
                    reason,
                    exit_code: None,
                    walltime: true,
                };
                return self.tasks.finish(task, outcome, secs);
            }
        }
        self.note_lost_run(task);
        self.tasks.requeue(task, secs, reason, walltime)
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
            self.estimates.stopped(self.tasks.class(task), task, since);
            if !slots_seen.insert(slot) {
                events.push(self.tasks.give_back(task));
                continue;
            }
            let reason = if walltime {
                "killed by the walltime".to_string()
            } else {
                why.to_string()
            };
            // How long it ran: to now, or to the deadline when the walltime ended it (the
            // loss may be noticed a little later).
            let end = if walltime {
                now.min(w.hello.deadline)
            } else {
                now
            };
            let ran = end.saturating_sub(since).as_secs_f64();
            events.push(self.lost_run(task, ran, reason, walltime));
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
        run: RunId,
        since: Duration,
        estimate: Duration,
    ) {
        // A claimed orphan goes on with the run the journal recorded; anything else starts one.
        let claimed = matches!(self.tasks.state(task), Some(TaskState::Running { .. }));
        if let (false, Some(w)) = (claimed, self.workers.get(&id)) {
            let (job, host) = (w.job.clone(), w.host.clone());
            self.tasks.started(task, job, host, since.as_secs_f64());
        }
        self.tasks
            .set_state(task, TaskState::Running { worker: id, slot });
        self.estimates
            .started(self.tasks.class(task), task, self.tasks.time(task), since);
        if let Some(w) = self.workers.get_mut(&id) {
            w.running.push(RunningTask {
                task,
                slot,
                since,
                estimate,
                run,
            });
        }
    }
}
