//! `hpcluster explain ID`: the task, how it stands, and why: for a pending task what it waits
//! for (its place in the queue, its estimate against the workers' time left, its retries, the
//! batch jobs), for a running one where, for an ended one how it ended and what to do.

use crate::cli::ExplainArgs;
use crate::config::Config;
use crate::duration::format_human;
use crate::task::{StateName, TaskInfo};

use super::task_source::TaskSource;

pub fn run(config: &Config, args: &ExplainArgs) -> anyhow::Result<i32> {
    let mut source = TaskSource::open(config)?;
    let (task, why) = source.explain(args.id)?;
    println!("{}", headline(&task));
    for line in ending(&task).into_iter().chain(why) {
        println!("  {line}");
    }
    Ok(0)
}

fn headline(t: &TaskInfo) -> String {
    let name = t.name.as_ref().map_or(String::new(), |n| format!(" ({n})"));
    format!(
        "task {}{name} is {}: {}",
        t.id,
        t.state,
        t.command.replace('\n', "\\n")
    )
}

/// What an ended task's last run says, and what to do about it.
fn ending(t: &TaskInfo) -> Vec<String> {
    let mut out = Vec::new();
    let runs = format!(
        "{} run{}",
        t.attempts,
        if t.attempts == 1 { "" } else { "s" }
    );
    let took = t
        .duration
        .map(|d| {
            format!(
                " after {}",
                format_human(std::time::Duration::from_secs_f64(d.max(0.0)))
            )
        })
        .unwrap_or_default();
    let place = match (&t.batch_job, &t.host) {
        (Some(j), Some(h)) => format!(" in batch job {j} on {h}"),
        (None, Some(h)) => format!(" on {h}"),
        _ => String::new(),
    };
    match t.state {
        StateName::Done => out.push(format!("it ended with exit status 0{took}{place} ({runs})")),
        StateName::Failed | StateName::Killed => {
            let why = t.reason.clone().unwrap_or_else(|| t.ending());
            out.push(format!("its last run{place} ended{took}: {why} ({runs})"));
            if let Some(err) = &t.stderr {
                out.push(format!(
                    "its stderr: {err} (`hpcluster logs {} --stderr`)",
                    t.id
                ));
            }
            out.push(format!("`hpcluster retry {}` runs it again", t.id));
        }
        StateName::Cancelled => {
            out.push(t.reason.clone().unwrap_or_else(|| "cancelled".into()));
            out.push(format!("`hpcluster retry {}` runs it again", t.id));
        }
        StateName::Pending | StateName::Running => {}
    }
    out
}
