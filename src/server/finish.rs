//! The end of a run: every batch job still queued or running is cancelled (whatever ended the
//! loop: the last task, Ctrl-C, an error), its final state is awaited for a while so
//! `jobs.json` records how each ended, and the summary is drawn up.

use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::book::JobBook;
use super::core::Core;
use super::jobs::{JobCmd, JobError, JobEvent};
use super::run::{Server, Summary};

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
    /// Cancels the batch jobs not known to have ended, then waits (bounded) for their end.
    pub async fn cancel_live_jobs(
        &mut self,
        jobs_cmd: &UnboundedSender<JobCmd>,
        job_rx: &mut UnboundedReceiver<JobEvent>,
    ) {
        let live = self.book.live();
        if live.is_empty() {
            return;
        }
        for id in &live {
            if let Some(j) = self.book.jobs.get_mut(id) {
                j.cancelled_by_us = true;
            }
        }
        let _ = jobs_cmd.send(JobCmd::Cancel(live));
        match tokio::time::timeout(CANCEL_WITHIN, wait_cancelled(job_rx)).await {
            Ok(Ok(n)) => tracing::info!(
                "cancelled {n} batch job{} still queued or running",
                plural(n)
            ),
            Ok(Err(e)) => tracing::warn!("cancelling batch jobs failed: {e}; run `hpcluster down`"),
            Err(_) => tracing::warn!(
                "cancelling batch jobs did not finish within {}: run `hpcluster down`",
                crate::duration::format_human(CANCEL_WITHIN)
            ),
        }
        settle(&mut self.book, jobs_cmd, job_rx).await;
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
            core_seconds_consumed: self.worker_seconds(self.now()) * cores,
            // Each slot has cores / slots of its batch job's cores.
            core_seconds_tasks: c.task_seconds * cores / self.opts.slots.max(1) as f64,
            interrupted,
        }
    }
}

/// Polls until every batch job has a final state, so `jobs.json` records how each ended
/// (at most [`SETTLE_PAUSES_MS`]; `hpcluster status` refreshes whatever is left).
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
        if jobs_cmd.send(JobCmd::Poll).is_err() {
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
            Ok(Some(Ok(states))) => {
                book.on_poll(&states);
            }
            Ok(Some(Err(e))) => tracing::debug!("batch job status failed: {e}"),
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

async fn wait_cancelled(rx: &mut UnboundedReceiver<JobEvent>) -> Result<usize, JobError> {
    while let Some(ev) = rx.recv().await {
        if let JobEvent::Cancelled(r) = ev {
            return r;
        }
    }
    Err(JobError::Stopped("the batch-system commands ended".into()))
}
