//! `hpcluster submit`: add tasks to a running cluster, as a client of its server.

use anyhow::{bail, Context};

use crate::auth::Secret;
use crate::cli::SubmitArgs;
use crate::config::Config;
use crate::protocol::{Reply, Request};

pub fn run(config: &Config, args: &SubmitArgs) -> anyhow::Result<i32> {
    let Some(def) = args.def.definition()? else {
        bail!("nothing to submit: give a command after `--`, `--tasks FILE`, or `--array`/`--args` with a command");
    };
    let mut tasks = crate::tasks::define(&def)?;
    if let Some(t) = &args.time {
        let time = crate::duration::parse_duration(t)
            .context("invalid `--time`")?
            .as_secs_f64();
        for task in &mut tasks {
            task.time = Some(time);
        }
    }
    if tasks.is_empty() {
        bail!("the tasks file has no tasks (only comments or blank lines)");
    }
    let dir = std::path::absolute(crate::cluster_dir::path_for(config))?;
    let secret = Secret::load(&dir.join("secret")).with_context(|| {
        format!(
            "no cluster `{}` here: start one with `hpcluster up`",
            config.name
        )
    })?;
    let address = crate::cluster_dir::server_file::ServerFile::read(&dir)?.address;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reply = rt.block_on(crate::server::client_request(
        &address,
        &secret,
        &Request::AddTasks { tasks },
    ))?;
    match reply {
        Reply::Added { first, count } => {
            println!(
                "added {count} task{} (ids {first}..{})",
                if count == 1 { "" } else { "s" },
                first + count - 1
            );
            Ok(0)
        }
        Reply::Refused { reason } => bail!("the server refused the tasks: {reason}"),
        other => bail!("unexpected answer from the server: {other:?}"),
    }
}
