//! The wire between workers, clients and the server: length-prefixed JSON frames.
//!
//! Each frame is a 4-byte big-endian length and that many bytes of JSON. Frames larger than
//! [`MAX_FRAME`] are refused before any allocation, so a hostile peer cannot make the server
//! allocate more than that per connection. Every connection starts with the challenge-response
//! of [`crate::auth`]; nothing else is read before it succeeds.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::backend::JobId;
use crate::task::{Counts, TaskId, TaskInfo, TaskPage, TaskQuery, TaskSpec};

/// Largest frame accepted (1 MiB): a task command or a batch of tasks fits; more is refused.
pub const MAX_FRAME: usize = 1 << 20;

/// Protocol version, checked in the handshake.
pub const VERSION: u32 = 1;

/// Who is connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Worker,
    Client,
}

/// How a task run ended, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// The command exited (any code).
    Exited { code: i32 },
    /// The command was killed by a signal it did not expect.
    Signaled { signal: i32 },
    /// The worker stopped it: SIGTERM from the batch system, or its deadline.
    Interrupted { walltime: bool },
    /// Sent ahead to a busy slot and given back unstarted: the deadline no longer allowed
    /// it, or the worker stopped first.
    NotStarted,
    /// The worker killed it: it ran past its `timeout` (`task_timeout`).
    TimedOut,
    /// `/bin/sh -c` could not be started for it (the worker wrote the details, with paths and
    /// sizes, into the task's stderr file).
    CouldNotStart { why: StartFailure },
}

/// Why a task's command could not be started on its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFailure {
    /// Its `cwd` is not a directory on the compute node.
    MissingCwd,
    /// Its command and `env` are more than the system passes to a program (E2BIG).
    TooLarge,
    Other,
}

impl StartFailure {
    /// The reason a failed task is recorded with.
    pub fn reason(self) -> &'static str {
        match self {
            StartFailure::MissingCwd => {
                "could not start: its `cwd` is not a directory on the compute node (its .err \
                 file names it and the host)"
            }
            StartFailure::TooLarge => {
                "could not start: its command and `env` are more than the system passes to a \
                 program (E2BIG; its .err file gives the sizes): put the command in a script file"
            }
            StartFailure::Other => "could not start (its .err file says why)",
        }
    }
}

/// A task a reconnecting worker still runs (or has finished without its report reaching the
/// server), in its slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub task: u64,
    pub slot: u32,
    /// Seconds it has run (or ran) so far.
    #[serde(default)]
    pub secs: f64,
    /// The run it is (see [`RunId`]); 0 from a worker that predates run IDs.
    #[serde(default)]
    pub run: RunId,
}

/// Which start of a task a copy is: the server gives every start its own ID (in the `run`
/// reply) and the worker names it in its report and claims, so a report of a copy the server
/// has since stopped or replaced is known for what it is. 0: not known (an older peer).
pub type RunId = u64;

/// Messages a worker or client sends after the handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// First message of a worker.
    WorkerHello {
        job: Option<JobId>,
        slots: u32,
        /// Deadline, seconds since the Unix epoch.
        deadline: f64,
        host: String,
        pid: u32,
        /// Tasks this worker already holds, when it reconnects (to a restarted server).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        claims: Vec<Claim>,
    },
    /// A free slot asks for a task.
    Ask {
        slot: u32,
    },
    /// A task ended.
    TaskEnded {
        task: u64,
        end: RunEnd,
        /// Wall time the task ran, seconds.
        secs: f64,
        /// The run that ended (the `run` of its `run` reply).
        #[serde(default)]
        run: RunId,
    },
    Heartbeat,
    /// The batch system warned the worker (SIGUSR1) that its batch job ends soon, at `at`
    /// (seconds since the Unix epoch): tasks are admitted to it against `at` plus
    /// `checkpoint_lead` from then on. Sent again after a reconnection.
    Warned {
        at: f64,
    },
    /// The worker is leaving (retired or stopped); nothing of it runs anymore.
    Goodbye,
    /// A client adds tasks.
    AddTasks {
        tasks: Vec<TaskSpec>,
    },
    /// A client asks for a summary.
    Status,
    /// A client asks about tasks (`hpcluster tasks`, `wait`, `logs`).
    Tasks {
        query: TaskQuery,
    },
    /// A client cancels tasks (`hpcluster cancel`).
    Cancel {
        ids: Vec<TaskId>,
    },
    /// A client queues ended tasks again (`hpcluster retry`): `ids`, and with `failed` every
    /// failed or killed one.
    Retry {
        ids: Vec<TaskId>,
        #[serde(default)]
        failed: bool,
    },
    /// A client asks why a task is where it is (`hpcluster explain`).
    Explain {
        id: TaskId,
    },
}

/// The server's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// Run this task in `slot`.
    Run {
        slot: u32,
        task: u64,
        spec: TaskSpec,
        /// The estimate the server admitted it with, seconds.
        estimate: f64,
        /// The buffer the server admitted it with, seconds.
        buffer: f64,
        /// The ID of this start, named again in the task's report and claims.
        #[serde(default)]
        run: RunId,
    },
    /// Pending tasks exist but none can finish before this worker's deadline: retire the slot.
    Retire { slot: u32, reason: String },
    /// No more work will come: stop the slot.
    Stop { slot: u32 },
    /// A task end is on disk.
    Ack { task: u64 },
    /// A copy of a task is not this worker's anymore (it was requeued, or completed
    /// elsewhere): stop it, drop its result. `run` names the copy (0: any copy of the task).
    Disown {
        task: u64,
        #[serde(default)]
        run: RunId,
        reason: String,
    },
    /// Tasks added, with their IDs.
    Added { first: u64, count: u64 },
    /// Summary for a client.
    Summary { status: ServerStatus },
    /// Tasks for a client, one page.
    Tasks { page: TaskPage },
    /// What `cancel` or `retry` did: the tasks it changed, and those it left, with the reason
    /// (once the change is in the journal on disk).
    Changed {
        changed: Vec<TaskId>,
        refused: Vec<Refusal>,
    },
    /// Why a task is where it is: the task, and sentences on what it waits for.
    Explained { task: TaskInfo, why: Vec<String> },
    /// The request was refused.
    Refused { reason: String },
}

/// A task a request left as it was, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub id: TaskId,
    pub reason: String,
}

/// What `hpcluster status` shows of a cluster: the same shape whether a server answers
/// (`workers` and `estimate_seconds` from it) or the journal is read after a run (no workers,
/// no estimate). Documented in `docs/json.md`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub tasks: Counts,
    pub workers: Vec<WorkerStatus>,
    pub batch_jobs: BatchJobCounts,
    /// The estimate for tasks without their own time, seconds; null when no server runs.
    pub estimate_seconds: Option<f64>,
}

/// A connected worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub id: u64,
    /// Its batch job.
    pub job: Option<String>,
    pub host: String,
    /// Tasks it runs (or holds, sent ahead).
    pub running: usize,
    pub tasks_done: u64,
    /// Seconds to its deadline.
    pub seconds_left: f64,
}

/// The batch jobs of a cluster, by state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchJobCounts {
    pub pending: u32,
    pub running: u32,
    /// Batch jobs submitted since the cluster was created.
    pub submitted: u64,
}

/// Appends one frame to `buf`.
pub fn encode_frame<T: Serialize>(buf: &mut Vec<u8>, msg: &T) -> anyhow::Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *buf, msg)?;
    let len = buf.len() - start - 4;
    if len > MAX_FRAME {
        buf.truncate(start);
        bail!("message of {len} bytes is larger than the {MAX_FRAME} byte limit");
    }
    buf[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(())
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    encode_frame(&mut buf, msg)?;
    w.write_all(&buf).await?;
    Ok(())
}

/// Bytes of queued frames written with one call at most (more waits for the next write).
const WRITE_BATCH: usize = 256 * 1024;

/// Writes every message of `rx` until it closes or a write fails: the messages queued at the
/// time of a write go out together, one system call for a burst instead of one per frame.
/// A message too large to encode is logged and skipped. Returns the writer.
pub async fn write_queued<W: AsyncWrite + Unpin, T: Serialize + std::fmt::Debug>(
    mut w: W,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> W {
    let mut buf = Vec::with_capacity(4096);
    while let Some(first) = rx.recv().await {
        buf.clear();
        let mut next = Some(first);
        while let Some(m) = next.take() {
            if let Err(e) = encode_frame(&mut buf, &m) {
                tracing::warn!("message not sent: {e:#}");
            }
            if buf.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if w.write_all(&buf).await.is_err() {
            break;
        }
    }
    w
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> anyhow::Result<Option<T>> {
    read_frame_max(r, MAX_FRAME).await
}

/// Reads one frame of at most `max` bytes (checked before anything is allocated for it).
pub async fn read_frame_max<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
) -> anyhow::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        bail!("frame of {len} bytes exceeds the {max} byte limit");
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .await
        .context("connection closed inside a frame")?;
    let msg = serde_json::from_slice(&body).context("malformed message")?;
    Ok(Some(msg))
}

/// Reads frames on a task of its own and hands them over a channel, so a reader can wait for
/// them in a `select!` without losing a half-read frame when another branch wins. The stream
/// is read through a buffer (one system call for a burst of frames). An error is the last
/// item; the channel closes after it or at the end of the stream.
pub fn spawn_reader<R, T>(r: R) -> tokio::sync::mpsc::UnboundedReceiver<anyhow::Result<T>>
where
    R: AsyncRead + Unpin + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut r = tokio::io::BufReader::with_capacity(64 * 1024, r);
        loop {
            match read_frame::<_, T>(&mut r).await {
                Ok(Some(m)) => {
                    if tx.send(Ok(m)).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

/// Reads one frame of at most `max` bytes within `limit`; a silent or slow peer is an error.
pub async fn read_frame_within<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
    limit: Duration,
) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, read_frame_max(r, max)).await {
        Ok(Ok(Some(m))) => Ok(m),
        Ok(Ok(None)) => bail!("connection closed"),
        Ok(Err(e)) => Err(e),
        Err(_) => bail!("no message within {}", crate::duration::format_human(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let msg = Request::Ask { slot: 3 };
        write_frame(&mut a, &msg).await.unwrap();
        let got: Request = read_frame(&mut b).await.unwrap().unwrap();
        assert_eq!(got, msg);
    }

    #[tokio::test]
    async fn oversized_frame_is_refused_without_allocating() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        let e = read_frame::<_, Request>(&mut b).await.unwrap_err();
        assert!(
            e.to_string().contains("exceeds the 1048576 byte limit"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn garbage_is_a_malformed_message() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&5u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{{{{{").await.unwrap();
        let e = read_frame::<_, Request>(&mut b).await.unwrap_err();
        assert!(e.to_string().contains("malformed message"), "{e}");
    }
}
