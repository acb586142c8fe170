//! `hpcluster render`: print the job script of the first batch job, as `up` would submit it,
//! and say (on stderr) how a walltime was read and which directories `up` would create for
//! the batch job's output.

use crate::config::Config;
use crate::tracker::{self, Submission};

pub fn run(config: &Config) -> anyhow::Result<i32> {
    crate::config::walltime::check_least(config)?;
    let dir = std::path::absolute(crate::cluster_dir::path_for(config))?;
    let first = Submission {
        job_name: format!("{}-1", config.name),
        array: None,
    };
    let program = tracker::worker_program(config)?;
    let script = tracker::render(config, &dir, &program, &first)?;
    if let Some(note) = &config.walltime_note {
        tracing::info!("walltime {note}");
    }
    for d in tracker::missing_output_dirs(config.backend, &script, &dir.join("logs")) {
        tracing::info!(
            "`up` creates `{}` before submitting: the script writes its batch job's output there",
            d.display()
        );
    }
    print!("{script}");
    Ok(0)
}
