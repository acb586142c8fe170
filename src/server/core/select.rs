//! Which pending task a worker slot gets: the oldest one, when the budget admits it at the
//! slot's opening (FIFO is the rule, within a class and across classes); else, at the tail of a
//! batch job where the oldest no longer fits, the task that fits best: of the oldest task of
//! each class and the tasks with their own `time`, the admitted one with the longest estimate,
//! so the tail of the batch job is used instead of returned. With `best_fit` off (a comparison
//! mode of the simulator) only the oldest task that takes the default estimate and the first
//! task with its own time that fits are considered, as before classes existed.
//!
//! Admission is the budget's rule ([`Budget::admit`]) with one exception: a fresh slot (nothing
//! started, most of its batch job ahead: [`Budget::fresh`]) may start a task whose estimate is
//! capped at the usable time, so tasks the run has seen take longer than any batch job offers
//! still run, one per fresh batch job, instead of every worker retiring unused. A task that
//! checkpoints (`checkpointable`, with a `checkpoint_signal`) starts in any time left that
//! holds its checkpoint lead and a piece of work ([`crate::budget::fits_a_piece`]).

use std::collections::HashSet;
use std::time::Duration;

use super::dispatch::Opening;
use super::Core;
use crate::budget::{Admission, Budget};
use crate::task::TaskId;

/// How far into a pending queue a dispatch looks for a task that fits.
const SCAN_LIMIT: usize = 4096;

/// A pending task that could go to the slot: where it waits, and its estimate.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    task: TaskId,
    /// Its position in the default queue (`Some`) or in the queue of timed tasks (`None`).
    default_pos: Option<usize>,
    timed_pos: Option<usize>,
    estimate: Duration,
}

impl Core {
    /// The budget's admission at an opening, with the fresh-slot exception (module doc).
    /// A task that checkpoints starts in any piece of time that fits its checkpoint lead
    /// ([`Budget::admit_in_pieces`]).
    pub(super) fn admits(
        &self,
        budget: Budget,
        o: Opening,
        estimate: Duration,
        task: TaskId,
    ) -> Admission {
        let lead = self
            .tasks
            .rules
            .checkpoint
            .filter(|_| self.tasks.checkpointable(task))
            .map(|c| c.lead);
        let a = match lead {
            Some(lead) => budget.admit_in_pieces(o.at, o.deadline, estimate, o.started, lead),
            None => budget.admit(o.at, o.deadline, estimate, o.started),
        };
        let left = budget.left(o.at, o.deadline);
        match a {
            Admission::NoTime { .. }
                if budget.admission
                    && self.estimates.at_cap(estimate)
                    && budget.fresh(left, o.started) =>
            {
                Admission::Start
            }
            other => other,
        }
    }

    /// Takes the task this opening gets out of its queue (module doc); or why none is
    /// admitted (the refusal of the oldest pending task).
    pub(super) fn select(
        &mut self,
        now: Duration,
        o: Opening,
    ) -> Result<TaskId, Option<Admission>> {
        let budget = self.cfg.budget;
        let Some(oldest) = self.oldest(now) else {
            return Err(None);
        };
        let refusal = match self.admits(budget, o, oldest.estimate, oldest.task) {
            Admission::Start => return Ok(self.take(oldest)),
            other => other,
        };
        let candidates = self.candidates(now, budget.best_fit);
        let admitted = candidates
            .iter()
            .filter(|c| self.admits(budget, o, c.estimate, c.task) == Admission::Start);
        let pick = if budget.best_fit {
            // The longest that fits; the oldest of equals.
            admitted.max_by(|a, b| a.estimate.cmp(&b.estimate).then(b.task.cmp(&a.task)))
        } else {
            admitted.min_by_key(|c| c.task)
        };
        match pick.copied() {
            Some(c) => Ok(self.take(c)),
            None => Err(Some(refusal)),
        }
    }

    /// The oldest pending task, with its estimate.
    fn oldest(&self, now: Duration) -> Option<Candidate> {
        let default = self.tasks.first_default().map(|t| Candidate {
            task: t,
            default_pos: Some(0),
            timed_pos: None,
            estimate: self.estimates.class_at(self.tasks.class(t), now),
        });
        let timed = self.tasks.timed().next().map(|t| Candidate {
            task: t,
            default_pos: None,
            timed_pos: Some(0),
            estimate: self.estimates.for_task("", self.tasks.time(t), now),
        });
        match (default, timed) {
            (Some(d), Some(t)) => Some(if t.task < d.task { t } else { d }),
            (d, t) => d.or(t),
        }
    }

    /// The pending tasks a slot may get when the oldest does not fit: the oldest
    /// default-estimate task of each class (only the oldest of all without `best_fit`) and the
    /// timed tasks, each with its estimate.
    fn candidates(&self, now: Duration, best_fit: bool) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut classes: HashSet<&str> = HashSet::new();
        let scan = if best_fit { SCAN_LIMIT } else { 1 };
        for (pos, t) in self.tasks.defaults().take(scan).enumerate() {
            let class = self.tasks.class(t);
            if classes.insert(class) {
                out.push(Candidate {
                    task: t,
                    default_pos: Some(pos),
                    timed_pos: None,
                    estimate: self.estimates.class_at(class, now),
                });
            }
        }
        let mut last_estimate = None;
        for (pos, t) in self.tasks.timed().take(SCAN_LIMIT).enumerate() {
            let estimate = self.estimates.for_task("", self.tasks.time(t), now);
            // Of timed tasks of the same time in a row, only the oldest can be picked.
            if last_estimate == Some(estimate) {
                continue;
            }
            last_estimate = Some(estimate);
            out.push(Candidate {
                task: t,
                default_pos: None,
                timed_pos: Some(pos),
                estimate,
            });
        }
        out
    }

    fn take(&mut self, c: Candidate) -> TaskId {
        let taken = match (c.default_pos, c.timed_pos) {
            (Some(0), _) => self.tasks.take_default(),
            (Some(pos), _) => self.tasks.take_default_at(pos),
            (None, Some(pos)) => self.tasks.take_timed(pos),
            (None, None) => None,
        };
        taken.expect("a position from the scan of the queue")
    }
}
