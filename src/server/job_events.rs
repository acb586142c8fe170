//! Batch jobs from the event loop's side: when to submit more (the core's `supply`, within
//! `max_jobs` counted over every batch job not known to have ended) and when to poll (a backoff
//! while nothing changes, often while workers leave), and what the answers mean: submitted IDs
//! join the book (those of a submit that failed part-way too), batch jobs that ended take their
//! worker's tasks with them, too many that end before their worker connects stop the run with
//! what the batch system said of them and what they wrote. The time from a submission to its
//! worker's hello is measured ([`ReadyAfter`]) and given to the core, which weighs it against
//! the tasks and submits successors that long before their predecessors retire; queued batch
//! jobs the core no longer needs are cancelled.

use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc::UnboundedSender;

use super::book::{Backoff, JobBook};
use super::core::{Core, JobCounts, WorkerId};
use super::jobs::{JobCmd, JobError, JobEvent};
use super::run::{Server, DRAIN_POLL_FIRST};
use crate::backend::{JobId, JobState};
use crate::cluster_dir::ExcludedNode;
use crate::journal::{Entry, JournalWriter};

/// Batch jobs that may end in a row without their worker connecting before `up` gives up.
pub const MAX_FAILED_STARTS: u32 = 3;

/// Submit attempts that may fail in a row before `up` gives up.
const MAX_SUBMIT_FAILURES: u32 = 3;

/// The pause after a failed submit.
const SUBMIT_RETRY: Duration = Duration::from_secs(30);

/// The poll interval while a retired worker's batch job has not ended: it leaves the queue
/// within moments, and until it does it counts against `max_jobs`.
const RETIRING_POLL: Duration = Duration::from_secs(1);

/// When batch-system commands run next, and which are running.
pub(super) struct JobSchedule {
    submit_in_flight: bool,
    poll_in_flight: bool,
    /// The poll interval while tasks run: doubles while nothing changes, up to 2 min.
    poll: Backoff,
    next_poll: Duration,
    last_poll: Duration,
    submit_failures: u32,
    next_submit: Duration,
    /// Every task has ended and the last workers are leaving: their batch jobs' ends are
    /// awaited with [`JobSchedule::drain_poll`].
    draining: bool,
    /// A poll soon after each worker leaves, then doubling pauses up to a second (about 20
    /// status commands at most in the retire grace).
    drain_poll: Backoff,
    /// How long submissions take to become connected workers.
    ready: ReadyAfter,
    /// A cancellation of queued batch jobs no longer needed is on its way.
    cancel_in_flight: bool,
}

/// The time from a batch job's submission to its worker's hello (queue wait and startup), as
/// measured on this run's batch jobs: the median of the last [`ReadyAfter::KEEP`].
#[derive(Debug, Default)]
pub(super) struct ReadyAfter {
    submitted: std::collections::HashMap<JobId, Duration>,
    seen: std::collections::VecDeque<Duration>,
}

impl ReadyAfter {
    const KEEP: usize = 16;

    pub fn submitted(&mut self, id: JobId, now: Duration) {
        self.submitted.insert(id, now);
    }

    /// Takes the batch jobs whose worker has connected (or that ended first) off the list.
    pub fn update(&mut self, book: &JobBook, now: Duration) {
        self.submitted.retain(|id, at| match book.jobs.get(id) {
            Some(j) if j.connected => {
                self.seen.push_back(now.saturating_sub(*at));
                if self.seen.len() > Self::KEEP {
                    self.seen.pop_front();
                }
                false
            }
            Some(j) => !j.state.is_final() && !j.cancelled_by_us,
            None => true,
        });
    }

    /// The median measured; `None` before any worker connected.
    pub fn median(&self) -> Option<Duration> {
        let mut v: Vec<Duration> = self.seen.iter().copied().collect();
        v.sort();
        v.get(v.len() / 2).copied()
    }
}

impl JobSchedule {
    pub fn new(poll_interval: Duration) -> JobSchedule {
        JobSchedule {
            submit_in_flight: false,
            poll_in_flight: false,
            poll: Backoff::new(poll_interval, Duration::from_secs(120).max(poll_interval)),
            next_poll: Duration::ZERO,
            last_poll: Duration::ZERO,
            submit_failures: 0,
            next_submit: Duration::ZERO,
            draining: false,
            drain_poll: Backoff::new(DRAIN_POLL_FIRST, Duration::from_secs(1)),
            ready: ReadyAfter::default(),
            cancel_in_flight: false,
        }
    }

    /// Every task has ended: poll now, then as the drain backoff says.
    pub fn start_draining(&mut self) {
        self.draining = true;
        self.next_poll = Duration::ZERO;
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// A worker left while draining: its batch job ends within moments; look soon.
    pub fn on_worker_gone_while_draining(&mut self, now: Duration) {
        self.drain_poll.on_change(true);
        self.next_poll = self.next_poll.min(now + self.drain_poll.current());
    }

    fn interval(&self) -> Duration {
        if self.draining {
            self.drain_poll.current()
        } else {
            self.poll.current()
        }
    }

    /// Submits `n` now (the `--jobs N` of `up`).
    pub fn submitting(&mut self) {
        self.submit_in_flight = true;
    }

    fn polled(&mut self, changed: bool, now: Duration) {
        self.poll_in_flight = false;
        self.last_poll = now;
        self.poll.on_change(changed);
        self.next_poll = now + self.interval();
        if self.draining {
            self.drain_poll.on_change(false);
        }
    }
}

/// Batch jobs submitted, not ended, whose worker has not connected, that hpcluster has not
/// cancelled.
fn queued(book: &JobBook) -> Vec<JobId> {
    book.jobs
        .iter()
        .filter(|(_, j)| !j.connected && !j.state.is_final() && !j.retired && !j.cancelled_by_us)
        .map(|(id, _)| id.clone())
        .collect()
}

impl Server {
    /// Batch jobs that ended (a poll said so, or a worker whose batch job's end was set aside
    /// has gone): the results their workers left are read, their tasks requeued, their
    /// workers given up on, and runs lost with a preempted batch job forgiven.
    fn on_jobs_ended(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        ended: Vec<(JobId, JobState, Option<WorkerId>)>,
        now: Duration,
    ) {
        for (job, state, worker) in ended {
            tracing::debug!("batch job {job} ended: {state:?}");
            let connected = worker.filter(|w| self.peers.contains_key(w));
            self.take_left_results(core, journal, &job.id, connected, now);
            for ev in core.on_job_ended(&job.to_string()) {
                self.record(journal, &ev, now);
            }
            if let Some(w) = worker.filter(|w| self.peers.contains_key(w)) {
                let why = format!("its batch job ended ({state:?})");
                let evs = core.on_worker_lost(w, &why, now);
                self.worker_gone(w, now);
                for ev in evs {
                    self.record(journal, &ev, now);
                }
            }
            let forgiven = core.on_job_end_known(&job.to_string(), state.is_lost());
            for id in &forgiven {
                journal.append(Entry::Forgiven {
                    id: *id,
                    job: job.to_string(),
                    at: now.as_secs_f64(),
                });
            }
            if state.is_lost() {
                tracing::warn!(
                    "batch job {job} ended {state}, by no fault of its tasks: {} \
                     run(s) lost with it requeued, not counted against `retries`",
                    forgiven.len()
                );
            }
        }
    }

    /// The tick: lost workers, expired orphans, parked slots, then submissions and polls.
    pub fn on_tick(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        jobs_cmd: &UnboundedSender<JobCmd>,
    ) -> anyhow::Result<()> {
        let now = self.now();
        self.lose_closed(core, journal, now);
        let settled = self.book.settle_disputed();
        self.on_jobs_ended(core, journal, settled, now);
        for id in core.silent_workers(now) {
            self.take_results_of_worker(core, journal, id, now);
            let evs = core.on_worker_lost(id, "no heartbeat", now);
            self.worker_gone(id, now);
            for ev in evs {
                self.record(journal, &ev, now);
            }
        }
        for ev in core.expire_orphans(now) {
            self.record(journal, &ev, now);
        }
        self.wake(core, journal);
        self.schedule.ready.update(&self.book, now);
        let counts = JobCounts {
            queued: queued(&self.book).len() as u32,
            active: self.book.counted(),
            max_jobs: self.opts.max_jobs,
            ready_after: self.schedule.ready.median(),
        };
        // Before any submission: the batch-system side runs its commands in order.
        self.exclude_nodes(jobs_cmd)?;
        let s = &mut self.schedule;
        if !s.submit_in_flight && now >= s.next_submit {
            let supply = core.supply(counts, now);
            if supply.submit > 0 {
                s.submit_in_flight = true;
                jobs_cmd
                    .send(JobCmd::Submit {
                        n: supply.submit,
                        first: false,
                    })
                    .context("the batch-system commands stopped")?;
            } else if supply.cancel > 0 && !s.cancel_in_flight && !s.draining {
                self.cancel_unneeded(supply.cancel, jobs_cmd)?;
            }
        }
        let s = &mut self.schedule;
        if self.book.retiring() > 0 && !s.draining {
            s.next_poll = s.next_poll.min(s.last_poll + RETIRING_POLL);
        }
        if !s.poll_in_flight && now >= s.next_poll && !self.book.live().is_empty() {
            s.poll_in_flight = true;
            let unconnected = self.book.unconnected();
            jobs_cmd
                .send(JobCmd::Poll { unconnected })
                .context("the batch-system commands stopped")?;
        }
        let c = core.counts();
        let (jp, jr) = self.book.pending_running();
        self.progress.update(c, jp, jr);
        Ok(())
    }

    /// Cancels up to `n` queued batch jobs the core no longer needs: only batch jobs this
    /// server submitted that the batch system still holds in its queue (not one re-attached
    /// from a previous run: its worker may come back with tasks), the youngest first.
    fn cancel_unneeded(
        &mut self,
        n: u32,
        jobs_cmd: &UnboundedSender<JobCmd>,
    ) -> anyhow::Result<()> {
        let submitted = &self.schedule.ready.submitted;
        let mut ids: Vec<(Duration, JobId)> = queued(&self.book)
            .into_iter()
            .filter(|id| self.book.jobs[id].state == JobState::Pending)
            .filter_map(|id| Some((*submitted.get(&id)?, id)))
            .collect();
        ids.sort_by_key(|b| std::cmp::Reverse(b.0));
        let ids: Vec<JobId> = ids.into_iter().take(n as usize).map(|(_, id)| id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        for id in &ids {
            if let Some(j) = self.book.jobs.get_mut(id) {
                j.cancelled_by_us = true;
            }
        }
        tracing::info!(
            "cancelling {} queued batch job{} no longer needed: {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        self.schedule.cancel_in_flight = true;
        jobs_cmd
            .send(JobCmd::Cancel(ids))
            .context("the batch-system commands stopped")
    }

    /// The answer of a batch-system command.
    pub fn on_job_event(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        ev: JobEvent,
    ) -> anyhow::Result<()> {
        let now = self.now();
        match ev {
            JobEvent::Submitted { ids, error, first } => {
                self.schedule.submit_in_flight = false;
                self.on_submitted(ids, first, now);
                let Some(e) = error else {
                    self.schedule.submit_failures = 0;
                    return Ok(());
                };
                let s = &mut self.schedule;
                s.submit_failures += 1;
                if first {
                    anyhow::bail!("{e}");
                }
                if let JobError::UnreadableSubmit(_) = e {
                    anyhow::bail!("submitting worker batch jobs: {e}");
                }
                if s.submit_failures >= MAX_SUBMIT_FAILURES {
                    anyhow::bail!(
                        "submitting worker batch jobs failed {} times in a row; the last error: {e}",
                        s.submit_failures
                    );
                }
                tracing::warn!(
                    "submitting worker batch jobs failed (will retry in {}): {e}",
                    crate::duration::format_human(SUBMIT_RETRY)
                );
                s.next_submit = now + SUBMIT_RETRY;
            }
            JobEvent::Polled(Ok(polled)) => {
                let states = polled.states;
                self.book.on_described(polled.described);
                self.book.on_nodes(polled.nodes);
                let ended = self.book.on_poll(&states);
                let changed =
                    !ended.is_empty() || states.iter().any(|(_, s)| *s == JobState::Running);
                self.schedule.polled(changed, now);
                self.on_jobs_ended(core, journal, ended, now);
                if self.book.failed_starts >= MAX_FAILED_STARTS {
                    anyhow::bail!(failed_starts_error(
                        &self.book.failed_starts_described(),
                        &self.opts.worker_program,
                    ));
                }
            }
            JobEvent::Polled(Err(e)) => {
                // A failing status command never marks batch jobs dead: try again later.
                self.schedule.polled(false, now);
                tracing::warn!("batch job status failed (jobs kept as they were): {e}");
            }
            JobEvent::Excluded(Ok(nodes)) => {
                for n in nodes {
                    tracing::warn!(
                        "node `{}` is excluded from new submissions: {}",
                        n.node,
                        n.why
                    );
                }
            }
            JobEvent::Excluded(Err(e)) => tracing::warn!("excluding nodes failed: {e}"),
            JobEvent::Cancelled(r) => {
                self.schedule.cancel_in_flight = false;
                if let Err(e) = r {
                    tracing::warn!("cancelling batch jobs failed: {e}");
                }
            }
        }
        Ok(())
    }

    /// Passes the nodes the book decided to exclude on to the batch-system side, which records
    /// them and keeps new submissions off them.
    fn exclude_nodes(&mut self, jobs_cmd: &UnboundedSender<JobCmd>) -> anyhow::Result<()> {
        let at = std::time::SystemTime::now();
        let nodes: Vec<ExcludedNode> = self
            .book
            .nodes
            .take()
            .into_iter()
            .map(|e| ExcludedNode {
                node: e.node,
                why: e.why,
                jobs: e.jobs,
                at,
            })
            .collect();
        if nodes.is_empty() {
            return Ok(());
        }
        jobs_cmd
            .send(JobCmd::Exclude(nodes))
            .context("the batch-system commands stopped")
    }

    /// Batch jobs a submit created (all of them, or those before an error) join the book.
    pub fn on_submitted(&mut self, ids: Vec<JobId>, first: bool, now: Duration) {
        if ids.is_empty() {
            return;
        }
        let shown: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        if first {
            tracing::info!("submitted {} batch job(s): {}", ids.len(), shown.join(" "));
        } else {
            tracing::info!(
                "submitted {} batch job{}: {}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" },
                shown.join(" ")
            );
        }
        for id in ids {
            self.schedule.ready.submitted(id.clone(), now);
            self.book.add(id);
        }
        self.schedule.next_poll = now;
    }
}

/// The error that stops `up` when batch jobs end, one after another, before their worker
/// connects: what the batch system said of each and what each wrote; a hint only where their
/// output points to one.
pub fn failed_starts_error(described: &[String], worker_program: &str) -> String {
    let mut msg = format!(
        "{} batch jobs in a row ended before their worker connected to the server:",
        described.len()
    );
    for d in described {
        msg.push_str("\n  ");
        msg.push_str(&d.replace('\n', "\n  "));
    }
    let all = described.join("\n");
    let program = std::path::Path::new(worker_program)
        .file_name()
        .map_or(worker_program.to_string(), |n| {
            n.to_string_lossy().into_owned()
        });
    // The shell's words when it cannot start the worker: `<path>: No such file or directory`,
    // `<name>: command not found`.
    let not_started = all.lines().any(|l| {
        (l.contains("No such file or directory") && l.contains(&format!("{worker_program}:")))
            || l.contains(&format!("{program}: command not found"))
    });
    if not_started {
        msg.push_str(&format!(
            "\nhint: the job script could not start `{worker_program}` on the compute node: set \
             `worker_program` to where hpcluster is installed there"
        ));
    } else if all.contains("failed to read `") && all.contains("secret") {
        msg.push_str(
            "\nhint: the worker could not read the cluster directory: put `cluster_root` on a \
             filesystem the compute nodes share with this machine",
        );
    } else if all.contains("wrote no output") {
        msg.push_str(
            "\nhint: the batch jobs wrote no output where their script says: is that directory \
             on a filesystem the compute nodes see?",
        );
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::failed_starts_error;

    #[test]
    fn a_hint_only_where_the_output_points_to_one() {
        let program = "/opt/hpcluster/bin/hpcluster";
        let plain = [
            "batch job 48 (`c-1`) ended failed; its output `/l/c-1-48.err` ends with:\n    MARKER"
                .to_string(),
        ];
        assert_eq!(
            failed_starts_error(&plain, program),
            "1 batch jobs in a row ended before their worker connected to the server:\n  batch job \
             48 (`c-1`) ended failed; its output `/l/c-1-48.err` ends with:\n      MARKER"
        );
        let not_found = [
            "batch job 49 (`c-2`) ended failed; its output `/l/e` ends with:\n    /var/spool/slurmd/job49/slurm_script: line 5: /opt/hpcluster/bin/hpcluster: No such file or directory".to_string(),
        ];
        assert!(failed_starts_error(&not_found, program).ends_with(
            "\nhint: the job script could not start `/opt/hpcluster/bin/hpcluster` on the compute \
             node: set `worker_program` to where hpcluster is installed there"
        ));
        let unshared = ["batch job 50 (`c-3`) ended failed; its output `/l/e` ends with:\n    error: failed to read `/home/me/.hpcluster/c/secret`: No such file or directory".to_string()];
        assert!(failed_starts_error(&unshared, program).ends_with(
            "\nhint: the worker could not read the cluster directory: put `cluster_root` on a \
             filesystem the compute nodes share with this machine"
        ));
        let nothing = [
            "batch job 51 (`c-4`) ended failed; it wrote no output: `/l/e` does not exist"
                .to_string(),
        ];
        assert!(failed_starts_error(&nothing, program)
            .contains("\nhint: the batch jobs wrote no output"));
    }
}
