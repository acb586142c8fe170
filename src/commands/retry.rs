//! `hpcluster retry [--failed] [ID...]`: ended tasks are queued again with their retries
//! whole: into the running server, or in the journal for the next `up` of the cluster (which
//! runs only them when every other task has ended).

use crate::cli::RetryArgs;
use crate::config::Config;

use super::cancel::report;
use super::task_source::TaskSource;

pub fn run(config: &Config, args: &RetryArgs) -> anyhow::Result<i32> {
    let mut source = TaskSource::open(config)?;
    let c = source.retry(&args.ids, args.failed)?;
    if c.changed.is_empty() && c.refused.is_empty() {
        println!("no failed or killed task to retry");
        return Ok(0);
    }
    let code = report(&c, "queued again");
    if !c.changed.is_empty() && !source.is_live() {
        println!(
            "no server runs: they run at the next `hpcluster up` of this cluster; give it the \
             same tasks (`--tasks`, `--array` or `--args`: none is added twice) and it ends \
             when they have"
        );
    }
    Ok(code)
}
