//! A journal replayed without its task table, for what `up` prints at its end about the tasks
//! that did not succeed: a first pass keeps one byte a task, its state ([`states`]); a second
//! replays in full only the few tasks asked for ([`tasks`]). Both read the file one entry at a
//! time ([`super::stream`]), so a journal of any length costs the memory of a small table,
//! not that of the whole replay ([`super::parse_journal`]), whose states and errors (a task
//! added out of order, an entry of an unknown task) they share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::{stream, Entry, ReplayedTask};
use crate::task::StateName;

/// The state of every task the journal at `path` holds, by ID (`None`: there is no journal).
pub fn states(path: &Path) -> anyhow::Result<Option<Vec<StateName>>> {
    let Some(entries) = stream::entries(path)? else {
        return Ok(None);
    };
    let mut states: Vec<StateName> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let id = match &entry {
            Entry::Added { id, .. }
            | Entry::Started { id, .. }
            | Entry::Ended { id, .. }
            | Entry::Retried { id, .. }
            | Entry::Forgiven { id, .. } => *id,
        };
        let state = match &entry {
            Entry::Added { .. } => {
                if id as usize != states.len() {
                    bail!(
                        "journal `{}`: task {id} added out of order (expected {})",
                        path.display(),
                        states.len()
                    );
                }
                states.push(StateName::Pending);
                continue;
            }
            Entry::Started { .. } => StateName::Running,
            Entry::Ended { outcome, .. } => outcome
                .final_state()
                .map_or(StateName::Pending, |s| s.name()),
            Entry::Retried { .. } => StateName::Pending,
            // A forgiven run changes the task's retries, not its state.
            Entry::Forgiven { .. } => continue,
        };
        *states
            .get_mut(id as usize)
            .with_context(|| format!("journal `{}`: unknown task {id}", path.display()))? = state;
    }
    Ok(Some(states))
}

/// The tasks `ids` of the journal at `path`, replayed in full (those it does not hold are
/// left out).
pub fn tasks(path: &Path, ids: &BTreeSet<u64>) -> anyhow::Result<BTreeMap<u64, ReplayedTask>> {
    let mut out = BTreeMap::new();
    let Some(entries) = stream::entries(path)? else {
        return Ok(out);
    };
    for entry in entries {
        match entry? {
            Entry::Added { id, spec } if ids.contains(&id) => {
                out.insert(id, ReplayedTask::added(spec));
            }
            Entry::Started {
                id,
                worker,
                job,
                host,
                at,
                run,
            } => {
                if let Some(t) = out.get_mut(&id) {
                    t.on_started(worker, job.map(Arc::from), host.map(Arc::from), at, run);
                }
            }
            Entry::Ended {
                id, outcome, secs, ..
            } => {
                if let Some(t) = out.get_mut(&id) {
                    t.on_ended(&outcome, secs);
                }
            }
            Entry::Forgiven { id, .. } => {
                if let Some(t) = out.get_mut(&id) {
                    t.on_forgiven();
                }
            }
            Entry::Retried { id, .. } => {
                if let Some(t) = out.get_mut(&id) {
                    t.on_retried();
                }
            }
            Entry::Added { .. } => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::parse_journal;

    /// The states and the tasks replayed alone are those of the whole replay.
    #[test]
    fn states_and_a_few_tasks_are_those_of_the_whole_replay() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ledger/journal.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        let whole = parse_journal(&text, "j").unwrap();
        let states = states(&path).unwrap().unwrap();
        let want: Vec<StateName> = whole.tasks.iter().map(|t| t.state.name()).collect();
        assert_eq!(states, want);
        let ids: BTreeSet<u64> = [1, 4, 5, 9, 13, 99].into();
        let some = tasks(&path, &ids).unwrap();
        assert_eq!(some.keys().copied().collect::<Vec<_>>(), [1, 4, 5, 9, 13]);
        for (id, t) in &some {
            assert_eq!(t, &whole.tasks[*id as usize], "task {id}");
        }
    }

    #[test]
    fn an_entry_of_an_unknown_task_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            "{\"ev\":\"started\",\"id\":5,\"worker\":1,\"at\":0}\n",
        )
        .unwrap();
        let e = states(&path).unwrap_err();
        assert!(format!("{e:#}").contains("unknown task 5"), "{e:#}");
        assert_eq!(states(&dir.path().join("none")).unwrap(), None);
    }
}
