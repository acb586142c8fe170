//! `hpcluster up`: the server in the foreground. It creates the cluster directory, resumes
//! its journal, submits worker batch jobs while tasks wait, runs until every task has ended
//! (with `--tasks`) or until Ctrl-C / SIGTERM (an open cluster fed by `hpcluster submit`), and
//! cancels what it submitted; a second Ctrl-C exits at once ([`signals`]). `--jobs N` starts N
//! batch jobs at once, within `max_jobs`. `--dry-run` prints every script and submit command
//! and touches nothing ([`dry_run`]).
//!
//! Batch jobs go through [`crate::tracker::Tracker`]; tasks through [`crate::server`].

use std::time::Duration;

use anyhow::Context;

mod dry_run;
mod signals;

use crate::auth::Secret;
use crate::backend::timed::Stop;
use crate::backend::{self, Runner};
use crate::cli::UpArgs;
use crate::cluster_dir::server_file::ServerFile;
use crate::cluster_dir::{self, ClusterDir};
use crate::config::{Config, Resolved};
use crate::journal::Journal;
use crate::server::batch::TrackerControl;
use crate::server::core::{Core, CoreConfig};
use crate::server::{self, ServerOptions, Summary};
use crate::tracker::{self, Tracker};

/// Parked worker slots retire after this long without work.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Workers silent this long are lost.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(resolved: Resolved, args: &UpArgs) -> anyhow::Result<i32> {
    let mut config = resolved.config;
    config.admission = !args.no_admission;
    crate::config::walltime::check_least(&config)?;
    if let Some(note) = &config.walltime_note {
        tracing::info!("walltime {note}");
    }
    let tasks = match args.def.definition()? {
        Some(def) => Some(crate::tasks::define(&def)?),
        None => None,
    };
    if let Some(specs) = &tasks {
        let origin = args.def.tasks.as_ref().map_or_else(
            || "the command line".to_string(),
            |p| format!("`{}`", p.display()),
        );
        if let Some(why) = crate::commands::plan::never_fitting(&config, specs, &origin) {
            tracing::warn!("{why}; `up` fails them at once and runs the others");
        }
    }
    if config.task_time.is_some() {
        // A task that cannot fit the walltime is an error before anything is submitted.
        crate::commands::plan::of(&config)?;
    } else if tasks.is_some() {
        tracing::warn!(
            "`task_time` is not set: the first tasks start without an estimate (the first \
             to finish teaches it); give `--task-time` so no task is started that cannot finish"
        );
    }
    if args.dry_run {
        let n = args
            .jobs
            .unwrap_or_else(|| jobs_for(&config, tasks.as_ref().map_or(0, Vec::len)));
        if let Some(tasks) = &tasks {
            print!("{}", crate::tasks::preview(tasks, DRY_RUN_TASKS));
        }
        return dry_run::run(&config, n);
    }
    let dir = std::path::absolute(cluster_dir::path_for(&config))?;
    // One thread: the server's work per message is small, and cross-thread wake-ups would
    // cost more than they save (see docs/benchmarks.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(serve(config.clone(), tasks, args.jobs, args.joblog.clone()))?;
    let code = report(&summary);
    // The ledger's two headline lines, from what jobs.json and the journal recorded.
    match crate::commands::report::build(&config, &dir, crate::time::unix_now()) {
        Ok(r) => crate::commands::report::headlines(&r)
            .iter()
            .for_each(|line| println!("{line}")),
        Err(e) => tracing::warn!("no ledger of this run: {e:#}"),
    }
    super::up_summary::print_tasks_summary(&dir);
    Ok(code)
}

/// Tasks `up --dry-run` shows as they will run.
const DRY_RUN_TASKS: usize = 10;

/// The command a backend submits with, checked before anything starts.
fn submit_program(kind: crate::backend_kind::BackendKind) -> Option<&'static str> {
    use crate::backend_kind::BackendKind::*;
    match kind {
        Slurm => Some("sbatch"),
        Sge | Pbs => Some("qsub"),
        Lsf => Some("bsub"),
        Local => None,
    }
}

/// Batch jobs a dry run shows: what the server's core would submit first for the tasks
/// (the same rule as a real run: `scale`), within `max_jobs`; one without tasks.
fn jobs_for(config: &Config, tasks: usize) -> u32 {
    let mut core = Core::new(CoreConfig {
        budget: config.budget(),
        retries: config.retries,
        idle_timeout: IDLE_TIMEOUT,
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
    });
    core.on_tasks_added(vec![crate::task::TaskSpec::default(); tasks]);
    core.jobs_wanted(0, 0, config.max_jobs, Duration::ZERO)
        .clamp(1, config.max_jobs.max(1))
}

async fn serve(
    config: Config,
    tasks: Option<Vec<crate::task::TaskSpec>>,
    jobs: Option<u32>,
    joblog: Option<std::path::PathBuf>,
) -> anyhow::Result<Summary> {
    if let Some(program) = submit_program(config.backend) {
        // Fail now, not after three submit attempts 30 s apart.
        let found = Runner::new(config.backend).program(program)?;
        if config.backend == crate::backend_kind::BackendKind::Pbs {
            // Grid Engine's qsub would take the job and answer in words PBS's parser cannot
            // read: a batch job nobody tracks. Refuse before submitting anything.
            if let Some(why) = crate::backend::pbs::foreign_qsub(&found) {
                anyhow::bail!(why);
            }
        }
    }
    // Where to listen, before anything is created: an interface that does not exist is an
    // error that names those that do.
    let at = crate::config::interface::listen_address(
        &config,
        &crate::process::interface_addresses(),
        &crate::process::hostname(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let stop = Stop::new();
    let runner = Runner::for_config(&config).with_stop(stop.clone());
    let backend = backend::for_config(&config, runner);
    let dir = ClusterDir::create_with(&cluster_dir::path_for(&config), config.cluster_access)?;
    let dir_path = std::path::absolute(dir.path())?;
    // From here on Ctrl-C stops the server (once it runs, or as soon as it starts), and a
    // second one exits at once.
    let shutdown = signals::listen(stop.clone(), dir_path.clone(), config.name.clone());
    let secret = Secret::load_or_create(&dir.file("secret"))?;
    // What `report` accounts this run by (its walltime, cores, slots).
    crate::accounting::record::RunRecord::of(&config).write(&dir_path)?;
    let (mut journal, replay) = Journal::open(&dir.file("journal.jsonl"))?;
    let tracker = Tracker::new(&config, backend, dir)?.stopped_by(stop.clone());
    if tracker.jobs().is_empty() && tracker.submissions().is_empty() {
        // `status`, `submit` and `down` know a cluster by its jobs file: write it now, not at
        // the first submission (an open cluster may wait for tasks before it submits any).
        tracker
            .dir()
            .save_jobs(config.backend, &crate::cluster_dir::Jobs::default())?;
    }
    // Off the event loop's thread, so that a signal is seen while the batch system answers.
    let (tracker, reattached) = tokio::task::spawn_blocking(move || resume_jobs(tracker))
        .await
        .context("the resumed batch jobs could not be read")?;
    let alive: std::collections::HashSet<String> =
        reattached.iter().map(|j| j.to_string()).collect();
    let mut core = Core::new(CoreConfig {
        budget: config.budget(),
        retries: config.retries,
        idle_timeout: IDLE_TIMEOUT,
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
    })
    .with_failure_rules(config.retries_on_failure, config.task_timeout)
    .with_checkpoint_rule(checkpoint_rule(&config), config.checkpointable)
    // Run IDs from this server's start, in microseconds: never one a previous server of the
    // cluster handed out, even where its `started` entry never reached the journal.
    .with_first_run(crate::time::unix_now().as_micros() as u64);
    let exit_when_done = tasks.is_some();
    let (resumed, added) = server::seed_tasks(
        &mut core,
        &mut journal,
        replay,
        tasks.unwrap_or_default(),
        &alive,
        crate::time::unix_now(),
    )?;
    server::collect_held_results(&mut core, &mut journal, &dir_path, crate::time::unix_now())?;
    if resumed > 0 {
        let c = core.counts();
        tracing::info!(
            "resumed {resumed} task(s) from the journal: {} done, {} failed, {} to run",
            c.done,
            c.failed,
            c.pending
        );
    }
    if added > 0 {
        tracing::info!("{added} task(s) queued");
    }
    if exit_when_done {
        core.close_input();
    } else {
        tracing::info!("{}", super::up_summary::how_to_submit(&config.name));
    }
    // A worker's connection is a file descriptor: don't let a low soft limit cap the cluster.
    if let Some((before, after)) = crate::process::raise_open_files_limit() {
        if after > before {
            tracing::debug!("raised the limit of open files from {before} to {after}");
        }
    }
    let listener = tokio::net::TcpListener::bind((at.bind.as_str(), config.port))
        .await
        .with_context(|| {
            format!(
                "failed to listen on `{}:{}` (config `interface` or `host`, and `port`)",
                at.bind, config.port
            )
        })?;
    let port = listener.local_addr()?.port();
    let address = format!("{}:{port}", at.advertise);
    ServerFile {
        address: address.clone(),
        pid: std::process::id() as i32,
    }
    .write(&dir_path)?;
    tracing::info!(
        "server listening on {address}; cluster directory {}",
        dir_path.display()
    );
    let mut opts = options(&config, &dir_path, exit_when_done)?;
    opts.first_jobs = first_jobs(&config, jobs, reattached.len() as u32);
    opts.initial_jobs = reattached;
    opts.joblog = joblog;
    let result = server::run(
        listener,
        secret,
        core,
        journal,
        Box::new(TrackerControl { tracker, stop }),
        opts,
        std::sync::Arc::new(crate::time::SystemClock),
        shutdown,
    )
    .await;
    ServerFile::remove(&dir_path);
    result
}

/// Batch jobs of a previous run: submissions whose answer was lost are looked up by name,
/// and those still queued or running are re-attached, not cancelled: their workers reconnect
/// (they keep running their tasks while the server is away) and claim the tasks the journal
/// left running on them. They count against `max_jobs`.
/// The configuration's checkpoint contract, for the core (none without `checkpoint_signal`).
fn checkpoint_rule(config: &Config) -> Option<crate::server::core::CheckpointRule> {
    let signal = crate::process::checkpoint_signal(config.checkpoint_signal.as_deref()?)?;
    Some(crate::server::core::CheckpointRule {
        signal,
        lead: config.checkpoint_lead()?,
        exit_code: config.checkpoint_exit_code,
        max_checkpoints: config.max_checkpoints,
    })
}

fn resume_jobs(mut tracker: Tracker) -> (Tracker, Vec<crate::backend::JobId>) {
    if tracker.unresolved() > 0 {
        if let Err(e) = tracker.reconcile(true) {
            tracing::warn!("{e:#}");
        }
    }
    if !tracker.live_jobs().is_empty() {
        if let Err(e) = tracker.poll_once() {
            tracing::warn!(
                "could not read the state of the batch jobs left from the previous run ({e:#}); \
                 keeping them"
            );
        }
    }
    let reattached = tracker.live_jobs();
    if !reattached.is_empty() {
        tracing::info!(
            "re-attached {} batch job(s) left running from the previous run of this cluster: {}",
            reattached.len(),
            reattached
                .iter()
                .map(|j| j.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    (tracker, reattached)
}

/// The batch jobs `--jobs N` starts: `max_jobs` is a hard limit over every live batch job,
/// re-attached ones included, so a larger N is cut down, with a warning.
fn first_jobs(config: &Config, jobs: Option<u32>, reattached: u32) -> u32 {
    let Some(n) = jobs else { return 0 };
    let room = config.max_jobs.saturating_sub(reattached);
    if n > room {
        let held = if reattached > 0 {
            format!(" and {reattached} batch job(s) of the previous run are live")
        } else {
            String::new()
        };
        tracing::warn!(
            "`--jobs {n}` is above `max_jobs` {}{held}: starting {room}; raise `max_jobs` \
             to start more",
            config.max_jobs
        );
    }
    n.min(room)
}

fn options(
    config: &Config,
    dir: &std::path::Path,
    exit_when_done: bool,
) -> anyhow::Result<ServerOptions> {
    Ok(ServerOptions {
        max_jobs: config.max_jobs,
        cores: config.cores,
        slots: config.slots.max(1),
        poll_interval: config.poll_interval,
        log_directory: tracker::log_directory(config, dir)?,
        worker_program: tracker::worker_program(config)?.display().to_string(),
        first_jobs: 0,
        exit_when_done,
        progress: true,
        initial_jobs: Vec::new(),
        joblog: None,
        cluster_dir: Some(dir.to_path_buf()),
    })
}

/// Prints the summary; returns the exit status.
fn report(s: &Summary) -> i32 {
    let hours = |secs: f64| secs / 3600.0;
    let share = if s.core_seconds_consumed > 0.0 {
        format!(
            " ({:.0}%)",
            100.0 * s.core_seconds_tasks / s.core_seconds_consumed
        )
    } else {
        String::new()
    };
    println!(
        "{} task(s) done, {} failed, {} not run; {} retried ({} killed by the walltime); {} batch job(s); {:.3} core-hours consumed by workers, {:.3} used by tasks{share}",
        s.done, s.failed, s.pending, s.retried, s.walltime_kills, s.batch_jobs,
        hours(s.core_seconds_consumed), hours(s.core_seconds_tasks)
    );
    if s.batch_jobs_lost > 0 {
        println!(
            "{} batch job(s) preempted or lost with their node: their tasks were requeued, not counted as failed or against `retries`",
            s.batch_jobs_lost
        );
    }
    if s.checkpointed > 0 {
        println!(
            "{} checkpointed: run(s) that saved their state before the deadline and went on in a later run, not counted as failed or retried",
            s.checkpointed
        );
    }
    if s.walltime_kills > 0 {
        println!("some tasks were killed by the walltime: their estimate was too short; raise `task_time` (or the tasks' `time`)");
    }
    if s.interrupted {
        130
    } else if s.failed > 0 || s.pending > 0 {
        1
    } else {
        0
    }
}
