//! Replay: the task table a journal's text describes (pure). Done, failed, killed and
//! cancelled tasks keep their end; tasks that were pending or running are pending again, with
//! the history of their runs ([`TaskHistory`]: attempts, lost runs, failures, the last run); the
//! batch job of a task left running is kept (its worker may come back for it). A torn last line
//! (a crash mid-write) is cut off; any other corrupt line is an error naming it. The replay is
//! also what `hpcluster tasks`, `wait` and `explain` read when no server runs ([`Replay::page`],
//! [`Replay::counts`]).

use std::sync::Arc;

use anyhow::{bail, Context};

use super::Entry;
use crate::task::{
    info, Counts, Outcome, TaskHistory, TaskId, TaskInfo, TaskPage, TaskQuery, TaskSpec, TaskState,
};

/// A task as the journal leaves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedTask {
    pub spec: TaskSpec,
    pub state: TaskState,
    pub history: TaskHistory,
    /// The run ID of its last start (0: none, or a journal from before run IDs).
    pub run: u64,
}

impl ReplayedTask {
    /// The batch job it was left running on (the journal ends before its end).
    pub fn running_job(&self) -> Option<&str> {
        match self.state {
            TaskState::Running { .. } => self.history.job.as_deref(),
            _ => None,
        }
    }

    /// The view `hpcluster tasks` shows (`now`, Unix seconds, for a running task's duration).
    pub fn info(&self, id: TaskId, now: f64) -> TaskInfo {
        self.history.info(id, &self.spec, &self.state, now)
    }

    /// As its `added` entry leaves it.
    pub(super) fn added(spec: TaskSpec) -> ReplayedTask {
        ReplayedTask {
            spec,
            state: TaskState::Pending,
            history: TaskHistory::default(),
            run: 0,
        }
    }

    /// A `started` entry of it.
    pub(super) fn on_started(
        &mut self,
        worker: u64,
        job: Option<Arc<str>>,
        host: Option<Arc<str>>,
        at: f64,
        run: u64,
    ) {
        self.state = TaskState::Running { worker, slot: 0 };
        self.run = run;
        self.history.on_started(job, host, at);
    }

    /// An `ended` entry of it.
    pub(super) fn on_ended(&mut self, outcome: &Outcome, secs: f64) {
        self.history.on_ended(outcome, secs);
        self.state = outcome.final_state().unwrap_or(TaskState::Pending);
    }

    /// A `forgiven` entry of it (a run lost with a preempted or node-failed batch job): as the
    /// core forgave it, only while the task has not ended.
    pub(super) fn on_forgiven(&mut self) {
        if !self.state.is_final() {
            self.history.on_forgiven();
        }
    }

    /// A `retried` entry of it.
    pub(super) fn on_retried(&mut self) {
        self.state = TaskState::Pending;
        self.history.on_retried();
    }
}

/// What a journal holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    pub tasks: Vec<ReplayedTask>,
    /// Durations of tasks that finished successfully, oldest first.
    pub durations: Vec<f64>,
    /// The same runs with their task: (task, seconds), oldest first.
    pub done: Vec<(u64, f64)>,
    /// Bytes of complete lines; anything after (a torn last line) is cut off on open.
    pub valid_len: usize,
    pub torn_tail: bool,
    /// Runs lost and requeued, killed by the walltime, and run again after a failure; task
    /// time of the runs that ended with an exit status.
    runs: Counts,
    /// Batch job names and hosts, each held once however many runs name it.
    names: std::collections::HashSet<Arc<str>>,
}

impl Replay {
    /// The counts a server's ledger would show for this journal.
    pub fn counts(&self) -> Counts {
        let mut c = self.runs.clone();
        for t in &self.tasks {
            *c.of_state(t.state.name()) += 1;
        }
        c
    }

    /// One shared copy of a batch job's name or a host.
    fn intern(&mut self, name: String) -> Arc<str> {
        if let Some(n) = self.names.get(name.as_str()) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.names.insert(n.clone());
        n
    }

    /// Answers a query as a running server would (see [`crate::task::info::page`]).
    pub fn page(&self, query: &TaskQuery, now: f64) -> TaskPage {
        info::page(
            query,
            self.tasks.len(),
            |id| self.tasks[id as usize].state.name(),
            |id| self.tasks[id as usize].info(id, now),
        )
    }
}

/// Rebuilds the task table from a journal's text (pure). `origin` names it in errors.
pub fn parse_journal(text: &str, origin: &str) -> anyhow::Result<Replay> {
    let mut r = Replay::default();
    let mut offset = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        let body = line.trim();
        if body.is_empty() {
            offset += line.len();
            continue;
        }
        let entry: Entry = match serde_json::from_str(body) {
            Ok(e) => e,
            Err(_) if !complete => {
                r.torn_tail = true;
                break;
            }
            Err(e) => bail!(
                "journal `{origin}` line {} is corrupt ({e}); move the file aside to start the cluster afresh",
                n + 1
            ),
        };
        if !complete {
            // A whole entry without its newline: keep it, the next append adds the newline.
            r.torn_tail = true;
        }
        apply(&mut r, entry).with_context(|| format!("journal `{origin}` line {}", n + 1))?;
        offset += line.len();
    }
    r.valid_len = offset;
    Ok(r)
}

fn apply(r: &mut Replay, entry: Entry) -> anyhow::Result<()> {
    match entry {
        Entry::Added { id, spec } => {
            if id as usize != r.tasks.len() {
                bail!("task {id} added out of order (expected {})", r.tasks.len());
            }
            r.tasks.push(ReplayedTask::added(spec));
        }
        Entry::Started {
            id,
            worker,
            job,
            host,
            at,
            run,
        } => {
            let job = job.map(|j| r.intern(j));
            let host = host.map(|h| r.intern(h));
            task(r, id)?.on_started(worker, job, host, at, run);
        }
        Entry::Ended {
            id, outcome, secs, ..
        } => {
            task(r, id)?.on_ended(&outcome, secs);
            let c = &mut r.runs;
            match &outcome {
                Outcome::Done => {
                    r.durations.push(secs);
                    r.done.push((id, secs));
                }
                Outcome::Requeued { walltime, .. } => {
                    c.requeued += 1;
                    c.walltime_kills += u64::from(*walltime);
                }
                Outcome::Rerun { .. } => c.reruns += 1,
                Outcome::Checkpointed => c.checkpointed += 1,
                Outcome::Failed { walltime: true, .. } => c.walltime_kills += 1,
                _ => {}
            }
            if matches!(
                outcome,
                Outcome::Done
                    | Outcome::Failed { .. }
                    | Outcome::Killed { .. }
                    | Outcome::Rerun { .. }
                    | Outcome::Checkpointed
            ) && secs.is_finite()
                && secs > 0.0
            {
                c.task_seconds += secs;
            }
        }
        Entry::Retried { id, .. } => {
            task(r, id)?.on_retried();
        }
        Entry::Forgiven { id, .. } => task(r, id)?.on_forgiven(),
    }
    Ok(())
}

fn task(r: &mut Replay, id: u64) -> anyhow::Result<&mut ReplayedTask> {
    r.tasks
        .get_mut(id as usize)
        .with_context(|| format!("unknown task {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    fn spec(cmd: &str) -> TaskSpec {
        TaskSpec {
            cmd: cmd.into(),
            ..TaskSpec::default()
        }
    }

    #[test]
    fn replay_keeps_done_and_requeues_running() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        {
            let (mut j, r) = Journal::open(&p).unwrap();
            assert!(r.tasks.is_empty());
            for (i, c) in ["a", "b", "c", "d"].iter().enumerate() {
                j.append(&Entry::Added {
                    id: i as u64,
                    spec: spec(c),
                })
                .unwrap();
            }
            j.append(&Entry::Started {
                run: 0,
                id: 0,
                worker: 1,
                job: None,
                host: None,
                at: 1.0,
            })
            .unwrap();
            j.append(&Entry::Ended {
                id: 0,
                outcome: Outcome::Done,
                secs: 2.5,
                at: 3.5,
            })
            .unwrap();
            j.append(&Entry::Started {
                run: 0,
                id: 1,
                worker: 1,
                job: Some("7".into()),
                host: Some("n7".into()),
                at: 4.0,
            })
            .unwrap();
            j.append(&Entry::Started {
                run: 0,
                id: 2,
                worker: 2,
                job: None,
                host: None,
                at: 4.0,
            })
            .unwrap();
            j.append(&Entry::Ended {
                id: 2,
                outcome: Outcome::Failed {
                    reason: "exit status 1".into(),
                    exit_code: Some(1),
                    walltime: false,
                },
                secs: 1.0,
                at: 5.0,
            })
            .unwrap();
            j.sync().unwrap();
        }
        let (_, r) = Journal::open(&p).unwrap();
        let states: Vec<_> = r.tasks.iter().map(|t| t.state.clone()).collect();
        assert_eq!(states[0], TaskState::Done);
        assert!(matches!(states[1], TaskState::Running { .. }));
        assert!(matches!(states[2], TaskState::Failed { .. }));
        assert_eq!(states[3], TaskState::Pending);
        assert_eq!(r.durations, vec![2.5]);
        assert_eq!(r.done, vec![(0, 2.5)]);
        // The batch job of a task left running is kept (its worker may come back for it);
        // an ended task has none.
        let jobs: Vec<_> = r.tasks.iter().map(|t| t.running_job()).collect();
        assert_eq!(jobs, [None, Some("7"), None, None]);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_appending_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        std::fs::write(&p, "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n{\"ev\":\"ended\",\"id\":0,\"outc").unwrap();
        let (mut j, r) = Journal::open(&p).unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.tasks.len(), 1);
        j.append(&Entry::Added {
            id: 1,
            spec: spec("b"),
        })
        .unwrap();
        j.sync().unwrap();
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.tasks.len(), 2);
        assert!(!r.torn_tail);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_it() {
        let e = parse_journal(
            "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\nnot json\n{}\n",
            "j",
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("journal `j` line 2 is corrupt"),
            "{e:#}"
        );
        let e = parse_journal("{\"ev\":\"started\",\"id\":5,\"worker\":1,\"at\":0}\n", "j")
            .unwrap_err();
        assert!(format!("{e:#}").contains("unknown task 5"), "{e:#}");
    }

    /// A start's run ID is read back, so a resumed server knows which copy a returning worker
    /// claims; a journal from before run IDs reads as 0 (any copy of that batch job).
    #[test]
    fn the_run_of_a_start_is_read_back_and_old_journals_read_as_zero() {
        let added = "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n";
        let new =
            format!("{added}{{\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":0,\"run\":77}}\n");
        let old = format!("{added}{{\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":0}}\n");
        assert_eq!(parse_journal(&new, "j").unwrap().tasks[0].run, 77);
        assert_eq!(parse_journal(&old, "j").unwrap().tasks[0].run, 0);
    }

    #[test]
    fn a_checkpointed_run_leaves_the_task_pending_with_no_failure_or_lost_run() {
        let head = "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}\n\
            {\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":0}\n\
            {\"ev\":\"ended\",\"id\":0,\"outcome\":\"checkpointed\",\"secs\":20.0,\"at\":20}\n";
        let r = parse_journal(head, "j").unwrap();
        let t = &r.tasks[0];
        assert_eq!(t.state, TaskState::Pending);
        let h = &t.history;
        assert_eq!((h.attempts, h.lost_runs, h.failures), (1, 0, 0));
        assert_eq!(
            h.reason.as_deref(),
            Some(crate::task::history::CHECKPOINTED)
        );
        let c = r.counts();
        assert_eq!(
            (c.pending, c.checkpointed, c.requeued, c.reruns),
            (1, 1, 0, 0)
        );
        let whole = format!(
            "{head}{{\"ev\":\"started\",\"id\":0,\"worker\":2,\"at\":30}}\n\
             {{\"ev\":\"ended\",\"id\":0,\"outcome\":\"done\",\"secs\":5.0,\"at\":35}}\n"
        );
        let r = parse_journal(&whole, "j").unwrap();
        assert_eq!(r.tasks[0].state, TaskState::Done);
        assert_eq!(r.tasks[0].history.attempts, 2);
        assert_eq!(r.counts().task_seconds, 25.0);
    }
}
