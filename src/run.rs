//! Ties a parsed command line to its work and turns the outcome into an exit status:
//! 0 on success, 1 on any error (printed as `error: ...`), 2 for usage errors (clap); some
//! commands have more (`wait`). Output into a closed pipe (`hpcluster tasks | head -1`) ends
//! the program quietly with 141, as a shell reports coreutils killed by SIGPIPE, whatever the
//! command: see [`quiet_on_closed_stdout`].

use anyhow::Context;
use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, ConfigFlags};
use crate::commands;
use crate::config::{self, LoadOptions, Resolved};

/// Runs the program with the process's arguments; returns the exit status.
pub fn main() -> i32 {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_closed_pipe(&e) => CLOSED_PIPE_EXIT,
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
        Command::Plan(args) => commands::plan::run(&resolve(&args.flags)?.config, &args),
        Command::Render(args) => commands::render::run(&resolve(&args.flags)?.config),
        Command::Up(args) => commands::up::run(resolve(&args.flags)?, &args),
        Command::Submit(args) => {
            commands::submit::run(&resolve_named(config_path, &args.name)?, &args)
        }
        Command::Status(args) => {
            commands::status::run(&resolve_named(config_path, &args.name)?, args.json)
        }
        Command::Down(args) => commands::down::run(&resolve_named(config_path, &args.name)?),
        Command::Report(args) => {
            commands::report::run(&resolve_named(config_path, &args.name)?, args.json)
        }
        Command::Tasks(args) => {
            commands::tasks::run(&resolve_named(config_path, &args.name)?, &args)
        }
        Command::Logs(args) => commands::logs::run(&resolve_named(config_path, &args.name)?, &args),
        Command::Retry(args) => {
            commands::retry::run(&resolve_named(config_path, &args.name)?, &args)
        }
        Command::Cancel(args) => {
            commands::cancel::run(&resolve_named(config_path, &args.name)?, &args)
        }
        Command::Wait(args) => commands::wait::run(&resolve_named(config_path, &args.name)?, &args),
        Command::Explain(args) => {
            commands::explain::run(&resolve_named(config_path, &args.name)?, &args)
        }
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
        Command::TaskGuard(args) => crate::worker::guard::run(args.worker, &args.command),
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

/// The exit status of a program whose output went into a closed pipe: 128 + SIGPIPE, what a
/// shell reports for coreutils that the signal ended.
pub const CLOSED_PIPE_EXIT: i32 = 141;

/// Makes writing into a closed pipe end the program quietly, for every command at once.
///
/// Rust ignores SIGPIPE, so a write into a pipe whose reader has gone fails with `EPIPE`, and
/// `println!` (like clap's completion writer) panics on that failure: `hpcluster status | head
/// -1` printed "failed printing to stdout: Broken pipe" and exited 101. Coreutils die of the
/// signal instead, quietly. Restoring the signal's default needs `unsafe`; this hook does the
/// same from safe code: a panic whose message is a broken pipe exits with
/// [`CLOSED_PIPE_EXIT`] and says nothing; any other panic is reported as before. A command
/// that writes with `write!` gets the error instead, and [`main`] ends it the same way
/// ([`is_closed_pipe`]).
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_broken_pipe(msg) {
            std::process::exit(CLOSED_PIPE_EXIT);
        }
        default(info);
    }));
}

/// The error of a write into a closed pipe, anywhere in the chain.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The message of a panic on a write into a closed pipe (std's `println!`: "failed printing
/// to stdout: Broken pipe (os error 32)"; an `expect` on the `io::Error`: "... kind:
/// BrokenPipe ...").
fn is_broken_pipe(msg: &str) -> bool {
    let msg = msg.to_ascii_lowercase();
    msg.contains("broken pipe") || msg.contains("brokenpipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panics_of_a_closed_pipe_are_recognised_and_no_other() {
        let e = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&format!("failed printing to stdout: {e}")));
        let os = std::io::Error::from_raw_os_error(32);
        assert!(is_broken_pipe(&format!("failed printing to stdout: {os}")));
        assert!(is_broken_pipe(&format!(
            "failed to write completion file: {os:?}"
        )));
        assert!(!is_broken_pipe(
            "index out of bounds: the len is 1 but the index is 1"
        ));
    }
}
