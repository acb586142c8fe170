//! The thread-safe side of batch jobs: submitting, polling and cancelling run external
//! commands that may block for seconds, so they run one at a time on tokio's blocking pool
//! behind [`JobControl`], in the order they were asked, and the server's event loop never waits
//! on sbatch or qstat. Their answers come back as [`JobEvent`]s with typed errors; a submit
//! that fails part-way still reports the batch jobs it created.

use tokio::sync::mpsc;

use crate::backend::timed::Stop;
use crate::backend::{JobId, JobState};
use crate::cluster_dir::ExcludedNode;

/// What the server needs from a batch system (implemented over [`crate::backend`]).
pub trait JobControl: Send + 'static {
    /// Submits `n` worker batch jobs (one array where the backend can).
    fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>>;
    /// Submits `n` worker batch jobs; the IDs of those created even when an error stopped it
    /// part-way, with that error.
    fn submit_all(&mut self, n: u32) -> (Vec<JobId>, Option<anyhow::Error>) {
        match self.submit(n) {
            Ok(ids) => (ids, None),
            Err(e) => (Vec::new(), Some(e)),
        }
    }
    /// The state of every tracked batch job, with one status command per cycle.
    fn poll(&mut self) -> anyhow::Result<Vec<(JobId, JobState)>>;
    /// Why these batch jobs ended, in the batch system's words and theirs, one text each.
    fn describe(&mut self, _ids: &[JobId]) -> Vec<(JobId, String)> {
        Vec::new()
    }
    /// The node each of these batch jobs runs or ran on, where the batch system said.
    fn nodes(&mut self, _ids: &[JobId]) -> Vec<(JobId, String)> {
        Vec::new()
    }
    /// Keeps new submissions off these nodes; returns those not excluded before (where the
    /// backend can exclude a node at all).
    fn exclude(&mut self, _nodes: Vec<ExcludedNode>) -> anyhow::Result<Vec<ExcludedNode>> {
        Ok(Vec::new())
    }
    /// Cancels these batch jobs.
    fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<()>;
    /// Cancels every batch job of the cluster the batch system knows (`known` at least);
    /// returns those cancelled.
    fn cancel_all(&mut self, known: &[JobId]) -> anyhow::Result<Vec<JobId>> {
        self.cancel(known).map(|_| known.to_vec())
    }
    /// What tells running queries to give up when the server stops, if anything does.
    fn stopper(&self) -> Option<Stop> {
        None
    }
}

/// A request to run a batch-system command.
#[derive(Debug)]
pub enum JobCmd {
    /// Submit `n`; `first`: the `--jobs N` of `up`, whose failure stops it.
    Submit {
        n: u32,
        first: bool,
    },
    /// Poll; the batch jobs among `unconnected` (no worker connected yet) that ended are
    /// described.
    Poll {
        unconnected: Vec<JobId>,
    },
    Cancel(Vec<JobId>),
    /// Keep new submissions off these nodes.
    Exclude(Vec<ExcludedNode>),
    /// Cancel everything of the cluster, `known` at least.
    CancelAll(Vec<JobId>),
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

/// The answer of a poll: new states, and descriptions of the unconnected batch jobs that
/// ended.
#[derive(Debug, Default)]
pub struct Polled {
    pub states: Vec<(JobId, JobState)>,
    pub described: Vec<(JobId, String)>,
    /// The node of each batch job that changed state, where the batch system said.
    pub nodes: Vec<(JobId, String)>,
}

/// The answers to [`JobCmd`]s, in order.
#[derive(Debug)]
pub enum JobEvent {
    /// The batch jobs a submit created, even when it failed part-way.
    Submitted {
        ids: Vec<JobId>,
        error: Option<JobError>,
        first: bool,
    },
    Polled(Result<Polled, JobError>),
    Cancelled(Result<Vec<JobId>, JobError>),
    /// The nodes newly excluded from new submissions.
    Excluded(Result<Vec<ExcludedNode>, JobError>),
}

fn run(control: &mut dyn JobControl, cmd: JobCmd) -> JobEvent {
    match cmd {
        JobCmd::Submit { n, first } => {
            let (ids, error) = control.submit_all(n);
            let error = error.map(|e| {
                if crate::backend::command::is_unreadable_submit(&e) {
                    JobError::UnreadableSubmit(e)
                } else {
                    JobError::Failed(e)
                }
            });
            JobEvent::Submitted { ids, error, first }
        }
        JobCmd::Poll { unconnected } => JobEvent::Polled(
            control
                .poll()
                .map(|states| {
                    let ended: Vec<JobId> = states
                        .iter()
                        .filter(|(id, s)| s.is_final() && unconnected.contains(id))
                        .map(|(id, _)| id.clone())
                        .collect();
                    let described = if ended.is_empty() {
                        Vec::new()
                    } else {
                        control.describe(&ended)
                    };
                    let changed: Vec<JobId> = states.iter().map(|(id, _)| id.clone()).collect();
                    let nodes = control.nodes(&changed);
                    Polled {
                        states,
                        described,
                        nodes,
                    }
                })
                .map_err(JobError::Failed),
        ),
        JobCmd::Cancel(ids) => {
            JobEvent::Cancelled(control.cancel(&ids).map(|_| ids).map_err(JobError::Failed))
        }
        JobCmd::Exclude(nodes) => {
            JobEvent::Excluded(control.exclude(nodes).map_err(JobError::Failed))
        }
        JobCmd::CancelAll(known) => {
            JobEvent::Cancelled(control.cancel_all(&known).map_err(JobError::Failed))
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
