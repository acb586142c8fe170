//! Changes made to a journal while no server runs: `hpcluster cancel` ends pending (or
//! left-running) tasks as `cancelled`, `hpcluster retry` queues ended tasks again (`retried`),
//! for the next `up` to take. Pure: the entries to append and the tasks refused with the
//! reason, decided as a running server's core decides them (it refuses the same tasks).

use super::{Entry, Replay};
use crate::task::{Outcome, StateName, TaskId};

/// Entries to append, and the tasks left as they were with the reason.
#[derive(Debug, Default, PartialEq)]
pub struct Edit {
    pub entries: Vec<Entry>,
    pub changed: Vec<TaskId>,
    pub refused: Vec<(TaskId, String)>,
}

impl Replay {
    /// `hpcluster cancel IDS` at `at` (Unix seconds).
    pub fn cancel(&self, ids: &[TaskId], at: f64) -> Edit {
        let mut e = Edit::default();
        for &id in ids {
            match self.tasks.get(id as usize).map(|t| t.state.name()) {
                None => e.refused.push((id, "no such task".into())),
                Some(s) if s.is_final() => {
                    e.refused.push((id, format!("it has already ended ({s})")))
                }
                Some(_) => {
                    e.entries.push(Entry::Ended {
                        id,
                        outcome: Outcome::Cancelled {
                            reason: "cancelled by `hpcluster cancel`".into(),
                        },
                        secs: 0.0,
                        at,
                    });
                    e.changed.push(id);
                }
            }
        }
        e
    }

    /// `hpcluster retry IDS` (and with `failed`, every failed or killed task) at `at`.
    pub fn retry(&self, ids: &[TaskId], failed: bool, at: f64) -> Edit {
        let mut chosen = ids.to_vec();
        if failed {
            chosen.extend(
                self.tasks
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| {
                        matches!(t.state.name(), StateName::Failed | StateName::Killed)
                    })
                    .map(|(id, _)| id as TaskId),
            );
        }
        chosen.sort_unstable();
        chosen.dedup();
        let mut e = Edit::default();
        for id in chosen {
            match self.tasks.get(id as usize).map(|t| t.state.name()) {
                None => e.refused.push((id, "no such task".into())),
                Some(s) if !s.is_final() => e.refused.push((id, format!("it has not ended ({s})"))),
                Some(_) => {
                    e.entries.push(Entry::Retried { id, at });
                    e.changed.push(id);
                }
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::parse_journal;

    const JOURNAL: &str = concat!(
        "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"true\"}}\n",
        "{\"ev\":\"added\",\"id\":1,\"spec\":{\"cmd\":\"false\"}}\n",
        "{\"ev\":\"added\",\"id\":2,\"spec\":{\"cmd\":\"sleep 9\"}}\n",
        "{\"ev\":\"started\",\"id\":0,\"worker\":1,\"at\":1}\n",
        "{\"ev\":\"ended\",\"id\":0,\"outcome\":\"done\",\"secs\":1,\"at\":2}\n",
        "{\"ev\":\"started\",\"id\":1,\"worker\":1,\"at\":2}\n",
        "{\"ev\":\"ended\",\"id\":1,\"outcome\":\"failed\",\"reason\":\"exit status 1\",\"exit_code\":1,\"secs\":1,\"at\":3}\n",
    );

    #[test]
    fn retry_failed_queues_exactly_the_failed_tasks_and_replays_them_pending() {
        let r = parse_journal(JOURNAL, "j").unwrap();
        let e = r.retry(&[2], true, 9.0);
        assert_eq!(e.changed, [1]);
        assert_eq!(e.refused, [(2, "it has not ended (pending)".to_string())]);
        let mut text = JOURNAL.to_string();
        for entry in &e.entries {
            text.push_str(&serde_json::to_string(entry).unwrap());
            text.push('\n');
        }
        let r = parse_journal(&text, "j").unwrap();
        assert_eq!(r.tasks[1].state.name(), StateName::Pending);
        assert_eq!(r.tasks[1].history.attempts, 1);
        let c = r.counts();
        assert_eq!((c.done, c.failed, c.pending), (1, 0, 2));
    }

    #[test]
    fn cancel_takes_pending_tasks_and_refuses_ended_ones() {
        let r = parse_journal(JOURNAL, "j").unwrap();
        let e = r.cancel(&[0, 2, 7], 9.0);
        assert_eq!(e.changed, [2]);
        assert_eq!(
            e.refused,
            [
                (0, "it has already ended (done)".to_string()),
                (7, "no such task".to_string())
            ]
        );
    }
}
