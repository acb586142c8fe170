//! Results a lost worker left on disk, read before its tasks are given up on. A worker writes
//! each task's result into its batch job's results directory before it reports it
//! ([`crate::held_results`]); a worker killed, or whose batch job ended, between that write and
//! the server's acknowledgement leaves the file behind. A resumed server reads every such file
//! when it starts ([`super::collect_held_results`]); this room reads one batch job's files the
//! moment the server is about to give up on the copies that job ran: its worker's connection
//! closed or its heartbeats stopped, or the batch job was seen ended. A task whose result is
//! there completes instead of being requeued and run a second time.
//!
//! Each result goes through the core's rule for reports ([`Core::on_run_ended`]): from the
//! worker that ran it while the core still counts on that worker (so its end counts as that
//! copy's end, a failure too), otherwise as a copy the server no longer counts on (a success
//! is kept if the task has not completed elsewhere; anything else changes nothing). A file is
//! removed once the journal holds what it changed; one the server never gets to remove is read
//! again by the next server and changes nothing then.

use std::time::Duration;

use super::core::{Core, WorkerId};
use super::run::Server;
use crate::journal::JournalWriter;

impl Server {
    /// Reads what the workers of batch job `job` (its ID, as the worker names its results
    /// directory) left there and reports each result as of worker `worker` (the one the core
    /// still counts on for that job, or none); the files go once the journal holds what they
    /// changed ([`Server::flush`]).
    pub fn take_left_results(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        job: &str,
        worker: Option<WorkerId>,
        now: Duration,
    ) {
        let Some(cluster_dir) = &self.opts.cluster_dir else {
            return;
        };
        let dir = crate::held_results::worker_dir(cluster_dir, job);
        let found = crate::held_results::read_dir(&dir);
        if found.is_empty() {
            return;
        }
        let mut kept = 0;
        for (path, r) in found {
            let from = worker.unwrap_or(NO_WORKER);
            let reported = core.on_run_ended(from, r.task, r.run, r.end, r.secs, now);
            if self.apply_report(journal, reported, &format!("batch job {job}"), now) {
                kept += 1;
            }
            self.left_results.push(path);
        }
        if kept > 0 {
            tracing::info!(
                "batch job {job}: {kept} result(s) its worker left in `{}` before it was lost are kept",
                dir.display()
            );
        }
    }

    /// [`Server::take_left_results`] for the batch job of connected worker `id`, which the
    /// server is about to give up on.
    pub fn take_results_of_worker(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        id: WorkerId,
        now: Duration,
    ) {
        let Some(job) = self.peers.get(&id).and_then(|p| p.job.as_ref()) else {
            return;
        };
        let job = job.id.clone();
        self.take_left_results(core, journal, &job, Some(id), now);
    }
}

/// The worker a report comes from when none is connected: every copy is one the core no
/// longer counts on.
const NO_WORKER: WorkerId = 0;
