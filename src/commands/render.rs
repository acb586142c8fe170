//! `hpcluster render`: print the job script of the first batch job, as it would be submitted.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::template::{render_script, JobContext};

/// The cluster directory: `<cluster_root>/<name>`, absolute against `cwd` (compute nodes do
/// not share the submit directory's relative view).
pub fn cluster_dir(config: &Config, cwd: &Path) -> PathBuf {
    cwd.join(&config.cluster_root).join(&config.name)
}

/// The job context of batch job number `n`: name `<name>-<n>`, logs in `log_directory`
/// (absolute against `cwd`) or `<cluster dir>/logs`, and the worker command line.
pub fn job_context(config: &Config, cwd: &Path, n: u32) -> anyhow::Result<JobContext> {
    let dir = cluster_dir(config, cwd);
    let program = match &config.worker_program {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("failed to find the hpcluster executable")?,
    };
    Ok(JobContext {
        job_name: format!("{}-{n}", config.name),
        log_directory: match &config.log_directory {
            Some(d) => cwd.join(d),
            None => dir.join("logs"),
        },
        worker_command: crate::worker::command_line(config, &dir, &program),
        array: None,
    })
}

pub fn run(config: &Config) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir().context("failed to read the current directory")?;
    let job = job_context(config, &cwd, 1)?;
    print!("{}", render_script(config, &job)?);
    Ok(0)
}
