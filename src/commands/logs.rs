//! `hpcluster logs ID [--stderr] [--follow]`: what a task wrote, from its output file in the
//! cluster directory. `--follow` keeps printing what it writes until it ends (a run that
//! starts again starts its file again: it is printed from its start).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::Context;

use crate::cli::LogsArgs;
use crate::config::Config;
use crate::task::StateName;

use super::task_source::TaskSource;

/// How often `--follow` looks at the file, and at the task's state.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

pub fn run(config: &Config, args: &LogsArgs) -> anyhow::Result<i32> {
    let mut source = TaskSource::open(config)?;
    let task = source.task(args.id)?;
    let path = if args.stderr {
        task.stderr.clone()
    } else {
        task.stdout.clone()
    }
    .context("a task has output paths")?;
    let mut offset = 0u64;
    let mut state = task.state;
    loop {
        offset = print_from(std::path::Path::new(&path), offset)?;
        if !args.follow || state.is_final() {
            break;
        }
        std::thread::sleep(FOLLOW_EVERY);
        source.refresh();
        state = source.task(args.id)?.state;
        if !state.is_final() && !source.is_live() {
            anyhow::bail!(
                "task {} is {state} and no server runs for this cluster: start `hpcluster up` \
                 (it resumes the journal), then follow it again",
                args.id
            );
        }
        if state.is_final() {
            // What it wrote last: the file is complete once its end is recorded.
            offset = print_from(std::path::Path::new(&path), offset)?;
            break;
        }
    }
    if !args.follow && state == StateName::Pending && offset == 0 {
        tracing::info!("task {} has not run yet", args.id);
    }
    Ok(0)
}

/// Prints the file from `offset` (from its start if it got shorter: a new run); returns the
/// offset reached. A file that does not exist (yet) prints nothing.
fn print_from(path: &std::path::Path, offset: u64) -> anyhow::Result<u64> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", path.display())),
    };
    let len = f.metadata()?.len();
    let from = if len < offset { 0 } else { offset };
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(from + buf.len() as u64)
}
