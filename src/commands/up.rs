//! `hpcluster up`: creates the cluster directory, submits the worker batch jobs and follows
//! them in the foreground until all have ended; Ctrl-C / SIGTERM cancels what it submitted.
//! `--dry-run` prints every script and submit command and touches nothing.
//!
//! The submit/poll/cancel work lives in [`crate::tracker::Tracker`], so the server can drive it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::backend::{self, Runner, SubmitRequest};
use crate::cli::UpArgs;
use crate::cluster_dir::{self, ClusterDir};
use crate::config::{Config, Resolved};
use crate::tracker::{self, Tracker};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Test-only overrides until every key can be set from the config file: `HPCLUSTER_TEST_NAME`,
/// `_POLL_INTERVAL`, `_PROLOGUE` (one more prologue line), `_MAX_ARRAY_SIZE`, `_SUBMIT_EXTRA`.
pub fn apply_test_knobs(config: &mut Config) -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(format!("HPCLUSTER_TEST_{k}")).ok();
    if let Some(v) = var("NAME") {
        config.name = v;
    }
    if let Some(v) = var("POLL_INTERVAL") {
        config.poll_interval = crate::duration::parse_duration(&v)?;
    }
    if let Some(v) = var("PROLOGUE") {
        config.job_script_prologue.push(v);
    }
    if let Some(v) = var("MAX_ARRAY_SIZE") {
        config.max_array_size = v.parse()?;
    }
    if let Some(v) = var("SUBMIT_EXTRA") {
        config.submit_command_extra = shlex::split(&v).unwrap_or_default();
    }
    Ok(())
}

pub fn run(resolved: Resolved, args: &UpArgs) -> anyhow::Result<i32> {
    let mut config = resolved.config;
    apply_test_knobs(&mut config)?;
    let n = args.jobs.unwrap_or(1);
    if args.dry_run {
        return dry_run(&config, n);
    }
    let backend = backend::for_config(&config, Runner::new(config.backend));
    let dir = ClusterDir::create(&cluster_dir::path_for(&config))?;
    let mut tracker = Tracker::new(&config, backend, dir)?;
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
    }
    let submitted = tracker.submit(n);
    let ids = match submitted {
        Ok(ids) => ids,
        Err(e) => {
            let cancelled = tracker.cancel_all()?;
            if !cancelled.is_empty() {
                crate::log::info(format!(
                    "cancelled the {} batch jobs submitted so far",
                    cancelled.len()
                ));
            }
            return Err(e);
        }
    };
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    println!("submitted {} batch jobs: {}", ids.len(), list.join(" "));
    follow(&mut tracker)
}

/// Polls until every batch job has ended, printing state changes; cancels all on a signal.
fn follow(tracker: &mut Tracker) -> anyhow::Result<i32> {
    while !tracker.all_settled() {
        let until = Instant::now() + tracker.interval();
        while Instant::now() < until && !STOP.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if STOP.load(Ordering::SeqCst) {
            let cancelled = tracker.cancel_all()?;
            let list: Vec<String> = cancelled.iter().map(|i| i.to_string()).collect();
            println!(
                "interrupted: cancelled {} batch jobs: {}",
                cancelled.len(),
                list.join(" ")
            );
            return Ok(130);
        }
        match tracker.poll_once() {
            Ok(changes) => {
                for c in changes {
                    println!("batch job {}: {} -> {}", c.id, c.from, c.to);
                }
            }
            Err(e) => crate::log::warn(format!("{e:#}")),
        }
    }
    let failed = tracker
        .jobs()
        .iter()
        .filter(|j| j.state != crate::backend::JobState::Done)
        .count();
    println!(
        "all {} batch jobs ended ({} not done)",
        tracker.jobs().len(),
        failed
    );
    Ok(0)
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
