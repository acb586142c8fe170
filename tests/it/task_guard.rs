//! Issue 11 item 3: a task never outlives its worker. A worker killed with SIGKILL mid-task,
//! while its batch job goes on (its script's epilogue holds it, as a SLURM job whose
//! `proctrack/pgid` misses the task's process group would): every process of the task is
//! gone within 1 s, by the task's own PID files, and only the requeued copy completes. The
//! same with the guard's own look at its worker made rare: the parent-death signal alone ends
//! the task at once.

use std::time::{Duration, Instant};

use crate::harness::{ev, signal_pid, summary, wait_for, Test};

/// Whether process `pid` still runs (a zombie, waiting for its parent to read its end, does
/// not).
fn runs(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z")
        }
        Err(_) => false,
    }
}

#[test]
fn a_worker_killed_mid_task_takes_the_task_and_its_children_with_it() {
    worker_killed_mid_task(Test::new());
}

/// The fake-SLURM soak's two copies at once (seeds 1100040, 1200053, 1200054): the guard woke
/// only every 50 ms to look at its worker, so a task outlived its worker's kill -9 by up to
/// 50 ms while the server, told at once by the closed connection, had given it to another
/// worker. With that look made every 10 s, only the parent-death signal can end the task
/// within 1 s.
#[test]
fn the_parent_death_signal_alone_ends_the_task_at_once() {
    worker_killed_mid_task(Test::new().env("HPCLUSTER_GUARD_POLL_MS", "10000"));
}

fn worker_killed_mid_task(c: Test) {
    // The batch job outlives a killed worker by 15 s, so the local supervisor's sweep of the
    // job's session cannot be what ends the task: only the guard can.
    let c = c
        .cluster("guard")
        .poll("200ms")
        .config("job_script_epilogue = [\"[ $? -eq 0 ] || sleep 15\"]\n");
    let d = c.path().display().to_string();
    // The first copy starts a child and waits for it; a second copy (the marker exists)
    // completes on its own. Each completion is recorded by the copy that made it.
    let task = format!(
        "if [ -e {d}/first ]; then sleep 4; echo second $HPCLUSTER_ATTEMPT >> {d}/completions; exit 0; fi; \
         touch {d}/first; sleep 3 & echo $! > {d}/child.pid; echo $$ > {d}/task.pid; wait; \
         echo first >> {d}/completions\n"
    );
    let tasks = c.write("tasks.txt", &task);
    let up = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "60s", "--task-time", "10s", "--max-jobs", "2"])
        .spawn();
    let pid = |f: &str| -> Option<i32> {
        std::fs::read_to_string(c.path().join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let (task_pid, child_pid) = wait_for(30, "the task's PID files", || {
        Some((pid("task.pid")?, pid("child.pid")?))
    });
    assert!(runs(task_pid) && runs(child_pid));
    let workers = c.worker_pids();
    assert_eq!(workers.len(), 1, "{workers:?}");
    signal_pid(workers[0], 9);
    let killed = Instant::now();
    while (runs(task_pid) || runs(child_pid)) && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<i32> = [task_pid, child_pid]
        .into_iter()
        .filter(|p| runs(*p))
        .collect();
    let took = killed.elapsed();
    let out = up.wait(90);
    assert!(
        left.is_empty(),
        "processes of the task left 1 s after its worker was killed: {left:?}\n{}",
        out.all()
    );
    eprintln!("the task's processes ended {took:?} after its worker was killed");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (1, 0), "{}", out.all());
    let completions = std::fs::read_to_string(c.path().join("completions")).unwrap_or_default();
    // The requeued copy knows it is the task's second run.
    assert_eq!(
        completions, "second 2\n",
        "only the requeued copy completes"
    );
    let journal = c.journal();
    assert_eq!(ev(&journal, "started").count(), 2, "{journal:#?}");
}
