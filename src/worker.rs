//! The worker (being built): what each batch job runs.

use std::path::Path;

use crate::config::Config;

/// The command line a job script runs to start a worker for this configuration.
pub fn command_line(config: &Config, cluster_dir: &Path, program: &Path) -> Vec<String> {
    let walltime = crate::template::granted_walltime(config.backend, config.walltime);
    let mut cmd = vec![
        program.display().to_string(),
        "worker".to_string(),
        "--cluster-dir".to_string(),
        cluster_dir.display().to_string(),
        "--walltime".to_string(),
        crate::duration::format_human(walltime),
        "--slots".to_string(),
        config.slots.to_string(),
        "--buffer".to_string(),
        config.buffer.to_string(),
    ];
    if let Some(max) = config.max_tasks {
        cmd.push("--max-tasks".to_string());
        cmd.push(max.to_string());
    }
    cmd
}

pub fn run(_a: crate::cli::WorkerArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`worker` is being built")
}
