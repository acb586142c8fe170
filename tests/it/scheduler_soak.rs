//! Randomized scheduler faults (issue 13): runs of `up` against the fake SLURM with
//! `FAKE_CHAOS` on, so every `sbatch`, `squeue` and `scancel` may fail (permanently or
//! transiently, before or after creating its job), answer garbage or nothing, or hang; each
//! run is stopped in one of several ways (SIGTERM, Ctrl-C, Ctrl-C twice, SIGKILL, or `up`'s own
//! error), then `down` runs where `up` says to (or could not: Ctrl-C twice, SIGKILL). After
//! each run the fake holds no live batch job, never held more than `max_jobs`, and created no
//! name twice. A seed replays a run exactly (`HPCLUSTER_SOAK_SEED`); `HPCLUSTER_SOAK_RUNS`
//! sets how many (10 by default; docs/reliability.md records a run of 100).

use std::time::{Duration, Instant};

use crate::harness::{Finished, Test};

/// A small generator (xorshift), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How a run is stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Sigterm,
    CtrlC,
    CtrlCTwice,
    Kill,
}

/// What one run left.
#[derive(Debug, Default)]
struct Outcome {
    sbatch: usize,
    faults: usize,
    /// `command fault` -> how often it was injected.
    kinds: std::collections::BTreeMap<String, usize>,
    /// `up` ended by itself (an error) before the signal.
    up_error: bool,
    /// The run was stopped by SIGKILL or a second Ctrl-C.
    forced: bool,
    /// `up` said to run `hpcluster down`.
    up_said_down: bool,
    leaked_after_up: usize,
    down_ran: bool,
    leaked: usize,
    duplicates: usize,
    over_max: bool,
    exit_after_signal: Duration,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn one_run(seed: u64) -> (Outcome, String) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let max_jobs = 2 + rng.below(4) as u32;
    let array = [1, 1, 2, 1000][rng.below(4) as usize];
    let stop = [Stop::Sigterm, Stop::CtrlC, Stop::CtrlCTwice, Stop::Kill][rng.below(4) as usize];
    let with_tasks = rng.below(2) == 0;
    let jobs = 1 + rng.below(2 * max_jobs as u64) as u32;
    let wait = Duration::from_millis(200 + rng.below(2500));
    let t = Test::new()
        .cluster("soak")
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
        .env("FAKE_CHAOS", seed.to_string())
        .env("HPCLUSTER_MAX_JOBS", max_jobs.to_string())
        .env("HPCLUSTER_MAX_ARRAY_SIZE", array.to_string())
        .env("HPCLUSTER_SUBMIT_TIMEOUT", "2s")
        .env("HPCLUSTER_STATUS_TIMEOUT", "2s")
        .env("HPCLUSTER_CANCEL_TIMEOUT", "2s");
    let up = if with_tasks {
        let tasks = t.write("tasks.txt", &"sleep 1\n".repeat(2 * max_jobs as usize));
        t.up_tasks("slurm", &tasks)
            .args(&["--walltime", "2m", "--task-time", "1m"])
            .spawn()
    } else {
        t.spawn(&["up", "--backend", "slurm", "--jobs", &jobs.to_string()])
    };
    std::thread::sleep(wait);
    let t0 = Instant::now();
    match stop {
        Stop::Sigterm => up.signal(15),
        Stop::CtrlC => up.signal(2),
        Stop::CtrlCTwice => {
            up.signal(2);
            std::thread::sleep(Duration::from_millis(rng.below(1000)));
            up.signal(2);
        }
        Stop::Kill => up.signal(9),
    }
    let out: Finished = up.wait(60);
    let exit_after_signal = t0.elapsed();
    let mut o = Outcome {
        exit_after_signal,
        leaked_after_up: t.fake_live().len(),
        ..Outcome::default()
    };
    let forced = matches!(stop, Stop::Kill) || out.stderr.contains("interrupted again");
    o.forced = forced;
    o.up_error = out.stderr.contains("\nerror: ") || out.stderr.starts_with("error: ");
    o.up_said_down = !forced && out.stderr.contains("hpcluster down");
    if forced || o.up_said_down {
        o.down_ran = true;
        let down = t.run(&["down"]);
        if down.code != Some(0) {
            // As a user would: once more when the batch system failed it.
            t.run(&["down"]);
        }
    }
    o.sbatch = t.calls_of("sbatch").len();
    o.faults = t.fake_file("faults").lines().count();
    for line in t.fake_file("faults").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [cmd, _, fault] = f[..] {
            *o.kinds.entry(format!("{cmd} {fault}")).or_default() += 1;
        }
    }
    o.leaked = t.fake_live().len();
    o.duplicates = t.fake_duplicates().len();
    o.over_max = t.fake_max_live() > max_jobs;
    let shown = format!(
        "seed {seed}: max_jobs {max_jobs}, max_array_size {array}, {}, stop {stop:?} after \
         {wait:?}; {o:?}\nfaults:\n{}\n{}",
        if with_tasks {
            "tasks".to_string()
        } else {
            format!("--jobs {jobs}")
        },
        t.fake_file("faults"),
        out.all()
    );
    (o, shown)
}

#[test]
fn randomized_scheduler_faults_leak_and_duplicate_no_batch_job() {
    let runs = env_num("HPCLUSTER_SOAK_RUNS", 10);
    let base = env_num("HPCLUSTER_SOAK_SEED", 1);
    let mut n = Outcome::default();
    let mut slowest = Duration::ZERO;
    let (mut graceful, mut graceful_clean, mut forced, mut said_down, mut errors) = (0, 0, 0, 0, 0);
    for run in 0..runs {
        let seed = base + run;
        let (o, shown) = one_run(seed);
        if std::env::var_os("HPCLUSTER_SOAK_VERBOSE").is_some() {
            eprintln!("{}", shown.lines().next().unwrap_or_default());
        }
        assert_eq!(o.leaked, 0, "leaked batch jobs: {shown}");
        assert_eq!(o.duplicates, 0, "duplicate batch jobs: {shown}");
        assert!(!o.over_max, "more than max_jobs live: {shown}");
        n.sbatch += o.sbatch;
        n.faults += o.faults;
        for (k, c) in &o.kinds {
            *n.kinds.entry(k.clone()).or_default() += c;
        }
        errors += u32::from(o.up_error);
        if o.forced {
            forced += 1;
        } else {
            graceful += 1;
            graceful_clean += u32::from(o.leaked_after_up == 0);
            said_down += u32::from(o.up_said_down);
            if !o.up_error {
                slowest = slowest.max(o.exit_after_signal);
            }
        }
    }
    eprintln!(
        "soak: {runs} runs (seeds {base}..{}), {} sbatch calls, {} faults injected; 0 leaked and \
         0 duplicate batch jobs, never above max_jobs. {graceful} runs stopped by `up` itself \
         ({errors} on an error) or one signal: {graceful_clean} left nothing live, {said_down} said \
         to run `hpcluster down` (a cancel command failed) and `down` cleaned up; {forced} runs \
         forced (SIGKILL or a second Ctrl-C): `down` cleaned up. Slowest exit after one signal: \
         {slowest:.1?}",
        base + runs - 1,
        n.sbatch,
        n.faults
    );
    eprintln!("soak: faults injected: {:?}", n.kinds);
}
