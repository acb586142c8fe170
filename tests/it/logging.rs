//! Issue 8, item 4: what `hpcluster up` writes on stderr. On a terminal (a pty from util-linux's
//! `script`) the status line is redrawn in place and log lines are never glued to it; with
//! `TERM=dumb`, without `TERM`, or into a pipe there is no escape code at all; with `-v` every
//! log line starts with a timestamp. Self-contained: each run has its own temp dir as working
//! directory and `HOME`, the local backend and a clean environment.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TASKS: &str = "sleep 0.5\nsleep 0.5\nsleep 0.7\n";

/// `hpcluster ARGS up --walltime 5s --task-time 1s --max-jobs 1 --tasks tasks.txt` (one batch
/// job, so its submission is one known log line) in a fresh temp dir, with
/// only `PATH`, `HOME` and `env` set; through `script` (stdout and stderr on a pty, captured
/// together) when `pty`, else with both into pipes. Returns (stdout, stderr) as bytes;
/// with a pty, everything is in the first.
fn up(args: &[&str], env: &[(&str, &str)], pty: bool) -> (Vec<u8>, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tasks.txt"), TASKS).unwrap();
    let bin = env!("CARGO_BIN_EXE_hpcluster");
    let mut argv: Vec<&str> = args.to_vec();
    argv.extend([
        "up",
        "--walltime",
        "5s",
        "--task-time",
        "1s",
        "--max-jobs",
        "1",
        "--tasks",
        "tasks.txt",
    ]);
    let mut cmd = if pty {
        let line = std::iter::once(bin)
            .chain(argv.iter().copied())
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = Command::new("script");
        // -e: script exits with the command's status; -q: no "Script started" lines.
        c.args(["-qec", &line, "/dev/null"]);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(&argv);
        c
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", tmp.path().join("home"))
        .env("XDG_CONFIG_HOME", tmp.path().join("xdg"))
        .envs(env.iter().copied())
        .current_dir(tmp.path())
        .stdin(Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let all = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {all}", cmd = argv);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 task(s) done, 0 failed"),
        "no summary: {all}"
    );
    (out.stdout, out.stderr)
}

/// Runs `cmd` to its end, killing it after `limit` (so a hung pty fails the test, not CI).
fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {cmd:?}: {e} (`script` comes with util-linux: bsdutils on Debian)")
        });
    let pid = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > limit {
            // SAFETY: plain kill(2) of the child we spawned.
            crate::harness::signal_pid(pid as i32, 9);
            panic!("{cmd:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

/// Single-quoted for `sh -c`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The text with every escape sequence removed (CSI `ESC [ ... final`, and two-byte `ESC x`).
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// What a terminal shows as separate lines: the text cut at every `\n` and at every `\r`
/// (the redraw returns to the start of the line and clears it before it writes).
fn segments(s: &str) -> Vec<String> {
    strip_escapes(s)
        .split(['\r', '\n'])
        .map(String::from)
        .collect()
}

fn has_escape(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b)
}

#[test]
fn on_a_terminal_log_lines_are_never_glued_to_the_status_line() {
    let (screen, _) = up(&[], &[("TERM", "xterm")], true);
    let screen = String::from_utf8_lossy(&screen);
    // The status line was drawn and redrawn in place, or this test proves nothing.
    assert!(has_escape(screen.as_bytes()), "no redraw: {screen:?}");
    let segs = segments(&screen);
    assert!(
        segs.iter().any(|s| s.starts_with("tasks: ")),
        "no status line: {screen:?}"
    );
    let logs: Vec<&String> = segs.iter().filter(|s| s.contains("hpcluster:")).collect();
    assert!(
        logs.iter().any(|s| s.contains("submitted 1 batch job")),
        "{screen:?}"
    );
    for seg in &logs {
        assert!(
            seg.starts_with("hpcluster: "),
            "a log line glued to other text: {seg:?} in {screen:?}"
        );
    }
    assert!(!screen.contains("runninghpcluster:"), "{screen:?}");
    // The summary (stdout) starts a line of its own after the last status line.
    assert!(
        segs.iter()
            .any(|s| s.starts_with("3 task(s) done, 0 failed")),
        "{screen:?}"
    );
}

#[test]
fn a_dumb_terminal_or_none_gets_plain_lines_without_escapes() {
    for env in [&[("TERM", "dumb")][..], &[]] {
        let (screen, _) = up(&[], env, true);
        let text = String::from_utf8_lossy(&screen);
        assert!(!has_escape(&screen), "{env:?}: {text:?}");
        assert!(text.contains("hpcluster: tasks: "), "{env:?}: {text:?}");
        assert!(
            text.contains("hpcluster: submitted 1 batch job"),
            "{text:?}"
        );
    }
}

#[test]
fn stderr_into_a_pipe_gets_plain_lines_without_escapes() {
    let (stdout, stderr) = up(&[], &[("TERM", "xterm")], false);
    assert!(
        !has_escape(&stdout),
        "{:?}",
        String::from_utf8_lossy(&stdout)
    );
    assert!(
        !has_escape(&stderr),
        "{:?}",
        String::from_utf8_lossy(&stderr)
    );
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(stderr.contains("hpcluster: tasks: "), "{stderr}");
    for line in stderr.lines() {
        assert!(line.starts_with("hpcluster: "), "{line:?} in {stderr}");
    }
}

#[test]
fn verbose_lines_carry_a_timestamp() {
    let (_, stderr) = up(&["-v"], &[("TERM", "xterm")], false);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        stderr.contains(" hpcluster: submitted 1 batch job"),
        "{stderr}"
    );
    for line in stderr.lines() {
        let (stamp, rest) = line.split_once(' ').unwrap_or((line, ""));
        assert!(
            is_rfc3339_utc(stamp),
            "no timestamp on {line:?} in {stderr}"
        );
        assert!(rest.starts_with("hpcluster: "), "{line:?} in {stderr}");
    }
    // -vv adds the level after the timestamp.
    let (_, stderr) = up(&["-vv"], &[("TERM", "xterm")], false);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.ends_with(" INFO hpcluster: submitted 1 batch job: local-1")),
        "{stderr}"
    );
}

#[test]
fn rust_log_overrides_the_flags() {
    let (_, stderr) = up(&["-v"], &[("RUST_LOG", "warn")], false);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!stderr.contains("submitted"), "{stderr}");
    assert!(!stderr.contains("tasks: "), "{stderr}");
}

/// `2026-05-01T12:34:56.789012Z`
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && s.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            26 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn the_checks_catch_the_old_glued_output() {
    // What the review saw: the old redraw (`\r\x1b[2K` + line) followed by a log line.
    let old = "\r\x1b[2Ktasks: 0 done, 0 running, 3 pending, 0 failed | batch jobs: 0 pending, 0 \
               runninghpcluster: submitted 1 batch job\n";
    let glued = segments(old)
        .into_iter()
        .filter(|s| s.contains("hpcluster:"))
        .any(|s| !s.starts_with("hpcluster: "));
    assert!(glued);
    assert!(is_rfc3339_utc("2026-05-01T12:34:56.789012Z"));
    assert!(!is_rfc3339_utc("hpcluster:"));
}
