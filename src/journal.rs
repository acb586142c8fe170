//! The journal: an append-only record of every task, so nothing is lost or run twice.
//!
//! One JSON object per line in `<cluster dir>/journal.jsonl`: a task was added, started, or
//! ended (done, failed, requeued). A task end is on disk (`fsync`) before the worker's report
//! of it is acknowledged. Replaying the journal rebuilds the task table when `hpcluster up`
//! resumes: completed tasks are never run again, tasks that were running are requeued. The
//! durations recorded are also the history the estimates learn from.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::task::{Outcome, TaskSpec, TaskState};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Entry {
    Added {
        id: u64,
        spec: TaskSpec,
    },
    Started {
        id: u64,
        worker: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
        at: f64,
    },
    Ended {
        id: u64,
        #[serde(flatten)]
        outcome: Outcome,
        secs: f64,
        at: f64,
    },
}

/// A task as the journal leaves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedTask {
    pub spec: TaskSpec,
    pub state: TaskState,
    pub lost_runs: u32,
    /// The batch job of its last start while it is running (the journal ends before its end).
    pub job: Option<String>,
}

/// What a journal holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    pub tasks: Vec<ReplayedTask>,
    /// Durations of tasks that finished successfully, oldest first.
    pub durations: Vec<f64>,
    /// Bytes of complete lines; anything after (a torn last line) is cut off on open.
    pub valid_len: usize,
    pub torn_tail: bool,
}

/// Rebuilds the task table from a journal's text (pure). `origin` names it in errors.
pub fn parse_journal(text: &str, origin: &str) -> anyhow::Result<Replay> {
    let mut r = Replay::default();
    let mut offset = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        let body = line.trim();
        if body.is_empty() {
            offset += line.len();
            continue;
        }
        let entry: Entry = match serde_json::from_str(body) {
            Ok(e) => e,
            Err(_) if !complete => {
                r.torn_tail = true;
                break;
            }
            Err(e) => bail!(
                "journal `{origin}` line {} is corrupt ({e}); move the file aside to start the cluster afresh",
                n + 1
            ),
        };
        if !complete {
            // A whole entry without its newline: keep it, the next append adds the newline.
            r.torn_tail = true;
        }
        apply(&mut r, entry).with_context(|| format!("journal `{origin}` line {}", n + 1))?;
        offset += line.len();
    }
    r.valid_len = offset;
    Ok(r)
}

fn apply(r: &mut Replay, entry: Entry) -> anyhow::Result<()> {
    match entry {
        Entry::Added { id, spec } => {
            if id as usize != r.tasks.len() {
                bail!("task {id} added out of order (expected {})", r.tasks.len());
            }
            r.tasks.push(ReplayedTask {
                spec,
                state: TaskState::Pending,
                lost_runs: 0,
                job: None,
            });
        }
        Entry::Started {
            id, worker, job, ..
        } => {
            let t = task(r, id)?;
            t.state = TaskState::Running { worker, slot: 0 };
            t.job = job;
        }
        Entry::Ended {
            id, outcome, secs, ..
        } => {
            let t = task(r, id)?;
            t.job = None;
            match outcome {
                Outcome::Done => {
                    t.state = TaskState::Done;
                    r.durations.push(secs);
                }
                Outcome::Failed { reason } => t.state = TaskState::Failed { reason },
                Outcome::Requeued { .. } => {
                    t.state = TaskState::Pending;
                    t.lost_runs += 1;
                }
                Outcome::Returned => t.state = TaskState::Pending,
            }
        }
    }
    Ok(())
}

fn task(r: &mut Replay, id: u64) -> anyhow::Result<&mut ReplayedTask> {
    r.tasks
        .get_mut(id as usize)
        .with_context(|| format!("unknown task {id}"))
}

/// The journal file, open for appending.
pub struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    dirty: bool,
}

impl Journal {
    /// Opens (or creates) the journal; returns what it already held.
    pub fn open(path: &Path) -> anyhow::Result<(Journal, Replay)> {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes).with_context(|| {
                format!(
                    "journal `{}` is not UTF-8; move it aside to start afresh",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("failed to read journal `{}`", path.display()))
            }
        };
        let replay = parse_journal(&text, &path.display().to_string())?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("failed to open journal `{}`", path.display()))?;
        if replay.torn_tail {
            // Cut a torn last line; complete a last line that lacks only its newline.
            file.set_len(replay.valid_len as u64)?;
            if !text[..replay.valid_len].is_empty() && !text[..replay.valid_len].ends_with('\n') {
                (&file).write_all(b"\n")?;
            }
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                out: BufWriter::with_capacity(1 << 16, file),
                dirty: false,
            },
            replay,
        ))
    }

    /// Appends an entry (buffered; see [`Journal::sync`]).
    pub fn append(&mut self, entry: &Entry) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, entry)?;
        self.out.write_all(b"\n")?;
        self.dirty = true;
        Ok(())
    }

    /// Puts everything appended so far on disk.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.out
            .flush()
            .with_context(|| format!("failed to write journal `{}`", self.path.display()))?;
        self.out
            .get_ref()
            .sync_data()
            .with_context(|| format!("failed to sync journal `{}`", self.path.display()))?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &str) -> TaskSpec {
        TaskSpec {
            cmd: cmd.into(),
            ..TaskSpec::default()
        }
    }

    #[test]
    fn replay_keeps_done_and_requeues_running() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        {
            let (mut j, r) = Journal::open(&p).unwrap();
            assert!(r.tasks.is_empty());
            for (i, c) in ["a", "b", "c", "d"].iter().enumerate() {
                j.append(&Entry::Added {
                    id: i as u64,
                    spec: spec(c),
                })
                .unwrap();
            }
            j.append(&Entry::Started {
                id: 0,
                worker: 1,
                job: None,
                at: 1.0,
            })
            .unwrap();
            j.append(&Entry::Ended {
                id: 0,
                outcome: Outcome::Done,
                secs: 2.5,
                at: 3.5,
            })
            .unwrap();
            j.append(&Entry::Started {
                id: 1,
                worker: 1,
                job: Some("7".into()),
                at: 4.0,
            })
            .unwrap();
            j.append(&Entry::Started {
                id: 2,
                worker: 2,
                job: None,
                at: 4.0,
            })
            .unwrap();
            j.append(&Entry::Ended {
                id: 2,
                outcome: Outcome::Failed {
                    reason: "exit status 1".into(),
                },
                secs: 1.0,
                at: 5.0,
            })
            .unwrap();
            j.sync().unwrap();
        }
        let (_, r) = Journal::open(&p).unwrap();
        let states: Vec<_> = r.tasks.iter().map(|t| t.state.clone()).collect();
        assert_eq!(states[0], TaskState::Done);
        assert!(matches!(states[1], TaskState::Running { .. }));
        assert!(matches!(states[2], TaskState::Failed { .. }));
        assert_eq!(states[3], TaskState::Pending);
        assert_eq!(r.durations, vec![2.5]);
        // The batch job of a task left running is kept (its worker may come back for it);
        // an ended task has none.
        let jobs: Vec<_> = r.tasks.iter().map(|t| t.job.clone()).collect();
        assert_eq!(jobs, [None, Some("7".to_string()), None, None]);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_appending_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        std::fs::write(&p, "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n{\"ev\":\"ended\",\"id\":0,\"outc").unwrap();
        let (mut j, r) = Journal::open(&p).unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.tasks.len(), 1);
        j.append(&Entry::Added {
            id: 1,
            spec: spec("b"),
        })
        .unwrap();
        j.sync().unwrap();
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.tasks.len(), 2);
        assert!(!r.torn_tail);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_it() {
        let e = parse_journal(
            "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\nnot json\n{}\n",
            "j",
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("journal `j` line 2 is corrupt"),
            "{e:#}"
        );
        let e = parse_journal("{\"ev\":\"started\",\"id\":5,\"worker\":1,\"at\":0}\n", "j")
            .unwrap_err();
        assert!(format!("{e:#}").contains("unknown task 5"), "{e:#}");
    }
}

/// How long the journal writer gathers entries before one `fsync` (the most a task end's
/// acknowledgement waits for others).
pub const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);

enum WriterCmd {
    Append(Vec<Entry>),
    Sync(u64),
}

/// The journal on a thread of its own, so the server's event loop never waits on `fsync`.
///
/// Entries are appended in order; a sync request returns a token, and the token comes back on
/// [`JournalWriter::synced`] once everything appended before it is on disk. Requests that
/// arrive while a sync runs are served by the next one (group commit).
pub struct JournalWriter {
    tx: Option<std::sync::mpsc::Sender<WriterCmd>>,
    /// Entries appended since the last sync request.
    unsynced: bool,
    /// Entries not yet handed to the thread (one hand-over per event batch: fewer wake-ups).
    pending: Vec<Entry>,
    next_token: u64,
    synced: tokio::sync::mpsc::UnboundedReceiver<Result<u64, String>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl JournalWriter {
    pub fn spawn(mut journal: Journal) -> JournalWriter {
        let (tx, rx) = std::sync::mpsc::channel::<WriterCmd>();
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut token = None;
                    let mut result = Ok(());
                    // Group commit: gather what arrives within a short window, then sync once.
                    // Fewer fsyncs also spare the filesystem journal that task output files use.
                    // The thread sleeps through the window instead of waking for each command:
                    // senders then find no waiter to wake (no futex call per event batch).
                    std::thread::sleep(GROUP_COMMIT_WINDOW);
                    let more: Vec<WriterCmd> = rx.try_iter().collect();
                    for cmd in std::iter::once(first).chain(more) {
                        match cmd {
                            WriterCmd::Append(entries) => {
                                for e in &entries {
                                    if result.is_ok() {
                                        result = journal.append(e);
                                    }
                                }
                            }
                            WriterCmd::Sync(t) => token = Some(t),
                        }
                    }
                    if let Some(t) = token {
                        if result.is_ok() {
                            result = journal.sync();
                        }
                        let msg = result.as_ref().map(|_| t).map_err(|e| format!("{e:#}"));
                        if done_tx.send(msg).is_err() {
                            return;
                        }
                    }
                    if let Err(e) = result {
                        let _ = done_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                }
                let _ = journal.sync();
            })
            .expect("spawning a thread");
        JournalWriter {
            tx: Some(tx),
            unsynced: false,
            pending: Vec::new(),
            next_token: 0,
            synced: done_rx,
            handle: Some(handle),
        }
    }

    /// Appends an entry (on disk at the next sync).
    pub fn append(&mut self, entry: Entry) -> anyhow::Result<()> {
        self.unsynced = true;
        self.pending.push(entry);
        Ok(())
    }

    /// Hands the entries appended so far to the thread.
    pub fn hand_over(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.send(WriterCmd::Append(batch))
    }

    /// Entries were appended since the last sync request.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Asks for everything appended so far to be put on disk; returns the token to wait for.
    pub fn request_sync(&mut self) -> anyhow::Result<u64> {
        self.hand_over()?;
        self.unsynced = false;
        self.next_token += 1;
        self.send(WriterCmd::Sync(self.next_token))?;
        Ok(self.next_token)
    }

    fn send(&mut self, cmd: WriterCmd) -> anyhow::Result<()> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(cmd).ok())
            .context("the journal writer stopped (see the error before this one)")
    }

    /// The next synced token (everything before it is on disk), or the writer's error.
    pub async fn synced(&mut self) -> anyhow::Result<u64> {
        match self.synced.recv().await {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => anyhow::bail!("writing the journal failed: {e}"),
            None => std::future::pending().await,
        }
    }

    /// Syncs what is left and stops the thread.
    pub fn close(mut self) -> anyhow::Result<()> {
        self.hand_over()?;
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            h.join()
                .map_err(|_| anyhow::anyhow!("the journal writer panicked"))?;
        }
        while let Ok(r) = self.synced.try_recv() {
            r.map_err(|e| anyhow::anyhow!("writing the journal failed: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[tokio::test]
    async fn synced_tokens_come_back_and_entries_are_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let (j, _) = Journal::open(&p).unwrap();
        let mut w = JournalWriter::spawn(j);
        for id in 0..100 {
            let spec = TaskSpec {
                cmd: format!("t{id}"),
                ..TaskSpec::default()
            };
            w.append(Entry::Added { id, spec }).unwrap();
        }
        let t = w.request_sync().unwrap();
        assert!(w.synced().await.unwrap() >= t);
        // on disk before close: another reader sees all of them
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.tasks.len(), 100);
        w.close().unwrap();
    }
}
