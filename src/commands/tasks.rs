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

/// One line of the table. A task that ended otherwise than by an exit status or a signal has
/// its reason after its command (`# timed out after 1m (task_timeout 1m)`).
fn row(t: &TaskInfo, cwd: &std::path::Path) -> String {
    let dash = || "-".to_string();
    let ended = match (t.state.is_final(), t.exit_code, t.signal) {
        (true, Some(c), _) => format!("exit {c}"),
        (true, None, Some(s)) => format!("signal {s}"),
        _ => dash(),
    };
    let time = t.duration.map_or_else(dash, |d| {
        format_human(std::time::Duration::from_secs_f64(d.max(0.0).round()))
    });
    let out = t.stdout.as_deref().map_or_else(dash, |p| {
        let p = std::path::Path::new(p);
        p.strip_prefix(cwd).unwrap_or(p).display().to_string()
    });
    let name = t.name.as_ref().map_or(String::new(), |n| format!("[{n}] "));
    let why = match (&t.reason, t.state.is_final() && ended == "-") {
        (Some(r), true) => format!("  # {r}"),
        _ => String::new(),
    };
    format!(
        "{:>6} {:<9} {:<8} {:>3} {:>9} {:<10} {:<12} {:<30} {name}{}{why}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::StateName;

    #[test]
    fn a_row_names_how_the_task_ended_and_why_when_no_exit_status_says() {
        let t = TaskInfo {
            id: 7,
            name: Some("seed-8".into()),
            command: "sleep 99".into(),
            state: StateName::Failed,
            reason: Some("timed out after 1m (task_timeout 1m)".into()),
            exit_code: None,
            signal: None,
            attempts: 2,
            duration: Some(61.2),
            started_at: Some(1.0),
            batch_job: Some("4242".into()),
            host: Some("node17".into()),
            stdout: Some("/run/.hpcluster/c/tasks/000/7.out".into()),
            stderr: None,
        };
        assert_eq!(
            row(&t, std::path::Path::new("/run")),
            "     7 failed    -          2      1m1s 4242       node17       \
             .hpcluster/c/tasks/000/7.out   [seed-8] sleep 99  # timed out after 1m \
             (task_timeout 1m)"
        );
        let done = TaskInfo {
            state: StateName::Done,
            exit_code: Some(0),
            reason: None,
            ..t
        };
        assert!(row(&done, std::path::Path::new("/x")).contains(" done      exit 0 "));
    }
}
