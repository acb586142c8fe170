//! The journal: an append-only record of every task, so nothing is lost or run twice.
//!
//! One JSON object per line in `<cluster dir>/journal.jsonl`: a task was added, started, or
//! ended (done, failed, killed, run again, requeued, cancelled), `hpcluster retry` put it
//! back in the queue (`retried`), or a run it lost with a preempted batch job was forgiven
//! (`forgiven`). A task end is on disk (`fsync`) before the worker's report
//! of it is acknowledged. Replaying the journal rebuilds the task table when `hpcluster up`
//! resumes: completed tasks are never run again, tasks that were running are requeued. The
//! durations recorded are also the history the estimates learn from, and the replay is what
//! `hpcluster tasks`, `wait` and `explain` read once no server runs.
//!
//! Six rooms: this file is the entry and the file ([`Journal`]: open, append, sync);
//! [`replay`] rebuilds the task table from a journal's text (pure); [`edit`] decides what
//! `cancel` and `retry` append while no server runs (pure); [`writer`] puts entries on disk
//! off the server's event loop, one `fsync` per group of them; [`stream`] reads a journal
//! file one entry at a time, for what folds it into a few figures without holding it; [`scan`]
//! gives every task's state, and a few tasks in full, that way.

mod edit;
mod replay;
pub mod scan;
pub mod stream;
mod writer;

pub use edit::Edit;
pub use replay::{parse_journal, Replay, ReplayedTask};
pub use writer::{JournalWriter, GROUP_COMMIT_WINDOW};

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::task::{Outcome, TaskSpec};

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
        /// The worker's host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        at: f64,
        /// The ID of this start ([`crate::protocol::RunId`]); absent (0) in journals written
        /// before run IDs, whose copies are then known by their batch job alone.
        #[serde(default, skip_serializing_if = "is_zero")]
        run: u64,
    },
    Ended {
        id: u64,
        #[serde(flatten)]
        outcome: Outcome,
        secs: f64,
        at: f64,
    },
    /// `hpcluster retry`: an ended task is queued again, its retries whole.
    Retried {
        id: u64,
        at: f64,
    },
    /// A run the task lost in batch job `job` no longer counts against its `retries`: that
    /// batch job was preempted or lost its node (written once its end is known, after the
    /// run's `requeued` end). A journal written before this entry never holds it; an older
    /// hpcluster reading one that does refuses the line.
    Forgiven {
        id: u64,
        job: String,
        at: f64,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Writing the journal failed: the server cannot acknowledge anything after this.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to write journal `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journal writer stopped: {0}")]
    Stopped(String),
}

/// Reads a journal without opening it for appending (`None`: there is none). For the commands
/// that show tasks once no server runs; a torn last line is left out, not cut.
pub fn read_journal(path: &Path) -> anyhow::Result<Option<Replay>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .with_context(|| format!("journal `{}` is not UTF-8", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("failed to read journal `{}`", path.display()))
        }
    };
    parse_journal(&text, &path.display().to_string()).map(Some)
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
        let created = !path.exists();
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
        // The journal holds every task's command and `env`: its mode follows the cluster
        // directory's (0600 unless shared with the group), set whatever the umask, also on a
        // journal an older version left readable by all.
        let dir = path.parent().unwrap_or(Path::new("."));
        let mode = crate::atomic_file::file_mode_in(dir);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(mode)
            .open(path)
            .and_then(|f| {
                f.set_permissions(std::fs::Permissions::from_mode(mode))?;
                Ok(f)
            })
            .with_context(|| format!("failed to open journal `{}`", path.display()))?;
        if created {
            // The new file's name is on disk too: its entries' fsyncs do not cover it.
            crate::atomic_file::sync_dir(dir)?;
        }
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
    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let io = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, entry).map_err(|e| io(e.into()))?;
        self.out.write_all(b"\n").map_err(io)?;
        self.dirty = true;
        Ok(())
    }

    /// Puts everything appended so far on disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        if !self.dirty {
            return Ok(());
        }
        let io = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_data().map_err(io)?;
        self.dirty = false;
        Ok(())
    }
}
