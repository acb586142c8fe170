//! `hpcluster cancel ID...`: pending tasks leave the queue, running ones are stopped by their
//! worker; both end `cancelled`. Through the running server, or in the journal when none runs.

use crate::cli::CancelArgs;
use crate::config::Config;

use super::task_source::{Changes, TaskSource};

pub fn run(config: &Config, args: &CancelArgs) -> anyhow::Result<i32> {
    let mut source = TaskSource::open(config)?;
    let c = source.cancel(&args.ids)?;
    Ok(report(&c, "cancelled"))
}

/// Prints what a change did (the changed IDs on stdout, each refusal on stderr); exit status
/// 1 if any task was refused.
pub fn report(c: &Changes, verb: &str) -> i32 {
    if !c.changed.is_empty() {
        let ids: Vec<String> = c.changed.iter().map(|i| i.to_string()).collect();
        println!(
            "{verb} {} task{}: {}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            ids.join(" ")
        );
    }
    for r in &c.refused {
        eprintln!("error: task {} was not {verb}: {}", r.id, r.reason);
    }
    i32::from(!c.refused.is_empty())
}
