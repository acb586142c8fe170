//! The worker: what each batch job runs. Ask, run, report; retire when nothing fits.
//!
//! A worker knows its deadline: its start plus the walltime, or earlier where the batch system
//! says so (SLURM's end time from `squeue`, the local backend's `HPCLUSTER_JOB_DEADLINE`).
//! Each of its slots asks the server for a task; the server answers with one that can finish
//! before the deadline ([`crate::budget::may_start`]) or tells the slot to retire. Once every slot
//! has retired the worker says goodbye and exits 0, so its batch job ends and frees the
//! allocation. On SIGTERM (the batch system stopping the job) or at the deadline it stops its tasks and reports them interrupted, so the server requeues them.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::mpsc;

use crate::auth::Secret;
use crate::backend_kind::BackendKind;
use crate::budget::{killed_by_walltime, may_start, Admission};
use crate::cli::WorkerArgs;
use crate::duration::{format_human, parse_duration};
use crate::protocol::{Claim, Reply, Request, RunEnd};
use crate::task::TaskSpec;
use crate::time::unix_now;

mod launch;
mod link;
mod scratch;

use crate::process::{signal_group, SIGKILL, SIGTERM};
use launch::{Launcher, Running};
use link::{Link, Target};
use scratch::Scratch;

/// Interval between heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Address file the server writes into the cluster directory.
pub fn read_server_address(cluster_dir: &Path) -> anyhow::Result<String> {
    let path = cluster_dir.join("server.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "failed to read `{}`: is `hpcluster up` running for this cluster?",
            path.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))?;
    v["address"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("`{}` has no `address`", path.display()))
}

/// The batch system a worker runs under: given on its command line, else guessed from the
/// variables each batch system sets.
pub fn backend_from_env(
    given: Option<BackendKind>,
    env: &HashMap<String, String>,
) -> Option<BackendKind> {
    let has = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    given.or(if has("HPCLUSTER_LOCAL_JOB_ID") {
        Some(BackendKind::Local)
    } else if has("SLURM_JOB_ID") {
        Some(BackendKind::Slurm)
    } else if has("JOB_ID") && (has("SGE_ROOT") || has("SGE_TASK_ID")) {
        Some(BackendKind::Sge)
    } else if has("PBS_JOBID") {
        Some(BackendKind::Pbs)
    } else if has("LSB_JOBID") {
        Some(BackendKind::Lsf)
    } else {
        None
    })
}

/// The earliest of the deadlines known: start + walltime, and what the batch system says.
pub fn deadline(started: Duration, walltime: Duration, env: &HashMap<String, String>) -> Duration {
    // The job script records when the batch job started, before its prologue ran.
    let started = env
        .get("HPCLUSTER_JOB_START")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .map_or(started, |s| s.min(started));
    let mut d = started.saturating_add(walltime);
    if let Some(local) = env
        .get("HPCLUSTER_JOB_DEADLINE")
        .and_then(|v| v.parse::<f64>().ok())
    {
        d = d.min(Duration::from_secs_f64(local.max(0.0)));
    }
    if let Some(id) = env
        .get("SLURM_JOB_ID")
        .filter(|_| env.contains_key("SLURM_JOB_NAME"))
    {
        if let Some(end) = crate::backend::slurm::end_time(id) {
            d = d.min(end);
        }
    }
    d
}

/// Runs a worker until it retires; returns the exit status.
pub fn run(args: WorkerArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

/// A task the server sent ahead to a busy slot, to start the moment the slot's task ends.
struct Queued {
    task: u64,
    spec: TaskSpec,
    estimate: Duration,
    buffer: Duration,
}

async fn run_async(args: WorkerArgs) -> anyhow::Result<i32> {
    let started_at = unix_now();
    let walltime = parse_duration(&args.walltime).context("invalid `--walltime`")?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let deadline = deadline(started_at, walltime, &env);
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
    let mut link = Link::open(&target, hello.clone()).await?;
    crate::log::info(format!(
        "worker of batch job {} connected to {}; deadline in {}",
        job.as_ref()
            .map(|j| j.to_string())
            .unwrap_or_else(|| "?".into()),
        link.address,
        format_human(deadline.saturating_sub(unix_now()))
    ));
    for slot in 0..args.slots {
        link.send(Request::Ask { slot });
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<launch::Ended>();
    let launcher = Launcher {
        tasks_root: cluster_dir.join("tasks"),
        scratch: scratch.as_ref().map(|s| s.path().to_path_buf()),
        done: done_tx,
    };
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut queued: HashMap<u32, Queued> = HashMap::new();
    let mut retired: std::collections::HashSet<u32> = Default::default();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut reconnect = tokio::time::interval(link::RECONNECT_EVERY);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut intr = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let until_deadline = deadline.saturating_sub(unix_now());
    let deadline_timer = tokio::time::sleep(until_deadline);
    tokio::pin!(deadline_timer);
    let mut unacked = 0usize;
    let outcome: anyhow::Result<i32> = loop {
        if retired.len() as u32 >= args.slots && running.is_empty() {
            break Ok(0);
        }
        tokio::select! {
            msg = link.recv() => match msg {
                Some(Ok(Reply::Run { slot, task, spec, estimate, buffer })) => {
                    if running.values().any(|r| r.slot == slot) {
                        let next = Queued {
                            task,
                            spec,
                            estimate: Duration::from_secs_f64(estimate.clamp(0.0, 1e9)),
                            buffer: Duration::from_secs_f64(buffer.clamp(0.0, 1e9)),
                        };
                        if let Some(old) = queued.insert(slot, next) {
                            // The server sends one task ahead per slot; give back a second.
                            link.send(Request::TaskEnded { task: old.task, end: RunEnd::NotStarted, secs: 0.0 });
                            unacked += 1;
                        }
                    } else if let Some(failed) = launcher.start(&spec, task, slot, &mut running) {
                        link.send(failed);
                        unacked += 1;
                        link.send(Request::Ask { slot });
                    }
                }
                Some(Ok(Reply::Retire { slot, reason })) => {
                    crate::log::info(format!("slot {slot} retires: {reason}"));
                    retired.insert(slot);
                }
                Some(Ok(Reply::Stop { slot })) => {
                    retired.insert(slot);
                }
                Some(Ok(Reply::Ack { .. })) => unacked = unacked.saturating_sub(1),
                Some(Ok(Reply::Disown { task, reason })) => {
                    // Requeued while we were away: another worker runs it now.
                    queued.retain(|_, q| q.task != task);
                    if let Some(r) = running.remove(&task) {
                        crate::log::warn(format!("task {task} stopped: {reason}"));
                        signal_group(r.pgid, SIGKILL);
                        if !retired.contains(&r.slot) {
                            link.send(Request::Ask { slot: r.slot });
                        }
                    }
                }
                Some(Ok(other)) => crate::log::debug(format!("ignored server message {other:?}")),
                None | Some(Err(_)) if unix_now() >= deadline => {
                    break Err(anyhow::anyhow!("lost the connection to the server at the deadline"));
                }
                None | Some(Err(_)) => {
                    crate::log::warn(format!(
                        "lost the connection to the server; {} task(s) keep running; reconnecting for up to {}",
                        running.len(),
                        format_human(link::RECONNECT_WITHIN)
                    ));
                    link.lose();
                    reconnect.reset();
                }
            },
            Some((task, end, secs)) = done_rx.recv() => {
                if let Some(r) = running.remove(&task) {
                    // The task sent ahead starts first, then the reports go out.
                    let mut reports = vec![Request::TaskEnded { task, end, secs }];
                    if let Some(next) = queued.remove(&r.slot) {
                        let now = unix_now();
                        let fits = args.no_admission
                            || may_start(now, deadline, next.estimate, next.buffer, 0, None)
                                == Admission::Start;
                        if !fits {
                            reports.push(Request::TaskEnded { task: next.task, end: RunEnd::NotStarted, secs: 0.0 });
                        } else if let Some(failed) = launcher.start(&next.spec, next.task, r.slot, &mut running) {
                            reports.push(failed);
                        }
                    }
                    unacked += reports.len();
                    for m in reports {
                        link.send(m);
                    }
                    link.send(Request::Ask { slot: r.slot });
                }
            }
            _ = heartbeat.tick() => link.send(Request::Heartbeat),
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
                    })
                    .collect();
                match link.reconnect(&target, hello.clone(), claims).await {
                    Ok(()) => {
                        crate::log::info(format!(
                            "reconnected to the server at {} holding {} task(s)",
                            link.address,
                            running.len()
                        ));
                        for slot in 0..args.slots {
                            let busy = running.values().any(|r| r.slot == slot);
                            if !busy && !retired.contains(&slot) {
                                link.send(Request::Ask { slot });
                            }
                        }
                    }
                    Err(e) => crate::log::debug(format!("reconnecting failed: {e:#}")),
                }
            }
            _ = term.recv() => break Ok(stop_all(&mut running, &mut link, deadline, "SIGTERM").await),
            _ = intr.recv() => break Ok(stop_all(&mut running, &mut link, deadline, "SIGINT").await),
            _ = &mut deadline_timer => break Ok(stop_all(&mut running, &mut link, deadline, "the deadline").await),
        }
    };
    // Tasks sent ahead and never started go back to the server's queue.
    for (_, q) in queued.drain() {
        link.send(Request::TaskEnded {
            task: q.task,
            end: RunEnd::NotStarted,
            secs: 0.0,
        });
        unacked += 1;
    }
    match outcome {
        Ok(code) => {
            link.close(unacked).await;
            crate::log::info("worker retired");
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

async fn connect_with_retry(address: &str) -> anyhow::Result<tokio::net::TcpStream> {
    let mut delay = Duration::from_millis(200);
    let mut last = None;
    for _ in 0..8 {
        match tokio::net::TcpStream::connect(address).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    bail!(
        "cannot reach the server at `{address}`: {}; is `hpcluster up` running, and can this node reach that host?",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
}

async fn stop_all(
    running: &mut HashMap<u64, Running>,
    out: &mut Link,
    deadline: Duration,
    why: &str,
) -> i32 {
    let walltime = killed_by_walltime(unix_now(), deadline);
    if !running.is_empty() {
        crate::log::info(format!("stopping {} task(s) on {why}", running.len()));
    }
    for r in running.values() {
        signal_group(r.pgid, SIGTERM);
    }
    tokio::time::sleep(Duration::from_millis(if running.is_empty() {
        0
    } else {
        500
    }))
    .await;
    for (task, r) in running.drain() {
        signal_group(r.pgid, SIGKILL);
        out.send(Request::TaskEnded {
            task,
            end: RunEnd::Interrupted { walltime },
            secs: r.started.elapsed().as_secs_f64(),
        });
    }
    0
}

/// The host name workers should use to reach a server bound to `interface`.
pub fn advertised_host(interface: &str) -> String {
    if interface == "0.0.0.0" || interface == "::" || interface.is_empty() {
        crate::process::hostname()
    } else {
        interface.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_backend_is_given_or_guessed_from_the_environment() {
        let guess = |pairs: &[(&str, &str)]| backend_from_env(None, &env(pairs));
        assert_eq!(guess(&[("SLURM_JOB_ID", "12")]), Some(BackendKind::Slurm));
        assert_eq!(
            guess(&[("JOB_ID", "4"), ("SGE_TASK_ID", "undefined")]),
            Some(BackendKind::Sge)
        );
        assert_eq!(guess(&[("PBS_JOBID", "7.srv")]), Some(BackendKind::Pbs));
        assert_eq!(guess(&[("LSB_JOBID", "5")]), Some(BackendKind::Lsf));
        assert_eq!(
            guess(&[("HPCLUSTER_LOCAL_JOB_ID", "local-3"), ("SLURM_JOB_ID", "1")]),
            Some(BackendKind::Local)
        );
        assert_eq!(guess(&[("JOB_ID", "4")]), None);
        assert_eq!(
            backend_from_env(Some(BackendKind::Pbs), &env(&[("SLURM_JOB_ID", "1")])),
            Some(BackendKind::Pbs)
        );
    }

    #[test]
    fn deadline_takes_the_earliest() {
        let s = Duration::from_secs;
        assert_eq!(deadline(s(100), s(50), &env(&[])), s(150));
        assert_eq!(
            deadline(s(100), s(50), &env(&[("HPCLUSTER_JOB_DEADLINE", "140.5")])),
            Duration::from_secs_f64(140.5)
        );
        assert_eq!(
            deadline(s(100), s(50), &env(&[("HPCLUSTER_JOB_DEADLINE", "900")])),
            s(150)
        );
    }
}
