//! Peers: the connections of workers and clients. A connection task per peer authenticates it
//! ([`crate::auth`]), reads its frames and hands them to the event loop as [`Event`]s; replies
//! go out through the peer's queue. On the loop's side, [`Server::on_event`] turns a worker's
//! hello, asks, reports, heartbeats and goodbye into calls on the core.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::core::{Core, WorkerHello, WorkerId};
use super::run::Server;
use super::waiting_room::{WaitingRoom, MAX_WAITING, MAX_WAITING_PER_SOURCE};
use crate::auth::{self, Secret};
use crate::backend::JobId;
use crate::journal::{JournalError, JournalWriter};
use crate::protocol::{read_frame, write_frame, Reply, Request, Role};

/// What a connection task hands to the event loop.
pub(super) enum Event {
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

/// A connected worker, as the loop sees it.
pub(super) struct Peer {
    /// Its queue of replies.
    pub tx: mpsc::UnboundedSender<Reply>,
    pub job: Option<JobId>,
    pub host: String,
    /// Since when it counts as working (its oldest claimed task's start, for a returning one).
    pub since: Duration,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How long after a worker's connection closed its tasks are given up on (requeued): a worker
/// that died may have started a task at that very moment, and its task guard ends such a copy
/// within its poll and its grace (`worker::guard`); a second copy must not start before. A
/// worker that comes back meanwhile (a network fault) takes its copies over as if it had never
/// left.
pub const LOST_WORKER_FENCE: Duration = Duration::from_secs(1);

impl Server {
    /// One event of a peer.
    pub fn on_event(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        ev: Event,
    ) -> Result<(), JournalError> {
        let now = self.now();
        match ev {
            Event::Hello { id, hello, tx } => self.on_hello(core, journal, id, hello, tx, now),
            Event::Msg { id, req } => self.on_worker_msg(core, journal, id, req, now),
            Event::Closed { id, why } => {
                // Acted on once the worker's task guards have surely ended what it ran.
                self.closed.push((id, why, now + LOST_WORKER_FENCE));
                Ok(())
            }
            Event::Client { req, reply } => self.on_client(core, journal, req, reply),
        }
    }

    fn on_hello(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        id: WorkerId,
        hello: WorkerHello,
        tx: mpsc::UnboundedSender<Reply>,
        now: Duration,
    ) -> Result<(), JournalError> {
        if let Some(job) = &hello.job {
            self.book.on_worker(job, id);
        }
        tracing::debug!(
            "worker {id} connected from {} (batch job {})",
            hello.host,
            hello
                .job
                .as_ref()
                .map(|j| j.to_string())
                .unwrap_or_else(|| "?".into())
        );
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
                host: hello.host.clone(),
                since: now.saturating_sub(Duration::from_secs_f64(held_for)),
            },
        );
        let claims: Vec<u64> = hello.claims.iter().map(|c| c.task).collect();
        let host = hello.host.clone();
        core.on_worker_hello(id, hello, now);
        let out = core.on_claims(id, now);
        if let Some(log) = &mut self.joblog {
            // Runs the previous server started end here: the joblog names them too.
            for task in claims
                .iter()
                .filter(|t| !out.disowned.iter().any(|(d, _)| d == *t))
            {
                log.started(*task, &host, &core.task_command(*task));
            }
        }
        if claimed > 0 {
            tracing::info!(
                "worker {id} came back holding {claimed} task(s){}",
                if out.disowned.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} of them were requeued meanwhile and are stopped",
                        out.disowned.len()
                    )
                }
            );
        }
        for (task, run) in out.disowned {
            self.send(
                id,
                Reply::Disown {
                    task,
                    run,
                    reason: "it was requeued while the worker was away".into(),
                },
            );
        }
        for ev in out.requeued {
            self.record(journal, &ev, now);
        }
        Ok(())
    }

    fn on_worker_msg(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        id: WorkerId,
        req: Request,
        now: Duration,
    ) -> Result<(), JournalError> {
        match req {
            Request::Ask { slot } => {
                let d = core.on_ask(id, slot, now);
                self.dispatch(journal, id, slot, d, now);
                if let Some(next) = core.prefetch(id, slot, now) {
                    self.dispatch(journal, id, slot, next, now);
                }
            }
            Request::TaskEnded {
                task,
                end,
                secs,
                run,
            } => {
                let reported = core.on_run_ended(id, task, run, end, secs, now);
                self.apply_report(journal, reported, &format!("worker {id}"), now);
                self.acks.push((id, Reply::Ack { task }));
            }
            Request::Heartbeat => core.on_heartbeat(id, now),
            Request::Warned { at } => {
                let at = crate::duration::from_secs_saturating(at);
                match core.on_warned(id, at, now) {
                    Some(until) => tracing::info!(
                        "worker {id}: its batch system warned that its batch job ends soon; \
                         tasks are admitted to it only if they end within {} (`checkpoint_lead`)",
                        crate::duration::format_human(std::time::Duration::from_secs(
                            until.saturating_sub(now).as_secs_f64().round() as u64
                        ))
                    ),
                    None => tracing::info!(
                        "worker {id}: its batch system warned that its batch job ends soon \
                         (its deadline for new tasks is unchanged)"
                    ),
                }
            }
            Request::Goodbye => {
                let evs = core.on_goodbye(id, now);
                self.worker_gone(id, now);
                for ev in evs {
                    self.record(journal, &ev, now);
                }
            }
            other => self.send(
                id,
                Reply::Refused {
                    reason: format!("unexpected message from a worker: {other:?}"),
                },
            ),
        }
        Ok(())
    }

    /// Workers whose connection closed [`LOST_WORKER_FENCE`] ago or more are lost: the
    /// results they left are read, and the tasks they ran are requeued.
    pub fn lose_closed(&mut self, core: &mut Core, journal: &mut JournalWriter, now: Duration) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.closed)
            .into_iter()
            .partition(|(_, _, at)| *at <= now);
        self.closed = later;
        for (id, why, _) in due {
            self.take_results_of_worker(core, journal, id, now);
            let evs = core.on_worker_lost(id, &why, now);
            if !evs.is_empty() {
                tracing::warn!(
                    "worker {id} lost ({why}) while running {} task{}",
                    evs.len(),
                    plural(evs.len())
                );
            }
            self.worker_gone(id, now);
            for ev in evs {
                self.record(journal, &ev, now);
            }
            self.wake(core, journal);
        }
    }

    /// A worker left or was lost: its time is counted and its batch job will take no tasks.
    pub fn worker_gone(&mut self, id: WorkerId, now: Duration) {
        if self.schedule.is_draining() {
            self.schedule.on_worker_gone_while_draining(now);
        }
        if let Some(p) = self.peers.remove(&id) {
            self.worker_seconds_closed += now.saturating_sub(p.since).as_secs_f64();
            if let Some(job) = &p.job {
                self.book.on_worker_gone(job);
            }
        }
    }
}

/// Accepts connections until aborted; each peer gets a task of its own and an ID. Connections
/// that have not authenticated wait in a [`WaitingRoom`]; those it sheds are closed.
pub(super) async fn accept_loop(
    listener: TcpListener,
    secret: Arc<Secret>,
    ev_tx: mpsc::UnboundedSender<Event>,
    next_id: Arc<AtomicU64>,
) {
    let mut room = WaitingRoom::new(MAX_WAITING, MAX_WAITING_PER_SOURCE);
    let mut handshakes: HashMap<u64, (AbortHandle, Arc<AtomicBool>)> = HashMap::new();
    let (left_tx, mut left_rx) = mpsc::unbounded_channel::<u64>();
    let mut shed = ShedReport::default();
    loop {
        tokio::select! {
            Some(ticket) = left_rx.recv() => {
                room.leave(ticket);
                handshakes.remove(&ticket);
            }
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let secret = secret.clone();
                let ev_tx = ev_tx.clone();
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let waiting = Waiting {
                    ticket: id,
                    authenticated: Arc::new(AtomicBool::new(false)),
                    left: left_tx.clone(),
                };
                let authenticated = waiting.authenticated.clone();
                let task = tokio::spawn(async move {
                    if let Err(e) = serve_peer(stream, &secret, ev_tx, id, waiting).await {
                        tracing::debug!("connection from {peer} dropped: {e:#}");
                    }
                });
                handshakes.insert(id, (task.abort_handle(), authenticated));
                for ticket in room.enter(id, peer.ip()) {
                    if let Some((task, authenticated)) = handshakes.remove(&ticket) {
                        // One that authenticated meanwhile is a peer now: never shed.
                        if !authenticated.load(Ordering::SeqCst) {
                            task.abort();
                            shed.count(peer.ip());
                        }
                    }
                }
            }
        }
    }
}

/// A connection's place in the waiting room: left when it authenticates or ends.
struct Waiting {
    ticket: u64,
    authenticated: Arc<AtomicBool>,
    left: mpsc::UnboundedSender<u64>,
}

impl Waiting {
    fn authenticated(&self) {
        self.authenticated.store(true, Ordering::SeqCst);
        let _ = self.left.send(self.ticket);
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.left.send(self.ticket);
    }
}

/// Shed connections, reported in one warning every [`ShedReport::EVERY`] at most.
#[derive(Default)]
struct ShedReport {
    since_warning: u64,
    last_warning: Option<tokio::time::Instant>,
}

impl ShedReport {
    const EVERY: Duration = Duration::from_secs(10);

    fn count(&mut self, last_source: std::net::IpAddr) {
        self.since_warning += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_warning
            .is_some_and(|t| now.duration_since(t) < Self::EVERY)
        {
            return;
        }
        tracing::warn!(
            "closed {} connection(s) that had not authenticated: more than {MAX_WAITING} were \
             waiting at once, or {MAX_WAITING_PER_SOURCE} from one source (the last from {last_source}); \
             is something probing the server's port?",
            self.since_warning
        );
        self.since_warning = 0;
        self.last_warning = Some(now);
    }
}

async fn serve_peer(
    mut stream: TcpStream,
    secret: &Secret,
    ev_tx: mpsc::UnboundedSender<Event>,
    id: WorkerId,
    waiting: Waiting,
) -> anyhow::Result<()> {
    let role = auth::accept(&mut stream, secret).await?;
    waiting.authenticated();
    drop(waiting);
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
