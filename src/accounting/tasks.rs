//! What the ledger keeps of each task ([`TaskTallies`]): how its last run ended (for the tasks
//! done and failed) and how long its last successful run took, with its name (the durations a
//! counterfactual replays). Sixteen bytes a task, with names held once however many tasks
//! share them, so a journal of a million tasks folds in a few megabytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::runs::{Run, RunKind};

/// One task's tally.
#[derive(Debug, Clone, Copy)]
struct TaskTally {
    /// Seconds its last successful run took; NaN: none (the journal holds no NaN).
    done: f64,
    /// Its name: an index into [`TaskTallies::names`] plus one; 0: none.
    name: u32,
    /// How its last run ended; `None`: it has not run.
    last: Option<RunKind>,
}

impl Default for TaskTally {
    fn default() -> TaskTally {
        TaskTally {
            done: f64::NAN,
            name: 0,
            last: None,
        }
    }
}

/// The tallies of every task, by ID.
#[derive(Debug, Default)]
pub struct TaskTallies {
    /// By the order the tasks were added (their IDs in any journal the server wrote).
    added: Vec<TaskTally>,
    /// Runs of IDs not added (yet): a journal the server did not write; kept apart so that
    /// an ID far out of range costs one entry, not a table up to it.
    strays: BTreeMap<u64, TaskTally>,
    names: Vec<Arc<str>>,
    name_ids: HashMap<Arc<str>, u32>,
}

/// The durations of the tasks that finished, in the order they were added, with their names:
/// what a counterfactual replays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    pub durations: Vec<f64>,
    /// The name of each, if any; empty when none has one (a million unnamed tasks hold no
    /// million `None`s).
    pub names: Vec<Option<String>>,
}

impl TaskTallies {
    /// A task was added (the next ID).
    pub fn on_added(&mut self, name: Option<&str>) {
        let id = self.added.len() as u64;
        let mut t = self.strays.remove(&id).unwrap_or_default();
        t.name = name.map_or(0, |n| self.intern(n));
        self.added.push(t);
    }

    /// A run of a task ended (or is still running at the end).
    pub fn on_run(&mut self, run: &Run) {
        let t = match self.added.get_mut(run.task as usize) {
            Some(t) => t,
            None => self.strays.entry(run.task).or_default(),
        };
        t.last = Some(run.kind);
        if run.kind == RunKind::Done {
            t.done = run.secs;
        }
    }

    /// Tasks whose last run ended this way.
    pub fn ended(&self, kind: RunKind) -> usize {
        self.all().filter(|(_, t)| t.last == Some(kind)).count()
    }

    /// The durations of the tasks that finished, by ID.
    pub fn finished(&self) -> Finished {
        let done = || self.all().map(|(_, t)| t).filter(|t| !t.done.is_nan());
        let count = done().count();
        let mut durations = Vec::with_capacity(count);
        durations.extend(done().map(|t| t.done));
        let names = if done().any(|t| t.name != 0) {
            let mut names = Vec::with_capacity(count);
            names.extend(done().map(|t| self.name(t.name)));
            names
        } else {
            Vec::new()
        };
        Finished { durations, names }
    }

    /// Every tally with its ID, in ID order (strays are past the tasks added).
    fn all(&self) -> impl Iterator<Item = (u64, &TaskTally)> {
        let added = self.added.iter().enumerate().map(|(i, t)| (i as u64, t));
        added.chain(self.strays.iter().map(|(id, t)| (*id, t)))
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(n) = self.name_ids.get(name) {
            return *n;
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.push(shared.clone());
        let n = self.names.len() as u32;
        self.name_ids.insert(shared, n);
        n
    }

    fn name(&self, n: u32) -> Option<String> {
        let i = (n as usize).checked_sub(1)?;
        self.names.get(i).map(|s| s.to_string())
    }
}
