//! The server's event loop: one task that owns the [`Core`], the journal writer and the book
//! of batch jobs, and answers what arrives, in order: events of peers (workers and clients),
//! answers of batch-system commands, journal syncs, the tick, and the shutdown signal. Time
//! comes from a [`Clock`] (the system's; tokio's paused clock in tests), so every decision the
//! loop makes can be replayed in a test.
//!
//! The loop's state is [`Server`]; its rooms: [`super::peers`] (connections and worker
//! messages), [`super::clients`] (client requests), [`super::commit`] (the journal and the acks
//! held until it is on disk), [`super::job_events`] (submitting and polling batch jobs),
//! [`super::finish`] (the end of a run), [`super::resume`] (a journal replayed into the core).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::book::JobBook;
use super::commit::Held;
use super::core::{Core, WorkerId};
use super::job_events::JobSchedule;
use super::joblog::Joblog;
use super::jobs::{self, JobCmd, JobControl, JobEvent};
use super::peers::{self, Event, Peer};
use super::progress::Progress;
use crate::auth::Secret;
use crate::backend::JobId;
use crate::journal::{Journal, JournalWriter};
use crate::protocol::Reply;
use crate::time::Clock;

/// The interval of the loop's tick: timers, heartbeats, submissions and polls are looked at
/// this often.
pub const TICK: Duration = Duration::from_millis(250);

/// The first pause between polls while `up` waits for the batch jobs of retiring workers.
pub const DRAIN_POLL_FIRST: Duration = Duration::from_millis(50);

/// How long `up` waits at its end for batch jobs of retired workers to end by themselves.
pub const RETIRE_GRACE: Duration = Duration::from_secs(15);

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
    /// The hpcluster program job scripts run, named in hints.
    pub worker_program: String,
    /// Batch jobs to submit as soon as the loop starts (`up --jobs N`); a failure stops `up`.
    pub first_jobs: u32,
    /// Exit once every task has ended (a `--tasks` run).
    pub exit_when_done: bool,
    pub progress: bool,
    /// Batch jobs submitted before the server started (`up --jobs N`) or re-attached.
    pub initial_jobs: Vec<JobId>,
    /// `up --joblog`: where each finished run gets a line in GNU parallel's format.
    pub joblog: Option<std::path::PathBuf>,
    /// The cluster directory, where lost workers' results are found (`results/<batch job>/`);
    /// none in tests that run without one.
    pub cluster_dir: Option<std::path::PathBuf>,
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
    /// Batch jobs preempted or lost with their node: their tasks were requeued, no failure.
    pub batch_jobs_lost: u64,
    /// Runs that checkpointed (`checkpoint_exit_code`): their tasks went on in a later run.
    pub checkpointed: u64,
    pub core_seconds_consumed: f64,
    pub core_seconds_tasks: f64,
    pub interrupted: bool,
}

/// The state of a running server around its core.
pub(super) struct Server {
    /// Where `now` comes from.
    pub clock: Arc<dyn Clock>,
    pub opts: ServerOptions,
    /// What each batch job is doing.
    pub book: JobBook,
    /// Connected workers, by the ID their connection was given.
    pub peers: HashMap<WorkerId, Peer>,
    /// Replies to workers of this round of events (acks, `run`s), not yet handed to the
    /// journal writer: each waits for the sync that covers this round.
    pub acks: Vec<(WorkerId, Reply)>,
    /// Replies held until the journal sync with their token is on disk.
    pub waiting: Vec<(u64, Held)>,
    /// When batch jobs are next submitted and polled, and which commands run.
    pub schedule: JobSchedule,
    /// Worker time of the workers that have left, seconds.
    pub worker_seconds_closed: f64,
    pub progress: Progress,
    /// `up --joblog`, while it can be written.
    pub joblog: Option<Joblog>,
    /// Result files lost workers left, read and applied this round: removed once the journal
    /// sync that covers them is on disk.
    pub left_results: Vec<std::path::PathBuf>,
    /// Workers whose connection closed, why, and when they are given up on
    /// ([`super::peers::LOST_WORKER_FENCE`]).
    pub closed: Vec<(WorkerId, String, Duration)>,
}

impl Server {
    pub fn new(opts: ServerOptions, clock: Arc<dyn Clock>) -> Server {
        Server {
            schedule: JobSchedule::new(opts.poll_interval),
            progress: Progress::new(opts.progress),
            clock,
            opts,
            book: JobBook::default(),
            peers: HashMap::new(),
            acks: Vec::new(),
            waiting: Vec::new(),
            worker_seconds_closed: 0.0,
            joblog: None,
            left_results: Vec::new(),
            closed: Vec::new(),
        }
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Worker time so far, seconds: of the workers that left and of those still connected.
    pub fn worker_seconds(&self, now: Duration) -> f64 {
        self.worker_seconds_closed
            + self
                .peers
                .values()
                .map(|p| now.saturating_sub(p.since).as_secs_f64())
                .sum::<f64>()
    }

    /// Sends a reply to a connected worker now (dropped if it is gone); see
    /// [`Server::send`](super::commit) for the order of held replies.
    pub fn deliver(&self, id: WorkerId, reply: Reply) {
        if let Some(p) = self.peers.get(&id) {
            let _ = p.tx.send(reply);
        }
    }

    /// The run is over once every task has ended, every peer left and every batch job whose
    /// worker connected has ended.
    fn all_gone(&self) -> bool {
        let retiring = self
            .book
            .jobs
            .values()
            .any(|j| j.connected && !j.state.is_final());
        self.peers.is_empty() && self.waiting.is_empty() && !retiring
    }
}

/// Runs the server until every task ends (with `exit_when_done`) or `shutdown` fires; then
/// cancels every batch job still queued or running, whatever the loop's outcome.
#[allow(clippy::too_many_arguments)] // the server's inputs, each one of its own kind
pub async fn run(
    listener: TcpListener,
    secret: Secret,
    mut core: Core,
    journal: Journal,
    control: Box<dyn JobControl>,
    mut opts: ServerOptions,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let mode = crate::atomic_file::file_mode_in(
        journal.path().parent().unwrap_or(std::path::Path::new(".")),
    );
    let joblog = opts
        .joblog
        .as_deref()
        .map(|p| Joblog::open(p, mode))
        .transpose()?;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let (job_tx, mut job_rx) = mpsc::unbounded_channel::<JobEvent>();
    let stop = control.stopper();
    let jobs_cmd = jobs::spawn(control, job_tx);
    let acceptor = tokio::spawn(peers::accept_loop(
        listener,
        Arc::new(secret),
        ev_tx,
        Arc::new(AtomicU64::new(1)),
    ));
    let mut journal = JournalWriter::new(journal);
    let initial_jobs = std::mem::take(&mut opts.initial_jobs);
    let mut st = Server::new(opts, clock);
    st.joblog = joblog;
    for id in initial_jobs {
        st.book.add(id);
    }
    if st.opts.first_jobs > 0 {
        st.schedule.submitting();
        let n = st.opts.first_jobs;
        jobs_cmd.send(JobCmd::Submit { n, first: true })?;
    }
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
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
                Some(jev) = job_rx.recv() => {
                    st.on_job_event(&mut core, &mut journal, jev)?;
                    st.flush(&mut journal)?;
                }
                synced = journal.synced() => st.release(synced?),
                _ = tick.tick() => {
                    st.on_tick(&mut core, &mut journal, &jobs_cmd)?;
                    st.flush(&mut journal)?;
                    if journal.has_unsynced() {
                        // Entries no reply waits for (a requeue) should not wait for the next one.
                        journal.request_sync()?;
                    }
                }
                _ = &mut shutdown => { interrupted = true; break; }
            }
            if st.opts.exit_when_done && core.is_finished() {
                // Drain: workers get Stop (parked slots now, asking slots as they ask), their
                // last reports are acknowledged, and their batch jobs end on their own; what is
                // left after RETIRE_GRACE is cancelled below.
                if drain_until.is_none() {
                    // Batch jobs of retiring workers end within moments: look often.
                    tick = tokio::time::interval(DRAIN_POLL_FIRST);
                }
                let until = *drain_until.get_or_insert_with(|| {
                    st.schedule.start_draining();
                    tokio::time::Instant::now() + RETIRE_GRACE
                });
                st.wake(&mut core, &mut journal);
                st.flush(&mut journal)?;
                if st.all_gone() || tokio::time::Instant::now() >= until {
                    break;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = &looped {
        tracing::warn!("the server stops on an error: {e:#}");
    }
    acceptor.abort();
    // Queries in flight (a status command that hangs) give up now: their answer no longer
    // matters, and a stopping `up` must not wait on them.
    if let Some(stop) = &stop {
        stop.stop();
    }
    st.cancel_live_jobs(&jobs_cmd, &mut job_rx).await;
    let closed = journal.close().await;
    looped?;
    closed?;
    st.progress.finish();
    Ok(st.summary(&core, interrupted))
}
