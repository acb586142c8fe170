//! What the user typed: clap derive only. Every command resolves these raw arguments into a
//! [`crate::config::Config`] (flags override the environment, which overrides the file).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend_kind::BackendKind;

mod tasks;

pub use tasks::{CancelArgs, ExplainArgs, LogsArgs, RetryArgs, TaskDefArgs, TasksArgs, WaitArgs};

#[derive(Debug, Parser)]
#[command(
    name = "hpcluster",
    version,
    about = "Run a bag of tasks on SLURM, SGE, PBS or LSF without wasting walltime",
    long_about = "hpcluster runs a bag of tasks in worker batch jobs. Each worker knows its \
                  deadline and starts a task only if the task can finish before the batch \
                  system's walltime; retired workers are replaced while work remains.",
    after_help = "Examples:\n  hpcluster plan --walltime 5h --task-time 4h\n  hpcluster up --dry-run --backend slurm --jobs 2\n  hpcluster up --walltime 5h --task-time 4h --tasks tasks.txt\n  hpcluster up --walltime 5h --task-time 4h --array 1-100 -- ./simulate --seed {}\n  hpcluster status\n  hpcluster tasks --state failed"
)]
pub struct Cli {
    /// Configuration file (default: $HPCLUSTER_CONFIG, ./hpcluster.toml, then
    /// $XDG_CONFIG_HOME/hpcluster/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute max_tasks per worker from walltime, task time and buffer.
    #[command(
        after_help = "Examples:\n  hpcluster plan --walltime 5h --task-time 4h\n  hpcluster plan --walltime 5h --task-time 1h --buffer 0\n  hpcluster plan --walltime 12:00:00 --task-time 50m --slots 4 --json"
    )]
    Plan(PlanArgs),
    /// Print the batch job script hpcluster would submit.
    #[command(
        after_help = "Examples:\n  hpcluster render --backend slurm\n  hpcluster render --backend sge --config examples/sge.toml"
    )]
    Render(RenderArgs),
    /// Start the server, submit worker batch jobs and run tasks.
    #[command(
        after_help = "Examples:\n  hpcluster up --walltime 5h --task-time 4h --tasks tasks.txt\n  hpcluster up --task-time 2h --array 1-100 -- ./simulate --seed {}\n  hpcluster up --task-time 2h --args params.csv -- ./fit --alpha {alpha} --beta {beta}\n  hpcluster up --dry-run --backend slurm --jobs 4\n  seq 100 | sed 's/^/echo /' | hpcluster up --tasks - --task-time 1s\n  hpcluster up --walltime 2h --jobs 4    (no tasks yet: add them with `hpcluster submit`)"
    )]
    Up(UpArgs),
    /// Add tasks to a running cluster.
    #[command(
        after_help = "Examples:\n  hpcluster submit -- ./simulate --seed 7\n  hpcluster submit --tasks more-tasks.txt\n  hpcluster submit --array 1-20 -- ./simulate --seed {}\n  hpcluster submit --time 2h --task-name big -- ./train.sh\n  hpcluster submit --name mycluster -- ./simulate --seed 8    (--name is the cluster)"
    )]
    Submit(SubmitArgs),
    /// Show batch jobs, workers and tasks of a cluster.
    #[command(after_help = "Examples:\n  hpcluster status\n  hpcluster status --json")]
    Status(StatusArgs),
    /// Where a cluster's core-hours went, per batch job, and what other walltimes would cost.
    #[command(after_help = "Examples:\n  hpcluster report\n  hpcluster report --name sim --json")]
    Report(ReportArgs),
    /// List tasks: ID, name, state, exit code, attempts, duration, batch job, host, outputs.
    #[command(
        after_help = "Works while `up` runs (asks it) and after (reads the journal).\n\nExamples:\n  hpcluster tasks\n  hpcluster tasks --state failed --json\n  hpcluster tasks 3 7"
    )]
    Tasks(TasksArgs),
    /// Print what a task wrote to stdout (or stderr).
    #[command(
        after_help = "Examples:\n  hpcluster logs 3\n  hpcluster logs 3 --stderr\n  hpcluster logs 3 --follow"
    )]
    Logs(LogsArgs),
    /// Queue ended tasks again: into the running server, or for the next `up`.
    #[command(
        after_help = "Examples:\n  hpcluster retry --failed\n  hpcluster retry 3 7\n  hpcluster retry --failed && hpcluster up --tasks tasks.txt"
    )]
    Retry(RetryArgs),
    /// Cancel pending or running tasks.
    #[command(after_help = "Examples:\n  hpcluster cancel 3\n  hpcluster cancel 3 4 5")]
    Cancel(CancelArgs),
    /// Wait until tasks end; the exit status says how they ended.
    #[command(
        after_help = "Exit status: 0 every task waited for is done; 1 some failed, were killed or \
                      cancelled (or an error); 2 usage error or unknown task ID; 3 tasks are \
                      pending but no server runs to run them; 124 --timeout passed.\n\nExamples:\n  hpcluster wait\n  hpcluster wait 3 7 --timeout 2h"
    )]
    Wait(WaitArgs),
    /// Say why a task is pending (or where it runs, or how it ended).
    #[command(after_help = "Examples:\n  hpcluster explain 3")]
    Explain(ExplainArgs),
    /// Cancel every batch job of a cluster.
    #[command(after_help = "Examples:\n  hpcluster down\n  hpcluster down --name mycluster")]
    Down(DownArgs),
    /// Run a worker (what a batch job script runs; not for interactive use).
    #[command(
        after_help = "Example (from a rendered script):\n  hpcluster worker --cluster-dir /scratch/me/.hpcluster/hpcluster --walltime 5h --slots 1"
    )]
    Worker(WorkerArgs),
    /// Show or inspect the resolved configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  hpcluster completions bash > ~/.local/share/bash-completion/completions/hpcluster"
    )]
    Completions { shell: clap_complete::Shell },
    /// Supervise one local batch job (used by the local backend).
    #[command(hide = true)]
    LocalJob(LocalJobArgs),
    /// Run one task so that it ends when its worker dies (used by the worker).
    #[command(hide = true)]
    TaskGuard(TaskGuardArgs),
    /// Write the man pages: hpcluster.1 and one per subcommand (hpcluster-up.1, ...).
    #[command(hide = true)]
    Manpage {
        /// Directory to write the pages into (created if absent).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// Options that override configuration keys (highest priority).
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigFlags {
    /// Batch system: slurm, sge, pbs, lsf or local.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Cluster name (job name prefix and cluster directory).
    #[arg(long)]
    pub name: Option<String>,
    /// Walltime per batch job: 5h, 90m, 04:00:00, 1-00:00:00 ...
    // A value may start with `-`, so `-1h` is refused for what it means, not as an unknown flag.
    #[arg(long, allow_hyphen_values = true)]
    pub walltime: Option<String>,
    /// Expected time of one task.
    // A value may start with `-`, so `-1h` is refused for what it means, not as an unknown flag.
    #[arg(long, allow_hyphen_values = true)]
    pub task_time: Option<String>,
    /// Safety buffer before the walltime: a time (15m) or a share of the walltime (10%).
    // A value may start with `-`, so `-1h` is refused for what it means, not as an unknown flag.
    #[arg(long, allow_hyphen_values = true)]
    pub buffer: Option<String>,
    /// Time from batch job start to the first task.
    // A value may start with `-`, so `-1h` is refused for what it means, not as an unknown flag.
    #[arg(long, allow_hyphen_values = true)]
    pub startup: Option<String>,
    /// Tasks a worker runs at once.
    #[arg(long)]
    pub slots: Option<String>,
    /// Cores per batch job.
    #[arg(long)]
    pub cores: Option<String>,
    /// Memory per batch job (e.g. 4GiB, 100GB).
    #[arg(long)]
    pub memory: Option<String>,
    /// Queue or partition.
    #[arg(long)]
    pub queue: Option<String>,
    /// Account (SLURM, PBS).
    #[arg(long)]
    pub account: Option<String>,
    /// Project (SGE, LSF).
    #[arg(long)]
    pub project: Option<String>,
    /// At most this many batch jobs queued or running.
    #[arg(long)]
    pub max_jobs: Option<String>,
    /// Hard cap on tasks per worker slot.
    #[arg(long)]
    pub max_tasks: Option<String>,
    /// SLURM: the shortest walltime worth starting a batch job for (`--time-min`, backfill).
    #[arg(long)]
    pub time_min: Option<String>,
}

impl ConfigFlags {
    /// The flags given, as (config key, value) pairs.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(b) = self.backend {
            out.push(("backend", b.name().to_string()));
        }
        let pairs: [(&'static str, &Option<String>); 14] = [
            ("name", &self.name),
            ("walltime", &self.walltime),
            ("task_time", &self.task_time),
            ("buffer", &self.buffer),
            ("startup", &self.startup),
            ("slots", &self.slots),
            ("cores", &self.cores),
            ("memory", &self.memory),
            ("queue", &self.queue),
            ("account", &self.account),
            ("project", &self.project),
            ("max_jobs", &self.max_jobs),
            ("max_tasks", &self.max_tasks),
            ("time_min", &self.time_min),
        ];
        for (key, value) in pairs {
            if let Some(v) = value {
                out.push((key, v.clone()));
            }
        }
        out
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub flags: ConfigFlags,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// A tasks file to check: a task whose own `time` can never fit the walltime is an error.
    #[arg(long, value_name = "FILE")]
    pub tasks: Option<PathBuf>,
    /// Ask SLURM (`sbatch --test-only`) when a batch job would start, for a few walltimes.
    #[arg(long)]
    pub probe: bool,
    /// Recommend task_time, walltime and time_min from the finished tasks of this cluster.
    #[arg(long, value_name = "CLUSTER")]
    pub history: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub flags: ConfigFlags,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub flags: ConfigFlags,
    /// Show every script and submit command, and the first tasks; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub def: TaskDefArgs,
    /// Batch jobs to start now (default: as many as the tasks need, up to max_jobs).
    #[arg(long)]
    pub jobs: Option<u32>,
    /// Start tasks without the deadline check (for comparison only: tasks may be killed).
    #[arg(long)]
    pub no_admission: bool,
    /// Write a line per finished run to FILE in GNU parallel's joblog format (`+FILE` appends).
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub def: TaskDefArgs,
    /// Expected time of each task submitted.
    // A value may start with `-`, so `-1h` is refused for what it means, not as an unknown flag.
    #[arg(long, allow_hyphen_values = true)]
    pub time: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Cluster name (default from config).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The cluster directory (holds the secret and the server's address).
    #[arg(long, value_name = "DIR")]
    pub cluster_dir: PathBuf,
    /// Server address (HOST:PORT); default: the one in the cluster directory.
    #[arg(long)]
    pub server: Option<String>,
    /// The batch job's walltime.
    #[arg(long)]
    pub walltime: String,
    /// Tasks run at once.
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    /// Start tasks without the deadline check (comparison only).
    #[arg(long)]
    pub no_admission: bool,
    /// The batch system running this worker (how it finds its batch job ID and deadline).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration and where each value came from.
    #[command(
        after_help = "Examples:\n  hpcluster config show\n  HPCLUSTER_WALLTIME=2h hpcluster config show --json"
    )]
    Show {
        #[command(flatten)]
        flags: ConfigFlags,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct TaskGuardArgs {
    /// The worker's pid: when this process's parent is no longer it, the task is ended.
    #[arg(long)]
    pub worker: i32,
    /// The task's command line.
    #[arg(last = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct LocalJobArgs {
    /// Directory for this local batch job's state files.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Walltime to enforce.
    #[arg(long)]
    pub walltime: String,
    /// The script to run.
    pub script: PathBuf,
}
