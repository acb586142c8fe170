//! The server's batch jobs through the [`Tracker`]: submit, poll, describe, cancel.

use crate::backend::timed::Stop;
use crate::backend::{JobId, JobState};
use crate::cluster_dir::ExcludedNode;
use crate::server::jobs::JobControl;
use crate::tracker::Tracker;

/// [`JobControl`] over a backend's [`Tracker`]; logs every state change. `stop` is the one its
/// backend's commands obey.
pub struct TrackerControl {
    pub tracker: Tracker,
    pub stop: Stop,
}

impl JobControl for TrackerControl {
    fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>> {
        let (ids, error) = self.submit_all(n);
        match error {
            Some(e) => Err(e),
            None => Ok(ids),
        }
    }

    fn submit_all(&mut self, n: u32) -> (Vec<JobId>, Option<anyhow::Error>) {
        let done = self.tracker.submit(n);
        (done.ids, done.error)
    }

    fn poll(&mut self) -> anyhow::Result<Vec<(JobId, JobState)>> {
        let changes = self.tracker.poll_once()?;
        for c in &changes {
            tracing::info!("batch job {}: {} -> {}", c.id, c.from, c.to);
        }
        Ok(changes.into_iter().map(|c| (c.id, c.to)).collect())
    }

    fn describe(&mut self, ids: &[JobId]) -> Vec<(JobId, String)> {
        self.tracker.describe(ids)
    }

    fn nodes(&mut self, ids: &[JobId]) -> Vec<(JobId, String)> {
        self.tracker
            .jobs()
            .iter()
            .filter(|j| ids.contains(&j.id))
            .filter_map(|j| Some((j.id.clone(), j.node.clone()?)))
            .collect()
    }

    fn exclude(&mut self, nodes: Vec<ExcludedNode>) -> anyhow::Result<Vec<ExcludedNode>> {
        self.tracker.exclude(nodes)
    }

    fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<()> {
        self.tracker.cancel(ids).map(|_| ())
    }

    /// Every batch job the tracker knows, after looking up by name the submissions whose
    /// answer was lost.
    fn cancel_all(&mut self, _known: &[JobId]) -> anyhow::Result<Vec<JobId>> {
        self.tracker.cancel_all()
    }

    fn stopper(&self) -> Option<Stop> {
        Some(self.stop.clone())
    }
}
