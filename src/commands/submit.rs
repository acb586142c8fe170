//! `hpcluster submit`: add tasks to a running cluster, as a client of its server.

use anyhow::{bail, Context};

use crate::auth::Secret;
use crate::cli::SubmitArgs;
use crate::config::Config;
use crate::protocol::{Reply, Request};
use crate::task::TaskSpec;

pub fn run(config: &Config, args: &SubmitArgs) -> anyhow::Result<i32> {
    let tasks = match (&args.tasks, args.command.is_empty()) {
        (Some(path), _) => crate::tasks::read_tasks(path)?,
        (None, false) => {
            let time = match &args.time {
                Some(t) => Some(
                    crate::duration::parse_duration(t)
                        .context("invalid `--time`")?
                        .as_secs_f64(),
                ),
                None => None,
            };
            let spec = TaskSpec {
                cmd: shell_join(&args.command),
                name: args.task_name.clone(),
                time,
                ..TaskSpec::default()
            };
            crate::tasks::check_task(&spec, "the command line")?;
            vec![spec]
        }
        (None, true) => bail!("nothing to submit: give a command after `--` or `--tasks FILE`"),
    };
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

/// Joins words into one shell command, quoting where needed.
fn shell_join(words: &[String]) -> String {
    if words.len() == 1 {
        return words[0].clone();
    }
    words
        .iter()
        .map(|w| {
            shlex::try_quote(w)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| w.clone())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
