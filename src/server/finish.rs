//! The end of a run: every batch job of the cluster the batch system knows is cancelled
//! (whatever ended the loop: the last task, Ctrl-C, an error; a submission whose answer was
//! lost is looked up by name first), its final state is awaited for a while so `jobs.json`
//! records how each ended, and the summary is drawn up.

use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::book::JobBook;
use super::core::Core;
use super::jobs::{JobCmd, JobError, JobEvent};
use super::run::{Server, Summary};
use crate::backend::JobId;

/// How long `up` waits for its cancellations to be carried out.
const CANCEL_WITHIN: Duration = Duration::from_secs(120);

/// Pauses between the polls `up` makes at its end for the final state of batch jobs it
/// cancelled: five status commands at most, over 15.5 s, gentle on the controller.
const SETTLE_PAUSES_MS: [u64; 5] = [500, 1000, 2000, 4000, 8000];

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Server {
    /// Cancels every batch job of the cluster the batch system knows (those not known to have
    /// ended, and any a submission whose answer was lost created), then waits (bounded) for
    /// their end.
    pub async fn cancel_live_jobs(
        &mut self,
        jobs_cmd: &UnboundedSender<JobCmd>,
        job_rx: &mut UnboundedReceiver<JobEvent>,
    ) {
        let live = self.book.live();
        for id in &live {
            if let Some(j) = self.book.jobs.get_mut(id) {
                j.cancelled_by_us = true;
            }
        }
        if jobs_cmd.send(JobCmd::CancelAll(live)).is_err() {
            return;
        }
        match tokio::time::timeout(CANCEL_WITHIN, self.wait_cancelled(job_rx)).await {
            Ok(Ok(ids)) => {
                for id in &ids {
                    if !self.book.jobs.contains_key(id) {
                        self.book.add(id.clone());
                    }
                    if let Some(j) = self.book.jobs.get_mut(id) {
                        j.cancelled_by_us = true;
                    }
                }
                let n = ids.len();
                if n > 0 {
                    tracing::info!(
                        "cancelled {n} batch job{} still queued or running",
                        plural(n)
                    );
                }
            }
            Ok(Err(e)) => {
                // Nothing to wait for: the batch jobs were not told to end.
                tracing::warn!("cancelling batch jobs failed: {e}; run `hpcluster down`");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "cancelling batch jobs did not finish within {}: run `hpcluster down`",
                    crate::duration::format_human(CANCEL_WITHIN)
                );
                return;
            }
        }
        settle(&mut self.book, jobs_cmd, job_rx).await;
    }

    /// Waits for the answer to the cancellation; batch jobs a submit still in flight created
    /// join the book meanwhile (the cancellation, which runs after it, covers them).
    async fn wait_cancelled(
        &mut self,
        rx: &mut UnboundedReceiver<JobEvent>,
    ) -> Result<Vec<JobId>, JobError> {
        while let Some(ev) = rx.recv().await {
            match ev {
                JobEvent::Cancelled(r) => return r,
                JobEvent::Submitted { ids, first, .. } => {
                    let now = self.now();
                    self.on_submitted(ids, first, now);
                }
                JobEvent::Polled(_) | JobEvent::Excluded(_) => {}
            }
        }
        Err(JobError::Stopped("the batch-system commands ended".into()))
    }

    /// The summary of the run so far.
    pub fn summary(&self, core: &Core, interrupted: bool) -> Summary {
        let c = core.counts();
        let cores = self.opts.cores as f64;
        Summary {
            done: c.done,
            // Killed tasks failed too; cancelled ones were not run to their end.
            failed: c.failed + c.killed,
            pending: c.pending + c.running + c.cancelled,
            retried: c.requeued,
            walltime_kills: c.walltime_kills,
            batch_jobs: self.book.submitted,
            batch_jobs_lost: self.book.lost,
            checkpointed: c.checkpointed,
            core_seconds_consumed: self.worker_seconds(self.now()) * cores,
            // Each slot has cores / slots of its batch job's cores.
            core_seconds_tasks: c.task_seconds * cores / self.opts.slots.max(1) as f64,
            interrupted,
        }
    }
}

/// Polls until every batch job has a final state, so `jobs.json` records how each ended
/// (at most [`SETTLE_PAUSES_MS`], and no further once a status command fails: the server is
/// stopping; `hpcluster status` refreshes whatever is left).
async fn settle(
    book: &mut JobBook,
    jobs_cmd: &UnboundedSender<JobCmd>,
    rx: &mut UnboundedReceiver<JobEvent>,
) {
    for pause in SETTLE_PAUSES_MS {
        if book.live().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let poll = JobCmd::Poll {
            unconnected: Vec::new(),
        };
        if jobs_cmd.send(poll).is_err() {
            return;
        }
        let polled = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(ev) = rx.recv().await {
                if let JobEvent::Polled(r) = ev {
                    return Some(r);
                }
            }
            None
        })
        .await;
        match polled {
            Ok(Some(Ok(p))) => {
                book.on_poll(&p.states);
            }
            Ok(Some(Err(e))) => {
                tracing::info!(
                    "the state of the cancelled batch jobs is unknown ({e}); `hpcluster status` \
                     shows how they end"
                );
                return;
            }
            Ok(None) | Err(_) => return,
        }
    }
    let left = book.live().len();
    if left > 0 {
        tracing::info!(
            "{left} cancelled batch job{} had not ended yet; `hpcluster status` shows how they end",
            plural(left),
        );
    }
}
