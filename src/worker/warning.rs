//! The batch system's warning that the batch job ends soon, as the worker takes it: SIGUSR1,
//! whoever sends it (SLURM's `--signal=B:USR1@<lead>` passed on by the job script, LSF's
//! `-wa USR1`, `scancel --signal=USR1 --batch`, `kill -USR1`). One rule on every backend: the
//! job scripts ask each batch system that has a timed warning for SIGUSR1, and pass it on to
//! the worker. On it the worker sends every running task its checkpoint signal at once (the
//! same once-per-task send as the one `checkpoint_lead` before the deadline, which then does
//! not come again), tells the server when the warning came (the server admits tasks to it
//! against the warning plus `checkpoint_lead` from then on), and starts a task sent ahead
//! only if it ends by then too. A spec without a checkpoint (no `checkpoint_signal`) keeps
//! the worker's deadline: the warning's lead is not known.

use std::time::Duration;

use crate::task::TaskSpec;

/// The deadline a task of `spec` sent ahead is admitted against: the worker's `deadline`, or
/// the warning at `warned` plus the task's checkpoint lead when that is earlier.
pub fn admit_by(spec: &TaskSpec, deadline: Duration, warned: Option<Duration>) -> Duration {
    let lead = spec
        .checkpoint
        .as_ref()
        .and_then(|c| Duration::try_from_secs_f64(c.lead).ok());
    match (warned, lead) {
        (Some(at), Some(lead)) => deadline.min(at.saturating_add(lead)),
        _ => deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::CheckpointSignal;

    #[test]
    fn a_warning_brings_the_deadline_to_its_lead_when_the_task_carries_one() {
        let s = Duration::from_secs;
        let with = TaskSpec {
            checkpoint: Some(Box::new(CheckpointSignal {
                signal: "USR1".into(),
                lead: 60.0,
            })),
            ..TaskSpec::default()
        };
        assert_eq!(admit_by(&with, s(1000), None), s(1000));
        assert_eq!(admit_by(&with, s(1000), Some(s(500))), s(560));
        // A warning later than the deadline less the lead does not move it later.
        assert_eq!(admit_by(&with, s(1000), Some(s(990))), s(1000));
        assert_eq!(
            admit_by(&TaskSpec::default(), s(1000), Some(s(500))),
            s(1000)
        );
    }
}
