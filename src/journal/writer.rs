//! The journal writer: entries go to disk off the server's event loop, one `fsync` per group.
//!
//! The event loop appends entries and asks for syncs; a sync request returns a token, and the
//! token comes back from [`JournalWriter::synced`] once everything appended before it is on
//! disk. Each write runs as a tokio blocking task: it sleeps through [`GROUP_COMMIT_WINDOW`]
//! (cut short by an urgent sync: a worker's slot waits for its reply), then takes every entry
//! and sync request handed over so far, writes them and `fsync`s once (group commit). What arrives while a write runs goes with the next one, started when the
//! running one is done. Running on tokio's blocking pool (not a thread of its own) also keeps
//! tests honest: paused time does not jump while a write is in flight.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use super::{Entry, Journal, JournalError};

/// How long a write gathers entries before its one `fsync` (the most a task end's
/// acknowledgement waits for others).
pub const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);

/// Entries and the latest sync token handed over, not yet taken by a write.
#[derive(Default)]
struct Batch {
    entries: Vec<Entry>,
    token: Option<u64>,
    /// Something waits for this sync (a task's start): no window.
    urgent: bool,
}

type Written = (Journal, Result<Option<u64>, JournalError>);

/// The journal, written off the event loop.
pub struct JournalWriter {
    /// The journal while no write runs (a write owns it meanwhile).
    journal: Option<Journal>,
    /// What the next write takes (shared with a write that is still gathering).
    batch: Arc<Mutex<Batch>>,
    in_flight: Option<JoinHandle<Written>>,
    /// Entries appended since the last hand-over (one hand-over per event batch).
    pending: Vec<Entry>,
    /// Entries appended since the last sync request.
    unsynced: bool,
    next_token: u64,
    /// A write failed: nothing more is written.
    failed: Option<String>,
}

impl JournalWriter {
    pub fn new(journal: Journal) -> JournalWriter {
        JournalWriter {
            journal: Some(journal),
            batch: Arc::default(),
            in_flight: None,
            pending: Vec::new(),
            unsynced: false,
            next_token: 0,
            failed: None,
        }
    }

    /// Appends an entry (on disk at the next sync).
    pub fn append(&mut self, entry: Entry) {
        self.unsynced = true;
        self.pending.push(entry);
    }

    /// Hands the entries appended so far to the next write.
    pub fn hand_over(&mut self) -> Result<(), JournalError> {
        if let Some(e) = &self.failed {
            return Err(JournalError::Stopped(e.clone()));
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.pending);
        self.lock().entries.extend(entries);
        self.start_write();
        Ok(())
    }

    /// Entries were appended since the last sync request.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Asks for everything appended so far to be put on disk; returns the token to wait for.
    pub fn request_sync(&mut self) -> Result<u64, JournalError> {
        self.sync_request(false)
    }

    /// The same, for a sync someone waits on (a worker's slot for its task): the write in
    /// flight stops gathering, and the next one does not gather. What arrives during an
    /// `fsync` still goes into the next one, so starts keep sharing syncs under load.
    pub fn request_sync_now(&mut self) -> Result<u64, JournalError> {
        self.sync_request(true)
    }

    fn sync_request(&mut self, urgent: bool) -> Result<u64, JournalError> {
        self.hand_over()?;
        self.unsynced = false;
        self.next_token += 1;
        {
            let mut b = self.lock();
            b.token = Some(self.next_token);
            b.urgent |= urgent;
        }
        self.start_write();
        Ok(self.next_token)
    }

    /// The next synced token (everything appended before it is on disk), or the error that
    /// stopped the writer. Cancel-safe: a write finished while nobody waited is kept.
    pub async fn synced(&mut self) -> Result<u64, JournalError> {
        loop {
            let Some(write) = self.in_flight.as_mut() else {
                return std::future::pending().await;
            };
            let joined = write.await;
            self.in_flight = None;
            let (journal, result) = joined
                .map_err(|e| JournalError::Stopped(format!("the journal write panicked: {e}")))?;
            self.journal = Some(journal);
            match result {
                Ok(token) => {
                    self.start_write();
                    if let Some(t) = token {
                        return Ok(t);
                    }
                }
                Err(e) => {
                    self.failed = Some(e.to_string());
                    return Err(e);
                }
            }
        }
    }

    /// Writes and syncs what is left, then gives the journal back.
    pub async fn close(mut self) -> Result<Journal, JournalError> {
        self.hand_over()?;
        if let Some(write) = self.in_flight.take() {
            let (journal, result) = write
                .await
                .map_err(|e| JournalError::Stopped(format!("the journal write panicked: {e}")))?;
            self.journal = Some(journal);
            result?;
        }
        let mut journal = self
            .journal
            .take()
            .ok_or_else(|| JournalError::Stopped("the journal was lost by a write".into()))?;
        let batch = std::mem::take(&mut *self.lock());
        for e in &batch.entries {
            journal.append(e)?;
        }
        journal.sync()?;
        Ok(journal)
    }

    /// Starts a write if none runs and something waits for one.
    fn start_write(&mut self) {
        if self.in_flight.is_some() || self.failed.is_some() {
            return;
        }
        {
            let b = self.lock();
            if b.entries.is_empty() && b.token.is_none() {
                return;
            }
        }
        let Some(mut journal) = self.journal.take() else {
            return;
        };
        let batch = self.batch.clone();
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            // Group commit: what arrives within the window goes in the same fsync.
            let until = std::time::Instant::now() + GROUP_COMMIT_WINDOW;
            while std::time::Instant::now() < until && !batch.lock().expect("unpoisoned").urgent {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let Batch { entries, token, .. } =
                std::mem::take(&mut *batch.lock().expect("unpoisoned"));
            let mut result = entries.iter().try_for_each(|e| journal.append(e));
            if result.is_ok() && token.is_some() {
                result = journal.sync();
            }
            (journal, result.map(|()| token))
        }));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch
            .lock()
            .expect("the journal batch lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskSpec;

    #[tokio::test]
    async fn synced_tokens_come_back_and_entries_are_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let (j, _) = Journal::open(&p).unwrap();
        let mut w = JournalWriter::new(j);
        for id in 0..100 {
            let spec = TaskSpec {
                cmd: format!("t{id}"),
                ..TaskSpec::default()
            };
            w.append(Entry::Added { id, spec });
        }
        let t = w.request_sync().unwrap();
        assert!(w.synced().await.unwrap() >= t);
        // on disk before close: another reader sees all of them
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.tasks.len(), 100);
        // appended after the sync, written by close
        w.append(Entry::Added {
            id: 100,
            spec: TaskSpec::default(),
        });
        w.close().await.unwrap();
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.tasks.len(), 101);
    }

    #[tokio::test]
    async fn an_urgent_sync_does_not_wait_for_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(&dir.path().join("journal.jsonl")).unwrap();
        let mut w = JournalWriter::new(j);
        // A write already gathering (a plain sync), then an urgent one: both come back
        // well within one window each.
        for id in 0..2 {
            w.append(Entry::Added {
                id,
                spec: TaskSpec::default(),
            });
            if id == 0 {
                w.request_sync().unwrap();
            }
        }
        let start = std::time::Instant::now();
        let t = w.request_sync_now().unwrap();
        while w.synced().await.unwrap() < t {}
        assert!(
            start.elapsed() < GROUP_COMMIT_WINDOW,
            "an urgent sync waited {:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn paused_time_does_not_jump_while_a_write_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(&dir.path().join("journal.jsonl")).unwrap();
        let mut w = JournalWriter::new(j);
        w.append(Entry::Added {
            id: 0,
            spec: TaskSpec::default(),
        });
        let t = w.request_sync().unwrap();
        let before = tokio::time::Instant::now();
        let got = tokio::select! {
            t = w.synced() => t.unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => panic!("time jumped an hour"),
        };
        assert_eq!(got, t);
        assert!(before.elapsed() < std::time::Duration::from_secs(1));
    }
}
