//! `hpcluster up`: the server in the foreground. It creates the cluster directory, resumes
//! its journal, submits worker batch jobs while tasks wait, runs until every task has ended
//! (with `--tasks`) or until Ctrl-C / SIGTERM (an open cluster fed by `hpcluster submit`), and
//! cancels what it submitted. `--dry-run` prints every script and submit command and touches
//! nothing.
//!
//! Batch jobs go through [`crate::tracker::Tracker`]; tasks through [`crate::server`].

use std::time::Duration;

use anyhow::Context;

use crate::auth::Secret;
use crate::backend::{self, Runner, SubmitRequest};
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
    let tasks = match args.def.definition()? {
        Some(def) => Some(crate::tasks::define(&def)?),
        None => None,
    };
    if config.task_time.is_some() {
        // A task that cannot fit the walltime is an error before anything is submitted.
        crate::commands::plan::of(&config)?;
    } else if tasks.is_some() {
        tracing::warn!(
            "`task_time` is not set: the first tasks start without an estimate; \
             give `--task-time` so no task is started that cannot finish"
        );
    }
    if args.dry_run {
        let n = args
            .jobs
            .unwrap_or_else(|| jobs_for(&config, tasks.as_ref().map_or(0, Vec::len)));
        if let Some(tasks) = &tasks {
            print!("{}", crate::tasks::preview(tasks, DRY_RUN_TASKS));
        }
        return dry_run(&config, n);
    }
    let dir = std::path::absolute(cluster_dir::path_for(&config))?;
    // One thread: the server's work per message is small, and cross-thread wake-ups would
    // cost more than they save (see docs/benchmarks.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(serve(config, tasks, args.jobs, args.joblog.clone()))?;
    let code = report(&summary);
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

/// Batch jobs a dry run shows: what the tasks need, within `max_jobs`.
fn jobs_for(config: &Config, tasks: usize) -> u32 {
    let per_job = crate::commands::plan::of(config)
        .ok()
        .map_or(config.slots.max(1), |p| p.tasks_per_job.max(1));
    (tasks.div_ceil(per_job as usize) as u32).clamp(1, config.max_jobs.max(1))
}

async fn serve(
    config: Config,
    tasks: Option<Vec<crate::task::TaskSpec>>,
    jobs: Option<u32>,
    joblog: Option<std::path::PathBuf>,
) -> anyhow::Result<Summary> {
    if let Some(program) = submit_program(config.backend) {
        // Fail now, not after three submit attempts 30 s apart.
        Runner::new(config.backend).program(program)?;
    }
    let backend = backend::for_config(&config, Runner::new(config.backend));
    let dir = ClusterDir::create(&cluster_dir::path_for(&config))?;
    let dir_path = std::path::absolute(dir.path())?;
    let secret = Secret::load_or_create(&dir.file("secret"))?;
    let (mut journal, replay) = Journal::open(&dir.file("journal.jsonl"))?;
    let mut tracker = Tracker::new(&config, backend, dir)?;
    // Batch jobs of a previous run that are still queued or running are re-attached: their
    // workers reconnect (they keep running their tasks while the server is away) and claim
    // the tasks the journal left running on them.
    let leftover = tracker.live_jobs();
    if !leftover.is_empty() {
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
    let alive: std::collections::HashSet<String> =
        reattached.iter().map(|j| j.to_string()).collect();
    let mut core = Core::new(CoreConfig {
        budget: config.budget(),
        retries: config.retries,
        idle_timeout: IDLE_TIMEOUT,
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
    })
    .with_failure_rules(config.retries_on_failure, config.task_timeout);
    let exit_when_done = tasks.is_some();
    let (resumed, added) = server::seed_tasks(
        &mut core,
        &mut journal,
        replay,
        tasks.unwrap_or_default(),
        &alive,
        crate::time::unix_now(),
    )?;
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
    let listener = tokio::net::TcpListener::bind((config.interface.as_str(), config.port))
        .await
        .with_context(|| {
            format!(
                "failed to listen on `{}:{}` (config `interface`, `port`)",
                config.interface, config.port
            )
        })?;
    let port = listener.local_addr()?.port();
    let address = format!(
        "{}:{port}",
        crate::cluster_dir::server_file::advertised_host(&config.interface)
    );
    ServerFile {
        address: address.clone(),
        pid: std::process::id() as i32,
    }
    .write(&dir_path)?;
    tracing::info!(
        "server listening on {address}; cluster directory {}",
        dir_path.display()
    );
    let mut control = TrackerControl(tracker);
    let mut initial = Vec::new();
    if let Some(n) = jobs.filter(|n| *n > 0) {
        use crate::server::jobs::JobControl;
        initial = control.submit(n)?;
        let ids: Vec<String> = initial.iter().map(|i| i.to_string()).collect();
        tracing::info!("submitted {} batch job(s): {}", ids.len(), ids.join(" "));
    }
    let mut opts = options(&config, &dir_path, exit_when_done);
    opts.initial_jobs = reattached.into_iter().chain(initial).collect();
    opts.joblog = joblog;
    let result = server::run(
        listener,
        secret,
        core,
        journal,
        Box::new(control),
        opts,
        std::sync::Arc::new(crate::time::SystemClock),
        shutdown_signal(),
    )
    .await;
    ServerFile::remove(&dir_path);
    result
}

fn options(config: &Config, dir: &std::path::Path, exit_when_done: bool) -> ServerOptions {
    ServerOptions {
        max_jobs: config.max_jobs,
        cores: config.cores,
        slots: config.slots.max(1),
        poll_interval: config.poll_interval,
        log_directory: config
            .log_directory
            .clone()
            .unwrap_or_else(|| dir.join("logs")),
        exit_when_done,
        progress: true,
        initial_jobs: Vec::new(),
        joblog: None,
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted (Ctrl-C): cancelling the batch jobs"),
        _ = term.recv() => tracing::info!("terminated (SIGTERM): cancelling the batch jobs"),
    }
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

/// Prints every batch job's script and exact submit command; creates nothing.
fn dry_run(config: &Config, n: u32) -> anyhow::Result<i32> {
    let backend = backend::for_config(config, Runner::new(config.backend));
    let dir = std::path::absolute(cluster_dir::path_for(config))?;
    let program = tracker::worker_program(config)?;
    for sub in tracker::plan_submissions(&config.name, n, 1, config.max_array_size) {
        let script = dir.join("scripts").join(format!("{}.sh", sub.job_name));
        let logs = dir.join("logs");
        let req = SubmitRequest {
            script: &script,
            job_name: &sub.job_name,
            array: sub.array,
            workdir: &logs,
        };
        let argv = backend.submit_argv(&req);
        let tasks = sub
            .array
            .map_or(String::new(), |a| format!(" (array of {a})"));
        println!(
            "# batch job `{}`{tasks}: {}",
            sub.job_name,
            script.display()
        );
        println!("# submit (in {}): {}", logs.display(), shell_words(&argv)?);
        println!("{}", tracker::render(config, &dir, &program, &sub)?);
    }
    Ok(0)
}

/// A command line as a shell would take it, quoting only the words that need it.
fn shell_words(argv: &[String]) -> anyhow::Result<String> {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-[]".contains(c))
    };
    let words: Vec<String> = argv
        .iter()
        .map(|w| match plain(w) || w == "<" {
            true => Ok(w.clone()),
            false => shlex::try_quote(w).map(|q| q.into_owned()),
        })
        .collect::<Result<_, _>>()?;
    Ok(words.join(" "))
}
