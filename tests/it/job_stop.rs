//! A batch job the batch system stops while a task runs (cancelled, preempted, out of
//! walltime), on the fake SLURM that runs its batch jobs (`FAKE_EXECUTE`). SLURM signals every
//! process of the job, so the task may die of the SIGTERM before its worker sees its own: the
//! task is requeued with the worker's stop, not failed.

use std::time::Duration;

use crate::harness::{ev, signal_pid, summary, wait_for, Test};

/// The process group of process `pid`.
fn group_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit(')').next().unwrap();
    after.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// The fake-SLURM soak's task failed as `killed by signal 15` when its batch job was
/// cancelled (seed 1200074). Here SIGTERM reaches the task's process group 100 ms before the
/// worker, as SLURM's signal to every process may: the task is requeued and runs again.
#[test]
fn a_task_killed_by_its_batch_jobs_stop_before_its_worker_is_requeued_not_failed() {
    let t = Test::new()
        .cluster("jobstop")
        .fakes()
        .poll("200ms")
        .env("FAKE_EXECUTE", "1")
        .env("HPCLUSTER_MAX_JOBS", "1");
    let d = t.path().display().to_string();
    let task = format!(
        "if [ -e {d}/first ]; then exit 0; fi; touch {d}/first; echo $$ > {d}/task.pid; sleep 30\n"
    );
    let tasks = t.write("tasks.txt", &task);
    let up = t
        .up_tasks("slurm", &tasks)
        .args(&["--walltime", "1m", "--task-time", "40s"])
        .spawn();
    let task_pid: i32 = wait_for(30, "the task's PID file", || {
        std::fs::read_to_string(t.path().join("task.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    let workers = t.worker_pids();
    assert_eq!(workers.len(), 1, "{workers:?}");
    signal_pid(-group_of(task_pid), 15);
    std::thread::sleep(Duration::from_millis(100));
    signal_pid(workers[0], 15);
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (1, 0), "{}", out.all());
    let journal = t.journal();
    assert_eq!(ev(&journal, "started").count(), 2, "{journal:#?}");
}
