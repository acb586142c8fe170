//! A worker stopping with tasks running (SIGTERM or SIGINT from the batch system, or its
//! deadline): each task's process group gets SIGTERM, then SIGKILL after a grace of
//! [`GRACE`]. A task that ended in the meantime is reported as it ended when it completed (exit
//! 0): its result counts, since stopping did not cut it short; any other end, and a task still
//! running at the end of the grace, is reported interrupted, so the server runs it again.
//! Before, every task running at the stop was reported interrupted, and one that completed in
//! that moment ran a second time.
//!
//! A batch system that ends a batch job (cancelled, preempted, out of walltime) may signal
//! every process of the job at once (SLURM with `proctrack/cgroup` or `linuxproc`): a task
//! can die of that SIGTERM before the worker sees its own. A task ended by SIGTERM or SIGINT
//! therefore waits [`STOP_FOLLOWS`] for the worker's own signal ([`stop_follows`]); if it
//! comes, the task is stopped with the worker, not failed. Before, the fake-SLURM soak saw a
//! task fail as `killed by signal 15` when its batch job was cancelled (seed 1200074).

use std::collections::HashMap;
use std::time::Duration;

use tokio::signal::unix::Signal;
use tokio::sync::mpsc;

use super::held::Unacked;
use super::launch::{Ended, Running};
use super::link::Link;
use crate::budget::killed_by_walltime;
use crate::held_results::HeldResult;
use crate::process::{signal_group, SIGKILL, SIGTERM};
use crate::protocol::{RunEnd, RunId};
use crate::time::unix_now;

/// How long stopped tasks get to end by themselves before SIGKILL.
pub const GRACE: Duration = Duration::from_millis(500);

/// How long a worker whose task died of SIGTERM or SIGINT waits for the same signal itself.
pub const STOP_FOLLOWS: Duration = Duration::from_millis(300);

/// Whether a task's end is the signal a batch system stops a whole job with.
pub fn by_stop_signal(end: &RunEnd) -> bool {
    use signal_hook::consts::{SIGINT, SIGTERM};
    matches!(end, RunEnd::Signaled { signal } if *signal == SIGTERM || *signal == SIGINT)
}

/// Waits up to [`STOP_FOLLOWS`] for the worker's own SIGTERM or SIGINT (one already received
/// counts); which one came, if any.
pub async fn stop_follows(term: &mut Signal, intr: &mut Signal) -> Option<&'static str> {
    tokio::select! {
        _ = term.recv() => Some("SIGTERM"),
        _ = intr.recv() => Some("SIGINT"),
        _ = tokio::time::sleep(STOP_FOLLOWS) => None,
    }
}

/// How a task stopped with the worker is reported: `ended` is how it ended within the grace,
/// if it did, with the seconds it ran.
pub fn stopped_end(ended: Option<(RunEnd, f64)>, ran: f64, walltime: bool) -> (RunEnd, f64) {
    match ended {
        Some((end @ RunEnd::Exited { code: 0 }, secs)) => (end, secs),
        Some((_, secs)) => (RunEnd::Interrupted { walltime }, secs),
        None => (RunEnd::Interrupted { walltime }, ran),
    }
}

/// Stops every running task and reports each (through `unacked`, so the reports wait on disk).
pub async fn stop_all(
    running: &mut HashMap<u64, Running>,
    done_rx: &mut mpsc::UnboundedReceiver<Ended>,
    out: &mut Link,
    unacked: &mut Unacked,
    deadline: Duration,
    why: &str,
) -> i32 {
    let walltime = killed_by_walltime(unix_now(), deadline);
    if !running.is_empty() {
        tracing::info!("stopping {} task(s) on {why}", running.len());
    }
    for r in running.values() {
        signal_group(r.pgid, SIGTERM);
    }
    let mut ended: HashMap<u64, (RunId, RunEnd, f64)> = HashMap::new();
    let until = tokio::time::Instant::now() + GRACE;
    while ended.len() < running.len() {
        match tokio::time::timeout_at(until, done_rx.recv()).await {
            Ok(Some((task, run, end, secs))) => {
                if running.get(&task).is_some_and(|r| r.run == run) {
                    ended.insert(task, (run, end, secs));
                }
            }
            _ => break,
        }
    }
    for (task, r) in running.drain() {
        let got = ended.remove(&task).map(|(_, end, secs)| (end, secs));
        if got.is_none() {
            signal_group(r.pgid, SIGKILL);
        }
        let (end, secs) = stopped_end(got, r.started.elapsed().as_secs_f64(), walltime);
        out.send(unacked.hold(HeldResult {
            task,
            end,
            secs,
            run: r.run,
        }));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_that_completed_as_the_worker_stopped_keeps_its_result() {
        let done = RunEnd::Exited { code: 0 };
        assert_eq!(stopped_end(Some((done, 3.5)), 3.6, false), (done, 3.5));
        let stopped = RunEnd::Interrupted { walltime: false };
        // Ended by the SIGTERM, or with an error in that moment: run again.
        let term = RunEnd::Signaled { signal: 15 };
        assert_eq!(stopped_end(Some((term, 2.0)), 2.1, false), (stopped, 2.0));
        let failed = RunEnd::Exited { code: 1 };
        assert_eq!(stopped_end(Some((failed, 2.0)), 2.1, false), (stopped, 2.0));
        // Still running after the grace: killed, interrupted (at the deadline: by the walltime).
        assert_eq!(
            stopped_end(None, 9.0, true),
            (RunEnd::Interrupted { walltime: true }, 9.0)
        );
    }
}
