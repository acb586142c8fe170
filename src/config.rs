//! The resolved configuration: what every command works from.
//!
//! Option names follow dask-jobqueue wherever one exists (`cores`, `memory`, `queue`,
//! `account`, `job_extra_directives`, ...), so its users feel at home. Values come from
//! defaults, then a TOML file, then `HPCLUSTER_*` environment variables, then flags.

mod check;
mod file;
pub mod interface;
pub mod keys;
pub mod script_values;
pub mod walltime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

use keys::Raw;

use crate::backend_kind::BackendKind;
use crate::budget::{granted_walltime, Budget, Buffer, Scale};

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
    /// How the walltime was written, when it is a bare number or `A:B` (read as the backend's
    /// submit command reads it once the backend is known, see [`walltime`]).
    #[serde(skip)]
    pub walltime_written: Option<String>,
    /// How such a walltime was read, for `config show` and `up`.
    #[serde(skip)]
    pub walltime_note: Option<String>,
    /// Expected time of one task, when the task does not say.
    pub task_time: Option<Duration>,
    pub buffer: Buffer,
    pub startup: Duration,
    /// At most this many batch jobs queued or running at once.
    pub max_jobs: u32,
    /// The `max_tasks` key: a hard cap on tasks started per worker slot (the dask plugin's
    /// N); none: the deadline decides. (In code `max_tasks` is only the plan's computed value.)
    pub task_cap: Option<u32>,
    /// The shortest walltime SLURM may grant to start a batch job sooner by backfill
    /// (`--time-min`); unset asks for the whole walltime.
    pub time_min: Option<Duration>,
    /// The accepted chance that a task runs longer than its estimate (admission and learning).
    pub overrun_risk: f64,
    /// How many batch jobs to run at once: finish soonest, or fewest batch jobs.
    pub scale: Scale,
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
    /// The network interface the server listens on and workers reach it by (`ib0`), as in
    /// dask-jobqueue; none: `host`.
    pub interface: Option<String>,
    /// The address the server listens on when no `interface` is set (`0.0.0.0`: every one).
    pub host: String,
    /// Port the server listens on; 0 picks a free one.
    pub port: u16,
    pub submit_command_extra: Vec<String>,
    pub cancel_command_extra: Vec<String>,
    /// Largest array the batch system accepts; larger requests are split.
    pub max_array_size: u32,
    /// First interval between two status polls (it backs off while nothing changes).
    pub poll_interval: Duration,
    /// Time limit of one submit command (`sbatch`, `qsub`, `bsub`).
    pub submit_timeout: Duration,
    /// Time limit of one status command, lookup by name or final-state query.
    pub status_timeout: Duration,
    /// Time limit of one cancel command (`scancel`, `qdel`, `bkill`).
    pub cancel_timeout: Duration,
    /// How often a task is retried after its worker was lost (or the walltime killed it).
    pub retries: u32,
    /// How often a task runs again after a failed run: a non-zero exit, a kill by a signal, a
    /// timeout. Kept apart from `retries`: a failure is the task's, a lost run the cluster's.
    pub retries_on_failure: u32,
    /// How long a run may take before the worker kills it and it fails (none: no limit).
    pub task_timeout: Option<Duration>,
    /// The signal a worker sends each running task's process group `checkpoint_lead` before
    /// its deadline, by its name without `SIG` (none: tasks are not asked to checkpoint).
    pub checkpoint_signal: Option<String>,
    /// How long before the deadline the checkpoint signal goes out (none: the default).
    pub checkpoint_lead: Option<Duration>,
    /// The exit status with which a task says it saved its state and should run again.
    pub checkpoint_exit_code: i32,
    /// Tasks checkpoint unless they say otherwise: they start in any time left that holds the
    /// lead and a piece of work, and run in pieces.
    pub checkpointable: bool,
    /// Checkpointed runs a task may make; its next exit with `checkpoint_exit_code` fails it
    /// (a task that checkpoints at once, run after run, would otherwise run for ever).
    pub max_checkpoints: u32,
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
    /// Who may read the cluster directory, its journal and task outputs (`private`: the owner
    /// only; `group`: the owner's group too).
    pub cluster_access: crate::atomic_file::Access,
    /// Walltime-aware admission (on; only `up --no-admission` turns it off, for comparison).
    #[serde(skip)]
    pub admission: bool,
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
            walltime_written: None,
            walltime_note: None,
            task_time: None,
            buffer: Buffer::default(),
            startup: Duration::ZERO,
            max_jobs: 10,
            task_cap: None,
            time_min: None,
            overrun_risk: crate::budget::DEFAULT_OVERRUN_RISK,
            scale: Scale::Fast,
            job_extra_directives: Vec::new(),
            job_directives_skip: Vec::new(),
            job_script_prologue: Vec::new(),
            job_script_epilogue: Vec::new(),
            log_directory: None,
            local_directory: None,
            shebang: "#!/usr/bin/env bash".to_string(),
            template: None,
            cluster_root: PathBuf::from(".hpcluster"),
            interface: None,
            host: "0.0.0.0".to_string(),
            port: 0,
            submit_command_extra: Vec::new(),
            cancel_command_extra: Vec::new(),
            max_array_size: 1000,
            poll_interval: Duration::from_secs(10),
            submit_timeout: Duration::from_secs(120),
            status_timeout: Duration::from_secs(60),
            cancel_timeout: Duration::from_secs(60),
            retries: 3,
            retries_on_failure: 0,
            task_timeout: None,
            checkpoint_signal: None,
            checkpoint_lead: None,
            checkpoint_exit_code: DEFAULT_CHECKPOINT_EXIT_CODE,
            checkpointable: false,
            max_checkpoints: DEFAULT_MAX_CHECKPOINTS,
            resource_spec: None,
            sge_parallel_environment: "smp".to_string(),
            sge_memory_resource: "h_vmem".to_string(),
            lsf_units: "mb".to_string(),
            worker_program: None,
            cluster_access: crate::atomic_file::Access::Private,
            admission: true,
        }
    }
}

/// `max_checkpoints` unless set: 100 pieces, more than a task of days in batch jobs of hours
/// needs, and a bound on one that saves its state at once, run after run.
pub const DEFAULT_MAX_CHECKPOINTS: u32 = 100;

/// `checkpoint_lead` when `checkpoint_signal` is set and it is not.
pub const DEFAULT_CHECKPOINT_LEAD: Duration = Duration::from_secs(60);

/// `checkpoint_exit_code` unless set: 85, the code other tools' checkpoint conventions use
/// (docs/configuration.md says why), rare as an error status.
pub const DEFAULT_CHECKPOINT_EXIT_CODE: i32 = 85;

impl Config {
    /// How long before the deadline the checkpoint signal goes out; none without a signal.
    pub fn checkpoint_lead(&self) -> Option<Duration> {
        self.checkpoint_signal
            .as_ref()
            .map(|_| self.checkpoint_lead.unwrap_or(DEFAULT_CHECKPOINT_LEAD))
    }

    /// The walltime budget of this configuration's batch jobs: built here once, and what
    /// `plan`, the job scripts, the worker command line and the server all take.
    pub fn budget(&self) -> Budget {
        Budget::new(
            granted_walltime(self.backend, self.walltime),
            self.buffer,
            self.startup,
            self.slots,
        )
        .with_task_time(self.task_time)
        .with_task_cap(self.task_cap)
        .with_admission(self.admission)
        .with_overrun_risk(self.overrun_risk)
        .with_time_min(self.time_min.map(|t| granted_walltime(self.backend, t)))
        .with_scale(self.scale)
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

/// Resolves the configuration: defaults < file < environment < flags, then checks the result.
///
/// The file is `opts.path` (`--config`), else `$HPCLUSTER_CONFIG`, else `hpcluster.toml` in
/// `opts.cwd`, else `$XDG_CONFIG_HOME/hpcluster/config.toml` (`~/.config` when unset); an
/// explicitly given file that is missing is an error. Each key `k` can be set by the
/// environment variable `HPCLUSTER_<K>` (upper case; aliases too, e.g. `HPCLUSTER_PROCESSES`);
/// list keys take a JSON array (`["--qos=high"]`), any other text is a one-item list.
/// `HPCLUSTER_*` variables that name no key are ignored: tasks and workers use that prefix too.
pub fn load(opts: &LoadOptions) -> anyhow::Result<Resolved> {
    let mut config = Config::default();
    let mut sources = BTreeMap::new();
    let file = find_file(opts)?;
    if let Some(path) = &file {
        file::apply(&mut config, &mut sources, path)?;
    }
    for (var, value) in &opts.env {
        let Some(name) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if name == "CONFIG" {
            continue;
        }
        let Some(key) = keys::canonical(&name.to_ascii_lowercase()) else {
            continue;
        };
        keys::set(&mut config, key, Raw::Text(value))
            .map_err(|r| anyhow!("invalid `{key}` in environment variable `{var}`: {r}"))?;
        sources.insert(key.to_string(), Source::Env(var.clone()));
    }
    for (flag, value) in &opts.flags {
        let key = keys::canonical(flag).with_context(|| format!("unknown flag key `{flag}`"))?;
        keys::set(&mut config, key, Raw::Text(value))
            .map_err(|r| anyhow!("invalid `--{}`: {r}", key.replace('_', "-")))?;
        sources.insert(key.to_string(), Source::Flag);
    }
    if let Some(written) = config.walltime_written.clone() {
        // Read as the backend the layers settled on reads it.
        let (d, note) = walltime::parse_walltime(&written, config.backend).map_err(|e| {
            let from = sources
                .get("walltime")
                .map_or("default".into(), Source::describe);
            anyhow!("invalid `walltime` (set by {from}): {e}")
        })?;
        config.walltime = d;
        config.walltime_note = note;
    }
    check::check(&config).map_err(|e| {
        let from = match sources.get(&e.key) {
            Some(Source::Flag) => format!("flag `--{}`", e.key.replace('_', "-")),
            Some(source) => source.describe(),
            None => "default".to_string(),
        };
        anyhow!("{} (set by {from})", e.message)
    })?;
    Ok(Resolved {
        config,
        sources,
        file,
    })
}

/// Prefix of the environment variables that set keys.
pub const ENV_PREFIX: &str = "HPCLUSTER_";

/// The process environment as text. A variable whose name or value is not UTF-8 is skipped
/// (a login node's environment may hold anything, and it is not ours), unless its name starts
/// with `HPCLUSTER_`: then it is an error naming it, since it would have set a key or told a
/// task or worker something.
pub fn process_env() -> anyhow::Result<Vec<(String, String)>> {
    utf8_env(std::env::vars_os())
}

fn utf8_env(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in vars {
        match (k.into_string(), v.into_string()) {
            (Ok(k), Ok(v)) => out.push((k, v)),
            (Ok(k), Err(v)) if k.starts_with(ENV_PREFIX) => bail!(
                "environment variable `{k}` is not valid UTF-8 ({:?}): hpcluster reads it as \
                 text; set it to a UTF-8 value or unset it",
                v.to_string_lossy()
            ),
            (Err(k), _) if k.to_string_lossy().starts_with(ENV_PREFIX) => bail!(
                "an environment variable named {:?} is not valid UTF-8: unset it",
                k.to_string_lossy()
            ),
            _ => {}
        }
    }
    Ok(out)
}

fn env<'a>(opts: &'a LoadOptions, name: &str) -> Option<&'a str> {
    opts.env
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// The configuration file to read, if any (see [`load`] for the order).
fn find_file(opts: &LoadOptions) -> anyhow::Result<Option<PathBuf>> {
    let explicit = match (&opts.path, env(opts, "HPCLUSTER_CONFIG")) {
        (Some(p), _) => Some((p.clone(), "--config")),
        (None, Some(p)) => Some((PathBuf::from(p), "HPCLUSTER_CONFIG")),
        (None, None) => None,
    };
    if let Some((path, given_by)) = explicit {
        let path = opts.cwd.join(path);
        if !path.is_file() {
            bail!(
                "config `{}` (given by {given_by}) does not exist: check the path, or leave \
                 {given_by} unset to use ./hpcluster.toml",
                path.display()
            );
        }
        return Ok(Some(path));
    }
    let local = opts.cwd.join("hpcluster.toml");
    if local.is_file() {
        return Ok(Some(local));
    }
    let user_dir = match (env(opts, "XDG_CONFIG_HOME"), env(opts, "HOME")) {
        (Some(xdg), _) => Some(PathBuf::from(xdg)),
        (None, Some(home)) => Some(Path::new(home).join(".config")),
        (None, None) => None,
    };
    Ok(user_dir
        .map(|d| d.join("hpcluster").join("config.toml"))
        .filter(|p| p.is_file()))
}

impl Source {
    /// How messages and `config show` name the source: `config `path``, `flag`, ...
    pub fn describe(&self) -> String {
        match self {
            Source::Default => "default".to_string(),
            Source::File(p) => format!("config `{}`", p.display()),
            Source::Env(var) => format!("environment variable `{var}`"),
            Source::Flag => "flag".to_string(),
        }
    }
}

#[cfg(test)]
mod env_tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn os(b: &[u8]) -> OsString {
        OsString::from_vec(b.to_vec())
    }

    #[test]
    fn variables_that_are_not_utf8_are_skipped_unless_they_are_ours() {
        let vars = vec![
            (os(b"FOO"), os(b"\xff")),
            (os(b"\xfeBAR"), os(b"x")),
            (os(b"HPCLUSTER_WALLTIME"), os(b"5h")),
        ];
        let got = super::utf8_env(vars.into_iter()).unwrap();
        assert_eq!(got, [("HPCLUSTER_WALLTIME".to_string(), "5h".to_string())]);
        let e = super::utf8_env(vec![(os(b"HPCLUSTER_QUEUE"), os(b"a\xffb"))].into_iter())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "environment variable `HPCLUSTER_QUEUE` is not valid UTF-8 (\"a\u{fffd}b\"): \
             hpcluster reads it as text; set it to a UTF-8 value or unset it"
        );
    }
}
