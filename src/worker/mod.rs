//! The worker: what each batch job runs. Ask, run, report; retire when nothing fits.
//!
//! A worker knows its deadline: its start plus the walltime, or earlier where the batch system
//! says so (SLURM's end time from `squeue`, the local backend's `HPCLUSTER_JOB_DEADLINE`).
//! Each of its slots asks the server for a task; the server answers with one that can finish
//! before the deadline ([`crate::budget::may_start`]) or tells the slot to retire. Once every slot
//! has retired the worker says goodbye and exits 0, so its batch job ends and frees the
//! allocation. Tasks whose spec carries a checkpoint signal get it `checkpoint_lead` before the
//! deadline (`checkpoint.rs`), or at once when the batch system warns that the batch job ends
//! soon (SIGUSR1: `warning.rs`). On SIGTERM (the batch system stopping the job) or at the deadline it stops its tasks and reports them interrupted, so the server requeues them.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::auth::Secret;
use crate::backend_kind::BackendKind;
use crate::budget::{may_start, Admission};
use crate::duration::format_human;
use crate::protocol::{Claim, Reply, Request, RunEnd, RunId};
use crate::task::TaskSpec;
use crate::time::unix_now;

mod checkpoint;
mod deadline;
pub mod guard;
mod held;
mod launch;
mod link;
mod scratch;
mod stop;
mod warning;

pub use deadline::{backend_from_env, deadline, granted, job_start};

use crate::held_results::HeldResult;
use crate::process::{signal_group, SIGKILL};
use held::Unacked;
use launch::{Launcher, Running};
use link::{Link, Target};
use scratch::Scratch;

/// Interval between heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// What a worker is started with (the job script's `hpcluster worker` command line).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The cluster directory: the secret, `server.json`, task outputs.
    pub cluster_dir: std::path::PathBuf,
    /// The server's address; `None`: read from `server.json` at each connection.
    pub server: Option<String>,
    /// The walltime the batch job is granted.
    pub walltime: Duration,
    pub slots: u32,
    /// Start tasks sent ahead without the deadline check (`up --no-admission`).
    pub no_admission: bool,
    /// The batch system; `None`: guessed from the environment.
    pub backend: Option<BackendKind>,
}

/// Runs a worker until it retires; returns the exit status.
pub fn run(args: WorkerOptions) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

/// A task the server sent ahead to a busy slot, to start the moment the slot's task ends.
struct Queued {
    task: u64,
    run: RunId,
    spec: TaskSpec,
    estimate: Duration,
    buffer: Duration,
}

async fn run_async(args: WorkerOptions) -> anyhow::Result<i32> {
    let started_at = unix_now();
    // The batch system's warning (SIGUSR1) from the start: one that comes while the worker
    // connects waits for the loop instead of ending the worker.
    let mut warnings =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    // When the batch system warned that the batch job ends soon (Unix time).
    let mut warned: Option<Duration> = None;
    let walltime = args.walltime;
    let env: HashMap<String, String> = crate::config::process_env()?.into_iter().collect();
    let deadline = deadline(started_at, walltime, &env);
    if let Some(g) = granted(job_start(started_at, &env), walltime, deadline) {
        tracing::info!(
            "the batch system granted a walltime of {} ({} asked): tasks are admitted against it",
            format_human(g),
            format_human(walltime)
        );
    }
    let cluster_dir = args.cluster_dir.clone();
    let target = Target {
        server: args.server.clone(),
        cluster_dir: cluster_dir.clone(),
        secret: Secret::load(&cluster_dir.join("secret"))?,
    };
    let kind = backend_from_env(args.backend, &env);
    let job = kind.and_then(|k| crate::backend::job_id_from_env(k, &env));
    // Removed when the worker ends (dropped at the end of this function).
    let scratch = Scratch::from_env(&env, job.as_ref().map(|j| j.id.as_str()))?;
    let hello = Request::WorkerHello {
        job: job.clone(),
        slots: args.slots,
        deadline: deadline.as_secs_f64(),
        host: crate::process::hostname(),
        pid: std::process::id(),
        claims: Vec::new(),
    };
    // Reports not yet acknowledged wait on disk, by batch job: a worker restarted in the same
    // batch job sends those its predecessor left.
    let key = job
        .as_ref()
        .map(|j| j.id.clone())
        .unwrap_or_else(|| format!("{}-{}", crate::process::hostname(), std::process::id()));
    let mut unacked = Unacked::open(
        crate::held_results::worker_dir(&cluster_dir, &key),
        crate::atomic_file::file_mode_in(&cluster_dir),
    );
    let mut first_hello = hello.clone();
    if let Request::WorkerHello { claims, .. } = &mut first_hello {
        *claims = unacked.claims();
    }
    let mut link = Link::open(&target, first_hello).await?;
    for r in unacked.reports() {
        link.send(r);
    }
    tracing::info!(
        "worker of batch job {} connected to {}; deadline in {}",
        job.as_ref()
            .map(|j| j.to_string())
            .unwrap_or_else(|| "?".into()),
        link.address,
        format_human(deadline.saturating_sub(unix_now()))
    );
    for slot in 0..args.slots {
        link.send(Request::Ask { slot });
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<launch::Ended>();
    let (written_tx, mut written_rx) = mpsc::unbounded_channel::<held::Written>();
    let launcher = Launcher {
        cluster_dir: cluster_dir.clone(),
        scratch: scratch.as_ref().map(|s| s.path().to_path_buf()),
        done: done_tx,
        deadline,
        output_mode: crate::atomic_file::file_mode_in(&cluster_dir),
    };
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut queued: HashMap<u32, Queued> = HashMap::new();
    let mut retired: std::collections::HashSet<u32> = Default::default();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut checkpoints = tokio::time::interval(checkpoint::CHECK_EVERY);
    let mut reconnect = tokio::time::interval(link::RECONNECT_EVERY);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut intr = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let until_deadline = deadline.saturating_sub(unix_now());
    let deadline_timer = tokio::time::sleep(until_deadline);
    tokio::pin!(deadline_timer);
    let outcome: anyhow::Result<i32> = loop {
        if retired.len() as u32 >= args.slots && running.is_empty() && !unacked.is_writing() {
            break Ok(0);
        }
        tokio::select! {
            msg = link.recv() => match msg {
                Some(Ok(Reply::Run { slot, task, spec, estimate, buffer, run })) => {
                    if running.values().any(|r| r.slot == slot) {
                        let next = Queued {
                            task,
                            run,
                            spec,
                            estimate: Duration::from_secs_f64(estimate.clamp(0.0, 1e9)),
                            buffer: Duration::from_secs_f64(buffer.clamp(0.0, 1e9)),
                        };
                        if let Some(old) = queued.insert(slot, next) {
                            // The server sends one task ahead per slot; give back a second.
                            link.send(unacked.hold(HeldResult { task: old.task, end: RunEnd::NotStarted, secs: 0.0, run: old.run }));
                        }
                    } else if let Some(failed) = launcher.start(&spec, task, run, slot, &mut running) {
                        link.send(unacked.hold_request(failed));
                        link.send(Request::Ask { slot });
                    }
                }
                Some(Ok(Reply::Retire { slot, reason })) => {
                    tracing::info!("slot {slot} retires: {reason}");
                    retired.insert(slot);
                }
                Some(Ok(Reply::Stop { slot })) => {
                    retired.insert(slot);
                }
                Some(Ok(Reply::Ack { task })) => unacked.acked(task),
                Some(Ok(Reply::Disown { task, run, reason })) => {
                    // Requeued while we were away, or completed elsewhere: that copy stops
                    // (run 0, from an older server: any copy of the task).
                    let this_copy = |r: RunId| run == 0 || r == run;
                    queued.retain(|_, q| !(q.task == task && this_copy(q.run)));
                    let here = running.get(&task).is_some_and(|r| this_copy(r.run));
                    if let Some(r) = here.then(|| running.remove(&task)).flatten() {
                        tracing::warn!("task {task} stopped: {reason}");
                        signal_group(r.pgid, SIGKILL);
                        if !retired.contains(&r.slot) {
                            link.send(Request::Ask { slot: r.slot });
                        }
                    }
                }
                Some(Ok(other)) => tracing::debug!("ignored server message {other:?}"),
                None | Some(Err(_)) if unix_now() >= deadline => {
                    break Err(anyhow::anyhow!("lost the connection to the server at the deadline"));
                }
                None | Some(Err(_)) => {
                    tracing::warn!(
                        "lost the connection to the server; {} task(s) keep running; reconnecting for up to {}",
                        running.len(),
                        format_human(link::RECONNECT_WITHIN)
                    );
                    link.lose();
                    reconnect.reset();
                }
            },
            Some((task, run, end, secs)) = done_rx.recv() => {
                // A copy stopped as stale (disowned) ends unreported; a newer copy of the same
                // task may run under its ID by then.
                if running.get(&task).is_some_and(|r| r.run != run) {
                    continue;
                }
                // The batch job's stop may reach the task first: it is stopped with the worker.
                if stop::by_stop_signal(&end) && running.contains_key(&task) {
                    if let Some(why) = stop::stop_follows(&mut term, &mut intr).await {
                        let r = running.remove(&task).expect("checked above");
                        let walltime = crate::budget::killed_by_walltime(unix_now(), deadline);
                        let (end, secs) = stop::stopped_end(Some((end, secs)), secs, walltime);
                        link.send(unacked.hold(HeldResult { task, end, secs, run: r.run }));
                        break Ok(stop::stop_all(&mut running, &mut done_rx, &mut link, &mut unacked, deadline, why).await);
                    }
                }
                if let Some(r) = running.remove(&task) {
                    // The task sent ahead starts first, then the reports go out.
                    let mut reports = vec![Request::TaskEnded { task, end, secs, run }];
                    if let Some(next) = queued.remove(&r.slot) {
                        let now = unix_now();
                        let by = warning::admit_by(&next.spec, deadline, warned);
                        let fits = args.no_admission
                            || may_start(now, by, next.estimate, next.buffer, 0, None)
                                == Admission::Start
                            || checkpoint::starts_in_pieces(&next.spec, now, by);
                        if !fits {
                            reports.push(Request::TaskEnded { task: next.task, end: RunEnd::NotStarted, secs: 0.0, run: next.run });
                        } else if let Some(failed) = launcher.start(&next.spec, next.task, next.run, r.slot, &mut running) {
                            reports.push(failed);
                        }
                    }
                    // On disk before they go out, off this loop (then the slot asks again).
                    unacked.hold_later(reports, r.slot, written_tx.clone());
                }
            }
            Some(w) = written_rx.recv() => {
                let (reports, slot) = unacked.written(w);
                for m in reports {
                    link.send(m);
                }
                link.send(Request::Ask { slot });
            }
            _ = heartbeat.tick() => link.send(Request::Heartbeat),
            _ = warnings.recv() => {
                let now = unix_now();
                let asked = checkpoint::signal_all(&mut running);
                tracing::info!(
                    "SIGUSR1: the batch system warns that the batch job ends soon; {} task(s) asked to checkpoint",
                    asked.len()
                );
                if warned.is_none() {
                    warned = Some(now);
                    link.send(Request::Warned { at: now.as_secs_f64() });
                }
            }
            _ = checkpoints.tick(), if running.values().any(|r| r.checkpoint.is_some()) => {
                checkpoint::signal_due(&mut running, unix_now());
            }
            _ = reconnect.tick(), if !link.is_connected() => {
                if link.lost_for().is_some_and(|d| d >= link::RECONNECT_WITHIN) {
                    break Err(anyhow::anyhow!(
                        "no server answered for {}",
                        format_human(link::RECONNECT_WITHIN)
                    ));
                }
                let claims: Vec<Claim> = running
                    .iter()
                    .map(|(task, r)| Claim {
                        task: *task,
                        slot: r.slot,
                        secs: r.started.elapsed().as_secs_f64(),
                        run: r.run,
                    })
                    .collect();
                match link.reconnect(&target, hello.clone(), claims, unacked.claims()).await {
                    Ok(()) => {
                        // Every report not acknowledged: it may have been lost with the connection.
                        for r in unacked.reports() {
                            link.send(r);
                        }
                        if let Some(at) = warned {
                            link.send(Request::Warned { at: at.as_secs_f64() });
                        }
                        tracing::info!(
                            "reconnected to the server at {} holding {} task(s)",
                            link.address,
                            running.len()
                        );
                        for slot in 0..args.slots {
                            let busy = running.values().any(|r| r.slot == slot);
                            if !busy && !retired.contains(&slot) {
                                link.send(Request::Ask { slot });
                            }
                        }
                    }
                    Err(e) => tracing::debug!("reconnecting failed: {e:#}"),
                }
            }
            _ = term.recv() => break Ok(stop::stop_all(&mut running, &mut done_rx, &mut link, &mut unacked, deadline, "SIGTERM").await),
            _ = intr.recv() => break Ok(stop::stop_all(&mut running, &mut done_rx, &mut link, &mut unacked, deadline, "SIGINT").await),
            _ = &mut deadline_timer => break Ok(stop::stop_all(&mut running, &mut done_rx, &mut link, &mut unacked, deadline, "the deadline").await),
        }
    };
    // Reports still being written go out before the goodbye.
    while unacked.is_writing() {
        let Some(w) = written_rx.recv().await else {
            break;
        };
        for m in unacked.written(w).0 {
            link.send(m);
        }
    }
    // Tasks sent ahead and never started go back to the server's queue.
    for (_, q) in queued.drain() {
        link.send(unacked.hold(HeldResult {
            task: q.task,
            end: RunEnd::NotStarted,
            secs: 0.0,
            run: q.run,
        }));
    }
    match outcome {
        Ok(code) => {
            for task in link.close(unacked.len()).await {
                unacked.acked(task);
            }
            unacked.close();
            tracing::info!("worker retired");
            Ok(code)
        }
        Err(e) => {
            for r in running.values() {
                signal_group(r.pgid, SIGKILL);
            }
            Err(e)
        }
    }
}
