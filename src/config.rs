//! The resolved configuration: what every command works from.
//!
//! Option names follow dask-jobqueue wherever one exists (`cores`, `memory`, `queue`,
//! `account`, `job_extra_directives`, ...), so its users feel at home. Values come from
//! defaults, then a TOML file, then `HPCLUSTER_*` environment variables, then flags.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::backend::BackendKind;
use crate::plan::Buffer;

/// The resolved configuration (see `docs/configuration.md` for every key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Which batch system runs the worker batch jobs.
    pub backend: BackendKind,
    /// Cluster name: the prefix of batch job names and the cluster directory's name.
    pub name: String,
    /// CPU cores requested per batch job.
    pub cores: u32,
    /// Memory requested per batch job, in bytes.
    pub memory: Option<u64>,
    /// Tasks a worker runs at once (dask-jobqueue's `processes`; `slots` is an alias).
    pub slots: u32,
    /// Partition (SLURM) or queue.
    pub queue: Option<String>,
    /// Account to charge (SLURM, PBS).
    pub account: Option<String>,
    /// Project to charge (SGE, LSF).
    pub project: Option<String>,
    /// Walltime requested per batch job.
    pub walltime: Duration,
    /// Expected time of one task, when the task does not say.
    pub task_time: Option<Duration>,
    pub buffer: Buffer,
    pub startup: Duration,
    /// At most this many batch jobs queued or running at once.
    pub max_jobs: u32,
    /// A hard cap on tasks per worker slot (the dask plugin's N); none: the deadline decides.
    pub max_tasks: Option<u32>,
    pub job_extra_directives: Vec<String>,
    pub job_directives_skip: Vec<String>,
    pub job_script_prologue: Vec<String>,
    pub job_script_epilogue: Vec<String>,
    /// Where batch job stdout/stderr go; default `<cluster dir>/logs`.
    pub log_directory: Option<PathBuf>,
    /// Scratch directory for tasks on the compute node (rendered verbatim, `$TMPDIR` works).
    pub local_directory: Option<String>,
    pub shebang: String,
    /// A user template replacing the built-in one of the backend.
    pub template: Option<PathBuf>,
    /// Root of cluster directories (default `.hpcluster`); must be seen by compute nodes.
    pub cluster_root: PathBuf,
    /// Address the server binds to (`0.0.0.0` for all interfaces).
    pub interface: String,
    /// Port the server listens on; 0 picks a free one.
    pub port: u16,
    pub submit_command_extra: Vec<String>,
    pub cancel_command_extra: Vec<String>,
    /// Largest array the batch system accepts; larger requests are split.
    pub max_array_size: u32,
    /// First interval between two status polls (it backs off while nothing changes).
    pub poll_interval: Duration,
    /// How often a task is retried after its worker was lost.
    pub retries: u32,
    /// SGE/PBS resource string replacing the generated one (dask-jobqueue's `resource_spec`).
    pub resource_spec: Option<String>,
    /// SGE parallel environment used to request `cores` slots.
    pub sge_parallel_environment: String,
    /// SGE resource used to request memory per slot (e.g. `h_vmem`, `mem_free`).
    pub sge_memory_resource: String,
    /// LSF memory unit for `-M` (the site's `LSF_UNIT_FOR_LIMITS`).
    pub lsf_units: String,
    /// The hpcluster program the batch job runs (default: this executable).
    pub worker_program: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: BackendKind::Local,
            name: "hpcluster".to_string(),
            cores: 1,
            memory: None,
            slots: 1,
            queue: None,
            account: None,
            project: None,
            walltime: Duration::from_secs(30 * 60),
            task_time: None,
            buffer: Buffer::default(),
            startup: Duration::ZERO,
            max_jobs: 10,
            max_tasks: None,
            job_extra_directives: Vec::new(),
            job_directives_skip: Vec::new(),
            job_script_prologue: Vec::new(),
            job_script_epilogue: Vec::new(),
            log_directory: None,
            local_directory: None,
            shebang: "#!/usr/bin/env bash".to_string(),
            template: None,
            cluster_root: PathBuf::from(".hpcluster"),
            interface: "0.0.0.0".to_string(),
            port: 0,
            submit_command_extra: Vec::new(),
            cancel_command_extra: Vec::new(),
            max_array_size: 1000,
            poll_interval: Duration::from_secs(10),
            retries: 3,
            resource_spec: None,
            sge_parallel_environment: "smp".to_string(),
            sge_memory_resource: "h_vmem".to_string(),
            lsf_units: "mb".to_string(),
            worker_program: None,
        }
    }
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    /// The file, with its path.
    File(PathBuf),
    /// An environment variable, with its name.
    Env(String),
    Flag,
}

/// A configuration with the source of each key.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
    /// Source of every key that is not a default.
    pub sources: std::collections::BTreeMap<String, Source>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// What [`load`] reads besides the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config PATH`.
    pub path: Option<PathBuf>,
    /// Flags given on the command line, as (key, value).
    pub flags: Vec<(&'static str, String)>,
    /// The environment (`HPCLUSTER_*`, `XDG_CONFIG_HOME`), passed in so tests need no globals.
    pub env: Vec<(String, String)>,
    /// Directory where `./hpcluster.toml` is looked for.
    pub cwd: PathBuf,
}

/// Resolves the configuration: defaults < file < environment < flags.
pub fn load(opts: &LoadOptions) -> anyhow::Result<Resolved> {
    let mut config = Config::default();
    let mut sources = std::collections::BTreeMap::new();
    for (key, value) in &opts.flags {
        apply_flag(&mut config, key, value)?;
        sources.insert(key.to_string(), Source::Flag);
    }
    Ok(Resolved {
        config,
        sources,
        file: None,
    })
}

fn apply_flag(c: &mut Config, key: &str, value: &str) -> anyhow::Result<()> {
    use crate::duration::parse_duration;
    match key {
        "walltime" => c.walltime = parse_duration(value)?,
        "task_time" => c.task_time = Some(parse_duration(value)?),
        "buffer" => c.buffer = crate::plan::parse_buffer(value)?,
        "startup" => c.startup = parse_duration(value)?,
        "slots" => c.slots = value.parse()?,
        "backend" => c.backend = BackendKind::parse(value).map_err(anyhow::Error::msg)?,
        _ => {}
    }
    Ok(())
}
