//! Ties a parsed command line to its work and turns the outcome into an exit status:
//! 0 on success, 1 on any error (printed as `error: ...`), 2 for usage errors (clap).

use anyhow::Context;
use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, ConfigFlags};
use crate::commands;
use crate::config::{self, LoadOptions, Resolved};

/// Runs the program with the process's arguments; returns the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    crate::log::init(cli.verbose, cli.quiet);
    let config_path = cli.config.clone();
    let resolve = |flags: &ConfigFlags| resolve(config_path.clone(), flags);
    match cli.command {
        Command::Plan(args) => commands::plan::run(
            &resolve(&args.flags)?.config,
            args.json,
            args.tasks.as_deref(),
        ),
        Command::Render(args) => commands::render::run(&resolve(&args.flags)?.config),
        Command::Up(args) => commands::up::run(resolve(&args.flags)?, &args),
        Command::Submit(args) => {
            commands::submit::run(&resolve_named(config_path, &args.name)?, &args)
        }
        Command::Status(args) => {
            commands::status::run(&resolve_named(config_path, &args.name)?, args.json)
        }
        Command::Down(args) => commands::down::run(&resolve_named(config_path, &args.name)?),
        Command::Worker(args) => crate::worker::run(crate::worker::WorkerOptions {
            walltime: crate::duration::parse_duration(&args.walltime)
                .context("invalid `--walltime`")?,
            cluster_dir: args.cluster_dir,
            server: args.server,
            slots: args.slots,
            no_admission: args.no_admission,
            backend: args.backend,
        }),
        Command::Config(crate::cli::ConfigCommand::Show { flags, json }) => {
            commands::config_show::run(&resolve(&flags)?, json)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "hpcluster",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::LocalJob(args) => crate::backend::local_job::run_supervisor(
            &args.state_dir,
            crate::duration::parse_duration(&args.walltime)?,
            &args.script,
        ),
        Command::Manpage { dir } => commands::manpage::run(&dir),
    }
}

fn resolve(path: Option<std::path::PathBuf>, flags: &ConfigFlags) -> anyhow::Result<Resolved> {
    config::load(&LoadOptions {
        path,
        flags: flags.overrides(),
        env: config::process_env()?,
        cwd: std::env::current_dir()?,
    })
}

fn resolve_named(
    path: Option<std::path::PathBuf>,
    name: &Option<String>,
) -> anyhow::Result<config::Config> {
    let flags = ConfigFlags {
        name: name.clone(),
        ..ConfigFlags::default()
    };
    Ok(resolve(path, &flags)?.config)
}
