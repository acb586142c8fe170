//! Issue 10, item 8: every data command writing into a closed pipe ends quietly, as coreutils
//! do: exit status 0 (it finished before the reader left) or 141, nothing on stderr, never a
//! panic (it was exit 101 with "failed printing to stdout: Broken pipe"). Checked two ways:
//! 100 runs of each command read one byte and close the pipe (`hpcluster status | head -c1`),
//! and one run whose pipe has no reader from the start, which must end 141.

use std::io::Read;
use std::process::Stdio;

use crate::harness::{lines, Test};

/// A cluster after a run of one task that printed more than a pipe holds.
fn cluster() -> Test {
    let c = Test::new().cluster("pipe").poll("200ms");
    let tasks = c.write("tasks.txt", &lines(&["seq 1 100000", "true"]));
    let out = c
        .up_tasks("local", &tasks)
        .args(&["--walltime", "1h", "--task-time", "1s"])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    c
}

const COMMANDS: &[&[&str]] = &[
    &["status"],
    &["status", "--json"],
    &["tasks"],
    &["tasks", "--json"],
    &["config", "show"],
    &["config", "show", "--json"],
    &["plan", "--walltime", "5h", "--task-time", "1h"],
    &["plan", "--walltime", "5h", "--task-time", "1h", "--json"],
    &["completions", "bash"],
    &["render", "--backend", "slurm"],
    &["logs", "0"],
    &["explain", "0"],
];

#[test]
fn every_data_command_into_a_pipe_closed_after_one_byte_ends_quietly_100_times() {
    let c = cluster();
    for args in COMMANDS {
        let mut codes = std::collections::BTreeMap::new();
        for _ in 0..100 {
            let mut child = c
                .hpcluster(args)
                .command()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = child.stdout.take().unwrap();
            let mut byte = [0u8; 1];
            let n = out.read(&mut byte).unwrap();
            assert_eq!(n, 1, "{args:?} printed nothing");
            drop(out);
            let done = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&done.stderr);
            let code = done.status.code();
            assert!(
                matches!(code, Some(0) | Some(141)) && stderr.is_empty(),
                "{args:?}: exit {code:?}, stderr: {stderr}"
            );
            *codes.entry(code).or_insert(0) += 1;
        }
        eprintln!("{args:?}: exit statuses {codes:?}");
    }
}

#[test]
fn every_data_command_into_a_pipe_without_a_reader_exits_141_silently() {
    let c = cluster();
    for args in COMMANDS {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let done = c
            .hpcluster(args)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}
