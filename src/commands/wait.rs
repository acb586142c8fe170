//! `hpcluster wait [ID...] [--timeout D]`: blocks until the tasks (all of the cluster's, or
//! those named) have ended, asking the running server (or reading the journal) every
//! [`WAIT_EVERY`]. Its exit status says how they ended: [`DONE`], [`UNSUCCESSFUL`],
//! [`UNKNOWN_TASK`], [`NO_SERVER`], [`TIMED_OUT`] (documented in `docs/tasks.md`).

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::WaitArgs;
use crate::config::Config;
use crate::task::{StateName, TaskQuery};

use super::task_source::TaskSource;

/// Every task waited for is done.
pub const DONE: i32 = 0;
/// Every task waited for has ended, and some failed, were killed or were cancelled (also the
/// status of an error, printed as `error: ...`).
pub const UNSUCCESSFUL: i32 = 1;
/// A task ID is not in the cluster (clap's usage errors are 2 too).
pub const UNKNOWN_TASK: i32 = 2;
/// Tasks have not ended and no server runs to end them.
pub const NO_SERVER: i32 = 3;
/// `--timeout` passed first (as `timeout(1)` says it).
pub const TIMED_OUT: i32 = 124;

/// How often `wait` asks.
pub const WAIT_EVERY: Duration = Duration::from_millis(500);

pub fn run(config: &Config, args: &WaitArgs) -> anyhow::Result<i32> {
    let until = match &args.timeout {
        Some(t) => Some(
            Instant::now() + crate::duration::parse_duration(t).context("invalid `--timeout`")?,
        ),
        None => None,
    };
    let mut source = TaskSource::open(config)?;
    let select = |states: &[StateName], limit| TaskQuery {
        ids: args.ids.clone(),
        states: states.to_vec(),
        limit,
        ..TaskQuery::default()
    };
    if !args.ids.is_empty() {
        let known = source.tasks(&select(&[], None))?;
        if let Some(id) = args
            .ids
            .iter()
            .find(|id| !known.iter().any(|t| t.id == **id))
        {
            eprintln!(
                "error: no task {id} in the cluster at `{}`: `hpcluster tasks` lists them",
                source.dir().display()
            );
            return Ok(UNKNOWN_TASK);
        }
    }
    loop {
        let unfinished =
            source.tasks(&select(&[StateName::Pending, StateName::Running], Some(1)))?;
        if unfinished.is_empty() {
            break;
        }
        if !source.is_live() {
            eprintln!(
                "error: task {} (and maybe others) has not ended and no server runs for cluster \
                 `{}`: start `hpcluster up` (it resumes the journal)",
                unfinished[0].id, config.name
            );
            return Ok(NO_SERVER);
        }
        if until.is_some_and(|u| Instant::now() >= u) {
            eprintln!("error: the tasks have not ended within the `--timeout`");
            return Ok(TIMED_OUT);
        }
        std::thread::sleep(WAIT_EVERY);
        source.refresh();
    }
    let unsuccessful = [StateName::Failed, StateName::Killed, StateName::Cancelled];
    let bad = source.tasks(&select(&unsuccessful, None))?;
    if bad.is_empty() {
        println!("every task has ended done");
        return Ok(DONE);
    }
    let shown: Vec<String> = bad.iter().take(20).map(|t| t.id.to_string()).collect();
    println!(
        "{} task{} did not end done: {}{} (`hpcluster tasks --state failed,killed,cancelled`)",
        bad.len(),
        if bad.len() == 1 { "" } else { "s" },
        shown.join(" "),
        if bad.len() > 20 { " ..." } else { "" }
    );
    Ok(UNSUCCESSFUL)
}
