//! Resuming: a cluster directory's journal replayed into a new core. Done and failed tasks
//! stay ended; tasks left running on a batch job still alive wait as orphans for its worker;
//! the rest are queued again; a tasks file given again adds only its new lines. Results that
//! workers left on disk without getting them through ([`crate::held_results`]) are then read
//! as reports of copies the server no longer counts on.

use std::time::Duration;

use crate::journal::{Entry, Journal, Replay};
use crate::server::core::Core;
use crate::task::TaskSpec;

/// Tasks the journal left running on a batch job still alive wait this long for the job's
/// worker to reconnect and claim them (workers retry every few seconds).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Tasks from the journal's replay and a tasks file, merged for a resumed or new run.
///
/// Resuming with the same tasks file does not add its tasks twice: when the journal already
/// holds tasks, they must be the first tasks of the file (same specs, same order), and only the
/// file's tasks after them are added (none when it is the same file; new lines appended to the
/// file are added). A file that does not start with the journal's tasks is an error: resuming
/// would run a different list. `new` is empty for an open cluster (`up` without `--tasks`).
///
/// Puts the journal's tasks and the new ones into the core. Tasks the journal left running on
/// a batch job in `alive` are held for that job's worker (see [`Core::restore_orphan`]).
pub fn seed_tasks(
    core: &mut Core,
    journal: &mut Journal,
    replay: Replay,
    mut new: Vec<TaskSpec>,
    alive: &std::collections::HashSet<String>,
    now: Duration,
) -> anyhow::Result<(usize, usize)> {
    let resumed = replay.tasks.len();
    if resumed > 0 && !new.is_empty() {
        let same_start =
            new.len() >= resumed && replay.tasks.iter().zip(&new).all(|(t, n)| &t.spec == n);
        if !same_start {
            anyhow::bail!(
                "the journal of this cluster already holds {resumed} task(s) that are not the first \
                 tasks of the tasks file: resuming would run a different list; give another `--name` \
                 (or move the cluster directory aside) to start afresh"
            );
        }
        new.drain(..resumed);
        tracing::info!(
            "the tasks file's first {resumed} task(s) are already in the journal: resuming them, {} new",
            new.len()
        );
    }
    for (id, d) in &replay.done {
        let name = replay
            .tasks
            .get(*id as usize)
            .and_then(|t| t.spec.name.as_deref());
        core.learn(name, *d);
    }
    let until = now + ORPHAN_GRACE;
    for t in replay.tasks {
        match t.running_job().filter(|j| alive.contains(*j)) {
            Some(job) => {
                let job = job.to_string();
                core.restore_orphan(t.spec, job, t.history, t.run, until)
            }
            None => core.restore_task(t.spec, t.state, t.history),
        }
    }
    let first = core.task_count() as u64;
    for (i, spec) in new.iter().enumerate() {
        journal.append(&Entry::Added {
            id: first + i as u64,
            spec: spec.clone(),
        })?;
    }
    journal.sync()?;
    let added = new.len();
    core.on_tasks_added(new);
    Ok((resumed, added))
}

/// The worker a result read from the cluster directory is reported by: none (connections are
/// numbered from 1).
const NO_WORKER: crate::server::core::WorkerId = 0;

/// Reads the results workers left in `cluster_dir` (their report never got through: a worker
/// killed, or whose batch job ended, before the server acknowledged it) and reports each as a
/// copy the server no longer counts on: a success is kept if the task is not done already
/// (a queued copy is withdrawn, a copy waiting for its worker forgotten), anything else
/// changes nothing. Journals what changed, syncs, then removes the files read; returns the
/// tasks found done.
pub fn collect_held_results(
    core: &mut Core,
    journal: &mut Journal,
    cluster_dir: &std::path::Path,
    now: Duration,
) -> anyhow::Result<usize> {
    let found = crate::held_results::read_all(cluster_dir);
    let mut done = 0;
    for (_, r) in &found {
        let reported = core.on_run_ended(NO_WORKER, r.task, r.run, r.end, r.secs, now);
        if let Some(ev) = reported.event {
            journal.append(&Entry::Ended {
                id: ev.task,
                outcome: ev.outcome,
                secs: ev.secs,
                at: now.as_secs_f64(),
            })?;
            done += 1;
        }
    }
    journal.sync()?;
    for (path, _) in &found {
        crate::held_results::remove(path);
    }
    if done > 0 {
        tracing::info!(
            "{done} task(s) completed while no server heard of it: their results, left in `{}`, are kept",
            cluster_dir.join(crate::held_results::DIR).display()
        );
    }
    Ok(done)
}
