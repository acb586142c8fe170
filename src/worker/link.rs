//! The worker's connection to the server, which can be lost and made again.
//!
//! When the server goes away (its process killed, the login node rebooted) a worker does not
//! kill its tasks: they keep running, their reports wait on disk until acknowledged
//! ([`super::held`]), and the worker tries
//! to reach a server again every few seconds for [`RECONNECT_WITHIN`], reading the address
//! from the cluster directory each time (a restarted `hpcluster up` listens on a new port).
//! Its new hello claims the tasks it holds, so the restarted server, which found them
//! running in its journal, gives them back to it instead of running them a second time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::Secret;
use crate::cluster_dir::server_file::ServerFile;
use crate::protocol::{write_frame, Claim, Reply, Request, Role};

/// How long a worker that lost its server keeps trying to reach one.
pub const RECONNECT_WITHIN: Duration = Duration::from_secs(300);
/// Pause between reconnection attempts.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(2);

/// Connects to `address`, retrying for a while with doubling pauses (the server may still be
/// starting).
async fn connect_with_retry(address: &str) -> anyhow::Result<tokio::net::TcpStream> {
    let mut delay = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..8 {
        match tokio::net::TcpStream::connect(address).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    bail!(
        "cannot reach the server at `{address}`: {}; is `hpcluster up` running, and can this node reach that host?",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
}

/// Where the server is and how to prove who we are.
pub struct Target {
    /// `--server HOST:PORT`; else the address in the cluster directory, read at each attempt.
    pub server: Option<String>,
    pub cluster_dir: PathBuf,
    pub secret: Secret,
}

impl Target {
    fn address(&self) -> anyhow::Result<String> {
        match &self.server {
            Some(a) => Ok(a.clone()),
            None => ServerFile::read(&self.cluster_dir).map(|f| f.address),
        }
    }
}

type Replies = mpsc::UnboundedReceiver<anyhow::Result<Reply>>;

/// An open (or lost) connection to the server.
pub struct Link {
    tx: Option<mpsc::UnboundedSender<Request>>,
    replies: Replies,
    /// Keeps `replies` open (and silent) while the connection is lost.
    idle: Option<mpsc::UnboundedSender<anyhow::Result<Reply>>>,
    writer: Option<JoinHandle<OwnedWriteHalf>>,
    lost_since: Option<Instant>,
    pub address: String,
}

impl Link {
    /// Connects (retrying for a while: the server may still be starting), authenticates and
    /// says `hello`.
    pub async fn open(target: &Target, hello: Request) -> anyhow::Result<Link> {
        let address = target.address()?;
        let stream = connect_with_retry(&address).await?;
        Self::start(target, stream, address, hello).await
    }

    async fn start(
        target: &Target,
        mut stream: tokio::net::TcpStream,
        address: String,
        hello: Request,
    ) -> anyhow::Result<Link> {
        crate::auth::connect(&mut stream, &target.secret, Role::Worker).await?;
        let (rd, mut wr) = stream.into_split();
        write_frame(&mut wr, &hello).await?;
        let (tx, rx) = mpsc::unbounded_channel::<Request>();
        Ok(Link {
            tx: Some(tx),
            replies: crate::protocol::spawn_reader::<_, Reply>(rd),
            idle: None,
            writer: Some(tokio::spawn(crate::protocol::write_queued(wr, rx))),
            lost_since: None,
            address,
        })
    }

    pub fn is_connected(&self) -> bool {
        self.lost_since.is_none()
    }

    /// How long the server has been away.
    pub fn lost_for(&self) -> Option<Duration> {
        self.lost_since.map(|t| t.elapsed())
    }

    /// Sends a message; while the server is away it is dropped: the next hello says it all
    /// again, and task reports are sent again until acknowledged ([`super::held`]).
    pub fn send(&mut self, req: Request) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(req);
        }
    }

    /// The next message from the server; `None` or an error when the connection is lost
    /// (never while it is already lost: then this waits forever).
    pub async fn recv(&mut self) -> Option<anyhow::Result<Reply>> {
        self.replies.recv().await
    }

    /// Marks the connection lost.
    pub fn lose(&mut self) {
        if self.lost_since.is_some() {
            return;
        }
        self.tx = None;
        if let Some(w) = self.writer.take() {
            w.abort();
        }
        let (idle, replies) = mpsc::unbounded_channel();
        self.idle = Some(idle);
        self.replies = replies;
        self.lost_since = Some(Instant::now());
    }

    /// One attempt to reach a server again; `hello` (without claims) is completed with
    /// `running` and `finished` (the claims of the reports not yet acknowledged, which the
    /// caller sends again right after).
    pub async fn reconnect(
        &mut self,
        target: &Target,
        mut hello: Request,
        running: Vec<Claim>,
        finished: Vec<Claim>,
    ) -> anyhow::Result<()> {
        let address = target.address()?;
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&address),
        )
        .await
        .with_context(|| format!("connecting to `{address}` timed out"))?
        .with_context(|| format!("cannot reach the server at `{address}`"))?;
        let _ = stream.set_nodelay(true);
        if let Request::WorkerHello { claims, .. } = &mut hello {
            *claims = running;
            claims.extend(finished);
        } else {
            bail!("a worker's first message is its hello");
        }
        let fresh = tokio::time::timeout(
            Duration::from_secs(15),
            Self::start(target, stream, address, hello),
        )
        .await
        .context("the server did not complete the handshake within 15s")??;
        *self = fresh;
        Ok(())
    }

    /// Says goodbye, lets the writer drain, then waits (bounded) for the acks of the last
    /// `unacked` reports; returns the tasks acknowledged.
    pub async fn close(mut self, mut unacked: usize) -> Vec<u64> {
        self.send(Request::Goodbye);
        self.tx = None;
        let mut acked = Vec::new();
        let Some(writer) = self.writer.take() else {
            return acked;
        };
        if let Ok(Ok(_wr)) = tokio::time::timeout(Duration::from_secs(5), writer).await {
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while unacked > 0 {
                    match self.replies.recv().await {
                        Some(Ok(Reply::Ack { task })) => {
                            unacked -= 1;
                            acked.push(task);
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            })
            .await;
        }
        acked
    }
}
