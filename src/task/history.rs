//! What happened to a task's runs: how many started, were lost or failed and ran again, what
//! its walltime kills showed it needs, and the details of the last run (batch job, host, start,
//! end, exit code or signal, why it ended). The server's task table and the journal's replay
//! keep one each per task and change it through the same calls ([`TaskHistory::on_started`],
//! [`TaskHistory::on_ended`], [`TaskHistory::on_forgiven`], [`TaskHistory::on_retried`]), so a task looks the same whether a server answers or the
//! journal is read.

use std::sync::Arc;

use super::{Outcome, StateName, TaskId, TaskInfo, TaskSpec, TaskState};

/// Why a checkpointed task is pending again, as `tasks` shows it.
pub const CHECKPOINTED: &str = "checkpointed: saved its state before the deadline";

/// The runs of one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskHistory {
    /// Runs started (a task sent ahead and given back unstarted does not count).
    pub attempts: u32,
    /// Runs lost (lost worker, interruption, walltime kill): they count against `retries`.
    pub lost_runs: u32,
    /// Failed runs that ran again: they count against `retries_on_failure`.
    pub failures: u32,
    /// Runs that saved their state and exited with `checkpoint_exit_code`: they count against
    /// `max_checkpoints`.
    pub checkpoints: u32,
    /// What its walltime kills showed it needs, seconds: a run killed after X needs more than
    /// X, and is estimated at X times the margin of [`crate::estimate::MARGIN`].
    pub needs_at_least: Option<f64>,
    /// The batch job of the last run (shared with every run of the same batch job: a million
    /// tasks run on a hundred batch jobs hold a hundred names).
    pub job: Option<Arc<str>>,
    /// The host of the last run (shared likewise).
    pub host: Option<Arc<str>>,
    /// When the last run started, Unix seconds.
    pub started_at: Option<f64>,
    /// Seconds the last run took.
    pub secs: Option<f64>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Why the last run ended as it did (none for a success).
    pub reason: Option<String>,
}

impl TaskHistory {
    /// A run started on `host` in batch job `job`, at `at` (Unix seconds).
    pub fn on_started(&mut self, job: Option<Arc<str>>, host: Option<Arc<str>>, at: f64) {
        self.attempts += 1;
        self.job = job;
        self.host = host;
        self.started_at = Some(at);
        self.secs = None;
        self.exit_code = None;
        self.signal = None;
        self.reason = None;
    }

    /// The run ended with `outcome` after `secs`.
    pub fn on_ended(&mut self, outcome: &Outcome, secs: f64) {
        if *outcome == Outcome::Returned {
            // Sent ahead and given back unstarted: that was no run.
            self.attempts = self.attempts.saturating_sub(1);
            self.started_at = None;
            self.job = None;
            self.host = None;
            return;
        }
        self.secs = Some(secs);
        let (reason, code, signal) = match outcome {
            Outcome::Done => (None, Some(0), None),
            Outcome::Failed {
                reason, exit_code, ..
            } => (Some(reason), *exit_code, None),
            Outcome::Killed { reason, signal } => (Some(reason), None, *signal),
            Outcome::Rerun {
                reason,
                exit_code,
                signal,
            } => {
                self.failures += 1;
                (Some(reason), *exit_code, *signal)
            }
            Outcome::Requeued { reason, walltime } => {
                self.lost_runs += 1;
                if *walltime {
                    self.learn_needs(secs);
                }
                (Some(reason), None, None)
            }
            Outcome::Cancelled { reason } => (Some(reason), None, None),
            Outcome::Checkpointed => {
                self.checkpoints += 1;
                self.reason = Some(CHECKPOINTED.to_string());
                self.exit_code = None;
                self.signal = None;
                return;
            }
            Outcome::Returned => unreachable!("handled above"),
        };
        self.reason = reason.cloned();
        self.exit_code = code;
        self.signal = signal;
    }

    /// A run lost with a batch job that was preempted or lost its node no longer counts
    /// against `retries`.
    pub fn on_forgiven(&mut self) {
        self.lost_runs = self.lost_runs.saturating_sub(1);
    }

    /// `hpcluster retry`: the task starts afresh, with its retries (and `max_checkpoints`)
    /// whole again (what its runs showed it needs is kept: it is still true).
    pub fn on_retried(&mut self) {
        self.lost_runs = 0;
        self.failures = 0;
        self.checkpoints = 0;
    }

    /// A run was killed by the walltime after `secs`: the task needs more than that.
    pub fn learn_needs(&mut self, secs: f64) {
        if secs.is_finite() && secs > 0.0 {
            let needs = secs * crate::estimate::MARGIN;
            self.needs_at_least = Some(self.needs_at_least.map_or(needs, |n| n.max(needs)));
        }
    }

    /// The time a task should be admitted with: its own `time`, raised to what its walltime
    /// kills showed; `None` when it has neither (it takes the default estimate).
    pub fn effective_time(&self, own: Option<f64>) -> Option<f64> {
        match (own, self.needs_at_least) {
            (Some(t), Some(n)) => Some(t.max(n)),
            (t, n) => t.or(n),
        }
    }

    /// The view of the task `hpcluster tasks` shows; `now` (Unix seconds) gives a running
    /// task's duration so far.
    pub fn info(&self, id: TaskId, spec: &TaskSpec, state: &TaskState, now: f64) -> TaskInfo {
        let name = state.name();
        let ran = matches!(name, StateName::Running) || self.secs.is_some();
        let duration = match (name, self.started_at) {
            (StateName::Running, Some(start)) => Some((now - start).max(0.0)),
            _ => self.secs,
        };
        let reason = match state {
            TaskState::Failed { reason } | TaskState::Killed { reason } => Some(reason.clone()),
            TaskState::Done | TaskState::Running { .. } => None,
            // Pending: why its last run did not finish it (a requeue or a rerun), if any.
            TaskState::Pending | TaskState::Cancelled => self.reason.clone(),
        };
        let finished = !matches!(name, StateName::Running | StateName::Pending);
        TaskInfo {
            id,
            name: spec.name.clone(),
            command: spec.cmd.clone(),
            state: name,
            reason,
            exit_code: if finished { self.exit_code } else { None },
            signal: if finished { self.signal } else { None },
            attempts: self.attempts,
            duration: if ran { duration } else { None },
            started_at: self.started_at,
            batch_job: self.job.as_deref().map(String::from),
            host: self.host.as_deref().map(String::from),
            stdout: None,
            stderr: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walltime_kill_teaches_what_the_task_needs_at_least() {
        let mut h = TaskHistory::default();
        h.on_started(Some("7".into()), Some("n1".into()), 100.0);
        h.on_ended(
            &Outcome::Requeued {
                reason: "killed by the walltime".into(),
                walltime: true,
            },
            10.0,
        );
        assert_eq!(h.lost_runs, 1);
        let needs = h.needs_at_least.unwrap();
        assert!(
            (needs - 10.0 * crate::estimate::MARGIN).abs() < 1e-9,
            "{needs}"
        );
        assert_eq!(h.effective_time(None), Some(needs));
        assert_eq!(h.effective_time(Some(60.0)), Some(60.0));
    }

    #[test]
    fn a_task_given_back_unstarted_made_no_attempt() {
        let mut h = TaskHistory::default();
        h.on_started(None, Some("n1".into()), 1.0);
        h.on_ended(&Outcome::Returned, 0.0);
        assert_eq!(h.attempts, 0);
        assert_eq!(h.host, None);
    }

    #[test]
    fn the_info_of_a_failed_task_has_its_exit_code_and_last_run() {
        let mut h = TaskHistory::default();
        h.on_started(Some("12".into()), Some("n3".into()), 1000.0);
        let outcome = Outcome::Failed {
            reason: "exit status 2".into(),
            exit_code: Some(2),
            walltime: false,
        };
        h.on_ended(&outcome, 4.5);
        let spec = TaskSpec {
            cmd: "false".into(),
            ..TaskSpec::default()
        };
        let state = TaskState::Failed {
            reason: "exit status 2".into(),
        };
        let i = h.info(5, &spec, &state, 2000.0);
        assert_eq!(i.state, StateName::Failed);
        assert_eq!(i.exit_code, Some(2));
        assert_eq!(i.duration, Some(4.5));
        assert_eq!(i.batch_job.as_deref(), Some("12"));
        assert_eq!(i.attempts, 1);
        // A running task's duration is measured to now.
        h.on_started(Some("13".into()), Some("n4".into()), 1990.0);
        let running = TaskState::Running { worker: 1, slot: 0 };
        let i = h.info(5, &spec, &running, 2000.0);
        assert_eq!(i.duration, Some(10.0));
        assert_eq!((i.exit_code, i.signal), (None, None));
    }
}
