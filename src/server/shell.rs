//! The server's async shell: sockets, timers, the journal and the batch-system thread around
//! the synchronous [`Core`].
//!
//! One event loop owns the core, the journal and the job book. Connection tasks authenticate
//! peers and turn frames into events; the loop answers. Task ends are appended to the journal
//! and synced once per batch of events before they are acknowledged (group commit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{self, Secret};
use crate::backend::{JobId, JobState};
use crate::journal::{Entry, Journal, JournalWriter};
use crate::protocol::{read_frame, write_frame, Reply, Request, Role};
use crate::server::core::{Core, Dispatch, WorkerHello, WorkerId};
use crate::server::jobs::{self, Backoff, JobBook, JobCmd, JobControl, JobEvent};
use crate::server::progress::Progress;
use crate::task::{Outcome, TaskEvent, TaskSpec, TaskState};

/// The first pause between polls while `up` waits for the batch jobs of retiring workers.
const DRAIN_POLL_FIRST: Duration = Duration::from_millis(50);

/// How long `up` waits at its end for batch jobs of retired workers to end by themselves.
pub const RETIRE_GRACE: Duration = Duration::from_secs(15);

/// Batch jobs that may end in a row without their worker connecting before `up` gives up.
pub const MAX_FAILED_STARTS: u32 = 3;

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub max_jobs: u32,
    /// Cores of each batch job, shared by its worker's slots.
    pub cores: u32,
    pub slots: u32,
    pub poll_interval: Duration,
    /// Directory of batch job logs, named in errors.
    pub log_directory: std::path::PathBuf,
    /// Exit once every task has ended (a `--tasks` run).
    pub exit_when_done: bool,
    pub progress: bool,
    /// Batch jobs submitted before the server started (`up --jobs N`).
    pub initial_jobs: Vec<JobId>,
}

/// What a finished run reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub done: usize,
    pub failed: usize,
    pub pending: usize,
    pub retried: u64,
    pub walltime_kills: u64,
    pub batch_jobs: u64,
    pub core_seconds_consumed: f64,
    pub core_seconds_tasks: f64,
    pub interrupted: bool,
}

enum Event {
    Hello {
        id: WorkerId,
        hello: WorkerHello,
        tx: mpsc::UnboundedSender<Reply>,
    },
    Msg {
        id: WorkerId,
        req: Request,
    },
    Closed {
        id: WorkerId,
        why: String,
    },
    Client {
        req: Request,
        reply: oneshot::Sender<Reply>,
    },
}

/// Seconds since the Unix epoch, as the core's clock.
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Runs the server until every task ends (with `exit_when_done`) or `shutdown` fires.
pub async fn run(
    listener: TcpListener,
    secret: Secret,
    mut core: Core,
    journal: Journal,
    control: Box<dyn JobControl>,
    mut opts: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let (job_tx, mut job_rx) = mpsc::unbounded_channel::<JobEvent>();
    let jobs_cmd = jobs::spawn(control, job_tx);
    let secret = Arc::new(secret);
    let next_id = Arc::new(AtomicU64::new(1));
    let acceptor = tokio::spawn(accept_loop(listener, secret, ev_tx, next_id));
    let mut journal = JournalWriter::spawn(journal);
    let initial_jobs = std::mem::take(&mut opts.initial_jobs);
    let mut st = LoopState::new(opts);
    for id in initial_jobs {
        st.book.add(id);
    }
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut interrupted = false;
    let mut drain_until: Option<tokio::time::Instant> = None;
    // The loop's error (if any) is returned after the batch jobs are cancelled below: an
    // `up` that fails never leaves batch jobs behind.
    let looped: anyhow::Result<()> = async {
        loop {
            tokio::select! {
                Some(ev) = ev_rx.recv() => {
                    st.on_event(&mut core, &mut journal, ev)?;
                    while let Ok(ev) = ev_rx.try_recv() {
                        st.on_event(&mut core, &mut journal, ev)?;
                        if st.acks.len() >= 4096 { break; }
                    }
                    st.flush(&mut journal)?;
                }
                Some(jev) = job_rx.recv() => st.on_job_event(&mut core, &mut journal, jev)?,
                synced = journal.synced() => st.release(synced?),
                _ = tick.tick() => {
                    st.on_tick(&mut core, &mut journal, &jobs_cmd)?;
                    st.flush(&mut journal)?;
                    if journal.has_unsynced() {
                        // `started` entries need no ack, but should not wait for the next task end.
                        journal.request_sync()?;
                    }
                }
                _ = &mut shutdown => { interrupted = true; break; }
            }
            if st.opts.exit_when_done && core.is_finished() {
                // Drain: workers get Stop (parked slots now, asking slots as they ask), their last
                // reports are acknowledged, and their batch jobs end on their own; what is left
                // after RETIRE_GRACE is cancelled below.
                if drain_until.is_none() {
                    // Batch jobs of retiring workers end within moments: look often.
                    tick = tokio::time::interval(DRAIN_POLL_FIRST);
                }
                let until = *drain_until.get_or_insert_with(|| {
                    st.draining = true;
                    st.next_poll = Duration::ZERO;
                    tokio::time::Instant::now() + RETIRE_GRACE
                });
                st.wake(&mut core, &mut journal)?;
                st.flush(&mut journal)?;
                let retiring = st
                    .book
                    .jobs
                    .values()
                    .any(|j| j.connected && !j.state.is_final());
                if (st.peers.is_empty() && st.waiting.is_empty() && !retiring)
                    || tokio::time::Instant::now() >= until
                {
                    break;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = &looped {
        crate::log::warn(format!("the server stops on an error: {e:#}"));
    }
    acceptor.abort();
    let live = st.book.live();
    if !live.is_empty() {
        for id in &live {
            if let Some(j) = st.book.jobs.get_mut(id) {
                j.cancelled_by_us = true;
            }
        }
        let _ = jobs_cmd.send(JobCmd::Cancel(live.clone()));
        match tokio::time::timeout(Duration::from_secs(120), wait_cancelled(&mut job_rx)).await {
            Ok(Ok(n)) => crate::log::info(format!(
                "cancelled {n} batch job{} still queued or running",
                plural(n)
            )),
            Ok(Err(e)) => crate::log::warn(format!(
                "cancelling batch jobs failed: {e}; run `hpcluster down`"
            )),
            Err(_) => crate::log::warn(
                "cancelling batch jobs did not finish within 2m: run `hpcluster down`",
            ),
        }
        settle(&mut st.book, &jobs_cmd, &mut job_rx).await;
    }
    let closed = journal.close();
    looped?;
    closed?;
    st.progress.finish();
    let c = core.counts();
    Ok(Summary {
        done: c.done,
        failed: c.failed,
        pending: c.pending + c.running,
        retried: c.requeued,
        walltime_kills: c.walltime_kills,
        batch_jobs: st.book.submitted,
        core_seconds_consumed: st.worker_seconds(unix_now()) * st.opts.cores as f64,
        // Each slot has cores / slots of its batch job's cores.
        core_seconds_tasks: c.task_seconds * st.opts.cores as f64 / st.opts.slots.max(1) as f64,
        interrupted,
    })
}

/// Pauses between the polls `up` makes at its end for the final state of batch jobs it
/// cancelled: five status commands at most, over 15.5 s, gentle on the controller.
const SETTLE_PAUSES_MS: [u64; 5] = [500, 1000, 2000, 4000, 8000];

/// Polls until every batch job has a final state, so `jobs.json` records how each ended
/// (at most [`SETTLE_PAUSES_MS`]; `hpcluster status` refreshes whatever is left).
async fn settle(
    book: &mut JobBook,
    jobs_cmd: &std::sync::mpsc::Sender<JobCmd>,
    rx: &mut mpsc::UnboundedReceiver<JobEvent>,
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
            Ok(Some(Err(e))) => crate::log::debug(format!("batch job status failed: {e}")),
            Ok(None) | Err(_) => return,
        }
    }
    let left = book.live().len();
    if left > 0 {
        crate::log::info(format!(
            "{left} cancelled batch job{} had not ended yet; `hpcluster status` shows how they end",
            plural(left),
        ));
    }
}

async fn wait_cancelled(rx: &mut mpsc::UnboundedReceiver<JobEvent>) -> Result<usize, String> {
    while let Some(ev) = rx.recv().await {
        if let JobEvent::Cancelled(r) = ev {
            return r;
        }
    }
    Err("the batch-system thread ended".into())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

struct LoopState {
    opts: ServerOptions,
    book: JobBook,
    peers: std::collections::HashMap<WorkerId, Peer>,
    /// Acks of this round of events, not yet handed to the journal writer.
    acks: Vec<(WorkerId, Reply)>,
    /// Replies waiting for the journal sync with their token.
    waiting: Vec<(u64, Held)>,
    submit_in_flight: bool,
    poll_in_flight: bool,
    poll: Backoff,
    next_poll: Duration,
    submit_failures: u32,
    next_submit: Duration,
    worker_seconds_closed: f64,
    progress: Progress,
    fatal: Option<String>,
    /// Every task has ended: the last workers are being let go.
    draining: bool,
    drain_poll: Backoff,
}

/// A reply held until the journal is on disk.
enum Held {
    Acks(Vec<(WorkerId, Reply)>),
    Client(oneshot::Sender<Reply>, Reply),
}

struct Peer {
    tx: mpsc::UnboundedSender<Reply>,
    job: Option<JobId>,
    since: Duration,
}

impl LoopState {
    fn new(opts: ServerOptions) -> LoopState {
        LoopState {
            poll: Backoff::new(
                opts.poll_interval,
                Duration::from_secs(120).max(opts.poll_interval),
            ),
            progress: Progress::new(opts.progress),
            opts,
            book: JobBook::default(),
            peers: Default::default(),
            acks: Vec::new(),
            waiting: Vec::new(),
            submit_in_flight: false,
            poll_in_flight: false,
            next_poll: Duration::ZERO,
            submit_failures: 0,
            next_submit: Duration::ZERO,
            worker_seconds_closed: 0.0,
            fatal: None,
            draining: false,
            drain_poll: Backoff::new(DRAIN_POLL_FIRST, Duration::from_secs(1)),
        }
    }

    /// While draining, only the last batch jobs' ends are awaited: a poll soon after each
    /// worker leaves, then doubling pauses up to a second (at most about 20 status commands in
    /// the RETIRE_GRACE).
    fn poll_interval(&self) -> Duration {
        if self.draining {
            self.drain_poll.current()
        } else {
            self.poll.current()
        }
    }

    fn worker_seconds(&self, now: Duration) -> f64 {
        self.worker_seconds_closed
            + self
                .peers
                .values()
                .map(|p| now.saturating_sub(p.since).as_secs_f64())
                .sum::<f64>()
    }

    fn send(&self, id: WorkerId, reply: Reply) {
        if let Some(p) = self.peers.get(&id) {
            let _ = p.tx.send(reply);
        }
    }

    fn on_event(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        ev: Event,
    ) -> anyhow::Result<()> {
        let now = unix_now();
        match ev {
            Event::Hello { id, hello, tx } => {
                if let Some(job) = &hello.job {
                    self.book.on_worker(job, id);
                }
                crate::log::debug(format!(
                    "worker {id} connected from {} (batch job {})",
                    hello.host,
                    hello
                        .job
                        .as_ref()
                        .map(|j| j.to_string())
                        .unwrap_or_else(|| "?".into())
                ));
                let claimed = hello.claims.len();
                // A worker coming back has been working since its oldest claimed task started.
                let held_for = hello
                    .claims
                    .iter()
                    .map(|c| c.secs)
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .fold(0.0, f64::max)
                    .min(1e9);
                self.peers.insert(
                    id,
                    Peer {
                        tx,
                        job: hello.job.clone(),
                        since: now.saturating_sub(Duration::from_secs_f64(held_for)),
                    },
                );
                core.on_worker_hello(id, hello, now);
                let out = core.on_claims(id, now);
                if claimed > 0 {
                    crate::log::info(format!(
                        "worker {id} came back holding {claimed} task(s){}",
                        if out.disowned.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; {} of them were requeued meanwhile and are stopped",
                                out.disowned.len()
                            )
                        }
                    ));
                }
                for task in out.disowned {
                    self.send(
                        id,
                        Reply::Disown {
                            task,
                            reason: "it was requeued while the worker was away".into(),
                        },
                    );
                }
                for ev in out.requeued {
                    self.record(journal, &ev, now)?;
                }
            }
            Event::Msg { id, req } => match req {
                Request::Ask { slot } => {
                    let d = core.on_ask(id, slot, now);
                    self.dispatch(journal, id, slot, d, now)?;
                    if let Some(next) = core.prefetch(id, slot, now) {
                        self.dispatch(journal, id, slot, next, now)?;
                    }
                }
                Request::TaskEnded { task, end, secs } => {
                    if let Some(ev) = core.on_task_ended(id, task, end, secs, now) {
                        self.record(journal, &ev, now)?;
                    }
                    self.acks.push((id, Reply::Ack { task }));
                }
                Request::Heartbeat => core.on_heartbeat(id, now),
                Request::Goodbye => {
                    let evs = core.on_goodbye(id, now);
                    self.worker_gone(id, now);
                    for ev in evs {
                        self.record(journal, &ev, now)?;
                    }
                }
                other => self.send(
                    id,
                    Reply::Refused {
                        reason: format!("unexpected message from a worker: {other:?}"),
                    },
                ),
            },
            Event::Closed { id, why } => {
                let evs = core.on_worker_lost(id, &why, now);
                if !evs.is_empty() {
                    crate::log::warn(format!(
                        "worker {id} lost ({why}) while running {} task{}",
                        evs.len(),
                        plural(evs.len())
                    ));
                }
                self.worker_gone(id, now);
                for ev in evs {
                    self.record(journal, &ev, now)?;
                }
                self.wake(core, journal)?;
            }
            Event::Client { req, reply } => {
                let answer = match req {
                    Request::AddTasks { tasks } => {
                        let count = tasks.len() as u64;
                        let first = core.task_count() as u64;
                        for (i, spec) in tasks.iter().enumerate() {
                            journal.append(Entry::Added {
                                id: first + i as u64,
                                spec: spec.clone(),
                            })?;
                        }
                        core.on_tasks_added(tasks);
                        self.wake(core, journal)?;
                        crate::log::info(format!(
                            "{count} task{} added by a client",
                            plural(count as usize)
                        ));
                        // The client hears of its tasks once they are on disk.
                        let token = journal.request_sync()?;
                        let added = Reply::Added { first, count };
                        self.waiting.push((token, Held::Client(reply, added)));
                        return Ok(());
                    }
                    Request::Status => Reply::Summary {
                        json: self.status_json(core),
                    },
                    other => Reply::Refused {
                        reason: format!("unexpected message from a client: {other:?}"),
                    },
                };
                let _ = reply.send(answer);
            }
        }
        Ok(())
    }

    fn worker_gone(&mut self, id: WorkerId, now: Duration) {
        if self.draining {
            self.drain_poll.on_change(true);
            self.next_poll = self.next_poll.min(now + self.drain_poll.current());
        }
        if let Some(p) = self.peers.remove(&id) {
            self.worker_seconds_closed += now.saturating_sub(p.since).as_secs_f64();
            if let Some(job) = &p.job {
                self.book.on_worker_gone(job);
            }
        }
    }

    fn dispatch(
        &mut self,
        journal: &mut JournalWriter,
        id: WorkerId,
        slot: u32,
        d: Dispatch,
        now: Duration,
    ) -> anyhow::Result<()> {
        let reply = match d {
            Dispatch::Run {
                task,
                spec,
                estimate,
                buffer,
            } => {
                let job = self
                    .peers
                    .get(&id)
                    .and_then(|p| p.job.as_ref())
                    .map(|j| j.to_string());
                journal.append(Entry::Started {
                    id: task,
                    worker: id,
                    job,
                    at: now.as_secs_f64(),
                })?;
                Reply::Run {
                    slot,
                    task,
                    spec,
                    estimate: estimate.as_secs_f64(),
                    buffer: buffer.as_secs_f64(),
                }
            }
            Dispatch::Retire { reason } => {
                crate::log::debug(format!("worker {id} slot {slot} retires: {reason}"));
                Reply::Retire { slot, reason }
            }
            Dispatch::Stop => Reply::Stop { slot },
            Dispatch::Park | Dispatch::Busy => return Ok(()),
        };
        self.send(id, reply);
        Ok(())
    }

    fn record(
        &mut self,
        journal: &mut JournalWriter,
        ev: &TaskEvent,
        now: Duration,
    ) -> anyhow::Result<()> {
        journal.append(Entry::Ended {
            id: ev.task,
            outcome: ev.outcome.clone(),
            secs: ev.secs,
            at: now.as_secs_f64(),
        })?;
        match &ev.outcome {
            Outcome::Failed { reason } => crate::log::warn(format!("task {} failed: {reason}", ev.task)),
            Outcome::Requeued { reason, walltime: true } => crate::log::warn(format!(
                "task {} was {reason} after {:.0}s: its estimate was too short; raise `task_time` (or the task's `time`)",
                ev.task, ev.secs
            )),
            Outcome::Requeued { reason, .. } => crate::log::info(format!("task {} requeued: {reason}", ev.task)),
            Outcome::Returned => crate::log::debug(format!(
                "task {} came back unstarted from worker slot it was sent ahead to",
                ev.task
            )),
            Outcome::Done => {}
        }
        Ok(())
    }

    fn wake(&mut self, core: &mut Core, journal: &mut JournalWriter) -> anyhow::Result<()> {
        let now = unix_now();
        for (id, slot, d) in core.on_wake(now) {
            let run = matches!(d, Dispatch::Run { .. });
            self.dispatch(journal, id, slot, d, now)?;
            if let Some(next) = run.then(|| core.prefetch(id, slot, now)).flatten() {
                self.dispatch(journal, id, slot, next, now)?;
            }
        }
        Ok(())
    }

    /// Acks of task ends go out once the journal has them on disk.
    fn flush(&mut self, journal: &mut JournalWriter) -> anyhow::Result<()> {
        journal.hand_over()?;
        if !self.acks.is_empty() {
            let token = journal.request_sync()?;
            let acks = std::mem::take(&mut self.acks);
            self.waiting.push((token, Held::Acks(acks)));
        }
        Ok(())
    }

    /// Everything up to `token` is on disk: send what waited for it.
    fn release(&mut self, token: u64) {
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(t, _)| *t <= token);
        self.waiting = later;
        for (_, held) in ready {
            match held {
                Held::Acks(acks) => {
                    for (id, reply) in acks {
                        self.send(id, reply);
                    }
                }
                Held::Client(tx, reply) => {
                    let _ = tx.send(reply);
                }
            }
        }
    }

    fn on_tick(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        jobs_cmd: &std::sync::mpsc::Sender<JobCmd>,
    ) -> anyhow::Result<()> {
        if let Some(f) = self.fatal.take() {
            anyhow::bail!(f);
        }
        let now = unix_now();
        for id in core.silent_workers(now) {
            let evs = core.on_worker_lost(id, "no heartbeat", now);
            self.worker_gone(id, now);
            for ev in evs {
                self.record(journal, &ev, now)?;
            }
        }
        for ev in core.expire_orphans(now) {
            self.record(journal, &ev, now)?;
        }
        self.wake(core, journal)?;
        if !self.submit_in_flight && now >= self.next_submit {
            let n = core.jobs_wanted(
                self.book.queued(),
                self.book.active(),
                self.opts.max_jobs,
                now,
            );
            if n > 0 {
                self.submit_in_flight = true;
                jobs_cmd
                    .send(JobCmd::Submit(n))
                    .context("the batch-system thread ended")?;
            }
        }
        if !self.poll_in_flight && now >= self.next_poll && !self.book.live().is_empty() {
            self.poll_in_flight = true;
            jobs_cmd
                .send(JobCmd::Poll)
                .context("the batch-system thread ended")?;
        }
        let c = core.counts();
        let (jp, jr) = self.book.pending_running();
        self.progress.update(c, jp, jr);
        Ok(())
    }

    fn on_job_event(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        ev: JobEvent,
    ) -> anyhow::Result<()> {
        let now = unix_now();
        match ev {
            JobEvent::Submitted(Ok(ids)) => {
                self.submit_in_flight = false;
                self.submit_failures = 0;
                crate::log::info(format!(
                    "submitted {} batch job{}: {}",
                    ids.len(),
                    plural(ids.len()),
                    ids.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                for id in ids {
                    self.book.add(id);
                }
                self.next_poll = now;
            }
            JobEvent::Submitted(Err(e)) => {
                self.submit_in_flight = false;
                self.submit_failures += 1;
                if e.fatal {
                    anyhow::bail!("submitting worker batch jobs: {}", e.message);
                }
                let e = e.message;
                if self.submit_failures >= 3 {
                    anyhow::bail!("submitting worker batch jobs failed {} times in a row; the last error: {e}", self.submit_failures);
                }
                crate::log::warn(format!(
                    "submitting worker batch jobs failed (will retry in 30s): {e}"
                ));
                self.next_submit = now + Duration::from_secs(30);
            }
            JobEvent::Polled(Ok(states)) => {
                self.poll_in_flight = false;
                let ended = self.book.on_poll(&states);
                self.poll.on_change(
                    !ended.is_empty() || states.iter().any(|(_, s)| *s == JobState::Running),
                );
                self.next_poll = now + self.poll_interval();
                if self.draining {
                    self.drain_poll.on_change(false);
                }
                for (job, state, worker) in ended {
                    crate::log::debug(format!("batch job {job} ended: {state:?}"));
                    for ev in core.on_job_ended(&job.to_string()) {
                        self.record(journal, &ev, now)?;
                    }
                    if let Some(w) = worker.filter(|w| self.peers.contains_key(w)) {
                        let evs = core.on_worker_lost(
                            w,
                            &format!("its batch job ended ({state:?})"),
                            now,
                        );
                        self.worker_gone(w, now);
                        for ev in evs {
                            self.record(journal, &ev, now)?;
                        }
                    }
                }
                if self.book.failed_starts >= MAX_FAILED_STARTS {
                    anyhow::bail!(
                        "{} batch jobs in a row ended before their worker connected to the server; \
                         read their output in `{}` (is `hpcluster` on the compute nodes' PATH, and the \
                         cluster directory on a shared filesystem?)",
                        self.book.failed_starts,
                        self.opts.log_directory.display()
                    );
                }
            }
            JobEvent::Polled(Err(e)) => {
                // A failing status command never marks batch jobs dead: try again later.
                self.poll_in_flight = false;
                self.poll.on_change(false);
                self.next_poll = now + self.poll_interval();
                if self.draining {
                    self.drain_poll.on_change(false);
                }
                crate::log::warn(format!(
                    "batch job status failed (jobs kept as they were): {e}"
                ));
            }
            JobEvent::Cancelled(r) => {
                if let Err(e) = r {
                    crate::log::warn(format!("cancelling batch jobs failed: {e}"));
                }
            }
        }
        Ok(())
    }

    fn status_json(&self, core: &Core) -> serde_json::Value {
        let workers: Vec<_> = core
            .workers()
            .map(|(id, job, host, running, done, deadline)| {
                serde_json::json!({
                    "id": id, "job": job.map(|j| j.to_string()), "host": host,
                    "running": running, "tasks_done": done,
                    "seconds_left": deadline.saturating_sub(unix_now()).as_secs_f64(),
                })
            })
            .collect();
        let (jp, jr) = self.book.pending_running();
        serde_json::json!({
            "tasks": core.counts(),
            "workers": workers,
            "batch_jobs": {"pending": jp, "running": jr, "submitted": self.book.submitted},
            "estimate_seconds": core.default_estimate().as_secs_f64(),
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    secret: Arc<Secret>,
    ev_tx: mpsc::UnboundedSender<Event>,
    next_id: Arc<AtomicU64>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let secret = secret.clone();
        let ev_tx = ev_tx.clone();
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = serve_peer(stream, &secret, ev_tx, id).await {
                crate::log::debug(format!("connection from {peer} dropped: {e:#}"));
            }
        });
    }
}

async fn serve_peer(
    mut stream: TcpStream,
    secret: &Secret,
    ev_tx: mpsc::UnboundedSender<Event>,
    id: WorkerId,
) -> anyhow::Result<()> {
    let role = auth::accept(&mut stream, secret).await?;
    let (mut rd, mut wr) = stream.into_split();
    match role {
        Role::Client => {
            while let Some(req) = read_frame::<_, Request>(&mut rd).await? {
                let (tx, rx) = oneshot::channel();
                ev_tx.send(Event::Client { req, reply: tx }).ok();
                let reply = rx.await.unwrap_or(Reply::Refused {
                    reason: "the server is stopping".into(),
                });
                write_frame(&mut wr, &reply).await?;
            }
            Ok(())
        }
        Role::Worker => {
            let first: Option<Request> = read_frame(&mut rd).await?;
            let Some(Request::WorkerHello {
                job,
                slots,
                deadline,
                host,
                claims,
                ..
            }) = first
            else {
                anyhow::bail!("a worker must say hello first");
            };
            let (tx, rx) = mpsc::unbounded_channel::<Reply>();
            let writer = tokio::spawn(crate::protocol::write_queued(wr, rx));
            let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
            let hello = WorkerHello {
                job,
                slots: slots.clamp(1, 4096),
                deadline: Duration::from_secs_f64(if deadline.is_finite() {
                    deadline.clamp(0.0, 1e11)
                } else {
                    0.0
                }),
                host,
                claims,
            };
            ev_tx.send(Event::Hello { id, hello, tx }).ok();
            let why = loop {
                match read_frame::<_, Request>(&mut rd).await {
                    Ok(Some(Request::Goodbye)) => {
                        ev_tx
                            .send(Event::Msg {
                                id,
                                req: Request::Goodbye,
                            })
                            .ok();
                        break None;
                    }
                    Ok(Some(req)) => {
                        ev_tx.send(Event::Msg { id, req }).ok();
                    }
                    Ok(None) => break Some("connection closed".to_string()),
                    Err(e) => break Some(format!("connection error: {e:#}")),
                }
            };
            if let Some(why) = why {
                ev_tx.send(Event::Closed { id, why }).ok();
            }
            writer.abort();
            Ok(())
        }
    }
}

/// Sends tasks to a running server as a client; returns (first id, count).
pub async fn client_request(
    address: &str,
    secret: &Secret,
    req: &Request,
) -> anyhow::Result<Reply> {
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(address))
        .await
        .with_context(|| format!("connecting to the server at `{address}` timed out"))?
        .with_context(|| format!("no server answers at `{address}`: is `hpcluster up` running?"))?;
    auth::connect(&mut stream, secret, Role::Client).await?;
    write_frame(&mut stream, req).await?;
    read_frame::<_, Reply>(&mut stream)
        .await?
        .context("the server closed the connection without answering")
}

/// Tasks from the journal's replay and a tasks file, merged for a resumed or new run.
///
/// Resuming with the same tasks file does not add its tasks twice: when the journal already
/// holds tasks, they must be the first tasks of the file (same specs, same order), and only the
/// file's tasks after them are added (none when it is the same file; new lines appended to the
/// file are added). A file that does not start with the journal's tasks is an error: resuming
/// would run a different list. `new` is empty for an open cluster (`up` without `--tasks`).
/// Tasks the journal left running on a batch job still alive wait this long for the job's
/// worker to reconnect and claim them (workers retry every few seconds).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Puts the journal's tasks and the new ones into the core. Tasks the journal left running on
/// a batch job in `alive` are held for that job's worker (see [`Core::restore_orphan`]).
pub fn seed_tasks(
    core: &mut Core,
    journal: &mut Journal,
    replay: crate::journal::Replay,
    mut new: Vec<TaskSpec>,
    alive: &std::collections::HashSet<String>,
) -> anyhow::Result<(usize, usize)> {
    let resumed = replay.tasks.len();
    if resumed > 0 && !new.is_empty() {
        let same_start =
            new.len() >= resumed && replay.tasks.iter().zip(&new).all(|(t, n)| &t.spec == n);
        if !same_start {
            anyhow::bail!(
                "the journal of this cluster already holds {resumed} task(s) that are not the first \
                 tasks of the tasks file: resuming would run a different list; give another `--name` \
                 (or move the cluster directory aside) to start afresh"
            );
        }
        new.drain(..resumed);
        crate::log::info(format!(
            "the tasks file's first {resumed} task(s) are already in the journal: resuming them, {} new",
            new.len()
        ));
    }
    for d in &replay.durations {
        core.learn(*d);
    }
    let until = unix_now() + ORPHAN_GRACE;
    for t in replay.tasks {
        match t.job.filter(|j| alive.contains(j)) {
            Some(job) if matches!(t.state, TaskState::Running { .. }) => {
                core.restore_orphan(t.spec, job, t.lost_runs, until)
            }
            _ => core.restore_task(t.spec, t.state, t.lost_runs),
        }
    }
    let first = core.task_count() as u64;
    for (i, spec) in new.iter().enumerate() {
        journal.append(&Entry::Added {
            id: first + i as u64,
            spec: spec.clone(),
        })?;
    }
    journal.sync()?;
    let added = new.len();
    core.on_tasks_added(new);
    Ok((resumed, added))
}
