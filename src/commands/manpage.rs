//! `hpcluster manpage [DIR]` (hidden): man pages rendered from the clap definition in
//! [`crate::cli`], so they say what `--help` says. One page for `hpcluster` and one per visible
//! subcommand, nested ones included (`hpcluster-up.1`, `hpcluster-config-show.1`); hidden
//! subcommands get none. `scripts/install-check.sh` puts them in the wheel.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes every page into `dir` (created if absent) and prints the path of each.
pub fn run(dir: &Path) -> anyhow::Result<i32> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create man page directory `{}`", dir.display()))?;
    // Built once so that subcommands know their full names (`hpcluster-config-show`); the
    // `help` subcommand is clap's, not ours, and gets no page.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    // Every page's footer names the program and its version, subcommand pages included.
    let source = format!("hpcluster {}", cli.get_version().unwrap_or_default());
    let mut written = Vec::new();
    write_pages(&cli, dir, &source, &mut written)?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(0)
}

/// Writes the page of `cmd`, then those of its visible subcommands, depth first.
fn write_pages(
    cmd: &clap::Command,
    dir: &Path,
    source: &str,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).source(source);
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("failed to render man page `{}`", path.display()))?;
    std::fs::write(&path, page)
        .with_context(|| format!("failed to write man page `{}`", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(sub, dir, source, written)?;
    }
    Ok(())
}
