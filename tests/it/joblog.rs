//! Issue 10, item 6: `up --joblog FILE` writes GNU parallel's joblog, checked with GNU
//! parallel itself: `parallel --retry-failed --joblog FILE` reads it without complaint and runs
//! again exactly the commands whose runs failed (by `Exitval` or `Signal`), and each line's
//! `Exitval` is the exit status the task itself recorded. Skipped with a reason when `parallel`
//! is not installed (`apt-get install parallel`; `scripts/test.sh` installs it as root), and
//! mandatory under `CI=true`.

use std::collections::BTreeMap;
use std::process::Command;

use crate::harness::Test;

/// Whether GNU parallel is here; under `CI=true` its absence fails the test.
fn gnu_parallel() -> bool {
    let ok = Command::new("parallel")
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("GNU parallel")
        });
    if !ok {
        let reason = "GNU `parallel` is not installed: the joblog cannot be checked against it";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{reason} (CI=true makes it mandatory; `apt-get install parallel`)");
        }
        eprintln!("skipped: {reason}; `apt-get install parallel` to run this test");
    }
    ok
}

/// The joblog's lines after its header, by Seq: (Exitval, Signal, Command).
fn lines(text: &str) -> Vec<(u64, i32, i32, String)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(9, '\t').collect();
            assert_eq!(f.len(), 9, "{l:?}");
            (
                f[0].parse().unwrap(),
                f[6].parse().unwrap(),
                f[7].parse().unwrap(),
                f[8].to_string(),
            )
        })
        .collect()
}

#[test]
fn the_joblog_reads_as_gnu_parallels_and_its_exit_values_are_the_tasks() {
    if !gnu_parallel() {
        return;
    }
    let c = Test::new().cluster("joblog").poll("200ms");
    let dir = c.path().display().to_string();
    // Each task records the status it exits with before exiting; task 4 is killed by a
    // signal (9) it sends itself.
    let codes = [0, 3, 0, 1, -9, 0, 2];
    let cmds: Vec<String> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| match code {
            -9 => format!("echo killed > {dir}/code.{i}; kill -9 $$"),
            c => format!("echo {c} > {dir}/code.{i}; exit {c}"),
        })
        .collect();
    let tasks = c.write("tasks.txt", &(cmds.join("\n") + "\n"));
    let log = c.path().join("run.joblog");
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s", "--slots", "2"])
        .args(&["--joblog", log.to_str().unwrap()])
        .output();
    assert_eq!(out.code, Some(1), "{}", out.all());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with(
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
        ),
        "{text}"
    );
    let ours = lines(&text);
    assert_eq!(
        ours.len(),
        codes.len(),
        "one line per finished run:\n{text}"
    );
    for (seq, exitval, signal, cmd) in &ours {
        let id = (*seq - 1) as usize;
        assert_eq!(cmd, &cmds[id]);
        let recorded = std::fs::read_to_string(c.path().join(format!("code.{id}"))).unwrap();
        match recorded.trim() {
            "killed" => assert_eq!((*exitval, *signal), (0, 9), "task {id}"),
            code => assert_eq!(
                (exitval.to_string(), *signal),
                (code.to_string(), 0),
                "task {id}"
            ),
        }
    }

    // GNU parallel reads it and runs exactly the failed commands again (the others as `true`).
    let copy = c.path().join("copy.joblog");
    std::fs::copy(&log, &copy).unwrap();
    let par = Command::new("parallel")
        .args(["--will-cite", "--retry-failed", "--joblog"])
        .arg(&copy)
        .current_dir(c.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&par.stderr);
    assert!(!stderr.contains("is wrong"), "{stderr}");
    assert_eq!(par.status.code(), Some(4), "4 jobs fail again: {par:?}");
    let after = std::fs::read_to_string(&copy).unwrap();
    let appended = &lines(&after)[codes.len()..];
    let rerun: BTreeMap<u64, String> = appended
        .iter()
        .filter(|(_, _, _, cmd)| cmd != "true")
        .map(|(seq, _, _, cmd)| (*seq, cmd.clone()))
        .collect();
    let failed: BTreeMap<u64, String> = codes
        .iter()
        .enumerate()
        .filter(|(_, code)| **code != 0)
        .map(|(i, _)| (i as u64 + 1, cmds[i].clone()))
        .collect();
    assert_eq!(rerun, failed, "{after}");
}
