//! How many tasks are in each state, how many runs were lost or run again, and the task time
//! spent: the numbers of the summary, `status` and the progress line. The type lives here, below
//! the journal and the server, because both produce it (a running server from its ledger, the
//! journal's replay after a run); the server's ledger (`server/core/ledger.rs`) is the only code
//! that changes it while a server runs.

use serde::{Deserialize, Serialize};

use super::StateName;

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    pub killed: usize,
    pub cancelled: usize,
    /// Runs lost and put back in the queue (lost worker, interruption, walltime kill).
    pub requeued: u64,
    /// Runs killed by the walltime (requeued, or failed when the task can never fit).
    pub walltime_kills: u64,
    /// Failed runs run again (`retries_on_failure`).
    pub reruns: u64,
    /// Runs that saved their state and exited with `checkpoint_exit_code` (the task ran
    /// again); absent from the counts of a server older than checkpoints.
    #[serde(default)]
    pub checkpointed: u64,
    /// Wall time of the runs that ended the task, ran it again after a failure or
    /// checkpointed (done, failed, killed, rerun, checkpointed; not lost and requeued, not
    /// cancelled), seconds.
    pub task_seconds: f64,
}

impl Counts {
    /// The counter of tasks in state `state`.
    pub fn of_state(&mut self, state: StateName) -> &mut usize {
        match state {
            StateName::Pending => &mut self.pending,
            StateName::Running => &mut self.running,
            StateName::Done => &mut self.done,
            StateName::Failed => &mut self.failed,
            StateName::Killed => &mut self.killed,
            StateName::Cancelled => &mut self.cancelled,
        }
    }

    /// Tasks that ended without success.
    pub fn unsuccessful(&self) -> usize {
        self.failed + self.killed + self.cancelled
    }

    /// Tasks that have not ended yet.
    pub fn unfinished(&self) -> usize {
        self.pending + self.running
    }
}
