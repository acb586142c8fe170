//! Issue 10, items 2 to 5 on the local backend: after a run where 3 of 20 tasks exit non-zero,
//! `tasks --state failed --json` lists exactly those with their exit codes, `retry --failed`
//! and `up` again run only them (the tasks' own log of runs proves it), and `wait` exits as
//! documented; a task that needs more than the walltime is started at most once and fails with
//! the walltime that would fit it; a run past its timeout is killed and fails, after its
//! `retries_on_failure`.

use serde_json::Value;

use crate::harness::{ends, ev, summary, Test};

const FAILING: [(u64, i32); 3] = [(4, 3), (9, 4), (15, 5)];

/// 20 tasks that append their ID to `runs`; tasks 4, 9 and 15 exit 3, 4, 5 until `fixed`
/// exists.
fn twenty_tasks(c: &Test) -> String {
    let dir = c.path().display().to_string();
    (0..20u64)
        .map(|id| match FAILING.iter().find(|(f, _)| *f == id) {
            Some((_, code)) => {
                format!("echo {id} >> {dir}/runs; test -e {dir}/fixed || exit {code}\n")
            }
            None => format!("echo {id} >> {dir}/runs\n"),
        })
        .collect()
}

/// Line `id` of the tasks file, as the task's command.
fn tasks_line(c: &Test, id: usize) -> String {
    twenty_tasks(c).lines().nth(id).unwrap().to_string()
}

fn runs(c: &Test) -> Vec<u64> {
    std::fs::read_to_string(c.path().join("runs"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn json(out: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn three_failed_of_twenty_are_listed_retried_alone_and_waited_for() {
    let c = Test::new().cluster("fix").poll("200ms");
    let tasks = c.write("tasks.txt", &twenty_tasks(&c));
    let up = |c: &Test| {
        c.up_tasks("local", &tasks)
            .args(&["--walltime", "1h", "--task-time", "1s", "--slots", "2"])
            .output()
    };
    let first = up(&c);
    assert_eq!(first.code, Some(1), "{}", first.all());
    assert_eq!(summary(&first)[..3], [17, 3, 0], "{}", first.all());
    let mut ran = runs(&c);
    ran.sort_unstable();
    assert_eq!(ran, (0..20).collect::<Vec<_>>(), "each task ran once");
    // The summary names them, with their exit status and stderr.
    for (id, code) in FAILING {
        let line = format!("  task {id}: exit status {code}; stderr: ");
        assert!(first.stdout.contains(&line), "{line}\n{}", first.all());
    }

    let failed = json(&c.run_ok(&["tasks", "--state", "failed", "--json"]));
    let got: Vec<(u64, i64)> = failed
        .iter()
        .map(|t| (t["id"].as_u64().unwrap(), t["exit_code"].as_i64().unwrap()))
        .collect();
    let want: Vec<(u64, i64)> = FAILING.iter().map(|(i, c)| (*i, *c as i64)).collect();
    assert_eq!(got, want);
    for t in &failed {
        assert_eq!(t["state"], "failed");
        assert_eq!(t["attempts"], 1);
        let err = t["stderr"].as_str().unwrap();
        assert!(err.ends_with(&format!("/{}.err", t["id"])), "{err}");
    }

    // wait: 1 when some failed, 0 for done tasks, 2 for an unknown one.
    assert_eq!(c.run(&["wait"]).code, Some(1));
    assert_eq!(c.run(&["wait", "0", "1"]).code, Some(0));
    assert_eq!(c.run(&["wait", "4"]).code, Some(1));
    let unknown = c.run(&["wait", "99"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.all());
    assert!(unknown
        .stderr
        .starts_with("error: no task 99 in the cluster at `"));

    // explain, from the journal: how it ended and what to do.
    let why = c.run_ok(&["explain", "4"]);
    let lines: Vec<&str> = why.lines().collect();
    assert_eq!(lines[0], format!("task 4 is failed: {}", tasks_line(&c, 4)));
    // The batch job its last run had, as the journal recorded it (several batch jobs start at
    // once: any of them may take task 4).
    let job = c
        .journal()
        .iter()
        .rev()
        .find(|e| e["ev"] == "started" && e["id"] == 4)
        .and_then(|e| e["job"].as_str().map(String::from))
        .expect("a start of task 4 in the journal");
    assert!(
        lines[1].starts_with(&format!("  its last run in batch job {job} on "))
            && lines[1].ends_with(": exit status 3 (1 run)"),
        "{why}"
    );
    assert!(
        lines[2].starts_with("  its stderr: ")
            && lines[2].ends_with("4.err (`hpcluster logs 4 --stderr`)"),
        "{why}"
    );
    assert_eq!(lines[3], "  `hpcluster retry 4` runs it again");

    let retried = c.run_ok(&["retry", "--failed"]);
    assert!(
        retried.starts_with("queued again 3 tasks: 4 9 15\n"),
        "{retried}"
    );
    let why = c.run_ok(&["explain", "4"]);
    assert_eq!(
        why.lines().nth(1),
        Some(
            "  no server runs for this cluster, so nothing runs it now: start `hpcluster up` (it \
             resumes the journal)"
        ),
        "{why}"
    );
    // Pending, and no server to run them: following one says so.
    let follow = c.run(&["logs", "4", "--follow"]);
    assert_eq!(follow.code, Some(1), "{}", follow.all());
    assert_eq!(
        follow.stderr,
        "error: task 4 is pending and no server runs for this cluster: start `hpcluster up` (it \
         resumes the journal), then follow it again\n"
    );
    let waiting = c.run(&["wait"]);
    assert_eq!(waiting.code, Some(3), "{}", waiting.all());
    assert!(
        waiting.stderr.contains("no server runs for cluster"),
        "{}",
        waiting.all()
    );

    std::fs::write(c.path().join("fixed"), "").unwrap();
    let second = up(&c);
    assert_eq!(second.code, Some(0), "{}", second.all());
    assert!(
        second.stderr.contains("resuming them, 0 new"),
        "{}",
        second.all()
    );
    let ran = runs(&c);
    assert_eq!(ran.len(), 23, "{ran:?}");
    let mut again = ran[20..].to_vec();
    again.sort_unstable();
    assert_eq!(again, [4, 9, 15], "only the failed tasks ran again");
    assert_eq!(c.run(&["wait"]).code, Some(0));
    let journal = c.journal();
    assert_eq!(ev(&journal, "retried").count(), 3);
    for (id, _) in FAILING {
        assert_eq!(ends(&journal, id, "failed"), 1);
        assert_eq!(ends(&journal, id, "done"), 1);
    }
}

/// `sleep 8` with a walltime of 6 s (and no estimate to stop it): it starts once, is killed
/// by the walltime and fails with what it needs; the other tasks run as usual.
#[test]
fn a_task_longer_than_the_walltime_starts_at_most_once_and_fails_with_the_walltime_that_fits() {
    let c = Test::new().cluster("hopeless").poll("200ms");
    let dir = c.path().display().to_string();
    let tasks = c.write(
        "tasks.txt",
        &format!(
            "echo start >> {dir}/long; sleep 8\necho 1 >> {dir}/ok\necho 2 >> {dir}/ok\necho 3 >> {dir}/ok\n"
        ),
    );
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "6s", "--max-jobs", "2"])
        .spawn()
        .wait(90);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(summary(&out)[..3], [3, 1, 0], "{}", out.all());
    let starts = std::fs::read_to_string(c.path().join("long")).unwrap();
    assert_eq!(starts, "start\n", "it started once");
    let ok = std::fs::read_to_string(c.path().join("ok")).unwrap();
    assert_eq!(ok.lines().count(), 3, "{ok}");
    let journal = c.journal();
    assert_eq!(ev(&journal, "started").filter(|e| e["id"] == 0).count(), 1);
    let failed = json(&c.run_ok(&["tasks", "--state", "failed", "--json"]));
    assert_eq!(failed.len(), 1);
    let reason = failed[0]["reason"].as_str().unwrap();
    // "needs more than the walltime allows: ran >= 5.8s, usable 5.7s; raise `walltime` to 7s"
    let rest = reason
        .strip_prefix("needs more than the walltime allows: ran >= ")
        .unwrap_or_else(|| panic!("{reason}"));
    let (ran, rest) = rest
        .split_once("s, usable 5.7s; raise `walltime` to ")
        .unwrap();
    let ran: f64 = ran.parse().unwrap();
    let fits: f64 = rest.strip_suffix('s').unwrap().parse().unwrap();
    assert!((5.0..=6.0).contains(&ran), "{reason}");
    // The walltime named fits what the run showed: usable (95%) >= 110% of the run.
    assert!(fits * 0.95 >= ran * 1.1 && fits > 6.0, "{reason}");
    // Its real running time, not 0 s.
    assert!(failed[0]["duration"].as_f64().unwrap() >= 5.0, "{failed:?}");
}

/// A run past its `timeout` is killed (with what it started) and fails with the reason, after
/// it ran again once (`retries_on_failure = 1`); the other task is unaffected.
#[test]
fn a_run_past_its_timeout_is_killed_and_fails_after_its_reruns() {
    let c = Test::new().cluster("timeout").poll("200ms");
    let dir = c.path().display().to_string();
    let tasks = c.write(
        "tasks.jsonl",
        &format!(
            "{{\"cmd\": \"echo $$ >> {dir}/pids; sleep 30; echo late >> {dir}/late\", \"timeout\": \"1s\", \"retries_on_failure\": 1}}\n{{\"cmd\": \"echo fine > {dir}/fine\"}}\n"
        ),
    );
    let t0 = std::time::Instant::now();
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1m", "--task-time", "2s"])
        .output();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(t0.elapsed().as_secs() < 30, "the sleeps were not cut short");
    let pids = std::fs::read_to_string(c.path().join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 2, "ran twice: {pids}");
    for pid in pids.lines() {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "task process {pid} still runs"
        );
    }
    assert!(!c.path().join("late").exists());
    assert!(c.path().join("fine").exists());
    let journal = c.journal();
    assert_eq!(ends(&journal, 0, "rerun"), 1, "{journal:#?}");
    let failed = json(&c.run_ok(&["tasks", "--state", "failed", "--json"]));
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("timed out after 1")
            && reason.ends_with("(task_timeout 1s), 2 times (retries_on_failure = 1)"),
        "{reason}"
    );
    assert_eq!(failed[0]["attempts"], 2);
}

/// A task a signal ends (here its own `kill -9`) is `killed`, with the signal, and makes `up`
/// exit 1 like a failure.
#[test]
fn a_task_killed_by_a_signal_is_listed_killed_and_fails_the_run() {
    let c = Test::new().cluster("killed").poll("200ms");
    let tasks = c.write("tasks.txt", "kill -9 $$\ntrue\n");
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s"])
        .output();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(summary(&out)[..3], [1, 1, 0], "{}", out.all());
    assert!(
        out.stdout
            .contains("  task 0: killed by signal 9; stderr: "),
        "{}",
        out.all()
    );
    let killed = json(&c.run_ok(&["tasks", "--state", "killed", "--json"]));
    assert_eq!(killed.len(), 1);
    assert_eq!(
        (killed[0]["signal"].as_i64(), &killed[0]["exit_code"]),
        (Some(9), &Value::Null)
    );
    assert_eq!(c.run(&["wait"]).code, Some(1));
}

/// The task commands on a cluster that never ran, and on a task it does not have, word for
/// word.
#[test]
fn task_commands_name_a_missing_cluster_or_task() {
    let c = Test::new().cluster("none");
    let out = c.run(&["tasks"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!(
            "error: no cluster `{}` at `{}`: it has no journal yet; check `--name` and \
             `cluster_root`, or start it with `hpcluster up`\n",
            c.name(),
            c.cluster_dir().display()
        )
    );
    let tasks = c.write("t.txt", "true\n");
    c.up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s"])
        .ok();
    for args in [&["logs", "5"][..], &["explain", "5"], &["tasks", "5"]] {
        let out = c.run(args);
        assert_eq!(out.code, Some(1), "{args:?}");
        let dir = c.cluster_dir().display().to_string();
        let expected = match args[0] {
            "tasks" => format!(
                "error: no task 5 in the cluster at `{dir}`: `hpcluster tasks` lists them\n"
            ),
            _ => format!("error: no task 5 in the cluster at `{dir}`\n"),
        };
        assert_eq!(out.stderr, expected, "{args:?}");
    }
}
