//! What `up` says about tasks around its run: without tasks, how to submit them to it; at the
//! end, below the summary line, the first tasks that did not succeed (how each ended, where its
//! stderr is) and where every task's output is. The end is read from the journal `up` just
//! closed, the same record `hpcluster tasks` reads, one entry at a time ([`scan`]): a long
//! journal costs a byte a task, not its whole replay.

use std::collections::BTreeSet;
use std::path::Path;

use crate::journal::scan;
use crate::task::{StateName, TaskInfo};

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
    let now = crate::time::unix_now().as_secs_f64();
    for line in tasks_summary(cluster_dir, now) {
        println!("{line}");
    }
}

/// The lines of [`print_tasks_summary`] at `now` (Unix seconds). The journal is read twice,
/// one entry at a time: every task's state, then the tasks shown in full.
pub fn tasks_summary(cluster_dir: &Path, now: f64) -> Vec<String> {
    let journal = cluster_dir.join("journal.jsonl");
    let Ok(Some(states)) = scan::states(&journal) else {
        return Vec::new();
    };
    let unsuccessful = |s: &StateName| matches!(s, StateName::Failed | StateName::Killed);
    let total = states.iter().filter(|s| unsuccessful(s)).count();
    let shown: BTreeSet<u64> = (0u64..)
        .zip(&states)
        .filter(|(_, s)| unsuccessful(s))
        .map(|(id, _)| id)
        .take(FAILED_SHOWN as usize)
        .collect();
    let Ok(tasks) = scan::tasks(&journal, &shown) else {
        return Vec::new();
    };
    let infos: Vec<TaskInfo> = tasks
        .iter()
        .map(|(id, t)| t.info(*id, now).with_outputs(cluster_dir))
        .collect();
    let mut out = unsuccessful_lines(&infos, total);
    if !states.is_empty() {
        let (stdout, stderr) = crate::task::output_paths(cluster_dir, 0);
        out.push(format!(
            "task outputs: {} and {}, and so on for each task ID (`hpcluster logs ID` prints them)",
            stdout.display(),
            stderr.display()
        ));
    }
    out
}

/// The tasks that did not succeed, `shown` of `total`: how each ended, where its stderr is.
fn unsuccessful_lines(shown: &[TaskInfo], total: usize) -> Vec<String> {
    if shown.is_empty() {
        return Vec::new();
    }
    let first = if total > shown.len() {
        format!(" (the first {} of {total})", shown.len())
    } else {
        String::new()
    };
    let mut out = vec![format!("tasks that did not succeed{first}:")];
    for t in shown {
        let name = t.name.as_ref().map_or(String::new(), |n| format!(" ({n})"));
        let why = t.reason.clone().unwrap_or_else(|| t.ending());
        out.push(format!(
            "  task {}{name}: {why}; stderr: {}",
            t.id,
            t.stderr.as_deref().unwrap_or("-")
        ));
    }
    out.push(
        "`hpcluster tasks --state failed,killed` lists them all; `hpcluster retry --failed` \
         queues them again"
            .to_string(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30 tasks: done, failed, killed, killed by the walltime, cancelled in turn; every fourth
    /// named; task 1 failed and was retried.
    fn journal_of_many() -> String {
        let mut j = String::new();
        for i in 0..30u64 {
            let name = if i % 4 == 1 {
                format!(",\"name\":\"n{i}\"")
            } else {
                String::new()
            };
            j.push_str(&format!(
                "{{\"ev\":\"added\",\"id\":{i},\"spec\":{{\"cmd\":\"c{i}\"{name}}}}}\n"
            ));
        }
        for i in 0..30u64 {
            j.push_str(&format!(
                "{{\"ev\":\"started\",\"id\":{i},\"worker\":1,\"job\":\"7\",\"at\":{}}}\n",
                100 + i
            ));
            let end = match i % 5 {
                0 => "\"outcome\":\"done\"".to_string(),
                1 => format!(
                    "\"outcome\":\"failed\",\"reason\":\"exit status {i}\",\"exit_code\":{i}"
                ),
                2 => {
                    "\"outcome\":\"killed\",\"reason\":\"killed by signal 15\",\"signal\":15".into()
                }
                3 => {
                    "\"outcome\":\"failed\",\"reason\":\"killed by the walltime\",\"walltime\":true"
                        .into()
                }
                _ => "\"outcome\":\"cancelled\",\"reason\":\"cancelled\"".into(),
            };
            j.push_str(&format!(
                "{{\"ev\":\"ended\",\"id\":{i},{end},\"secs\":1.5,\"at\":{}}}\n",
                102 + i
            ));
        }
        j.push_str("{\"ev\":\"retried\",\"id\":1,\"at\":500}\n");
        j
    }

    /// The lines are those `up` printed when it replayed the whole journal (captured then).
    #[test]
    fn the_first_ten_tasks_that_did_not_succeed_are_listed_with_their_stderr() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.jsonl"), journal_of_many()).unwrap();
        let d = dir.path().display();
        let task = |id: u64, why: &str| format!("  task {id}{why}; stderr: {d}/tasks/000/{id}.err");
        let want = vec![
            "tasks that did not succeed (the first 10 of 17):".to_string(),
            task(2, ": killed by signal 15"),
            task(3, ": killed by the walltime"),
            task(6, ": exit status 6"),
            task(7, ": killed by signal 15"),
            task(8, ": killed by the walltime"),
            task(11, ": exit status 11"),
            task(12, ": killed by signal 15"),
            task(13, " (n13): killed by the walltime"),
            task(16, ": exit status 16"),
            task(17, " (n17): killed by signal 15"),
            "`hpcluster tasks --state failed,killed` lists them all; `hpcluster retry --failed` \
             queues them again"
                .to_string(),
            format!(
                "task outputs: {d}/tasks/000/0.out and {d}/tasks/000/0.err, and so on for each \
                 task ID (`hpcluster logs ID` prints them)"
            ),
        ];
        assert_eq!(tasks_summary(dir.path(), 1000.0), want);
    }

    #[test]
    fn the_crafted_ledger_journal_lists_its_failed_and_killed_tasks() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ledger");
        let lines = tasks_summary(&dir, 1e10);
        let d = dir.display();
        assert_eq!(lines[0], "tasks that did not succeed:");
        assert_eq!(
            lines[1],
            format!("  task 1: exit status 1; stderr: {d}/tasks/000/1.err")
        );
        assert_eq!(
            lines[2],
            format!("  task 5: killed by signal 9; stderr: {d}/tasks/000/5.err")
        );
        assert_eq!(lines.len(), 5);
        let none = tempfile::tempdir().unwrap();
        assert!(tasks_summary(none.path(), 0.0).is_empty());
    }
}
