//! The worker's reports the server has not yet acknowledged. Each is written to the worker's
//! results directory ([`crate::held_results`]) before it is sent and removed at the server's
//! ack, so that a reconnection sends again every report that may not have arrived, and a
//! worker restarted in the same batch job sends those of its predecessor.

use std::path::PathBuf;

use crate::held_results::{self, HeldResult};
use crate::protocol::{Claim, Request};

/// Reports sent (or to send) and not yet acknowledged, oldest first.
pub struct Unacked {
    dir: PathBuf,
    mode: u32,
    /// Each report and its file (none where writing it failed: the report still goes out).
    pending: Vec<(HeldResult, Option<PathBuf>)>,
}

impl Unacked {
    /// The reports of worker directory `dir`, with those a previous worker of the same batch
    /// job left there (not yet sent by this one).
    pub fn open(dir: PathBuf, mode: u32) -> Unacked {
        let pending = held_results::read_dir(&dir)
            .into_iter()
            .map(|(p, r)| (r, Some(p)))
            .collect();
        Unacked { dir, mode, pending }
    }

    /// Puts a report on disk and returns it to send.
    pub fn hold(&mut self, r: HeldResult) -> Request {
        let path = match r.write(&self.dir, self.mode) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("task {}'s result waits in memory only: {e:#}", r.task);
                None
            }
        };
        self.pending.push((r, path));
        report(&r)
    }

    /// Puts a task report on disk (anything else passes as it is) and returns it to send.
    pub fn hold_request(&mut self, req: Request) -> Request {
        match req {
            Request::TaskEnded {
                task,
                end,
                secs,
                run,
            } => self.hold(HeldResult {
                task,
                run,
                end,
                secs,
            }),
            other => other,
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
