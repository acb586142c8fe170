//! The server's batch jobs through the [`Tracker`]: submit, poll, cancel.

use crate::backend::{JobId, JobState};
use crate::server::jobs::JobControl;
use crate::tracker::Tracker;

/// [`JobControl`] over a backend's [`Tracker`]; logs every state change.
pub struct TrackerControl(pub Tracker);

impl JobControl for TrackerControl {
    fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>> {
        self.0.submit(n)
    }

    fn poll(&mut self) -> anyhow::Result<Vec<(JobId, JobState)>> {
        let changes = self.0.poll_once()?;
        for c in &changes {
            tracing::info!("batch job {}: {} -> {}", c.id, c.from, c.to);
        }
        Ok(changes.into_iter().map(|c| (c.id, c.to)).collect())
    }

    fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<()> {
        self.0.cancel(ids).map(|_| ())
    }
}
