//! The thread-safe side of batch jobs: submitting, polling and cancelling run external
//! commands that may block for seconds, so they run one at a time on tokio's blocking pool
//! behind [`JobControl`], in the order they were asked, and the server's event loop never waits
//! on sbatch or qstat. Their answers come back as [`JobEvent`]s with typed errors.

use tokio::sync::mpsc;

use crate::backend::{JobId, JobState};

/// What the server needs from a batch system (implemented over [`crate::backend`]).
pub trait JobControl: Send + 'static {
    /// Submits `n` worker batch jobs (one array where the backend can).
    fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>>;
    /// The state of every tracked batch job, with one status command per cycle.
    fn poll(&mut self) -> anyhow::Result<Vec<(JobId, JobState)>>;
    /// Cancels these batch jobs.
    fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<()>;
}

/// A request to run a batch-system command.
#[derive(Debug)]
pub enum JobCmd {
    Submit(u32),
    Poll,
    Cancel(Vec<JobId>),
}

/// A batch-system command failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The submit answer could not be read: a retry could only make batch jobs hpcluster
    /// cannot track.
    #[error("{0:#}")]
    UnreadableSubmit(anyhow::Error),
    #[error("{0:#}")]
    Failed(anyhow::Error),
    /// The runner of batch-system commands is gone (the server is stopping).
    #[error("the batch-system commands stopped: {0}")]
    Stopped(String),
}

/// The answers to [`JobCmd`]s, in order.
#[derive(Debug)]
pub enum JobEvent {
    Submitted(Result<Vec<JobId>, JobError>),
    Polled(Result<Vec<(JobId, JobState)>, JobError>),
    Cancelled(Result<usize, JobError>),
}

fn run(control: &mut dyn JobControl, cmd: JobCmd) -> JobEvent {
    match cmd {
        JobCmd::Submit(n) => JobEvent::Submitted(control.submit(n).map_err(|e| {
            if crate::backend::command::is_unreadable_submit(&e) {
                JobError::UnreadableSubmit(e)
            } else {
                JobError::Failed(e)
            }
        })),
        JobCmd::Poll => JobEvent::Polled(control.poll().map_err(JobError::Failed)),
        JobCmd::Cancel(ids) => {
            let n = ids.len();
            JobEvent::Cancelled(control.cancel(&ids).map(|_| n).map_err(JobError::Failed))
        }
    }
}

/// Starts the runner of batch-system commands on the current tokio runtime; it ends when the
/// command sender is dropped or nobody listens to its events.
pub fn spawn(
    control: Box<dyn JobControl>,
    events: mpsc::UnboundedSender<JobEvent>,
) -> mpsc::UnboundedSender<JobCmd> {
    let (tx, mut rx) = mpsc::unbounded_channel::<JobCmd>();
    tokio::spawn(async move {
        let mut control = Some(control);
        while let Some(cmd) = rx.recv().await {
            let Some(mut c) = control.take() else { break };
            let ran = tokio::task::spawn_blocking(move || {
                let ev = run(c.as_mut(), cmd);
                (c, ev)
            })
            .await;
            let ev = match ran {
                Ok((c, ev)) => {
                    control = Some(c);
                    ev
                }
                Err(e) => {
                    let _ = events.send(JobEvent::Cancelled(Err(JobError::Stopped(e.to_string()))));
                    break;
                }
            };
            if events.send(ev).is_err() {
                break;
            }
        }
    });
    tx
}
