//! Tasks files: what `up --tasks` and `submit --tasks` read.
//!
//! Three forms, chosen by the file name: plain text (one shell command per line, `#` comments
//! and blank lines skipped), `.jsonl` (one JSON object per line) and `.toml` (`[[task]]`
//! tables). Structured tasks have `cmd` and optionally `name`, `time` (a duration such as
//! `"2h"`, or seconds), `cwd`, `env`, `retries`, `retries_on_failure`, `timeout` (a
//! duration) and `checkpointable` (true or false). Parsing is pure; errors name the file, the line and what was expected.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

use crate::task::TaskSpec;

/// The form of a tasks file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TasksFormat {
    Lines,
    JsonLines,
    Toml,
}

impl TasksFormat {
    /// The form a file name implies (`-`, stdin, is plain lines).
    pub fn for_path(path: &std::path::Path) -> TasksFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") | Some("ndjson") => TasksFormat::JsonLines,
            Some("toml") => TasksFormat::Toml,
            _ => TasksFormat::Lines,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a task object with `cmd`")]
struct RawTask {
    cmd: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time: Option<RawTime>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retries_on_failure: Option<u32>,
    #[serde(default)]
    timeout: Option<RawTime>,
    #[serde(default)]
    checkpointable: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawTime {
    Seconds(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlTasks {
    task: Vec<RawTask>,
}

/// Parses a tasks file's text; `origin` names it in errors.
pub fn parse_tasks(text: &str, format: TasksFormat, origin: &str) -> anyhow::Result<Vec<TaskSpec>> {
    let tasks = match format {
        TasksFormat::Lines => parse_lines(text, origin)?,
        TasksFormat::JsonLines => parse_json_lines(text, origin)?,
        TasksFormat::Toml => {
            let raw: TomlTasks = toml::from_str(text).map_err(|e| {
                anyhow!(
                    "invalid tasks file `{origin}`: {}expected `[[task]]` tables with `cmd = \"...\"` and optional name, time, cwd, env, retries, retries_on_failure, timeout, checkpointable",
                    e
                )
            })?;
            raw.task
                .into_iter()
                .enumerate()
                .map(|(i, t)| convert(t, &format!("`{origin}` task {}", i + 1)))
                .collect::<anyhow::Result<_>>()?
        }
    };
    Ok(tasks)
}

fn parse_lines(text: &str, origin: &str) -> anyhow::Result<Vec<TaskSpec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cmd = line.trim();
        if cmd.is_empty() || cmd.starts_with('#') {
            continue;
        }
        if cmd.contains('\0') {
            bail!(
                "invalid tasks file `{origin}` line {}: the command contains a NUL byte",
                n + 1
            );
        }
        let spec = TaskSpec {
            cmd: cmd.to_string(),
            ..TaskSpec::default()
        };
        check_task(&spec, &format!("`{origin}` line {}", n + 1))?;
        out.push(spec);
    }
    Ok(out)
}

fn parse_json_lines(text: &str, origin: &str) -> anyhow::Result<Vec<TaskSpec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let raw: RawTask = serde_json::from_str(line).map_err(|e| {
            anyhow!(
                "invalid tasks file `{origin}` line {}: {e}; expected an object like {{\"cmd\": \"./run 1\", \"time\": \"2h\"}}",
                n + 1
            )
        })?;
        out.push(convert(raw, &format!("`{origin}` line {}", n + 1))?);
    }
    Ok(out)
}

/// The longest `time` a task may give: ten years (no walltime comes near it; a larger number is
/// a mistake, and once overflowed the clock arithmetic of every part).
const MAX_TASK_SECS: f64 = 10.0 * 365.0 * 86400.0;

fn convert(raw: RawTask, at: &str) -> anyhow::Result<TaskSpec> {
    if raw.cmd.trim().is_empty() {
        bail!("invalid task at {at}: `cmd` is empty; give the shell command to run");
    }
    let spec = TaskSpec {
        cmd: raw.cmd,
        name: raw.name,
        time: seconds(raw.time, "time", at)?,
        cwd: raw.cwd,
        env: raw.env,
        retries: raw.retries,
        retries_on_failure: raw.retries_on_failure,
        timeout: seconds(raw.timeout, "timeout", at)?,
        attempt: None,
        checkpointable: raw.checkpointable,
        checkpoint: None,
    };
    check_task(&spec, at)?;
    Ok(spec)
}

/// A time given as seconds or as a duration (`"2h"`), in seconds; `key` names it in errors.
fn seconds(raw: Option<RawTime>, key: &str, at: &str) -> anyhow::Result<Option<f64>> {
    Ok(match raw {
        None => None,
        Some(RawTime::Seconds(s)) if s > 0.0 && s <= MAX_TASK_SECS => Some(s),
        Some(RawTime::Seconds(s)) => bail!(
            "invalid task at {at}: `{key}` {s} must be a positive number of seconds up to \
             {MAX_TASK_SECS} (ten years), or a duration like \"2h\""
        ),
        Some(RawTime::Text(t)) => {
            let d = crate::duration::parse_duration(&t)
                .with_context(|| format!("invalid task at {at}: `{key}`"))?;
            if d.is_zero() {
                bail!("invalid task at {at}: `{key}` must be longer than zero");
            }
            if d.as_secs_f64() > MAX_TASK_SECS {
                bail!("invalid task at {at}: `{key}` {t} is longer than ten years");
            }
            Some(d.as_secs_f64())
        }
    })
}

/// The longest single argument Linux passes to a program (`MAX_ARG_STRLEN`, 32 pages, with
/// its NUL): a longer `cmd` makes `/bin/sh -c` fail with E2BIG on every node.
pub const MAX_COMMAND_BYTES: usize = 128 * 1024 - 1;

/// Refuses, when the tasks are read, what could never start: a `cmd` over
/// [`MAX_COMMAND_BYTES`] or holding a NUL, an `env` name that is empty or holds `=` or a NUL
/// (or a value with a NUL), a `cwd` that is empty or holds a NUL. `at` names the task.
pub fn check_task(spec: &TaskSpec, at: &str) -> anyhow::Result<()> {
    let cmd = &spec.cmd;
    if cmd.contains('\0') {
        bail!("invalid task at {at}: `cmd` contains a NUL byte, which no command can hold");
    }
    if cmd.len() > MAX_COMMAND_BYTES {
        bail!(
            "invalid task at {at}: `cmd` is {} bytes, more than the {MAX_COMMAND_BYTES} the \
             system passes as one argument (`/bin/sh -c` would fail with E2BIG): put the \
             command in a script file and give `sh that-script.sh` as the command",
            cmd.len()
        );
    }
    for (name, value) in &spec.env {
        if name.is_empty() || name.contains(['=', '\0']) {
            bail!(
                "invalid task at {at}: `env` name {name:?} is not a variable name: it must be \
                 non-empty and hold no `=` and no NUL byte"
            );
        }
        if value.contains('\0') {
            bail!("invalid task at {at}: `env` value of `{name}` contains a NUL byte");
        }
    }
    match spec.cwd.as_deref() {
        Some("") => bail!("invalid task at {at}: `cwd` is empty; give a directory or remove it"),
        Some(cwd) if cwd.contains('\0') => {
            bail!("invalid task at {at}: `cwd` {cwd:?} contains a NUL byte")
        }
        _ => Ok(()),
    }
}

/// Reads a tasks file (`-` is stdin).
pub fn read_tasks(path: &std::path::Path) -> anyhow::Result<Vec<TaskSpec>> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("failed to read tasks from stdin")?
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("failed to read tasks file `{}`", path.display()))?
    };
    let origin = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    parse_tasks(&text, TasksFormat::for_path(path), &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_skip_comments_and_blanks() {
        let t = parse_tasks(
            "# header\n\n./a 1\n  ./b 2  \n#x\n",
            TasksFormat::Lines,
            "t.txt",
        )
        .unwrap();
        let cmds: Vec<_> = t.iter().map(|t| t.cmd.as_str()).collect();
        assert_eq!(cmds, ["./a 1", "./b 2"]);
    }

    #[test]
    fn json_lines_take_time_as_text_or_seconds() {
        let t = parse_tasks(
            "{\"cmd\":\"a\",\"time\":\"2h\",\"name\":\"x\"}\n{\"cmd\":\"b\",\"time\":30,\"env\":{\"K\":\"V\"}}\n",
            TasksFormat::JsonLines,
            "t.jsonl",
        )
        .unwrap();
        assert_eq!(t[0].time, Some(7200.0));
        assert_eq!(t[0].name.as_deref(), Some("x"));
        assert_eq!(t[1].time, Some(30.0));
        assert_eq!(t[1].env["K"], "V");
    }

    #[test]
    fn toml_tasks() {
        let t = parse_tasks(
            "[[task]]\ncmd = \"a\"\ntime = \"90m\"\nretries = 1\nretries_on_failure = 2\ntimeout = \"2h\"\n[[task]]\ncmd = \"b\"\ncwd = \"/tmp\"\n",
            TasksFormat::Toml,
            "t.toml",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].time, Some(5400.0));
        assert_eq!(t[0].retries, Some(1));
        assert_eq!(t[0].retries_on_failure, Some(2));
        assert_eq!(t[0].timeout, Some(7200.0));
        assert_eq!(t[1].cwd.as_deref(), Some("/tmp"));
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        let e = parse_tasks(
            "{\"cmd\":\"a\"}\n{\"cmnd\":\"b\"}\n",
            TasksFormat::JsonLines,
            "t.jsonl",
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("`t.jsonl` line 2") && e.contains("unknown field `cmnd`"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse_tasks(
                "{\"cmd\":\"a\",\"time\":\"soon\"}",
                TasksFormat::JsonLines,
                "t.jsonl"
            )
            .unwrap_err()
        );
        assert!(
            e.contains("line 1") && e.contains("expected one of 5h"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse_tasks("{\"cmd\":\"  \"}", TasksFormat::JsonLines, "t.jsonl").unwrap_err()
        );
        assert!(e.contains("`cmd` is empty"), "{e}");
        let e = format!(
            "{:#}",
            parse_tasks("true\n", TasksFormat::JsonLines, "t.jsonl").unwrap_err()
        );
        assert!(
            e.contains("expected a task object with `cmd`") && !e.contains("RawTask"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse_tasks("[[task]]\nname = 1\n", TasksFormat::Toml, "t.toml").unwrap_err()
        );
        assert!(e.contains("`t.toml`") && e.contains("[[task]]"), "{e}");
    }
}
