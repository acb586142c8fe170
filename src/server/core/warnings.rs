//! The batch system's warning that a worker's batch job ends soon (SLURM `--signal`, LSF
//! `-wa`, a SIGUSR1 sent by hand): the worker passes it on to its tasks as their checkpoint
//! signal at once and reports it (`warned`, with when it came). From then on the core admits
//! tasks to that worker only against the warning plus `checkpoint_lead`, the time the batch
//! system's warning promises, if that is earlier than the deadline the worker said in its
//! hello: no task starts there that could not finish. The deadline the worker said is kept
//! for what the walltime ended (a run lost at the end of the batch job is still a walltime
//! kill). Without `checkpoint_signal` the warning changes nothing: its lead is not known.

use std::time::Duration;

use super::{Core, WorkerId};

impl Core {
    /// Worker `id` was warned at `at` (Unix time, its clock as its hello's deadline) that its
    /// batch job ends soon. Returns the deadline tasks are now admitted against, when the
    /// warning moved it earlier.
    pub fn on_warned(&mut self, id: WorkerId, at: Duration, now: Duration) -> Option<Duration> {
        self.on_heartbeat(id, now);
        let lead = self.tasks.rules.checkpoint?.lead;
        let w = self.workers.get_mut(&id)?;
        let until = at.saturating_add(lead);
        if until >= w.admit_by() {
            return None;
        }
        w.warned_until = Some(until);
        Some(until)
    }
}
