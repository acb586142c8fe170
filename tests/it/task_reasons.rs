//! Issue 13 item 8: a task that cannot run says why. A missing `cwd` and a command with an
//! environment too large for the system (E2BIG) fail with that reason in the journal and `up`'s
//! warning, and the details (the path and host, the sizes) in the task's stderr file (before:
//! "exit status 127" and nothing else); a task whose own
//! `time` can never fit the walltime is named by `plan --tasks`, `up --dry-run` and `up`, with
//! the walltime that would fit it, and `up` fails it at once and runs the others.

use crate::harness::{ends, Test};

fn task_stderr(c: &Test, id: u64) -> String {
    let file = c.cluster_dir().join(format!("tasks/000/{id}.err"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn a_task_that_cannot_start_says_why_in_its_stderr() {
    let c = Test::new().cluster("why").poll("200ms");
    let big = "x".repeat(200_000);
    let tasks = c.write(
        "t.jsonl",
        &format!(
            "{{\"cmd\":\"echo hi\",\"cwd\":\"/nonexistent/hpcluster-dir\"}}\n\
             {{\"cmd\":\"echo big\",\"env\":{{\"BIG\":\"{big}\"}}}}\n\
             {{\"cmd\":\"echo ok\"}}\n"
        ),
    );
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s"])
        .spawn()
        .wait(60);
    // `up` exits 1 when a task failed.
    assert_eq!(out.code, Some(1), "{}", out.all());
    let journal = c.journal();
    assert_eq!(
        (ends(&journal, 0, "failed"), ends(&journal, 1, "failed")),
        (1, 1)
    );
    assert_eq!(ends(&journal, 2, "done"), 1);
    // The journal and `up` say why, not "exit status 127".
    let reason = |id: u64| {
        let e = journal.iter().find(|e| e["ev"] == "ended" && e["id"] == id);
        e.map(|e| e["reason"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let cwd_reason = "could not start: its `cwd` is not a directory on the compute node (its \
                      .err file names it and the host)";
    let e2big_reason = "could not start: its command and `env` are more than the system \
                        passes to a program (E2BIG; its .err file gives the sizes): put the \
                        command in a script file";
    assert_eq!(
        (reason(0).as_str(), reason(1).as_str()),
        (cwd_reason, e2big_reason)
    );
    assert!(
        out.stderr.contains(&format!(
            "hpcluster: warning: task 0 failed: {cwd_reason}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("exit status 127"), "{}", out.stderr);
    let cwd = task_stderr(&c, 0);
    assert!(
        cwd.starts_with(
            "hpcluster: task 0 could not start: its `cwd` `/nonexistent/hpcluster-dir` is not a \
             directory on host `"
        ) && cwd.ends_with(
            "`: create it on a filesystem the compute nodes see, or fix the task's `cwd`\n"
        ),
        "{cwd}"
    );
    assert_eq!(
        task_stderr(&c, 1),
        "hpcluster: task 1 could not start: its command (8 bytes) and `env` (200005 bytes) are \
         more than the system passes to a program (E2BIG; see `getconf ARG_MAX`, and one \
         argument or variable may hold 128 KiB at most): put the command in a script file, and \
         large values in files\n"
    );
}

const NEVER: &str = "1 task(s) of `t.jsonl` can never start: their own `time` exceeds the 1h54m \
                     a batch job of walltime 2h offers (walltime - startup - buffer)\n  \
                     task 2 `sleep 1`: time 3h, fits a walltime of 3h10m\n\
                     raise `walltime` to 3h10m or more, or lower those tasks' `time`";

fn never_fitting_tasks(c: &Test) {
    c.write(
        "t.jsonl",
        "{\"cmd\":\"echo fits\",\"time\":\"1h\"}\n{\"cmd\":\"sleep 1\",\"time\":\"3h\"}\n",
    );
}

#[test]
fn plan_names_a_task_that_can_never_fit_with_the_walltime_that_would() {
    let c = Test::new();
    never_fitting_tasks(&c);
    let out = c.run(&[
        "plan",
        "--walltime",
        "2h",
        "--task-time",
        "1h",
        "--tasks",
        "t.jsonl",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr, format!("error: {NEVER}\n"));
}

#[test]
fn up_dry_run_and_up_name_it_and_up_fails_it_and_runs_the_others() {
    let c = Test::new().cluster("never").poll("200ms");
    never_fitting_tasks(&c);
    let args = [
        "--walltime",
        "2h",
        "--task-time",
        "1h",
        "--tasks",
        "t.jsonl",
    ];
    let dry = c.hpcluster(&["up", "--dry-run"]).args(&args).output();
    assert_eq!(dry.code, Some(0), "{}", dry.all());
    let warning =
        format!("hpcluster: warning: {NEVER}; `up` fails them at once and runs the others\n");
    assert!(dry.stderr.contains(&warning), "{}", dry.stderr);
    let up = c
        .hpcluster(&["up", "--backend", "local"])
        .args(&args)
        .output();
    assert_eq!(up.code, Some(1), "a task failed: {}", up.all());
    assert!(up.stderr.contains(&warning), "{}", up.stderr);
    let journal = c.journal();
    assert_eq!(ends(&journal, 0, "done"), 1, "{journal:?}");
    assert_eq!(ends(&journal, 1, "failed"), 0, "never started: {journal:?}");
    assert!(
        !journal.iter().any(|e| e["ev"] == "started" && e["id"] == 1),
        "{journal:?}"
    );
}
