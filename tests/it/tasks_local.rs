//! Issue 4 acceptance on the local backend, with seconds for hours: the seed scenario with
//! and without admission, packing of variable durations, tasks sent ahead to busy slots, and
//! scratch directories. Evidence comes from the summary line, `journal.jsonl` and `jobs.json`;
//! the fault tests are in `tasks_faults.rs`.

use std::collections::HashMap;

use crate::harness::{assert_each_done_once, ev, lines, summary, Test};

/// Walltime 5 s, tasks of 4 s, two batch jobs at a time: each batch job runs one task and
/// ends early; nothing is killed by the walltime.
#[test]
fn seed_scenario_every_task_completes_one_per_batch_job_none_killed() {
    let c = Test::new().cluster("seed").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4"; 4]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "5s", "--task-time", "4s", "--max-jobs", "2"])
        .spawn()
        .wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (4, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 4, &out.all());
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for s in ev(&journal, "started") {
        *per_job
            .entry(s["job"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_job.len(), 4, "{per_job:?}\n{}", out.all());
    assert!(per_job.values().all(|n| *n == 1), "{per_job:?}");
    assert_eq!(jobs, 4, "{}", out.all());
    for (id, (started, ended)) in c.job_times() {
        let (Some(s), Some(e)) = (started, ended) else {
            panic!(
                "batch job {id} has no recorded start or end\n{}\njobs.json: {}",
                out.all(),
                c.jobs_json()
            );
        };
        assert!(
            e - s < 5.0,
            "batch job {id} ran {:.1}s, its walltime is 5s",
            e - s
        );
    }
    let states = c.recorded_states();
    assert!(states.iter().all(|s| s == "done"), "{states:?}");
}

/// The same run without admission starts second tasks that the walltime kills.
#[test]
fn seed_scenario_without_admission_has_tasks_killed_by_the_walltime() {
    let c = Test::new().cluster("seedoff").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4"; 4]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&[
            "--walltime",
            "5s",
            "--task-time",
            "4s",
            "--max-jobs",
            "2",
            "--no-admission",
        ])
        .spawn()
        .wait(120);
    let [_, _, _, retried, killed, _] = summary(&out);
    assert!(killed > 0, "{}", out.all());
    assert!(retried >= killed, "{}", out.all());
    assert!(
        out.stdout
            .contains("some tasks were killed by the walltime"),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert!(
        ev(&journal, "ended").any(|e| e["outcome"] == "requeued"),
        "{journal:#?}"
    );
}

/// Tasks of 1 s and 3 s in batch jobs of 7 s: short tasks are packed, none is started
/// that cannot finish before its batch job's deadline, all complete.
#[test]
fn variable_durations_are_packed_and_never_started_too_late() {
    let c = Test::new().cluster("pack").poll("200ms");
    let mut text = String::new();
    for _ in 0..3 {
        text.push_str("{\"cmd\": \"sleep 3\", \"time\": \"3s\"}\n");
    }
    for _ in 0..6 {
        text.push_str("{\"cmd\": \"sleep 1\", \"time\": \"1s\"}\n");
    }
    let tasks = c.write("tasks.jsonl", &text);
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "7s", "--task-time", "3s", "--max-jobs", "2"])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, _, killed, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, killed),
        (9, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 9, &out.all());
    let times = c.job_times();
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for s in ev(&journal, "started") {
        let id = s["id"].as_u64().unwrap();
        let est = if id < 3 { 3.0 } else { 1.0 };
        let job = s["job"].as_str().unwrap();
        *per_job.entry(job.to_string()).or_default() += 1;
        let start = times[job].0.unwrap();
        let at = s["at"].as_f64().unwrap();
        assert!(
            at + est <= start + 7.0,
            "task {id} started {:.2}s into batch job {job}: a {est}s task cannot finish in 7s",
            at - start
        );
    }
    assert!(per_job.values().any(|n| *n > 1), "no packing: {per_job:?}");
}

/// Short tasks are sent ahead to busy slots: every one still runs exactly once, none is
/// counted as retried, and each slot never holds more than one task waiting.
#[test]
fn short_tasks_sent_ahead_each_run_exactly_once() {
    let c = Test::new().cluster("ahead").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["true"; 300]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&[
            "--walltime",
            "1h",
            "--task-time",
            "1s",
            "--slots",
            "2",
            "--max-jobs",
            "1",
        ])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (300, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 300, &out.all());
    assert_eq!(ev(&journal, "started").count(), 300, "{}", out.all());
    // Sent ahead: some task was started (sent) before the previous task of its slot ended.
    let mut open = 0usize;
    let mut most_open = 0usize;
    for e in &journal {
        match e["ev"].as_str() {
            Some("started") => open += 1,
            Some("ended") => open -= 1,
            _ => {}
        }
        most_open = most_open.max(open);
    }
    assert!(
        (3..=4).contains(&most_open),
        "2 slots with one task each sent ahead hold 3 or 4 tasks at once, saw {most_open}"
    );
}

/// A task sent ahead that no longer fits when its slot frees up (the task before it ran
/// past its estimate) goes back unstarted, costs no retry, and runs in a later batch job.
///
/// Tasks take 4.5 s against an estimate of 2 s, walltime 6 s, no buffer: the server sends the
/// next task ahead while `t0 + 2 + 2 <= 6` (the worker connected at `t0`), the worker finds
/// `t0 + 4.5 + 2 > 6` when the first task ends, and the first task ends before the walltime
/// while `t0 < 1.5 s`: the outcome holds for any worker start under 1.5 s.
#[test]
fn a_task_sent_ahead_that_no_longer_fits_is_given_back_unstarted() {
    let c = Test::new().cluster("giveback").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4.5"; 4]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&[
            "--walltime",
            "6s",
            "--task-time",
            "2s",
            "--buffer",
            "0",
            "--max-jobs",
            "2",
        ])
        .spawn()
        .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (4, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    assert_eq!(jobs, 4, "one task per batch job: {}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 4, &out.all());
    let returned = ev(&journal, "ended")
        .filter(|e| e["outcome"] == "returned")
        .count();
    assert!(
        returned >= 1,
        "no task came back unstarted:\n{journal:#?}\n{}",
        out.all()
    );
}

/// `local_directory` gives each worker a scratch directory of its own, the tasks' `TMPDIR`,
/// removed when the worker ends.
#[test]
fn tasks_get_a_scratch_directory_under_local_directory_removed_at_the_end() {
    let c = Test::new().cluster("scratch").poll("200ms");
    let scratch_root = c.path().join("scratch");
    std::fs::create_dir(&scratch_root).unwrap();
    let tasks = c.write(
        "tasks.txt",
        &lines(&[
            "test \"$TMPDIR\" = \"$HPCLUSTER_LOCAL_DIR\" && test -d \"$TMPDIR\" && echo \"$TMPDIR\" && touch \"$TMPDIR/spill\"",
        ]),
    );
    let cmd = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s"])
        .env("HPCLUSTER_LOCAL_DIRECTORY", &scratch_root);
    let out = cmd.spawn().wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let said = c.task_output(0);
    let seen = std::path::Path::new(said.trim());
    assert!(seen.starts_with(&scratch_root), "TMPDIR {said:?}");
    assert_ne!(seen, scratch_root.as_path());
    assert!(
        !seen.exists(),
        "the scratch directory {seen:?} is left behind"
    );
    assert_eq!(std::fs::read_dir(&scratch_root).unwrap().count(), 0);
}
