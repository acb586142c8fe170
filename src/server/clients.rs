//! Client requests: `hpcluster submit` adds tasks (answered once they are in the journal on
//! disk), `hpcluster status` asks for a summary. [`client_request`] is the other end, used by
//! those commands.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::commit::Held;
use super::core::Core;
use super::run::Server;
use crate::auth::{self, Secret};
use crate::journal::{Entry, JournalError, JournalWriter};
use crate::protocol::{read_frame, write_frame, Reply, Request, Role};

impl Server {
    pub(super) fn on_client(
        &mut self,
        core: &mut Core,
        journal: &mut JournalWriter,
        req: Request,
        reply: oneshot::Sender<Reply>,
    ) -> Result<(), JournalError> {
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
        Ok(())
    }

    fn status_json(&self, core: &Core) -> serde_json::Value {
        let now = self.now();
        let workers: Vec<_> = core
            .workers()
            .map(|(id, job, host, running, done, deadline)| {
                serde_json::json!({
                    "id": id, "job": job.map(|j| j.to_string()), "host": host,
                    "running": running, "tasks_done": done,
                    "seconds_left": deadline.saturating_sub(now).as_secs_f64(),
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
