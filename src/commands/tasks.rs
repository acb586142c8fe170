//! `hpcluster tasks [--state S] [--json] [ID...]`: every task with its state, how its last run
//! ended, attempts, duration, batch job, host and output file; from the running server or,
//! after a run, the journal ([`super::task_source`]), the same either way. `--json` prints the
//! [`TaskInfo`] array documented in `docs/json.md`.

use crate::cli::TasksArgs;
use crate::config::Config;
use crate::duration::format_human;
use crate::task::{TaskInfo, TaskQuery};

use super::task_source::TaskSource;

pub fn run(config: &Config, args: &TasksArgs) -> anyhow::Result<i32> {
    let mut source = TaskSource::open(config)?;
    let query = TaskQuery {
        ids: args.ids.clone(),
        states: args.state.clone(),
        ..TaskQuery::default()
    };
    let tasks = source.tasks(&query)?;
    if args.state.is_empty() {
        if let Some(id) = args
            .ids
            .iter()
            .find(|id| !tasks.iter().any(|t| t.id == **id))
        {
            anyhow::bail!(
                "no task {id} in the cluster at `{}`: `hpcluster tasks` lists them",
                source.dir().display()
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tasks)?);
        return Ok(0);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    println!(
        "{:>6} {:<9} {:<8} {:>3} {:>9} {:<10} {:<12} {:<30} COMMAND",
        "ID", "STATE", "ENDED", "RUN", "TIME", "JOB", "HOST", "OUTPUT"
    );
    for t in &tasks {
        println!("{}", row(t, &cwd));
    }
    Ok(0)
}

/// One line of the table.
fn row(t: &TaskInfo, cwd: &std::path::Path) -> String {
    let dash = || "-".to_string();
    let ended = if t.state.is_final() {
        t.ending()
    } else {
        dash()
    };
    let time = t.duration.map_or_else(dash, |d| {
        format_human(std::time::Duration::from_secs_f64(d.max(0.0).round()))
    });
    let out = t.stdout.as_deref().map_or_else(dash, |p| {
        let p = std::path::Path::new(p);
        p.strip_prefix(cwd).unwrap_or(p).display().to_string()
    });
    let name = t.name.as_ref().map_or(String::new(), |n| format!("[{n}] "));
    format!(
        "{:>6} {:<9} {:<8} {:>3} {:>9} {:<10} {:<12} {:<30} {name}{}",
        t.id,
        t.state,
        ended,
        t.attempts,
        time,
        t.batch_job.clone().unwrap_or_else(dash),
        t.host.clone().unwrap_or_else(dash),
        out,
        t.command.replace('\n', "\\n")
    )
}
