//! Task definitions: how the user says what to run, turned into [`TaskSpec`]s. One file per
//! form: a tasks file ([`file`]: lines, `.jsonl`, `.toml`), a range of indexes ([`array`],
//! `--array 1-100`) or rows of arguments ([`args`], `--args FILE`: lines, CSV, TSV, JSONL),
//! each filling a command template ([`placeholders`]), or one command. Every task made from a
//! template knows where it came from: `HPCLUSTER_TASK_INDEX` (the array index, or the row's
//! number from 1) and `HPCLUSTER_ARG_<NAME>` (each column, or each word of a plain row as
//! `HPCLUSTER_ARG_1`, ...) are in its environment.

pub mod args;
pub mod array;
mod file;
pub mod placeholders;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use array::{parse_array, ArrayRange};
pub use file::{check_task, parse_tasks, read_tasks, TasksFormat};

use crate::task::TaskSpec;
use placeholders::{parse_template, Values};

/// How the user defined the tasks.
#[derive(Debug, Clone, PartialEq)]
pub enum Definition {
    /// A tasks file (`-`: standard input).
    File(PathBuf),
    /// One task per index, from a command template.
    Array {
        range: ArrayRange,
        command: String,
        name: Option<String>,
    },
    /// One task per row of an arguments file, from a command template.
    Args {
        path: PathBuf,
        command: String,
        name: Option<String>,
    },
    /// One task.
    Command {
        command: String,
        name: Option<String>,
    },
}

/// The tasks a definition makes, in order (their IDs follow that order).
pub fn define(def: &Definition) -> anyhow::Result<Vec<TaskSpec>> {
    let tasks = defined(def)?;
    // A tasks file checks each task as it reads it; a command line, `--array` or `--args`
    // makes tasks that could hold the same faults (a command over 128 KiB, a NUL).
    let origin = match def {
        Definition::File(_) => return Ok(tasks),
        Definition::Command { .. } => "the command line".to_string(),
        Definition::Array { .. } => "`--array`".to_string(),
        Definition::Args { path, .. } => format!("`--args {}`", path.display()),
    };
    for (i, t) in tasks.iter().enumerate() {
        check_task(t, &format!("task {} of {origin}", i + 1))?;
    }
    Ok(tasks)
}

fn defined(def: &Definition) -> anyhow::Result<Vec<TaskSpec>> {
    match def {
        Definition::File(path) => read_tasks(path),
        Definition::Command { command, name } => Ok(vec![TaskSpec {
            cmd: command.clone(),
            name: name.clone(),
            ..TaskSpec::default()
        }]),
        Definition::Array {
            range,
            command,
            name,
        } => {
            let rows = range.indexes().map(|i| args::Row {
                line: 0,
                whole: vec![i.to_string()],
                ..args::Row::default()
            });
            from_rows(rows, command, name.as_deref(), "`--array`")
        }
        Definition::Args {
            path,
            command,
            name,
        } => {
            let (text, origin) = read_text(path)?;
            let rows = args::parse_args(&text, args::ArgsFormat::for_path(path), &origin)?;
            if rows.is_empty() {
                bail!(
                    "the arguments file `{origin}` has no rows: give one row of arguments per task"
                );
            }
            from_rows(
                rows.into_iter(),
                command,
                name.as_deref(),
                &format!("`{origin}`"),
            )
        }
    }
}

/// Fills the templates once per row.
fn from_rows(
    rows: impl Iterator<Item = args::Row>,
    command: &str,
    name: Option<&str>,
    origin: &str,
) -> anyhow::Result<Vec<TaskSpec>> {
    let cmd_t = parse_template(command);
    let name_t = name.map(parse_template);
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        let seq = i as u64 + 1;
        let at = if row.line > 0 {
            format!("{origin} line {}", row.line)
        } else {
            format!("{origin} index {}", row.whole.join(" "))
        };
        let v = Values {
            seq,
            whole: &row.whole,
            fields: &row.fields,
            named: &row.named,
        };
        let cmd = cmd_t
            .fill(&v, true)
            .map_err(|e| anyhow::anyhow!("invalid command template for {at}: {e}"))?;
        let name = match &name_t {
            Some(t) => Some(
                t.fill(&v, false)
                    .map_err(|e| anyhow::anyhow!("invalid `--task-name` for {at}: {e}"))?,
            ),
            None => None,
        };
        out.push(TaskSpec {
            cmd,
            name,
            env: environment(seq, &row),
            ..TaskSpec::default()
        });
    }
    Ok(out)
}

/// The variables that tell a task where it came from.
fn environment(seq: u64, row: &args::Row) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let index = match row.line {
        0 => row.whole.join(" "), // an array index
        _ => seq.to_string(),
    };
    env.insert("HPCLUSTER_TASK_INDEX".to_string(), index);
    if row.named.is_empty() {
        if row.line > 0 {
            for (i, f) in row.fields.iter().enumerate() {
                env.insert(format!("HPCLUSTER_ARG_{}", i + 1), f.clone());
            }
        }
    } else {
        for (k, v) in &row.named {
            env.insert(format!("HPCLUSTER_ARG_{}", env_name(k)), v.clone());
        }
    }
    env
}

/// A column name as part of a variable name: upper case, anything but letters and digits `_`.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn read_text(path: &Path) -> anyhow::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let text = std::io::read_to_string(std::io::stdin())
            .context("failed to read arguments from stdin")?;
        return Ok((text, "<stdin>".to_string()));
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read arguments file `{}`", path.display()))?;
    Ok((text, path.display().to_string()))
}

/// The first `n` tasks as they will run, one line each (`up --dry-run`).
pub fn preview(tasks: &[TaskSpec], n: usize) -> String {
    let mut out = format!(
        "# {} task{}; the first {} as they will run:\n",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" },
        n.min(tasks.len())
    );
    for (id, t) in tasks.iter().enumerate().take(n) {
        let name = t.name.as_ref().map_or(String::new(), |n| format!(" ({n})"));
        out.push_str(&format!(
            "# task {id}{name}: {}\n",
            t.cmd.replace('\n', "\\n")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_fills_the_index_and_tells_the_task() {
        let def = Definition::Array {
            range: parse_array("1-5:2").unwrap(),
            command: "./sim --seed {} --n {#}".into(),
            name: Some("seed-{}".into()),
        };
        let t = define(&def).unwrap();
        let cmds: Vec<_> = t.iter().map(|t| t.cmd.as_str()).collect();
        assert_eq!(
            cmds,
            [
                "./sim --seed 1 --n 1",
                "./sim --seed 3 --n 2",
                "./sim --seed 5 --n 3"
            ]
        );
        assert_eq!(t[2].name.as_deref(), Some("seed-5"));
        assert_eq!(t[2].env["HPCLUSTER_TASK_INDEX"], "5");
    }

    #[test]
    fn csv_rows_fill_columns_by_name_and_set_variables() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.csv");
        std::fs::write(&p, "alpha,beta,run label\n0.1,2,a b\n0.3,4,c\n").unwrap();
        let def = Definition::Args {
            path: p.clone(),
            command: "./fit --alpha {alpha} --beta {2} {3}".into(),
            name: None,
        };
        let t = define(&def).unwrap();
        assert_eq!(t[0].cmd, "./fit --alpha 0.1 --beta 2 'a b'");
        assert_eq!(t[1].env["HPCLUSTER_ARG_RUN_LABEL"], "c");
        assert_eq!(t[1].env["HPCLUSTER_TASK_INDEX"], "2");
        let bad = Definition::Args {
            path: p.clone(),
            command: "./fit {gamma}".into(),
            name: None,
        };
        let e = define(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "invalid command template for `{}` line 2: `{{gamma}}` has no value: the \
                 columns are `{{alpha}}`, `{{beta}}`, `{{run label}}`",
                p.display()
            )
        );
    }

    #[test]
    fn the_preview_shows_ids_names_and_commands() {
        let t = vec![
            TaskSpec {
                cmd: "a".into(),
                name: Some("x".into()),
                ..TaskSpec::default()
            },
            TaskSpec {
                cmd: "b".into(),
                ..TaskSpec::default()
            },
        ];
        assert_eq!(
            preview(&t, 1),
            "# 2 tasks; the first 1 as they will run:\n# task 0 (x): a\n"
        );
    }
}
