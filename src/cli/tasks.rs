//! What the user typed about tasks: how `up` and `submit` define them ([`TaskDefArgs`]), and
//! the arguments of the task commands (`tasks`, `logs`, `retry`, `cancel`, `wait`, `explain`).
//! Clap derive only, like the rest of [`crate::cli`].

use std::path::PathBuf;

use clap::Args;

use crate::task::{StateName, TaskId};
use crate::tasks::Definition;

/// How tasks are given on the command line (`up`, `submit`): a tasks file, or a command
/// (after `--`) run once, once per index of `--array`, or once per row of `--args`.
#[derive(Debug, Clone, Default, Args)]
pub struct TaskDefArgs {
    /// Tasks file: one shell command per line (`-` for stdin), or a .toml / .jsonl file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["array", "args", "command"])]
    pub tasks: Option<PathBuf>,
    /// One task per index, FIRST-LAST[:STEP]: the command after `--` gets it as `{}`.
    #[arg(
        long,
        value_name = "RANGE",
        conflicts_with = "args",
        requires = "command"
    )]
    pub array: Option<String>,
    /// One task per row of FILE (lines; .csv or .tsv with a header; .jsonl): the command after
    /// `--` gets the row as `{}`, its fields as `{1}`, `{2}`, its columns as `{name}`.
    #[arg(long, value_name = "FILE", requires = "command")]
    pub args: Option<PathBuf>,
    /// Name of the task(s); with `--array` or `--args` a template like the command (`seed-{}`).
    #[arg(long = "task-name", value_name = "NAME")]
    pub task_name: Option<String>,
    /// The command to run (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl TaskDefArgs {
    /// The definition the user gave, if any.
    pub fn definition(&self) -> anyhow::Result<Option<Definition>> {
        let command = crate::tasks::placeholders::join_words(&self.command);
        let name = self.task_name.clone();
        Ok(Some(match (&self.tasks, &self.array, &self.args) {
            (Some(path), _, _) => Definition::File(path.clone()),
            (None, Some(range), _) => Definition::Array {
                range: crate::tasks::parse_array(range)?,
                command,
                name,
            },
            (None, None, Some(path)) => Definition::Args {
                path: path.clone(),
                command,
                name,
            },
            (None, None, None) if !self.command.is_empty() => Definition::Command { command, name },
            (None, None, None) => return Ok(None),
        }))
    }
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Only tasks in these states (repeat, or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub state: Vec<StateName>,
    /// Print JSON: an array of tasks (see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Only these task IDs.
    #[arg(value_name = "ID")]
    pub ids: Vec<TaskId>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Print stderr instead of stdout.
    #[arg(long)]
    pub stderr: bool,
    /// Keep printing what the task writes until it ends.
    #[arg(long, short)]
    pub follow: bool,
    /// The task.
    #[arg(value_name = "ID")]
    pub id: TaskId,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Every failed or killed task.
    #[arg(long)]
    pub failed: bool,
    /// These tasks (any that have ended).
    #[arg(value_name = "ID", required_unless_present = "failed")]
    pub ids: Vec<TaskId>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// The tasks (pending or running).
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<TaskId>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Give up after this long (exit status 124).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// These tasks; none: every task of the cluster.
    #[arg(value_name = "ID")]
    pub ids: Vec<TaskId>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// The task.
    #[arg(value_name = "ID")]
    pub id: TaskId,
}
