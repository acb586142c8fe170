//! Client requests: `hpcluster submit` adds tasks and `retry` / `cancel` change them (each
//! answered once the change is in the journal on disk), `status`, `tasks` and `explain` ask
//! what the core knows. [`client_request`] is the other end, used by those commands.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::commit::Held;
use super::core::{Changed, Core};
use super::run::Server;
use crate::auth::{self, Secret};
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::protocol::{
    read_frame, write_frame, BatchJobCounts, Refusal, Reply, Request, Role, ServerStatus,
    WorkerStatus,
};
use crate::task::TaskId;

impl Server {
    pub(super) fn on_client(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        req: Request,
        reply: oneshot::Sender<Reply>,
    ) -> Result<(), JournalError> {
        let now = self.now();
        let answer = match req {
            Request::AddTasks { tasks } => {
                let count = tasks.len() as u64;
                let first = core.task_count() as u64;
                for (i, spec) in tasks.iter().enumerate() {
                    journal.append(Entry::Added {
                        id: first + i as u64,
                        spec: spec.clone(),
                    });
                }
                core.on_tasks_added(tasks);
                self.wake(core, journal);
                tracing::info!(
                    "{count} task{} added by a client",
                    if count == 1 { "" } else { "s" }
                );
                return self.answer_when_synced(journal, reply, Reply::Added { first, count });
            }
            Request::Status => Reply::Summary {
                status: self.status(core),
            },
            Request::Tasks { query } => Reply::Tasks {
                page: core.task_page(&query, now),
            },
            Request::Cancel { ids } => {
                let changed = core.on_cancel(&ids, now);
                for (worker, task) in &changed.stop {
                    let reason = "it was cancelled by `hpcluster cancel`".to_string();
                    self.send(
                        *worker,
                        Reply::Disown {
                            task: *task,
                            reason,
                        },
                    );
                }
                for ev in &changed.events {
                    self.record(journal, ev, now);
                }
                if !changed.events.is_empty() {
                    tracing::info!("{} task(s) cancelled by a client", changed.events.len());
                }
                let ids = changed.events.iter().map(|e| e.task).collect();
                return self.answer_when_synced(journal, reply, changed_reply(ids, changed));
            }
            Request::Retry { ids, failed } => {
                let changed = core.on_retry(&ids, failed);
                for id in &changed.retried {
                    journal.append(Entry::Retried {
                        id: *id,
                        at: now.as_secs_f64(),
                    });
                }
                if !changed.retried.is_empty() {
                    tracing::info!("{} task(s) queued again by a client", changed.retried.len());
                }
                self.wake(core, journal);
                let ids = changed.retried.clone();
                return self.answer_when_synced(journal, reply, changed_reply(ids, changed));
            }
            Request::Explain { id } => match core.explain(id, now) {
                None => Reply::Refused {
                    reason: format!("no task {id}: the cluster has {} tasks", core.task_count()),
                },
                Some(mut why) => {
                    let task = core.task_page(
                        &crate::task::TaskQuery {
                            ids: vec![id],
                            ..Default::default()
                        },
                        now,
                    );
                    if matches!(core.task_state(id), Some(crate::task::TaskState::Pending)) {
                        why.push(self.batch_jobs_line());
                    }
                    Reply::Explained {
                        task: task.tasks.into_iter().next().expect("a known task"),
                        why,
                    }
                }
            },
            other => Reply::Refused {
                reason: format!("unexpected message from a client: {other:?}"),
            },
        };
        let _ = reply.send(answer);
        Ok(())
    }

    /// Answers a client once everything journaled so far is on disk.
    fn answer_when_synced(
        &mut self,
        journal: &mut JournalWriter,
        reply: oneshot::Sender<Reply>,
        answer: Reply,
    ) -> Result<(), JournalError> {
        let token = journal.request_sync()?;
        self.waiting
            .push((token, Held::Client(reply, Box::new(answer))));
        Ok(())
    }

    /// What the batch jobs are doing, for a pending task's explanation.
    fn batch_jobs_line(&self) -> String {
        let (pending, running) = self.book.pending_running();
        format!(
            "batch jobs: {pending} queued in the batch system, {running} running, at most {} at \
             once (`max_jobs`); the server submits more while tasks wait and none has the time \
             for them",
            self.opts.max_jobs
        )
    }

    fn status(&self, core: &Core) -> ServerStatus {
        let now = self.now();
        let workers = core
            .workers()
            .map(|(id, job, host, running, done, deadline)| WorkerStatus {
                id,
                job: job.map(|j| j.to_string()),
                host: host.to_string(),
                running,
                tasks_done: done,
                seconds_left: deadline.saturating_sub(now).as_secs_f64(),
            })
            .collect();
        let (pending, running) = self.book.pending_running();
        ServerStatus {
            tasks: core.counts().clone(),
            workers,
            batch_jobs: BatchJobCounts {
                pending,
                running,
                submitted: self.book.submitted,
            },
            estimate_seconds: Some(core.default_estimate().as_secs_f64()),
        }
    }
}

fn changed_reply(changed: Vec<TaskId>, c: Changed) -> Reply {
    Reply::Changed {
        changed,
        refused: c
            .refused
            .into_iter()
            .map(|(id, reason)| Refusal { id, reason })
            .collect(),
    }
}

/// Sends one request to a running server as a client and returns its answer.
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
