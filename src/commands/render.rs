//! `hpcluster render`: print the job script of the first batch job, as `up` would submit it.

use crate::config::Config;
use crate::tracker::{self, Submission};

pub fn run(config: &Config) -> anyhow::Result<i32> {
    let dir = std::path::absolute(crate::cluster_dir::path_for(config))?;
    let first = Submission {
        job_name: format!("{}-1", config.name),
        array: None,
    };
    let program = tracker::worker_program(config)?;
    print!("{}", tracker::render(config, &dir, &program, &first)?);
    Ok(0)
}
