//! The worker's reports the server has not yet acknowledged. Each is written to the worker's
//! results directory ([`crate::held_results`]) before it is sent and removed at the server's
//! ack, so that a reconnection sends again every report that may not have arrived, and a
//! worker restarted in the same batch job sends those of its predecessor. The reports of a
//! task's end are written off the worker's loop ([`Unacked::hold_later`]: an `fsync` takes
//! milliseconds, and the other slots go on meanwhile) and sent once on disk.

use std::path::PathBuf;

use crate::held_results::{self, HeldResult};
use crate::protocol::{Claim, Request};

/// Reports written off the loop, with their files, and the slot that asks next.
pub struct Written {
    results: Vec<(HeldResult, Option<PathBuf>)>,
    slot: u32,
}

/// Reports sent (or to send) and not yet acknowledged, oldest first.
pub struct Unacked {
    dir: PathBuf,
    mode: u32,
    /// Each report and its file (none where writing it failed: the report still goes out).
    pending: Vec<(HeldResult, Option<PathBuf>)>,
    /// Batches of reports being written.
    writing: usize,
}

impl Unacked {
    /// The reports of worker directory `dir`, with those a previous worker of the same batch
    /// job left there (not yet sent by this one).
    pub fn open(dir: PathBuf, mode: u32) -> Unacked {
        let pending = held_results::read_dir(&dir)
            .into_iter()
            .map(|(p, r)| (r, Some(p)))
            .collect();
        Unacked {
            dir,
            mode,
            pending,
            writing: 0,
        }
    }

    /// Puts a report on disk and returns it to send.
    pub fn hold(&mut self, r: HeldResult) -> Request {
        let path = write(&r, &self.dir, self.mode);
        self.pending.push((r, path));
        report(&r)
    }

    /// Puts task reports on disk off the loop; `done` gets them (with `slot`) once written,
    /// for [`Unacked::written`].
    pub fn hold_later(
        &mut self,
        reports: Vec<Request>,
        slot: u32,
        done: tokio::sync::mpsc::UnboundedSender<Written>,
    ) {
        let results: Vec<HeldResult> = reports.into_iter().filter_map(result_of).collect();
        let (dir, mode) = (self.dir.clone(), self.mode);
        self.writing += 1;
        tokio::task::spawn_blocking(move || {
            let results = results
                .into_iter()
                .map(|r| (r, write(&r, &dir, mode)))
                .collect();
            let _ = done.send(Written { results, slot });
        });
    }

    /// Reports written off the loop: they are held, and returned to send with the slot that
    /// asks next.
    pub fn written(&mut self, w: Written) -> (Vec<Request>, u32) {
        self.writing = self.writing.saturating_sub(1);
        let reports = w.results.iter().map(|(r, _)| report(r)).collect();
        self.pending.extend(w.results);
        (reports, w.slot)
    }

    /// Reports are being written: the worker waits for them before it ends.
    pub fn is_writing(&self) -> bool {
        self.writing > 0
    }

    /// Puts a task report on disk (anything else passes as it is) and returns it to send.
    pub fn hold_request(&mut self, req: Request) -> Request {
        match result_of(req.clone()) {
            Some(r) => self.hold(r),
            None => req,
        }
    }

    /// The server has the oldest report of `task`.
    pub fn acked(&mut self, task: u64) {
        if let Some(i) = self.pending.iter().position(|(r, _)| r.task == task) {
            if let (_, Some(path)) = self.pending.remove(i) {
                held_results::remove(&path);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Every report not yet acknowledged, to send after a hello.
    pub fn reports(&self) -> Vec<Request> {
        self.pending.iter().map(|(r, _)| report(r)).collect()
    }

    /// The hello's claims of these reports (a finished copy: no slot).
    pub fn claims(&self) -> Vec<Claim> {
        self.pending
            .iter()
            .map(|(r, _)| Claim {
                task: r.task,
                slot: u32::MAX,
                secs: r.secs,
                run: r.run,
            })
            .collect()
    }

    /// The worker ends: its directory goes if nothing waits in it.
    pub fn close(self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Writes a result's file; a failure is logged (the report still goes out).
fn write(r: &HeldResult, dir: &std::path::Path, mode: u32) -> Option<PathBuf> {
    match r.write(dir, mode) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("task {}'s result waits in memory only: {e:#}", r.task);
            None
        }
    }
}

fn result_of(req: Request) -> Option<HeldResult> {
    match req {
        Request::TaskEnded {
            task,
            end,
            secs,
            run,
        } => Some(HeldResult {
            task,
            run,
            end,
            secs,
        }),
        _ => None,
    }
}

fn report(r: &HeldResult) -> Request {
    Request::TaskEnded {
        task: r.task,
        end: r.end,
        secs: r.secs,
        run: r.run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RunEnd;

    #[test]
    fn a_report_is_on_disk_until_acked_and_a_successor_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("results").join("job-1");
        let mut u = Unacked::open(w.clone(), 0o600);
        let r = |task| HeldResult {
            task,
            run: 9,
            end: RunEnd::Exited { code: 0 },
            secs: 2.0,
        };
        u.hold(r(1));
        u.hold(r(2));
        u.acked(1);
        assert_eq!(u.len(), 1);
        // The worker dies; the next one in the same batch job finds task 2's report.
        let again = Unacked::open(w.clone(), 0o600);
        assert_eq!(again.reports(), [report(&r(2))]);
        assert_eq!(again.claims()[0].slot, u32::MAX);
        let mut again = again;
        again.acked(2);
        again.close();
        assert!(!w.exists());
    }
}
