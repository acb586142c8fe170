//! Dispatch by pull: a free worker slot asks, and the core answers with a pending task that the
//! [`crate::budget::Budget`] admits on that worker (it can finish before the worker's deadline,
//! within the user's cap; which one: [`super::select`]), tells the slot to retire when pending
//! tasks exist but none fits, or parks it while the queue is empty. A slot with nothing to wait
//! for leaves at once: in a run whose task list is closed, when nothing is pending and no
//! running task could come back to it (none would fit its time left if its run were lost).
//! Also: sending the next short task ahead to a busy slot ([`Core::prefetch`]) and waking
//! parked slots ([`Core::on_wake`]).

use std::time::Duration;

use super::{Core, WorkerId};
use crate::budget::Admission;
use crate::protocol::RunId;
use crate::task::{TaskId, TaskSpec};

/// Why a slot retires with nothing pending in a closed run.
const NOTHING_TO_WAIT_FOR: &str =
    "nothing pending, and no running task could come back to this worker's time left";

/// A slot whose task is expected to end within this long gets its next task sent ahead, so
/// it starts without waiting for a round trip to the server (see [`Core::prefetch`]).
pub const PREFETCH_BELOW: Duration = Duration::from_secs(2);

/// The answer to a slot's request.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    Run {
        task: TaskId,
        spec: TaskSpec,
        estimate: Duration,
        buffer: Duration,
        /// The ID of this start (see [`crate::protocol::RunId`]).
        run: RunId,
    },
    /// Pending tasks exist but none can finish before the deadline (or the cap is reached).
    Retire { reason: String },
    /// No task pending now; ask again when told.
    Park,
    /// Every task has ended and no more will come.
    Stop,
    /// The slot still runs a task sent ahead: nothing to answer (see [`Core::prefetch`]).
    Busy,
}

/// Where and when a task would start: a worker's deadline and the slot's count of tasks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Opening {
    /// When the task would start (now, or the expected end of the slot's task).
    pub at: Duration,
    pub deadline: Duration,
    pub started: u32,
}

impl Core {
    /// A free slot asks for work.
    pub fn on_ask(&mut self, id: WorkerId, slot: u32, now: Duration) -> Dispatch {
        self.on_heartbeat(id, now);
        let Some(worker) = self.workers.get(&id) else {
            return Dispatch::Stop;
        };
        let slot_ix = worker.slot_index(slot);
        if worker.running.iter().any(|r| r.slot == slot_ix as u32) {
            // Its task sent ahead has started: the ask is for the one after (`prefetch`).
            return Dispatch::Busy;
        }
        let opening = Opening {
            at: now,
            deadline: worker.admit_by(),
            started: worker.started_per_slot[slot_ix],
        };
        if !self.tasks.has_pending() {
            if self.is_finished() {
                self.retire_slot(id);
                return Dispatch::Stop;
            }
            if self.nothing_to_wait_for(opening, now) {
                self.retire_slot(id);
                return Dispatch::Retire {
                    reason: NOTHING_TO_WAIT_FOR.into(),
                };
            }
            if let Some(w) = self.workers.get_mut(&id) {
                w.parked.push((slot, now));
            }
            return Dispatch::Park;
        }
        match self.select(now, opening) {
            Ok(task) => self.start(id, slot_ix as u32, task, now, now),
            Err(refusal) => {
                self.retire_slot(id);
                Dispatch::Retire {
                    reason: describe_refusal(refusal),
                }
            }
        }
    }

    /// Sends a slot its next task ahead while its current task runs, so the worker starts it
    /// the moment the current one ends instead of idling for a round trip to the server.
    /// Only for slots whose task is known to end within [`PREFETCH_BELOW`] (for longer
    /// tasks the round trip is noise, and a task held for long could start sooner elsewhere);
    /// one task at most waits per slot. The task is admitted as if it started when the
    /// current one is expected to end, and the worker checks the deadline again before it
    /// starts it. Only while as many tasks wait as the connected workers have slots: with
    /// fewer, every other slot can take one as it frees, and a task held behind this busy
    /// slot would only make the end of the run later. `None` when nothing is sent; a refusal
    /// here never retires the slot (its next ask does that).
    pub fn prefetch(&mut self, id: WorkerId, slot: u32, now: Duration) -> Option<Dispatch> {
        let slots = self.workers.len() as u64 * u64::from(self.cfg.budget.slots.max(1));
        if (self.tasks.counts().pending as u64) < slots {
            return None;
        }
        let worker = self.workers.get(&id)?;
        let slot_ix = worker.slot_index(slot);
        let mut on_slot = worker.running.iter().filter(|r| r.slot == slot_ix as u32);
        let current = *on_slot.next()?;
        // An estimate from nothing but the elapsed time of running tasks (no `task_time`,
        // no own time, nothing finished yet) is unknown, not short, however small.
        let known = self.estimates.known(
            self.tasks.class(current.task),
            self.tasks.time(current.task),
        );
        if on_slot.next().is_some()
            || !known
            || current.estimate.is_zero()
            || current.estimate > PREFETCH_BELOW
        {
            return None;
        }
        let at = (current.since + current.estimate).max(now);
        let opening = Opening {
            at,
            deadline: worker.admit_by(),
            started: worker.started_per_slot[slot_ix],
        };
        let task = self.select(now, opening).ok()?;
        Some(self.start(id, slot_ix as u32, task, now, at))
    }

    /// Hands a task to a slot; it starts at `since` (now, or when the slot's current task is
    /// expected to end for a task sent ahead), which is what the oldest-running bound of the
    /// estimate counts from.
    fn start(
        &mut self,
        id: WorkerId,
        slot: u32,
        task: TaskId,
        now: Duration,
        since: Duration,
    ) -> Dispatch {
        let estimate = self
            .estimates
            .for_task(self.tasks.class(task), self.tasks.time(task), now);
        let run = self.next_run();
        self.run_on(id, slot, task, run, since, estimate);
        if let Some(n) = self
            .workers
            .get_mut(&id)
            .and_then(|w| w.started_per_slot.get_mut(slot as usize))
        {
            *n += 1;
        }
        Dispatch::Run {
            task,
            spec: self.tasks.spec(task),
            estimate,
            buffer: self.cfg.budget.buffer,
            run,
        }
    }

    fn retire_slot(&mut self, id: WorkerId) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.retired_slots = (w.retired_slots + 1).min(w.hello.slots);
        }
    }

    /// Parked slots that can be served now: after tasks arrive, or to stop or retire them.
    pub fn on_wake(&mut self, now: Duration) -> Vec<(WorkerId, u32, Dispatch)> {
        let mut out = Vec::new();
        let has_pending = self.tasks.has_pending();
        let finished = self.is_finished();
        let idle_timeout = self.cfg.idle_timeout;
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for id in ids {
            let parked =
                std::mem::take(&mut self.workers.get_mut(&id).expect("id from keys").parked);
            let mut keep = Vec::new();
            for (slot, since) in parked {
                if has_pending || finished {
                    let d = self.on_ask(id, slot, now);
                    if d != Dispatch::Park {
                        out.push((id, slot, d));
                    }
                } else if self.parked_has_nothing_to_wait_for(id, now) {
                    self.retire_slot(id);
                    out.push((
                        id,
                        slot,
                        Dispatch::Retire {
                            reason: NOTHING_TO_WAIT_FOR.into(),
                        },
                    ));
                } else if now.saturating_sub(since) >= idle_timeout {
                    self.retire_slot(id);
                    out.push((
                        id,
                        slot,
                        Dispatch::Retire {
                            reason: "no work arrived within the idle timeout".into(),
                        },
                    ));
                } else {
                    keep.push((slot, since));
                }
            }
            if let Some(w) = self.workers.get_mut(&id) {
                w.parked.extend(keep);
            }
        }
        out
    }
}

impl Core {
    /// In a run whose task list is closed, with nothing pending: no running task (nor one a
    /// restarted server holds for a returning worker) would fit this opening if it came back.
    fn nothing_to_wait_for(&self, o: Opening, now: Duration) -> bool {
        if !self.input_closed || self.tasks.has_pending() {
            return false;
        }
        let held: usize = self.workers.values().map(|w| w.running.len()).sum();
        if self.tasks.counts().running > held {
            return false; // orphans of a restarted server may come back
        }
        let budget = self.cfg.budget;
        !self.workers.values().flat_map(|w| &w.running).any(|r| {
            let est =
                self.estimates
                    .for_task(self.tasks.class(r.task), self.tasks.time(r.task), now);
            self.admits(budget, o, est, r.task) == Admission::Start
        })
    }

    fn parked_has_nothing_to_wait_for(&self, id: WorkerId, now: Duration) -> bool {
        let Some(w) = self.workers.get(&id) else {
            return false;
        };
        let o = Opening {
            at: now,
            deadline: w.admit_by(),
            started: 0,
        };
        self.nothing_to_wait_for(o, now)
    }
}

fn describe_refusal(refusal: Option<Admission>) -> String {
    match refusal {
        Some(Admission::CapReached { task_cap }) => format!("max_tasks ({task_cap}) reached"),
        Some(Admission::NoTime { remaining, needed }) => format!(
            "no pending task fits: {} left before the deadline, the next task needs {} with the buffer",
            crate::duration::format_human(remaining),
            crate::duration::format_human(needed)
        ),
        _ => "no pending task fits".to_string(),
    }
}
