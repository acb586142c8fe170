//! Scale of the server: `cargo bench --bench server_scale -- [--quick]`.
//!
//! 1. Peak memory with 1,000,000 queued tasks: a tasks file is parsed, every task journaled
//!    and queued in the real [`Core`], as `hpcluster up --tasks` does; the process's peak RSS
//!    (VmHWM) is read before and after.
//! 2. Dispatch latency with 10,000 workers, in process: each worker's slot asks, runs its task
//!    for no time and reports it; the time of each `on_ask` + `on_task_ended` pair is recorded.
//!
//! Prints Markdown tables; asserts nothing about timings.

use std::time::{Duration, Instant};

use hpcluster::budget::{Budget, Buffer};
use hpcluster::journal::Journal;
use hpcluster::protocol::RunEnd;
use hpcluster::server::core::{Core, CoreConfig, Dispatch, WorkerHello};

fn config() -> CoreConfig {
    CoreConfig {
        budget: Budget::new(
            Duration::from_secs(3600 * 24),
            Buffer::Percent(5.0),
            Duration::ZERO,
            1,
        )
        .with_task_time(Some(Duration::from_secs(60))),
        retries: 3,
        idle_timeout: Duration::from_secs(30),
        heartbeat_timeout: Duration::from_secs(30),
    }
}

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn queued_memory(n: usize) -> anyhow::Result<(f64, f64, Duration)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("tasks.txt");
    let mut text = String::with_capacity(n * 32);
    for i in 0..n {
        text.push_str(&format!("./simulate --seed {i} --out run-{i}\n"));
    }
    std::fs::write(&file, &text)?;
    drop(text);
    let before = vm_hwm_kib();
    let t0 = Instant::now();
    let tasks = hpcluster::tasks::read_tasks(&file)?;
    let (mut journal, replay) = Journal::open(&dir.path().join("journal.jsonl"))?;
    let mut core = Core::new(config());
    hpcluster::server::seed_tasks(
        &mut core,
        &mut journal,
        replay,
        tasks,
        &Default::default(),
        hpcluster::time::unix_now(),
    )?;
    let took = t0.elapsed();
    assert_eq!(core.counts().pending, n);
    let after = vm_hwm_kib();
    Ok((before as f64 / 1024.0, after as f64 / 1024.0, took))
}

fn dispatch_latency(workers: u64, rounds: u64) -> (f64, f64, f64) {
    let mut core = Core::new(config());
    let n = (workers * rounds) as usize;
    core.on_tasks_added((0..n).map(|i| hpcluster::task::TaskSpec {
        cmd: format!("true {i}"),
        ..Default::default()
    }));
    let now = Duration::from_secs(1_000);
    for w in 0..workers {
        let hello = WorkerHello {
            job: None,
            slots: 1,
            deadline: now + Duration::from_secs(3600 * 24),
            host: format!("node{w}"),
            claims: Vec::new(),
        };
        core.on_worker_hello(w, hello, now);
    }
    let mut samples = Vec::with_capacity(n);
    for r in 0..rounds {
        let t = now + Duration::from_millis(r);
        for w in 0..workers {
            let start = Instant::now();
            let Dispatch::Run { task, .. } = core.on_ask(w, 0, t) else {
                panic!("worker {w} got no task")
            };
            core.on_task_ended(w, task, RunEnd::Exited { code: 0 }, 0.001, t);
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| samples[((p * samples.len() as f64) as usize).min(samples.len() - 1)];
    (q(0.5), q(0.99), samples.len() as f64)
}

fn main() -> anyhow::Result<()> {
    // Without `--bench` (from `cargo test --all-targets`) it runs at the quick size.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let n = if quick { 100_000 } else { 1_000_000 };
    let (before, after, took) = queued_memory(n)?;
    println!("| queued tasks | peak RSS before | peak RSS after | parse + journal + queue |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {n} | {before:.0} MiB | {after:.0} MiB | {:.2} s |",
        took.as_secs_f64()
    );
    println!();
    let (workers, rounds) = if quick { (1_000, 5) } else { (10_000, 20) };
    let (p50, p99, count) = dispatch_latency(workers, rounds);
    println!("| workers | dispatches | p50 | p99 |");
    println!("|---:|---:|---:|---:|");
    println!("| {workers} | {count:.0} | {p50:.1} µs | {p99:.1} µs |");
    Ok(())
}
