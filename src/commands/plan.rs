//! `hpcluster plan`: the walltime arithmetic for the configured batch jobs, as text or JSON;
//! with `--history`, recommendations from a finished run ([`super::plan_history`]); with
//! `--probe`, SLURM's expected start for a few walltimes ([`super::plan_probe`]).

use anyhow::Context;

use crate::cli::PlanArgs;
use crate::config::Config;
use crate::duration::format_human as h;
use crate::plan::{plan, Plan};

/// The plan of a configuration's budget; an error when `task_time` is not set.
pub fn of(config: &Config) -> anyhow::Result<Plan> {
    crate::config::walltime::check_least(config)?;
    let budget = config.budget();
    let task_time = budget.task_time.context(
        "`task_time` is not set: give `--task-time 4h` or `task_time = \"4h\"` in the config",
    )?;
    Ok(plan(&budget, task_time)?)
}

/// Why some of `tasks` (from `origin`, like "`t.jsonl`") can never start with this
/// configuration: each named with its own `time` and the walltime that would fit it. `None`
/// when all can.
pub fn never_fitting(
    config: &Config,
    tasks: &[crate::task::TaskSpec],
    origin: &str,
) -> Option<String> {
    const SHOWN: usize = 10;
    let budget = config.budget();
    let never = crate::plan::never_fitting(&budget, tasks);
    let most = never.iter().map(|n| n.walltime).max()?;
    let mut text = format!(
        "{} task(s) of {origin} can never start: their own `time` exceeds the {} a batch job of \
         walltime {} offers (walltime - startup - buffer)",
        never.len(),
        h(budget.usable),
        h(budget.walltime)
    );
    for n in never.iter().take(SHOWN) {
        let cmd: String = tasks[n.index].cmd.chars().take(40).collect();
        text += &format!(
            "\n  task {} `{cmd}`: time {}, fits a walltime of {}",
            n.index + 1,
            h(n.time),
            h(n.walltime)
        );
    }
    if never.len() > SHOWN {
        text += &format!("\n  ... and {} more", never.len() - SHOWN);
    }
    text += &format!(
        "\nraise `walltime` to {} or more, or lower those tasks' `time`",
        h(most)
    );
    Some(text)
}

pub fn run(config: &Config, args: &PlanArgs) -> anyhow::Result<i32> {
    if let Some(cluster) = &args.history {
        return super::plan_history::run(config, cluster, args.json);
    }
    if args.probe {
        return super::plan_probe::run(config, args.json);
    }
    print_plan(config, args.json, args.tasks.as_deref())
}

fn print_plan(config: &Config, json: bool, tasks: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let p = of(config)?;
    if let Some(path) = tasks {
        let specs = crate::tasks::read_tasks(path)?;
        if let Some(why) = never_fitting(config, &specs, &format!("`{}`", path.display())) {
            anyhow::bail!("{why}");
        }
    }
    if let Some(note) = &config.walltime_note {
        tracing::info!("walltime {note}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(0);
    }
    println!("walltime          {}", h(p.walltime));
    println!("task time         {}", h(p.task_time));
    println!("startup           {}", h(p.startup));
    println!("buffer            {} ({})", h(p.buffer), config.buffer);
    println!("usable            {}", h(p.usable));
    println!("max_tasks         {} per worker slot", p.max_tasks);
    println!(
        "tasks per job     {} ({} slot{})",
        p.tasks_per_job,
        p.slots,
        if p.slots == 1 { "" } else { "s" }
    );
    println!(
        "idle tail         {} per batch job (returned to the cluster: the worker retires)",
        h(p.idle_tail)
    );
    println!("allocation used   {:.1}%", p.used_share * 100.0);
    println!(
        "smallest walltime {} still fits {} task{} per slot",
        h(p.smallest_walltime),
        p.max_tasks,
        if p.max_tasks == 1 { "" } else { "s" }
    );
    println!(
        "one more task     needs a walltime of {}",
        h(p.walltime_for_one_more)
    );
    println!(
        "time_min          {} (SLURM backfill: startup + one task + buffer; see `plan --probe`)",
        h(p.time_min)
    );
    Ok(0)
}
