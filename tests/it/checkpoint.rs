//! Issue 11 item 4, the checkpoint contract on the local backend: what every task finds in its
//! environment to save and resume its state (`HPCLUSTER_DEADLINE`, `HPCLUSTER_ATTEMPT`).

use crate::harness::{summary, Test};

/// Each run sees its batch job's deadline (Unix seconds, within the walltime of now) and
/// which run of the task it is: 1, then 2 for the run after a failed one.
#[test]
fn every_run_sees_its_deadline_and_its_attempt() {
    let c = Test::new()
        .cluster("ckenv")
        .poll("200ms")
        .config("retries_on_failure = 1\n");
    let d = c.path().display().to_string();
    let tasks = c.write(
        "tasks.txt",
        &format!(
            "echo $HPCLUSTER_ATTEMPT $HPCLUSTER_DEADLINE >> {d}/runs; [ $HPCLUSTER_ATTEMPT -ge 2 ]\n"
        ),
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "60s", "--task-time", "5s"])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (1, 0), "{}", out.all());
    let runs = std::fs::read_to_string(c.path().join("runs")).unwrap();
    let runs: Vec<(u32, u64)> = runs
        .lines()
        .map(|l| {
            let (a, d) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), d.parse().unwrap())
        })
        .collect();
    assert_eq!(runs.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    for (_, deadline) in runs {
        assert!(
            deadline > before && deadline <= before + 60 + 30,
            "deadline {deadline}, started {before}"
        );
    }
}

/// The acceptance of issue 11 item 4: a checkpointable task of 60 s of work under a 24 s
/// walltime, asked with USR1 5 s before each deadline, saves its count and exits 85; every
/// next run (`HPCLUSTER_ATTEMPT` one more) resumes from the saved count, until it finishes.
/// No run counts as a failure or a retry, and the run exits 0.
#[test]
fn a_checkpointing_task_runs_in_pieces_each_resuming_from_its_state() {
    let c = Test::new()
        .cluster("ckpieces")
        .poll("200ms")
        .config("checkpoint_signal = \"USR1\"\ncheckpoint_lead = \"5s\"\nretries = 0\n");
    let d = c.path().display().to_string();
    // `sleep 1 & wait $!`: the trap runs at once, not when `sleep` returns.
    let cmd = format!(
        "trap 'echo $n > {d}/state; exit 85' USR1; n=$(cat {d}/state 2>/dev/null || echo 0); \
         echo $HPCLUSTER_ATTEMPT $n >> {d}/starts; \
         while [ $n -lt 60 ]; do sleep 1 & wait $!; n=$((n+1)); done; echo $n > {d}/state"
    );
    let task = serde_json::json!({"cmd": cmd, "time": "60s", "checkpointable": true});
    let tasks = c.write("tasks.jsonl", &format!("{task}\n"));
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "24s", "--buffer", "1s"])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, _, retried, walltime_kills, _] = summary(&out);
    assert_eq!(
        (done, failed, retried, walltime_kills),
        (1, 0, 0, 0),
        "{}",
        out.all()
    );
    let starts = std::fs::read_to_string(c.path().join("starts")).unwrap();
    let starts: Vec<(u32, u32)> = starts
        .lines()
        .map(|l| {
            let (a, n) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), n.parse().unwrap())
        })
        .collect();
    eprintln!("attempt and starting count of each run: {starts:?}");
    assert!((3..=5).contains(&starts.len()), "{starts:?}\n{}", out.all());
    let attempts: Vec<u32> = starts.iter().map(|s| s.0).collect();
    assert_eq!(attempts, (1..=starts.len() as u32).collect::<Vec<_>>());
    // Each run resumed from where the one before stopped: a count that only grows.
    assert_eq!(starts[0].1, 0);
    assert!(starts.windows(2).all(|w| w[1].1 > w[0].1), "{starts:?}");
    let state = std::fs::read_to_string(c.path().join("state")).unwrap();
    assert_eq!(state.trim(), "60");
    let pieces = starts.len() as u64 - 1;
    assert!(
        out.stdout.contains(&format!("{pieces} checkpointed")),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_eq!(
        crate::harness::ends(&journal, 0, "checkpointed") as u64,
        pieces
    );
    let tasks: serde_json::Value = serde_json::from_str(&c.run_ok(&["tasks", "--json"])).unwrap();
    let t = &tasks[0];
    assert_eq!(t["state"], "done", "{tasks}");
    assert_eq!(t["attempts"], starts.len() as u64, "{tasks}");
}

/// Issue 11: the batch system's own warning reaches the tasks. The worker gets SIGUSR1 from
/// outside (as SLURM's `--signal=B:USR1@<lead>` through the job script, or `scancel
/// --signal=USR1 --batch`), long before its own clock would ask (100 s into a 120 s
/// walltime): the running task gets its checkpoint signal at once, saves and exits 85; the
/// warned worker starts nothing that cannot end within the 20 s lead (the task's 30 s do not
/// fit), so the task's next run is in a new batch job, and it finishes there.
#[test]
fn the_batch_systems_warning_to_the_worker_checkpoints_its_tasks_at_once() {
    let c = Test::new()
        .cluster("ckwarn")
        .poll("200ms")
        .config("checkpoint_signal = \"USR2\"\ncheckpoint_lead = \"20s\"\nretries = 0\n");
    let d = c.path().display().to_string();
    let cmd = format!(
        "trap 'echo $HPCLUSTER_ATTEMPT $(date +%s) >> {d}/signalled; exit 85' USR2; \
         echo $HPCLUSTER_ATTEMPT $HPCLUSTER_SLOT >> {d}/starts; \
         [ $HPCLUSTER_ATTEMPT -ge 2 ] && exit 0; \
         while :; do sleep 1 & wait $!; done"
    );
    let task = serde_json::json!({"cmd": cmd, "time": "30s"});
    let tasks = c.write("tasks.jsonl", &format!("{task}\n"));
    let started = std::time::Instant::now();
    let up = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "120s", "--buffer", "1s"])
        .spawn();
    crate::harness::wait_for(30, "the task's first run", || {
        std::fs::read_to_string(c.path().join("starts")).ok()
    });
    let workers = c.worker_pids();
    assert_eq!(workers.len(), 1, "{workers:?}");
    let warned = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    crate::harness::signal_pid(workers[0], 10); // SIGUSR1
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the run waited for the worker's own clock: {:?}\n{}",
        started.elapsed(),
        out.all()
    );
    let signalled = std::fs::read_to_string(c.path().join("signalled")).unwrap();
    let (attempt, at) = signalled.trim().split_once(' ').unwrap();
    assert_eq!(attempt, "1", "{signalled}");
    let at: u64 = at.parse().unwrap();
    assert!(at <= warned + 3, "checkpoint signal {at}, warning {warned}");
    let starts = std::fs::read_to_string(c.path().join("starts")).unwrap();
    assert_eq!(starts.lines().count(), 2, "{starts}\n{}", out.all());
    let [done, failed, _, retried, walltime_kills, jobs] = summary(&out);
    assert_eq!(
        (done, failed, retried, walltime_kills),
        (1, 0, 0, 0),
        "{}",
        out.all()
    );
    assert!(
        jobs >= 2,
        "the next run is in a new batch job: {}",
        out.all()
    );
    assert!(out.stdout.contains("1 checkpointed"), "{}", out.all());
    let journal = c.journal();
    let runs: Vec<String> = crate::harness::ev(&journal, "started")
        .map(|e| e["job"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(runs.len(), 2, "{journal:?}");
    assert_ne!(runs[0], runs[1], "both runs in one batch job: {journal:?}");
}
