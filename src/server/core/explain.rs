//! Why a task is where it is, for `hpcluster explain`: for a pending task, its place in the
//! queue, its estimate and where that comes from, what its lost and failed runs used up, and
//! whether any connected worker has the time for it (the budget decides, as dispatch does);
//! for a running task, where and for how long. The server's shell adds what its batch jobs are
//! doing; final states explain themselves from the task's [`crate::task::TaskInfo`].

use std::time::Duration;

use super::{Core, WorkerId};
use crate::budget::Admission;
use crate::duration::format_human;
use crate::task::{TaskId, TaskState};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Core {
    /// Sentences on why task `id` is pending or running, at `now`; empty for an ended task,
    /// `None` for an unknown one.
    pub fn explain(&self, id: TaskId, now: Duration) -> Option<Vec<String>> {
        match self.tasks.state(id)? {
            TaskState::Pending => Some(self.explain_pending(id, now)),
            TaskState::Running { worker, .. } => Some(self.explain_running(id, *worker, now)),
            _ => Some(Vec::new()),
        }
    }

    fn explain_pending(&self, id: TaskId, now: Duration) -> Vec<String> {
        let mut out = Vec::new();
        let own = self.tasks.spec(id).time;
        let h = self.tasks.history(id);
        if let Some((timed, ahead)) = self.tasks.queue_position(id) {
            let queue = if timed {
                "tasks with a time of their own"
            } else {
                "tasks that take the default estimate"
            };
            out.push(format!(
                "it is pending: {} ahead of it in the queue of {queue}",
                plural(ahead, "task", "tasks")
            ));
        }
        let est = self
            .estimates
            .for_task(self.tasks.class(id), self.tasks.time(id), now);
        let source = match (own, h.needs_at_least) {
            (_, Some(n)) if own.is_none_or(|o| n > o) => format!(
                "its run killed by the walltime after {} shows it needs more",
                format_human(super::tenths(n / crate::estimate::MARGIN))
            ),
            (Some(_), _) => "its own `time`".to_string(),
            (None, _) if est.is_zero() => {
                "nothing yet: no `task_time` and no task has finished".to_string()
            }
            (None, _) => {
                "`task_time`, the durations seen so far and how long the running tasks have run"
                    .to_string()
            }
        };
        out.push(format!(
            "its estimate is {} (from {source}); a worker starts it only with that and the \
             buffer ({}) left before its deadline",
            format_human(est),
            format_human(self.cfg.budget.buffer)
        ));
        let rules = self.tasks.rules;
        let spec = self.tasks.spec(id);
        if h.lost_runs > 0 {
            let retries = spec.retries.unwrap_or(rules.retries);
            out.push(format!(
                "it lost {} (retries = {retries}: {} left)",
                plural(h.lost_runs as usize, "run", "runs"),
                retries.saturating_sub(h.lost_runs)
            ));
        }
        if h.failures > 0 {
            let allowed = spec.retries_on_failure.unwrap_or(rules.retries_on_failure);
            out.push(format!(
                "it failed {} and runs again (retries_on_failure = {allowed}: {} left)",
                plural(h.failures as usize, "time", "times"),
                allowed.saturating_sub(h.failures)
            ));
        }
        if let Some(c) = rules.checkpoint.filter(|_| h.checkpoints > 0) {
            out.push(format!(
                "it checkpointed {} (max_checkpoints = {}: {} left)",
                plural(h.checkpoints as usize, "time", "times"),
                c.max_checkpoints,
                c.max_checkpoints.saturating_sub(h.checkpoints)
            ));
        }
        if let Some(r) = &h.reason {
            out.push(format!("its last run: {r}"));
        }
        if let Some(c) = rules.checkpoint.filter(|_| self.tasks.checkpointable(id)) {
            out.push(format!(
                "it checkpoints (`checkpointable`): a worker with at least {} left before its \
                 deadline starts it, however long its estimate, and sends it {} {} before the \
                 deadline",
                format_human(c.lead.saturating_mul(crate::budget::PIECE_LEADS + 1)),
                c.signal.as_str(),
                format_human(c.lead)
            ));
        }
        out.push(self.explain_workers(est, now));
        out
    }

    /// Whether any connected worker has time for a task of `est`.
    fn explain_workers(&self, est: Duration, now: Duration) -> String {
        if self.workers.is_empty() {
            return "no worker is connected yet".to_string();
        }
        let b = &self.cfg.budget;
        let mut fit = 0;
        let mut most_left = Duration::ZERO;
        for w in self.workers.values().filter(|w| w.active_slots() > 0) {
            most_left = most_left.max(b.left(now, w.admit_by()));
            if b.admit(now, w.admit_by(), est, 0) == Admission::Start {
                fit += 1;
            }
        }
        if fit == 0 {
            format!(
                "no connected worker has the time for it (the most any has left is {}): it waits \
                 for a fresh batch job, which offers {}",
                format_human(most_left),
                format_human(b.usable)
            )
        } else {
            format!(
                "{} the time for it: it starts when a slot there is free and the tasks ahead \
                 of it have started",
                plural(fit, "connected worker has", "connected workers have")
            )
        }
    }

    fn explain_running(&self, id: TaskId, worker: WorkerId, now: Duration) -> Vec<String> {
        let Some(w) = self.workers.get(&worker) else {
            let job = self
                .tasks
                .history(id)
                .job
                .clone()
                .unwrap_or_else(|| "?".into());
            return vec![format!(
                "the previous server left it running in batch job {job}: it waits for that \
                 batch job's worker to come back and claim it (else it is requeued)"
            )];
        };
        let Some(r) = w.running.iter().find(|r| r.task == id) else {
            return Vec::new();
        };
        let job = w.job_name().unwrap_or_else(|| "?".into());
        let ahead_of_it = w
            .running
            .iter()
            .take_while(|o| o.task != id)
            .find(|o| o.slot == r.slot);
        if let Some(current) = ahead_of_it {
            return vec![format!(
                "it was sent ahead to worker {worker} in batch job {job} on {}, slot {}: it \
                 starts there when task {} ends, if the deadline still allows it (else it \
                 comes back to the queue)",
                w.hello.host, r.slot, current.task
            )];
        }
        let mut out = vec![format!(
            "it runs on worker {worker} in batch job {job} on {}, slot {}, for {}",
            w.hello.host,
            r.slot,
            format_human(Duration::from_secs(now.saturating_sub(r.since).as_secs()))
        )];
        out.push(format!(
            "it was admitted with an estimate of {}; its worker's deadline is in {}",
            format_human(r.estimate),
            format_human(Duration::from_secs(
                w.hello.deadline.saturating_sub(now).as_secs()
            ))
        ));
        if let Some(c) = self.tasks.rules.checkpoint {
            out.push(format!(
                "its worker sends it {} {} before the deadline; an exit with status {} then \
                 requeues it as checkpointed",
                c.signal.as_str(),
                format_human(c.lead),
                c.exit_code
            ));
        }
        out
    }
}
