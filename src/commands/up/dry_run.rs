//! `up --dry-run`: every batch job's script and exact submit command, and the directories `up`
//! would create for their output first; creates nothing.

use crate::backend::{self, Runner, SubmitRequest};
use crate::cluster_dir::{self, ClusterDir};
use crate::config::Config;
use crate::tracker;

/// Prints every batch job's script and exact submit command; creates nothing.
pub fn run(config: &Config, n: u32) -> anyhow::Result<i32> {
    let backend = backend::for_config(config, Runner::for_config(config));
    let dir = std::path::absolute(cluster_dir::path_for(config))?;
    let program = tracker::worker_program(config)?;
    // Where `up` would go on: after every name the cluster already used.
    let recorded = ClusterDir::open(&dir).and_then(|d| d.load_jobs()).ok();
    let first = recorded.as_ref().map_or(1, |j| j.next_index());
    // And with the nodes it excluded (SLURM `--exclude`), as `up` would submit.
    let exclude = recorded.map_or(Vec::new(), |j| j.excluded());
    for sub in tracker::plan_submissions(&config.name, n, first, config.max_array_size) {
        let script = dir.join("scripts").join(format!("{}.sh", sub.job_name));
        let logs = dir.join("logs");
        let req = SubmitRequest {
            script: &script,
            job_name: &sub.job_name,
            array: sub.array,
            workdir: &logs,
            exclude: &exclude,
        };
        let argv = backend.submit_argv(&req);
        let tasks = sub
            .array
            .map_or(String::new(), |a| format!(" (array of {a})"));
        println!(
            "# batch job `{}`{tasks}: {}",
            sub.job_name,
            script.display()
        );
        let text = tracker::render(config, &dir, &program, &sub)?;
        let missing = tracker::missing_output_dirs(config.backend, &text, &logs);
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().map(|d| d.display().to_string()).collect();
            println!(
                "# up creates first (the script writes output there): {}",
                shown.join(" ")
            );
        }
        println!("# submit (in {}): {}", logs.display(), shell_words(&argv)?);
        println!("{text}");
    }
    Ok(0)
}

/// A command line as a shell would take it, quoting only the words that need it.
fn shell_words(argv: &[String]) -> anyhow::Result<String> {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-[]".contains(c))
    };
    let words: Vec<String> = argv
        .iter()
        .map(|w| match plain(w) || w == "<" {
            true => Ok(w.clone()),
            false => shlex::try_quote(w).map(|q| q.into_owned()),
        })
        .collect::<Result<_, _>>()?;
    Ok(words.join(" "))
}
