//! Where the task commands (`tasks`, `logs`, `wait`, `explain`, `retry`, `cancel`, and the
//! task counts of `status`) read and change tasks: the cluster's running server, asked as a
//! client (while it runs it is the only writer of the journal), or, once none runs, the
//! journal itself. Both answer in the same types ([`TaskInfo`], [`ServerStatus`]), so every
//! command shows the same thing either way. A server that stops between the look and the
//! question is not an error: the journal it leaves answers instead.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::cluster_dir::{self, ClusterDir, JobRecord};
use crate::config::Config;
use crate::journal::{read_journal, Edit, Journal, Replay};
use crate::protocol::{BatchJobCounts, Refusal, Reply, Request, ServerStatus};
use crate::server::running::{self, RunningServer};
use crate::task::{StateName, TaskId, TaskInfo, TaskQuery};

/// A cluster's tasks, from its server or its journal.
pub struct TaskSource {
    dir: PathBuf,
    server: Option<RunningServer>,
}

/// What `cancel` or `retry` did.
pub struct Changes {
    pub changed: Vec<TaskId>,
    pub refused: Vec<Refusal>,
}

impl TaskSource {
    /// The cluster of `config`; an error if it has neither a server nor a journal.
    pub fn open(config: &Config) -> anyhow::Result<TaskSource> {
        let dir = std::path::absolute(cluster_dir::path_for(config))?;
        let server = running::find(&dir);
        if server.is_none() && !dir.join("journal.jsonl").is_file() {
            bail!(
                "no cluster `{}` at `{}`: it has no journal yet; check `--name` and \
                 `cluster_root`, or start it with `hpcluster up`",
                config.name,
                dir.display()
            );
        }
        Ok(TaskSource { dir, server })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A server runs (as of the last question).
    pub fn is_live(&self) -> bool {
        self.server.is_some()
    }

    /// Looks again for a running server (one may have started or stopped).
    pub fn refresh(&mut self) {
        self.server = running::find(&self.dir);
    }

    fn replay(&self) -> anyhow::Result<Replay> {
        Ok(read_journal(&self.dir.join("journal.jsonl"))?.unwrap_or_default())
    }

    /// Asks the server; `None` when none runs or it stopped before answering (then the
    /// journal answers).
    fn ask(&mut self, req: &Request) -> anyhow::Result<Option<Reply>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        match server.request(&self.dir, req) {
            Ok(reply) => Ok(Some(reply)),
            Err(e) => {
                self.refresh();
                if self.server.is_some() {
                    return Err(e);
                }
                Ok(None)
            }
        }
    }

    /// Every task the query selects, in ID order, with the paths of its output files.
    pub fn tasks(&mut self, query: &TaskQuery) -> anyhow::Result<Vec<TaskInfo>> {
        let mut query = query.clone();
        let mut out = Vec::new();
        let now = crate::time::unix_now().as_secs_f64();
        let mut replay: Option<Replay> = None;
        loop {
            let page = match &replay {
                Some(r) => r.page(&query, now),
                None => match self.ask(&Request::Tasks {
                    query: query.clone(),
                })? {
                    Some(Reply::Tasks { page }) => page,
                    Some(other) => bail!("unexpected answer from the server: {other:?}"),
                    None => replay.insert(self.replay()?).page(&query, now),
                },
            };
            out.extend(page.tasks.into_iter().map(|t| t.with_outputs(&self.dir)));
            match page.next {
                Some(next) => query.from = next,
                None => return Ok(out),
            }
        }
    }

    /// One task; an error naming it if there is no such task.
    pub fn task(&mut self, id: TaskId) -> anyhow::Result<TaskInfo> {
        let query = TaskQuery {
            ids: vec![id],
            ..TaskQuery::default()
        };
        self.tasks(&query)?
            .pop()
            .with_context(|| format!("no task {id} in the cluster at `{}`", self.dir.display()))
    }

    /// The task and why it is where it is.
    pub fn explain(&mut self, id: TaskId) -> anyhow::Result<(TaskInfo, Vec<String>)> {
        // An unknown task is named the same way whoever answers.
        self.task(id)?;
        match self.ask(&Request::Explain { id })? {
            Some(Reply::Explained { task, why }) => Ok((task.with_outputs(&self.dir), why)),
            Some(other) => bail!("unexpected answer from the server: {other:?}"),
            None => {
                let task = self.task(id)?;
                let why = match task.state {
                    StateName::Pending | StateName::Running => vec![format!(
                        "no server runs for this cluster, so nothing runs it now: start \
                         `hpcluster up` (it resumes the journal){}",
                        if task.state == StateName::Running {
                            "; the journal has its start but not its end (its worker may \
                             still run it, and gives it back to the next server)"
                        } else {
                            ""
                        }
                    )],
                    _ => Vec::new(),
                };
                Ok((task, why))
            }
        }
    }

    /// `hpcluster cancel`.
    pub fn cancel(&mut self, ids: &[TaskId]) -> anyhow::Result<Changes> {
        let ids = ids.to_vec();
        match self.ask(&Request::Cancel { ids: ids.clone() })? {
            Some(reply) => changes(reply),
            None => self.edit_journal(|r, at| r.cancel(&ids, at)),
        }
    }

    /// `hpcluster retry`.
    pub fn retry(&mut self, ids: &[TaskId], failed: bool) -> anyhow::Result<Changes> {
        let ids = ids.to_vec();
        match self.ask(&Request::Retry {
            ids: ids.clone(),
            failed,
        })? {
            Some(reply) => changes(reply),
            None => self.edit_journal(|r, at| r.retry(&ids, failed, at)),
        }
    }

    /// Appends what `edit` decides to the journal, holding the cluster's lock so no `up`
    /// starts meanwhile.
    fn edit_journal(&mut self, edit: impl FnOnce(&Replay, f64) -> Edit) -> anyhow::Result<Changes> {
        let _lock = ClusterDir::create(&self.dir).context(
            "an `hpcluster up` is starting on this cluster: try again once it runs (it then \
             answers for its tasks)",
        )?;
        let (mut journal, replay) = Journal::open(&self.dir.join("journal.jsonl"))?;
        let e = edit(&replay, crate::time::unix_now().as_secs_f64());
        for entry in &e.entries {
            journal.append(entry)?;
        }
        journal.sync()?;
        Ok(Changes {
            changed: e.changed,
            refused: e
                .refused
                .into_iter()
                .map(|(id, reason)| Refusal { id, reason })
                .collect(),
        })
    }
}

fn changes(reply: Reply) -> anyhow::Result<Changes> {
    match reply {
        Reply::Changed { changed, refused } => Ok(Changes { changed, refused }),
        other => bail!("unexpected answer from the server: {other:?}"),
    }
}

/// What `status` shows of a cluster whose server is not running: the journal's counts and
/// the recorded batch jobs, in the shape a server answers with (no workers, no estimate).
pub fn status_from_journal(dir: &Path, jobs: &[JobRecord]) -> anyhow::Result<ServerStatus> {
    use crate::backend::JobState;
    let replay = read_journal(&dir.join("journal.jsonl"))?.unwrap_or_default();
    let count = |s: JobState| jobs.iter().filter(|j| j.state == s).count() as u32;
    Ok(ServerStatus {
        tasks: replay.counts(),
        workers: Vec::new(),
        batch_jobs: BatchJobCounts {
            pending: count(JobState::Pending),
            running: count(JobState::Running),
            submitted: jobs.len() as u64,
        },
        estimate_seconds: None,
    })
}
