//! What `up` says about tasks around its run: without tasks, how to submit them to it; at the
//! end, below the summary line, the first tasks that did not succeed (how each ended, where its
//! stderr is) and where every task's output is. The end is read from the journal `up` just
//! closed: the same record `hpcluster tasks` reads.

use std::path::Path;

use crate::journal::read_journal;
use crate::task::{StateName, TaskQuery};

/// Tasks that did not succeed listed below the summary line at most.
pub const FAILED_SHOWN: u32 = 10;

/// The line `up` without tasks logs: how to give it tasks.
pub fn how_to_submit(cluster: &str) -> String {
    let name = if cluster == crate::config::Config::default().name {
        String::new()
    } else {
        format!(" --name {cluster}")
    };
    format!(
        "no tasks given: this cluster takes tasks until Ctrl-C; submit them from another \
         terminal with `hpcluster submit{name} -- COMMAND`, `hpcluster submit{name} --tasks \
         FILE` or `hpcluster submit{name} --array 1-10 -- COMMAND {{}}`"
    )
}

/// Prints the first tasks that did not succeed and where the outputs are (nothing if the
/// journal cannot be read: the summary line has been printed already).
pub fn print_tasks_summary(cluster_dir: &Path) {
    let Ok(Some(replay)) = read_journal(&cluster_dir.join("journal.jsonl")) else {
        return;
    };
    let query = TaskQuery {
        states: vec![StateName::Failed, StateName::Killed],
        limit: Some(FAILED_SHOWN),
        ..TaskQuery::default()
    };
    let page = replay.page(&query, crate::time::unix_now().as_secs_f64());
    let total = replay.counts().failed + replay.counts().killed;
    if !page.tasks.is_empty() {
        println!(
            "tasks that did not succeed{}:",
            if total > page.tasks.len() {
                format!(" (the first {} of {total})", page.tasks.len())
            } else {
                String::new()
            }
        );
        for t in page.tasks {
            let t = t.with_outputs(cluster_dir);
            let name = t.name.as_ref().map_or(String::new(), |n| format!(" ({n})"));
            let why = t.reason.clone().unwrap_or_else(|| t.ending());
            println!(
                "  task {}{name}: {why}; stderr: {}",
                t.id,
                t.stderr.as_deref().unwrap_or("-")
            );
        }
        println!("`hpcluster tasks --state failed,killed` lists them all; `hpcluster retry --failed` queues them again");
    }
    if !replay.tasks.is_empty() {
        let (out, err) = crate::task::output_paths(cluster_dir, 0);
        println!(
            "task outputs: {} and {}, and so on for each task ID (`hpcluster logs ID` prints them)",
            out.display(),
            err.display()
        );
    }
}
