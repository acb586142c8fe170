//! The worker's side of the checkpoint contract (`checkpoint_signal`, `checkpoint_lead`): each
//! running task whose spec carries a checkpoint signal gets it once, sent to its whole process
//! group (the task guard passes it on to the command), `lead` before the worker's deadline; a
//! task that then saves its state and exits with `checkpoint_exit_code` is requeued by the
//! server as checkpointed. The batch system's warning brings that send forward to the moment
//! it comes ([`super::warning`]). A task sent ahead that checkpoints (`checkpointable`) starts while
//! its lead and a piece of work still fit ([`crate::budget::fits_a_piece`]), the server's own
//! rule, however long its estimate.

use std::collections::HashMap;
use std::time::Duration;

use super::launch::Running;
use crate::process::{checkpoint_signal, signal_group, Signal};
use crate::task::TaskSpec;

/// How often the worker looks for tasks due their checkpoint signal.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// A checkpoint signal a running task is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Due {
    /// Unix time at which it goes out: the deadline less the lead.
    pub at: Duration,
    pub signal: Signal,
}

impl Due {
    /// The checkpoint signal `spec` asks for, against the worker's `deadline`; none when the
    /// spec carries none (or one this worker cannot name).
    pub fn of(spec: &TaskSpec, deadline: Duration) -> Option<Due> {
        let c = spec.checkpoint.as_ref()?;
        let lead = Duration::try_from_secs_f64(c.lead).ok()?;
        Some(Due {
            at: deadline.saturating_sub(lead),
            signal: checkpoint_signal(&c.signal)?,
        })
    }
}

/// Sends each running task whose checkpoint is due at `now` its signal, once; returns the
/// tasks signalled.
pub fn signal_due(running: &mut HashMap<u64, Running>, now: Duration) -> Vec<u64> {
    send(running, |due| now >= due.at, "before the deadline")
}

/// Sends every running task that has a checkpoint signal still to come that signal now (the
/// batch system's warning came: [`super::warning`]); returns the tasks signalled.
pub fn signal_all(running: &mut HashMap<u64, Running>) -> Vec<u64> {
    send(running, |_| true, "on the batch system's warning")
}

/// Sends the tasks whose checkpoint signal `now` picks that signal, once.
fn send(running: &mut HashMap<u64, Running>, now: impl Fn(&Due) -> bool, why: &str) -> Vec<u64> {
    let mut sent = Vec::new();
    for (task, r) in running.iter_mut() {
        if let Some(due) = r.checkpoint.filter(|d| now(d)) {
            r.checkpoint = None;
            tracing::info!(
                "task {task}: sending {} to checkpoint {why}",
                due.signal.as_str()
            );
            signal_group(r.pgid, due.signal);
            sent.push(*task);
        }
    }
    sent
}

/// A task sent ahead that checkpoints may start at `now` without its estimate fitting: its
/// lead and a piece of work fit before `deadline`.
pub fn starts_in_pieces(spec: &TaskSpec, now: Duration, deadline: Duration) -> bool {
    let Some(c) = spec.checkpoint.as_ref() else {
        return false;
    };
    let lead = Duration::try_from_secs_f64(c.lead).unwrap_or_default();
    spec.checkpointable == Some(true) && crate::budget::fits_a_piece(now, deadline, lead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::CheckpointSignal;

    fn spec(checkpointable: Option<bool>) -> TaskSpec {
        TaskSpec {
            cmd: "true".into(),
            checkpointable,
            checkpoint: Some(Box::new(CheckpointSignal {
                signal: "USR1".into(),
                lead: 10.0,
            })),
            ..TaskSpec::default()
        }
    }

    #[test]
    fn the_signal_is_due_its_lead_before_the_deadline() {
        let s = Duration::from_secs;
        let due = Due::of(&spec(None), s(100)).unwrap();
        assert_eq!(due.at, s(90));
        assert_eq!(due.signal, Signal::SIGUSR1);
        assert_eq!(Due::of(&TaskSpec::default(), s(100)), None);
    }

    #[test]
    fn a_task_sent_ahead_starts_in_pieces_only_if_it_checkpoints() {
        let s = Duration::from_secs;
        assert!(starts_in_pieces(&spec(Some(true)), s(70), s(100)));
        assert!(!starts_in_pieces(&spec(Some(true)), s(71), s(100)));
        assert!(!starts_in_pieces(&spec(None), s(0), s(100)));
    }
}
