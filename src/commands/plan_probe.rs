//! `hpcluster plan --probe`: when SLURM expects a batch job of this configuration to start,
//! for a few walltimes (the `time_min` the plan recommends, the smallest walltime that fits as
//! many tasks, the walltime configured), asked with `sbatch --test-only`, which submits
//! nothing. A shorter walltime fits the holes a backfill scheduler finds sooner.

use anyhow::Context;
use serde::Serialize;

use crate::backend::command::Runner;
use crate::backend_kind::BackendKind;
use crate::config::Config;
use crate::duration::format_human as h;
use crate::tracker::{self, Submission};

/// What `sbatch --test-only` answered for one walltime.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    #[serde(serialize_with = "crate::budget::ser_secs")]
    pub walltime: std::time::Duration,
    /// The expected start, as SLURM prints it (`2026-12-03T12:35:12`).
    pub start: String,
}

/// The expected start in `sbatch --test-only`'s answer (on stderr):
/// `sbatch: Job 49 to start at 2026-12-03T12:35:12 using 1 processors on nodes vm in
/// partition debug`.
pub fn parse_test_only(text: &str) -> Option<String> {
    text.lines().rev().find_map(|l| {
        let rest = l.split(" to start at ").nth(1)?;
        let start = rest.split_whitespace().next()?;
        Some(start.to_string())
    })
}

/// The walltimes probed: the plan's `time_min`, its smallest walltime and the configured one
/// (only the configured one without `task_time`), each once.
fn walltimes(config: &Config) -> Vec<std::time::Duration> {
    let mut out = match super::plan::of(config) {
        Ok(p) => vec![p.time_min, p.smallest_walltime, p.walltime],
        Err(_) => vec![config.budget().walltime],
    };
    out.sort();
    out.dedup();
    out
}

pub fn run(config: &Config, json: bool) -> anyhow::Result<i32> {
    if config.backend != BackendKind::Slurm {
        anyhow::bail!(
            "`plan --probe` asks SLURM (`sbatch --test-only`) when a batch job would start; the \
             backend is `{}`: give `--backend slurm` on a SLURM login node",
            config.backend
        );
    }
    let runner = Runner::new(BackendKind::Slurm);
    let scratch = tempfile::tempdir().context("failed to create a temporary directory")?;
    let program = tracker::worker_program(config)?;
    let dir = std::path::absolute(crate::cluster_dir::path_for(config))?;
    let mut probes = Vec::new();
    for walltime in walltimes(config) {
        let mut c = config.clone();
        c.walltime = walltime;
        c.time_min = None;
        let sub = Submission {
            job_name: format!("{}-probe", config.name),
            array: None,
        };
        let script = scratch.path().join("probe.sh");
        std::fs::write(&script, tracker::render(&c, &dir, &program, &sub)?)
            .with_context(|| format!("failed to write `{}`", script.display()))?;
        let mut argv = vec!["sbatch".to_string(), "--test-only".to_string()];
        argv.extend(config.submit_command_extra.iter().cloned());
        argv.push(script.display().to_string());
        let out = runner.run(
            &argv,
            Some(scratch.path()),
            crate::backend::timed::CommandKind::Query,
        )?;
        let start =
            parse_test_only(&format!("{}\n{}", out.stdout, out.stderr)).ok_or_else(|| {
                out.error("expected `to start at` in the answer of `sbatch --test-only`")
            })?;
        probes.push(Probe { walltime, start });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&probes)?);
        return Ok(0);
    }
    println!("expected start of one batch job (sbatch --test-only; nothing is submitted):");
    for p in &probes {
        println!("  walltime {:<10} starts at {}", h(p.walltime), p.start);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_start_is_read_from_sbatch_test_only() {
        // Recorded from SLURM 22.05 (scripts/TESTBEDS.md), on stderr.
        let answer = "sbatch: Job 49 to start at 2026-12-03T12:35:12 using 1 processors on \
                      nodes vm in partition debug\n";
        assert_eq!(
            parse_test_only(answer).as_deref(),
            Some("2026-12-03T12:35:12")
        );
        assert_eq!(
            parse_test_only("allocation failure: Requested node configuration is not available"),
            None
        );
    }
}
