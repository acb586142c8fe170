//! What the journal must hold before the world hears of it. A task handed to a worker is
//! journaled as `started`, and its `run` reply is sent only once that entry is on disk: a
//! server killed the moment after never leaves a copy running that its journal does not know
//! (its successor would start a second one). A task's end is journaled as `ended` (and logged,
//! and written to the joblog of `up --joblog`); the worker's report is acknowledged, and a
//! client's change answered, only once the journal sync that covers them is on disk ([`Held`]
//! replies wait for their token). A worker's replies keep their order: one sent while an
//! earlier one to the same worker is held waits behind it.

use std::time::Duration;

use tokio::sync::oneshot;

use super::core::{Core, Dispatch, Reported, WorkerId};
use super::run::Server;
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::protocol::Reply;
use crate::task::{Outcome, TaskEvent};

/// A reply held until the journal is on disk.
pub(super) enum Held {
    Acks(Vec<(WorkerId, Reply)>),
    Client(oneshot::Sender<Reply>, Box<Reply>),
    /// Result files lost workers left, read and applied (`super::left_results`): removed.
    Remove(Vec<std::path::PathBuf>),
}

impl Server {
    /// Sends a slot the core's answer; a task sent is journaled as started.
    pub fn dispatch(
        &mut self,
        journal: &mut JournalWriter,
        id: WorkerId,
        slot: u32,
        d: Dispatch,
        now: Duration,
    ) {
        let reply = match d {
            Dispatch::Run {
                task,
                spec,
                estimate,
                buffer,
                run,
            } => {
                let peer = self.peers.get(&id);
                let job = peer.and_then(|p| p.job.as_ref()).map(|j| j.to_string());
                let host = peer.map(|p| p.host.clone());
                if let (Some(log), Some(host)) = (&mut self.joblog, &host) {
                    log.started(task, host, &spec.cmd);
                }
                journal.append(Entry::Started {
                    id: task,
                    worker: id,
                    job,
                    host,
                    at: now.as_secs_f64(),
                    run,
                });
                // Held until the `started` entry is on disk (one group commit covers many).
                self.acks.push((
                    id,
                    Reply::Run {
                        slot,
                        task,
                        spec,
                        estimate: estimate.as_secs_f64(),
                        buffer: buffer.as_secs_f64(),
                        run,
                    },
                ));
                return;
            }
            Dispatch::Retire { reason } => {
                tracing::debug!("worker {id} slot {slot} retires: {reason}");
                Reply::Retire { slot, reason }
            }
            Dispatch::Stop => Reply::Stop { slot },
            Dispatch::Park | Dispatch::Busy => return,
        };
        self.send(id, reply);
    }

    /// Journals a task's end (or requeue) and logs it.
    pub fn record(&mut self, journal: &mut JournalWriter, ev: &TaskEvent, now: Duration) {
        journal.append(Entry::Ended {
            id: ev.task,
            outcome: ev.outcome.clone(),
            secs: ev.secs,
            at: now.as_secs_f64(),
        });
        if let Some(log) = &mut self.joblog {
            if let Err(e) = log.ended(ev, now) {
                tracing::warn!("{e:#}; no more joblog lines are written");
                self.joblog = None;
            }
        }
        let t = ev.task;
        match &ev.outcome {
            Outcome::Failed { reason, .. } => tracing::warn!("task {t} failed: {reason}"),
            Outcome::Killed { reason, .. } => tracing::warn!("task {t} was {reason}"),
            Outcome::Rerun { reason, .. } => {
                tracing::info!("task {t} runs again (retries_on_failure): {reason}")
            }
            Outcome::Requeued { reason, walltime: true } => tracing::warn!(
                "task {t} was {reason} after {}: its estimate was too short; raise `task_time` (or the task's `time`)",
                crate::duration::format_human(Duration::from_secs(ev.secs.max(0.0) as u64))
            ),
            Outcome::Requeued { reason, .. } => tracing::info!("task {t} requeued: {reason}"),
            Outcome::Returned => tracing::debug!(
                "task {t} came back unstarted from worker slot it was sent ahead to"
            ),
            Outcome::Cancelled { .. } => tracing::info!("task {t} cancelled"),
            Outcome::Checkpointed => tracing::info!("task {t} checkpointed: it runs again"),
            Outcome::Done => {}
        }
    }

    /// What a report changed (`Core::on_run_ended`), applied: copies the server gave up on
    /// whose task completed from `source` are stopped, and the task's end is journaled.
    /// Returns whether the report changed the task.
    pub fn apply_report(
        &mut self,
        journal: &mut JournalWriter,
        reported: Reported,
        source: &str,
        now: Duration,
    ) -> bool {
        for (worker, task, run) in reported.stop {
            tracing::info!(
                "task {task} completed on {source}, whose copy had been given up on: its \
                 result is kept and the copy on worker {worker} is stopped"
            );
            self.send(
                worker,
                Reply::Disown {
                    task,
                    run,
                    reason: "another copy of it completed".into(),
                },
            );
        }
        let Some(ev) = reported.event else {
            return false;
        };
        self.record(journal, &ev, now);
        true
    }

    /// Serves parked slots the core can answer now (new tasks, the end of the run).
    pub fn wake(&mut self, core: &mut Core, journal: &mut JournalWriter) {
        let now = self.now();
        for (id, slot, d) in core.on_wake(now) {
            let run = matches!(d, Dispatch::Run { .. });
            self.dispatch(journal, id, slot, d, now);
            if let Some(next) = run.then(|| core.prefetch(id, slot, now)).flatten() {
                self.dispatch(journal, id, slot, next, now);
            }
        }
    }

    /// Sends a reply to a connected worker, behind any reply to it that still waits for the
    /// journal (a `stop` or `disown` never overtakes the `run` it follows).
    pub fn send(&mut self, id: WorkerId, reply: Reply) {
        if self.holds_for(id) {
            self.acks.push((id, reply));
        } else {
            self.deliver(id, reply);
        }
    }

    /// A reply to worker `id` waits for the journal.
    fn holds_for(&self, id: WorkerId) -> bool {
        let held = |acks: &[(WorkerId, Reply)]| acks.iter().any(|(w, _)| *w == id);
        held(&self.acks)
            || self.waiting.iter().any(|(_, h)| match h {
                Held::Acks(acks) => held(acks),
                Held::Client(..) | Held::Remove(_) => false,
            })
    }

    /// Hands this round's entries to the writer; its acks wait for the sync that covers them.
    pub fn flush(&mut self, journal: &mut JournalWriter) -> Result<(), JournalError> {
        journal.hand_over()?;
        if !self.acks.is_empty() {
            // A slot waits for its task; an ack waits for nobody (its report is on disk at the
            // worker's side meanwhile).
            let starts = self
                .acks
                .iter()
                .any(|(_, r)| matches!(r, Reply::Run { .. }));
            let token = if starts {
                journal.request_sync_now()?
            } else {
                journal.request_sync()?
            };
            let acks = std::mem::take(&mut self.acks);
            self.waiting.push((token, Held::Acks(acks)));
        }
        if !self.left_results.is_empty() {
            let token = journal.request_sync()?;
            let files = std::mem::take(&mut self.left_results);
            self.waiting.push((token, Held::Remove(files)));
        }
        Ok(())
    }

    /// Everything up to `token` is on disk: send what waited for it.
    pub fn release(&mut self, token: u64) {
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(t, _)| *t <= token);
        self.waiting = later;
        for (_, held) in ready {
            match held {
                Held::Acks(acks) => {
                    for (id, reply) in acks {
                        self.deliver(id, reply);
                    }
                }
                Held::Client(tx, reply) => {
                    let _ = tx.send(*reply);
                }
                Held::Remove(files) => {
                    for f in files {
                        crate::held_results::remove(&f);
                    }
                }
            }
        }
    }
}
