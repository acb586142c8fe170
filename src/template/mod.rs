//! Job scripts from Tera templates: one built-in template per backend
//! (`templates/<backend>.sh.tera`, embedded in the binary), or the user's own (`template` key).
//!
//! Rust computes every value a template needs in the backend's own units (SLURM `--mem=94G`,
//! PBS `mem=23GB`, LSF `-M` in the site unit, SGE memory per slot, walltime as each batch
//! system writes it) and checks every value against [`crate::validate`], so templates only
//! place words. After rendering, generated directive lines that contain a
//! `job_directives_skip` substring, or that set what a `job_extra_directives` line sets, are
//! dropped ([`skip`]); the `job_extra_directives` lines are never dropped.
//! `docs/templates.md` lists the context.

pub mod directives;
mod skip;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::backend_kind::BackendKind;
use crate::config::Config;
use crate::duration::format_human as h;
use crate::validate;

/// The command line a job script runs to start a worker of this configuration: its cluster
/// directory, the walltime its batch job is granted (its deadline counts from the job's start),
/// its slots and backend. The buffer and the cap stay with the server, which admits every task.
pub fn worker_command(config: &Config, cluster_dir: &Path, program: &Path) -> Vec<String> {
    let mut cmd = vec![
        program.display().to_string(),
        "worker".to_string(),
        "--cluster-dir".to_string(),
        cluster_dir.display().to_string(),
        "--walltime".to_string(),
        h(config.budget().walltime),
        "--slots".to_string(),
        config.slots.to_string(),
    ];
    if !config.admission {
        cmd.push("--no-admission".to_string());
    }
    cmd.push("--backend".to_string());
    cmd.push(config.backend.name().to_string());
    cmd
}

/// What a job script is rendered for, besides the configuration.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Unique batch job name (`<cluster name>-<n>`).
    pub job_name: String,
    /// Directory for the batch job's stdout/stderr files.
    pub log_directory: std::path::PathBuf,
    /// The worker command line, one word per element (quoted when rendered).
    pub worker_command: Vec<String>,
    /// Number of array tasks when submitted as an array job.
    pub array: Option<u32>,
}

/// The built-in template of a backend.
pub fn builtin(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Slurm => include_str!("../../templates/slurm.sh.tera"),
        BackendKind::Sge => include_str!("../../templates/sge.sh.tera"),
        BackendKind::Pbs => include_str!("../../templates/pbs.sh.tera"),
        BackendKind::Lsf => include_str!("../../templates/lsf.sh.tera"),
        BackendKind::Local => include_str!("../../templates/local.sh.tera"),
    }
}

/// The directive prefix of a backend (`#SBATCH`); none for `local`.
pub fn directive_prefix(kind: BackendKind) -> Option<&'static str> {
    match kind {
        BackendKind::Slurm => Some("#SBATCH"),
        BackendKind::Sge => Some("#$"),
        BackendKind::Pbs => Some("#PBS"),
        BackendKind::Lsf => Some("#BSUB"),
        BackendKind::Local => None,
    }
}

/// Everything a template can use (documented in `docs/templates.md`).
#[derive(Debug, Clone, Serialize)]
pub struct ScriptContext {
    pub backend: &'static str,
    pub shebang: String,
    /// The shell of the shebang as an absolute path (SGE `-S`).
    pub shell: String,
    pub name: String,
    pub job_name: String,
    pub log_directory: String,
    pub queue: Option<String>,
    pub account: Option<String>,
    pub project: Option<String>,
    pub cores: u32,
    pub slots: u32,
    /// Memory per batch job in bytes, and as each backend writes it.
    pub memory: Option<u64>,
    pub memory_slurm: Option<String>,
    pub memory_pbs: Option<String>,
    pub memory_lsf: Option<String>,
    pub memory_sge_per_slot: Option<String>,
    pub lsf_units: String,
    /// The walltime in this backend's format (`02:00:00`, `1-00:00:00`, LSF `HH:MM`).
    pub walltime: String,
    /// The walltime the batch system grants, in seconds.
    pub walltime_seconds: u64,
    /// SLURM's `--time-min` in its format, when `time_min` is set.
    pub time_min: Option<String>,
    pub array: Option<u32>,
    pub resource_spec: Option<String>,
    pub sge_parallel_environment: String,
    pub sge_memory_resource: String,
    pub local_directory: Option<String>,
    pub job_extra_directives: Vec<String>,
    pub job_script_prologue: Vec<String>,
    pub job_script_epilogue: Vec<String>,
    /// The worker command line, each word shell-quoted.
    pub worker_command: String,
    /// `# hpcluster: walltime ..., task_time ... -> max_tasks N per slot` when task_time is set.
    pub plan_comment: Option<String>,
    /// `checkpoint_lead` in whole seconds, rounded up, when `checkpoint_signal` is set (SLURM
    /// `--signal=B:USR1@<this>`); with it every job script passes SIGUSR1 on to the worker.
    pub checkpoint_lead_seconds: Option<u64>,
    /// The same in whole minutes, rounded up (LSF `-wt`, which counts minutes).
    pub checkpoint_lead_minutes: Option<u64>,
    /// The walltime less `checkpoint_lead_seconds`, `HH:MM:SS`, when `checkpoint_signal` is
    /// set: SGE's soft walltime `s_rt`, at which Grid Engine sends the job SIGUSR1.
    pub soft_walltime: Option<String>,
}

/// Builds the template context; fails on a value that would break the script.
pub fn context(config: &Config, job: &JobContext) -> anyhow::Result<ScriptContext> {
    let kind = config.backend;
    crate::config::script_values::check(config)?;
    validate::check_job_name("job name", &job.job_name, kind)?;
    skip::check_extras(config)?;
    let log_directory = job.log_directory.display().to_string();
    validate::check_word("log_directory", &log_directory)?;
    let shell = validate::shell_of_shebang(&config.shebang)
        .with_context(|| format!("invalid `shebang` {:?}", config.shebang))?;
    check_worker_command(&job.worker_command)?;
    let words: Vec<String> = job
        .worker_command
        .iter()
        .map(|w| shlex::try_quote(w).map(|q| q.into_owned()))
        .collect::<Result<_, _>>()
        .context("the worker command contains a NUL byte")?;
    let granted = config.budget().walltime;
    let walltime = match kind {
        BackendKind::Slurm => crate::duration::format_slurm(granted),
        BackendKind::Lsf => crate::duration::format_lsf(granted),
        _ => crate::duration::format_hms(granted),
    };
    let mem = config.memory;
    let lead = config.checkpoint_lead();
    Ok(ScriptContext {
        backend: kind.name(),
        shebang: config.shebang.clone(),
        shell,
        name: config.name.clone(),
        job_name: job.job_name.clone(),
        log_directory,
        queue: config.queue.clone(),
        account: config.account.clone(),
        project: config.project.clone(),
        cores: config.cores,
        slots: config.slots,
        memory: mem,
        memory_slurm: mem.map(crate::memory::format_slurm),
        memory_pbs: mem.map(crate::memory::format_pbs),
        memory_lsf: mem.and_then(|m| crate::memory::format_lsf(m, &config.lsf_units)),
        memory_sge_per_slot: mem.map(|m| crate::memory::format_sge_per_slot(m, config.cores)),
        lsf_units: config.lsf_units.clone(),
        walltime,
        walltime_seconds: granted.as_secs(),
        time_min: config.time_min.map(crate::duration::format_slurm),
        array: job.array,
        resource_spec: config.resource_spec.clone(),
        sge_parallel_environment: config.sge_parallel_environment.clone(),
        sge_memory_resource: config.sge_memory_resource.clone(),
        local_directory: config.local_directory.clone(),
        job_extra_directives: config.job_extra_directives.clone(),
        job_script_prologue: config.job_script_prologue.clone(),
        job_script_epilogue: config.job_script_epilogue.clone(),
        worker_command: words.join(" "),
        plan_comment: plan_comment(config),
        checkpoint_lead_seconds: lead.map(|l| l.as_secs_f64().ceil() as u64),
        checkpoint_lead_minutes: lead.map(|l| (l.as_secs_f64() / 60.0).ceil() as u64),
        soft_walltime: lead.map(|l| {
            let lead = Duration::from_secs(l.as_secs_f64().ceil() as u64);
            crate::duration::format_hms(granted.saturating_sub(lead))
        }),
    })
}

/// The worker command line as it is before quoting: its program (`worker_program`, else this
/// executable) and the absolute cluster directory (`cluster_root`, from the working directory
/// when relative) come from outside the configuration's own checks, and each must be one line.
fn check_worker_command(words: &[String]) -> Result<(), validate::UnsafeValue> {
    for (i, word) in words.iter().enumerate() {
        let key = match i {
            0 => "worker_program",
            _ if words[i - 1] == "--cluster-dir" => "cluster_root",
            _ => "worker command",
        };
        validate::Becomes::QuotedWord.check(key, word, crate::backend_kind::BackendKind::Local)?;
    }
    Ok(())
}

/// The plan in one comment line, when `task_time` is set.
fn plan_comment(config: &Config) -> Option<String> {
    let budget = config.budget();
    let task_time = budget.task_time?;
    Some(match crate::plan::plan(&budget, task_time) {
        Ok(p) => format!(
            "# hpcluster: walltime {}, task_time {}, buffer {} -> max_tasks {} per slot",
            h(p.walltime),
            h(p.task_time),
            h(p.buffer),
            p.max_tasks
        ),
        Err(_) => format!(
            "# hpcluster: walltime {}, task_time {}: no task fits (see `hpcluster plan`)",
            h(budget.walltime),
            h(task_time)
        ),
    })
}

/// Renders the job script for a configuration: the user's `template` if set, else the
/// backend's built-in one.
pub fn render_script(config: &Config, job: &JobContext) -> anyhow::Result<String> {
    let ctx = context(config, job)?;
    let (name, text) = match &config.template {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("failed to read template `{}`", path.display()))?,
        ),
        None => (
            format!("{}.sh.tera", config.backend),
            builtin(config.backend).to_string(),
        ),
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template(&name, &text)
        .with_context(|| format!("failed to parse template `{name}`"))?;
    let tera_ctx = tera::Context::from_serialize(&ctx)?;
    let script = tera
        .render(&name, &tera_ctx)
        .with_context(|| format!("failed to render template `{name}`"))?;
    Ok(skip::apply(config, &script))
}

#[cfg(test)]
mod tests {
    /// A template value without a row (and a rule) in `docs/templates.md` fails here.
    #[test]
    fn every_template_value_has_its_rule_documented() {
        let config = crate::config::Config::default();
        let job = super::JobContext {
            job_name: "hpcluster-1".into(),
            log_directory: "/l".into(),
            worker_command: vec!["/opt/hpcluster".into(), "worker".into()],
            array: None,
        };
        let ctx = serde_json::to_value(super::context(&config, &job).unwrap()).unwrap();
        let docs = include_str!("../../docs/templates.md");
        let rows: Vec<&str> = docs
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.split(" | ").next().unwrap_or(""))
            .collect();
        for field in ctx.as_object().unwrap().keys() {
            let cell = format!("`{field}`");
            assert!(
                rows.iter().any(|r| r.contains(&cell)),
                "template value `{field}` has no row in docs/templates.md"
            );
        }
    }
}
