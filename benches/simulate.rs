//! The efficiency simulator: `cargo bench --bench simulate -- [--quick] [--out DIR]`.
//!
//! Writes `<out>/benchmarks-sim.md` and `<out>/efficiency.svg` (default `docs/`) and prints
//! the tables. With `--quick` it is CI's smoke test: it fails when a run stalls, or when
//! hpcluster kills a task although every duration stays within its `task_time` plus the buffer
//! (admission guarantees none). It asserts no timings.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hpcluster::sim::{failures, report, run_suite, SuiteSize};

const SEED: u64 = 20_261_126;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it:
    // then it is a smoke test, at the quick size, writing nothing into docs/.
    let under_test = !std::env::args().any(|a| a == "--bench");
    let mut quick = under_test;
    let scratch = tempfile::tempdir()?;
    let mut out = if under_test {
        scratch.path().to_path_buf()
    } else {
        PathBuf::from("docs")
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--out" => out = args.next().context("`--out` needs a directory")?.into(),
            // cargo bench passes `--bench`; other harness flags mean nothing here.
            _ => {}
        }
    }
    let size = if quick {
        SuiteSize::quick()
    } else {
        SuiteSize::full()
    };
    let rows = run_suite(&size, SEED);
    let command = if quick {
        "cargo bench --bench simulate -- --quick"
    } else {
        "cargo bench --bench simulate"
    };
    let md = report::markdown(&rows, command, size.tasks, size.max_jobs);
    std::fs::create_dir_all(&out)
        .with_context(|| format!("failed to create `{}`", out.display()))?;
    let md_path = out.join("benchmarks-sim.md");
    std::fs::write(&md_path, &md)
        .with_context(|| format!("failed to write `{}`", md_path.display()))?;
    let svg_path = out.join("efficiency.svg");
    std::fs::write(&svg_path, report::svg(&rows))
        .with_context(|| format!("failed to write `{}`", svg_path.display()))?;
    println!("{md}");
    let bad = failures(&rows);
    if quick && !bad.is_empty() {
        for b in &bad {
            eprintln!("smoke check failed: {b}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
