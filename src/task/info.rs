//! The one view of a task that `hpcluster tasks` prints ([`TaskInfo`]), the question a client
//! asks for such views ([`TaskQuery`]: which IDs, which states, from where, how many) and the
//! page that answers it ([`TaskPage`]). A running server answers from its task table and the
//! `tasks` command answers from the journal after a run, both through [`page`], so the JSON is
//! the same shape either way (documented in `docs/json.md`).

use serde::{Deserialize, Serialize};

use super::TaskId;

/// The name of a task's state, as the command line and the JSON spell it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum StateName {
    Pending,
    Running,
    Done,
    Failed,
    Killed,
    Cancelled,
}

impl StateName {
    /// Nothing more happens to a task in this state unless it is retried.
    pub fn is_final(self) -> bool {
        !matches!(self, StateName::Pending | StateName::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Pending => "pending",
            StateName::Running => "running",
            StateName::Done => "done",
            StateName::Failed => "failed",
            StateName::Killed => "killed",
            StateName::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One task as `hpcluster tasks` shows it. Every field is always present (null when it does
/// not apply), so the shape never changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Its ID: its position in the journal, stable across resumes.
    pub id: TaskId,
    pub name: Option<String>,
    /// The shell command, as it runs.
    pub command: String,
    pub state: StateName,
    /// Why it failed, was killed or cancelled; for a pending task, why its last run did not
    /// finish it.
    pub reason: Option<String>,
    /// The exit status of its last run, once it has ended.
    pub exit_code: Option<i32>,
    /// The signal that ended its last run, once it has ended.
    pub signal: Option<i32>,
    /// Runs started, lost and failed ones included.
    pub attempts: u32,
    /// Seconds its last run took (so far, for a running task).
    pub duration: Option<f64>,
    /// Unix seconds when its last run started.
    pub started_at: Option<f64>,
    /// The batch job and host of its last run.
    pub batch_job: Option<String>,
    pub host: Option<String>,
    /// Its output files (they exist once the task has written to them).
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

impl TaskInfo {
    /// Fills in the paths of its output files in `cluster_dir`.
    pub fn with_outputs(mut self, cluster_dir: &std::path::Path) -> TaskInfo {
        let (out, err) = super::output_paths(cluster_dir, self.id);
        self.stdout = Some(out.display().to_string());
        self.stderr = Some(err.display().to_string());
        self
    }

    /// How its last run ended, in a few words: `exit 2`, `signal 9`, `timed out after 1m`.
    pub fn ending(&self) -> String {
        match (self.exit_code, self.signal, &self.reason) {
            (Some(c), _, _) => format!("exit {c}"),
            (None, Some(s), _) => format!("signal {s}"),
            (None, None, Some(r)) => r.clone(),
            (None, None, None) => "-".to_string(),
        }
    }
}

/// Which tasks a client asks about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskQuery {
    /// These IDs only; empty: every task.
    #[serde(default)]
    pub ids: Vec<TaskId>,
    /// Tasks in these states only; empty: any state.
    #[serde(default)]
    pub states: Vec<StateName>,
    /// Start at this ID (the `next` of the page before).
    #[serde(default)]
    pub from: TaskId,
    /// At most this many tasks in the page.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl TaskQuery {
    pub fn matches(&self, state: StateName) -> bool {
        self.states.is_empty() || self.states.contains(&state)
    }
}

/// The answer to a [`TaskQuery`]: tasks in ID order, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskPage {
    pub tasks: Vec<TaskInfo>,
    /// The `from` of the next page; `None`: this was the last.
    pub next: Option<TaskId>,
}

/// Tasks per page unless the query says fewer.
pub const PAGE_TASKS: u32 = 1000;

/// A page stops growing past this many bytes of commands, names and reasons, so it fits a
/// frame of the wire ([`crate::protocol::MAX_FRAME`], 1 MiB) with room for the rest.
const PAGE_BYTES: usize = 256 * 1024;

/// Answers `query` over `len` tasks: `state(id)` is a task's state, `info(id)` its view.
/// Explicit IDs past `len` are left out (the caller names them as unknown).
pub fn page(
    query: &TaskQuery,
    len: usize,
    state: impl Fn(TaskId) -> StateName,
    info: impl Fn(TaskId) -> TaskInfo,
) -> TaskPage {
    let limit = query.limit.unwrap_or(PAGE_TASKS).clamp(1, PAGE_TASKS) as usize;
    let candidates: Box<dyn Iterator<Item = TaskId>> = if query.ids.is_empty() {
        Box::new(query.from..len as TaskId)
    } else {
        let mut ids: Vec<TaskId> = query
            .ids
            .iter()
            .copied()
            .filter(|i| *i >= query.from && (*i as usize) < len)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Box::new(ids.into_iter())
    };
    let mut out = TaskPage::default();
    let mut bytes = 0;
    for id in candidates {
        if !query.matches(state(id)) {
            continue;
        }
        if out.tasks.len() >= limit || bytes >= PAGE_BYTES {
            out.next = Some(id);
            break;
        }
        let i = info(id);
        bytes += 300 + i.command.len() + i.name.as_ref().map_or(0, String::len);
        bytes += i.reason.as_ref().map_or(0, String::len);
        out.tasks.push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: TaskId) -> TaskInfo {
        TaskInfo {
            id,
            name: None,
            command: format!("echo {id}"),
            state: if id % 2 == 0 {
                StateName::Done
            } else {
                StateName::Failed
            },
            reason: None,
            exit_code: None,
            signal: None,
            attempts: 1,
            duration: None,
            started_at: None,
            batch_job: None,
            host: None,
            stdout: None,
            stderr: None,
        }
    }

    fn state(id: TaskId) -> StateName {
        info(id).state
    }

    #[test]
    fn pages_filter_by_state_and_go_on_where_they_stopped() {
        let q = TaskQuery {
            states: vec![StateName::Failed],
            limit: Some(2),
            ..TaskQuery::default()
        };
        let p = page(&q, 10, state, info);
        let ids: Vec<_> = p.tasks.iter().map(|t| t.id).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(p.next, Some(5));
        let q = TaskQuery { from: 5, ..q };
        let p = page(&q, 10, state, info);
        let ids: Vec<_> = p.tasks.iter().map(|t| t.id).collect();
        assert_eq!((ids, p.next), (vec![5, 7], Some(9)));
    }

    #[test]
    fn explicit_ids_come_sorted_once_and_unknown_ones_are_left_out() {
        let q = TaskQuery {
            ids: vec![4, 2, 4, 99],
            ..TaskQuery::default()
        };
        let p = page(&q, 10, state, info);
        let ids: Vec<_> = p.tasks.iter().map(|t| t.id).collect();
        assert_eq!((ids, p.next), (vec![2, 4], None));
    }

    #[test]
    fn a_page_of_long_commands_stops_before_it_outgrows_a_frame() {
        let long = |id| TaskInfo {
            command: "x".repeat(100_000),
            ..info(id)
        };
        let p = page(&TaskQuery::default(), 100, state, long);
        assert!(p.tasks.len() < 10, "{}", p.tasks.len());
        let frame = serde_json::to_vec(&p).unwrap().len();
        assert!(frame < 1 << 20, "{frame}");
        assert!(p.next.is_some());
    }
}
