//! Issue 12 acceptance on the local backend, with seconds for hours: a run without
//! `task_time` learns from its first finished task and kills nothing; short tasks run as many
//! at once as `max_jobs` allows. Evidence comes from what the tasks wrote (their batch job and
//! clock at start and end) and from the local batch system's record (`jobs.json`), not from
//! hpcluster's own summary.

use std::collections::HashMap;

use crate::harness::{lines, Test};

/// One line a task wrote: (task, batch job, Unix time).
fn stamps(t: &Test, file: &str) -> Vec<(u64, String, f64)> {
    std::fs::read_to_string(t.path().join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[0].parse().unwrap(),
                w[1].to_string(),
                w[2].parse().unwrap(),
            )
        })
        .collect()
}

/// A task that stamps its start and end (task ID, batch job, clock) into the sandbox.
fn stamped(t: &Test, body: &str) -> String {
    let dir = t.path().display();
    let stamp = "\"$HPCLUSTER_TASK_ID $HPCLUSTER_LOCAL_JOB_ID $(date +%s.%N)\"";
    format!("echo {stamp} >> {dir}/starts; {body}; echo {stamp} >> {dir}/ends")
}

/// The seed failure without `task_time` (issue 12): 6 tasks of 3 s, walltime 5 s, two batch
/// jobs at a time. Measured on main: 3 of 6 killed by the walltime. Now every task starts
/// once and ends, no batch job reaches its walltime, and each ends within 1 s of its last
/// task; the first submission asks for 2 batch jobs (main asked for 1).
#[test]
fn without_task_time_nothing_is_killed_and_batch_jobs_end_with_their_last_task() {
    let c = Test::new().cluster("learn").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&[stamped(&c, "sleep 3").as_str(); 6]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "5s", "--max-jobs", "2"])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let (starts, ends) = (stamps(&c, "starts"), stamps(&c, "ends"));
    let mut ids: Vec<u64> = starts.iter().map(|s| s.0).collect();
    ids.sort();
    assert_eq!(ids, (0..6).collect::<Vec<_>>(), "each task started once");
    assert_eq!(ends.len(), 6, "each task ended: {ends:?}\n{}", out.all());
    let jobs = c.jobs_json();
    let jobs = jobs["jobs"].as_array().unwrap();
    let first_submission: Vec<_> = jobs
        .iter()
        .filter(|j| j["name"] == jobs[0]["name"])
        .collect();
    assert_eq!(first_submission.len(), 2, "{jobs:#?}");
    let times = c.job_times();
    let mut last_end: HashMap<&str, f64> = HashMap::new();
    for (_, job, at) in &ends {
        let e = last_end.entry(job.as_str()).or_insert(0.0);
        *e = e.max(*at);
    }
    for j in jobs {
        let id = j["id"]["id"].as_str().unwrap();
        assert_eq!(j["state"], "done", "{id} reached its walltime: {jobs:#?}");
        let (Some(started), Some(ended)) = times[id] else {
            panic!("{id} has no start or end: {jobs:#?}");
        };
        let last = last_end.get(id).copied().unwrap_or(started);
        assert!(
            ended - last <= 1.0,
            "batch job {id} ended {:.2}s after its last task\n{}",
            ended - last,
            out.all()
        );
    }
}

/// 20 tasks of 1 s, walltime 1 h, `max_jobs` 10 (the default): ten run at once (main
/// submitted one batch job and ran them one after another for 20 s), and the core-hours the
/// batch jobs consumed stay within 20% of the tasks' own.
#[test]
fn short_tasks_run_as_many_at_once_as_max_jobs_allows() {
    let c = Test::new().cluster("wide").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&[stamped(&c, "sleep 1").as_str(); 20]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h"])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let (starts, ends) = (stamps(&c, "starts"), stamps(&c, "ends"));
    assert_eq!((starts.len(), ends.len()), (20, 20), "{}", out.all());
    // The most tasks running at one moment, from their own clocks.
    let mut edges: Vec<(f64, i32)> = starts.iter().map(|s| (s.2, 1)).collect();
    edges.extend(ends.iter().map(|e| (e.2, -1)));
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    assert_eq!(most, 10, "at most {most} tasks ran at once\n{}", out.all());
    let own: f64 = starts
        .iter()
        .map(|(id, _, s)| ends.iter().find(|e| e.0 == *id).unwrap().2 - s)
        .sum();
    let times = c.job_times();
    assert_eq!(times.len(), 10, "{}", c.jobs_json());
    let consumed: f64 = times.values().map(|(s, e)| e.unwrap() - s.unwrap()).sum();
    assert!(
        consumed <= own * 1.2,
        "batch jobs consumed {consumed:.1} s for {own:.1} s of tasks\n{}",
        out.all()
    );
}
