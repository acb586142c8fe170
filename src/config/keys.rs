//! Every configuration key: its name, its dask-jobqueue aliases, how a raw value (a TOML value,
//! or the text of an environment variable or a flag) becomes a typed [`Config`] field, and how
//! the field is shown back by `config show`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::Config;
use crate::backend_kind::BackendKind;

/// Every key, in the order `config show` and `docs/configuration.md` list them.
pub const KEYS: &[&str] = &[
    "backend",
    "name",
    "cores",
    "memory",
    "slots",
    "queue",
    "account",
    "project",
    "walltime",
    "task_time",
    "buffer",
    "startup",
    "max_jobs",
    "max_tasks",
    "time_min",
    "overrun_risk",
    "scale",
    "job_extra_directives",
    "job_directives_skip",
    "job_script_prologue",
    "job_script_epilogue",
    "log_directory",
    "local_directory",
    "shebang",
    "template",
    "cluster_root",
    "interface",
    "host",
    "port",
    "submit_command_extra",
    "cancel_command_extra",
    "max_array_size",
    "poll_interval",
    "submit_timeout",
    "status_timeout",
    "cancel_timeout",
    "retries",
    "retries_on_failure",
    "task_timeout",
    "checkpoint_signal",
    "checkpoint_lead",
    "checkpoint_exit_code",
    "checkpointable",
    "max_checkpoints",
    "resource_spec",
    "sge_parallel_environment",
    "sge_memory_resource",
    "lsf_units",
    "worker_program",
    "cluster_access",
];

/// dask-jobqueue names (current and legacy) for hpcluster keys.
pub const ALIASES: &[(&str, &str)] = &[
    ("processes", "slots"),
    ("job_name", "name"),
    ("job_extra", "job_extra_directives"),
    ("header_skip", "job_directives_skip"),
    ("env_extra", "job_script_prologue"),
    ("shared_temp_directory", "cluster_root"),
];

/// dask-jobqueue keywords (its `Job`/`JobQueueCluster` arguments and `jobqueue.yaml` keys)
/// that have no hpcluster key, each with what to do instead. Every other dask-jobqueue keyword
/// is a key or an [`ALIASES`] entry (docs/configuration.md has the whole table).
pub const DASK_ONLY: &[(&str, &str)] = &[
    ("job_cpu", "set `cores`: it is the CPU request hpcluster writes into the job script (`--cpus-per-task`), where dask's `cores` only sizes the worker's threads"),
    ("ncpus", "set `cores`: it is the CPU request hpcluster writes into the job script (LSF `-n`), where dask's `cores` only sizes the worker's threads"),
    ("job_mem", "set `memory`: it is the memory request hpcluster writes into the job script (`--mem`)"),
    ("mem", "set `memory` (a size like \"16GB\", not bytes): it is the memory request hpcluster writes into the job script (LSF `-M`)"),
    ("python", "batch jobs run the hpcluster program, not Python: set `worker_program` to where hpcluster is installed on the compute nodes, if not the same path as here"),
    ("worker_command", "batch jobs run `hpcluster worker`: set `worker_program` to where hpcluster is installed on the compute nodes, if not the same path as here"),
    ("worker_extra_args", "the worker takes no extra arguments: what `--lifetime` did, hpcluster's plan does (`walltime`, `task_time`, `buffer`), and environment set-up goes in `job_script_prologue`"),
    ("extra", "the worker takes no extra arguments: what `--lifetime` did, hpcluster's plan does (`walltime`, `task_time`, `buffer`), and environment set-up goes in `job_script_prologue`"),
    ("nanny", "each task runs in a process group of its own that the worker watches and ends: remove it"),
    ("death_timeout", "a worker whose server is gone keeps its tasks running and tries to reconnect for 5 minutes: remove it"),
    ("use_stdin", "hpcluster always submits with `bsub < script`: remove it"),
    ("scheduler_options", "set `host` (or `interface`) and `port`, the address the server listens on; hpcluster has no dashboard"),
    ("dashboard_address", "hpcluster has no dashboard: `hpcluster status` shows the cluster"),
    ("protocol", "workers reach the server over TCP and prove they know the cluster's secret: remove it"),
    ("security", "workers reach the server over TCP and prove they know the cluster's secret (mode 0600 in the cluster directory): remove it"),
    ("n_workers", "give `hpcluster up --jobs N`, or let `up --tasks` submit what the tasks need, up to `max_jobs`"),
    ("maximum_jobs", "set `max_jobs`"),
    ("minimum_jobs", "`up` submits what the pending tasks need and no more: remove it"),
    ("config_name", "a config file is one flat table: keep a file per profile and choose it with `--config`"),
    ("silence_logs", "give `-q` (or set `RUST_LOG`)"),
    ("asynchronous", "it is for Python programs: remove it"),
    ("loop", "it is for Python programs: remove it"),
    ("scheduler_cls", "hpcluster's server is fixed: remove it"),
    ("job_cls", "set `backend`"),
    ("disk", "HTCondor is not a hpcluster backend (slurm, sge, pbs, lsf, local)"),
    ("memory_per_core_property_name", "OAR is not a hpcluster backend (slurm, sge, pbs, lsf, local)"),
];

/// What to do instead of a dask-jobqueue keyword that has no hpcluster key.
pub fn dask_only(name: &str) -> Option<&'static str> {
    let name = name.replace('-', "_");
    DASK_ONLY
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, why)| *why)
}

/// The key a name stands for: itself, or the key it is an alias of. dask's YAML spelling
/// (`job-extra-directives`) is accepted too. `None` for an unknown name.
pub fn canonical(name: &str) -> Option<&'static str> {
    let name = name.replace('-', "_");
    if let Some(key) = KEYS.iter().find(|k| **k == name) {
        return Some(key);
    }
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, key)| *key)
}

/// The closest known key or alias, for a "did you mean" hint.
pub fn suggest(name: &str) -> Option<&'static str> {
    // No "did you mean" for a dask-jobqueue key with no counterpart (the nearest spelling,
    // `death_timeout` -> `task_timeout`, would name something else): its own hint says what
    // to do instead.
    if dask_only(name).is_some() {
        return None;
    }
    let names = KEYS.iter().copied().chain(ALIASES.iter().map(|(a, _)| *a));
    names
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// A value before it is typed: from the TOML file, or text from the environment or a flag.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Toml(&'a toml::Value),
    Text(&'a str),
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("a string ({s:?})"),
        toml::Value::Integer(i) => format!("an integer ({i})"),
        toml::Value::Float(f) => format!("a float ({f})"),
        toml::Value::Boolean(b) => format!("a boolean ({b})"),
        toml::Value::Datetime(d) => format!("a datetime ({d})"),
        toml::Value::Array(_) => "an array".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

fn string(raw: Raw<'_>, expected: &str) -> Result<String, String> {
    match raw {
        Raw::Text(s) => Ok(s.to_string()),
        Raw::Toml(toml::Value::String(s)) => Ok(s.clone()),
        Raw::Toml(v) => Err(format!("expected {expected}, found {}", describe(v))),
    }
}

fn integer(raw: Raw<'_>, min: i64, max: i64) -> Result<i64, String> {
    let expected = format!("a whole number from {min} to {max}");
    let n = match raw {
        Raw::Text(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("expected {expected}, found `{s}`"))?,
        Raw::Toml(toml::Value::Integer(i)) => *i,
        Raw::Toml(v) => return Err(format!("expected {expected}, found {}", describe(v))),
    };
    if n < min || n > max {
        return Err(format!("expected {expected}, found {n}"));
    }
    Ok(n)
}

fn boolean(raw: Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
        Raw::Text(s) => match s.trim() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(format!("expected `true` or `false`, found `{other}`")),
        },
        Raw::Toml(v) => Err(format!("expected `true` or `false`, found {}", describe(v))),
    }
}

fn count(raw: Raw<'_>, min: u32) -> Result<u32, String> {
    integer(raw, i64::from(min), i64::from(u32::MAX)).map(|n| n as u32)
}

fn duration(raw: Raw<'_>) -> Result<Duration, String> {
    let s = string(raw, "a duration string like \"5h\" or \"04:00:00\"")?;
    crate::duration::parse_duration(&s).map_err(|e| e.to_string())
}

fn share(raw: Raw<'_>, expected: &str) -> Result<f64, String> {
    let value = match raw {
        Raw::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("expected {expected}, found `{s}`"))?,
        Raw::Toml(toml::Value::Float(f)) => *f,
        Raw::Toml(toml::Value::Integer(i)) => *i as f64,
        Raw::Toml(v) => return Err(format!("expected {expected}, found {}", describe(v))),
    };
    if !(value > 0.0 && value <= 0.5) {
        return Err(format!("expected {expected}, found {value}"));
    }
    Ok(value)
}

fn list(raw: Raw<'_>) -> Result<Vec<String>, String> {
    let expected = "an array of strings like [\"--qos=high\"]";
    match raw {
        Raw::Text(s) if s.trim_start().starts_with('[') => serde_json::from_str(s)
            .map_err(|e| format!("expected a JSON array of strings like [\"--qos=high\"]: {e}")),
        Raw::Text("") => Ok(Vec::new()),
        Raw::Text(s) => Ok(vec![s.to_string()]),
        Raw::Toml(toml::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "expected {expected}, found {} in it",
                    describe(other)
                )),
            })
            .collect(),
        Raw::Toml(v) => Err(format!("expected {expected}, found {}", describe(v))),
    }
}

fn memory(raw: Raw<'_>) -> Result<u64, String> {
    match raw {
        Raw::Toml(toml::Value::Integer(i)) if *i >= 1 => Ok(*i as u64),
        Raw::Toml(toml::Value::Integer(i)) => Err(format!(
            "expected a size like \"100GB\" or a positive number of bytes, found {i}"
        )),
        _ => {
            let s = string(raw, "a size string like \"100GB\" or \"4GiB\"")?;
            crate::memory::parse_memory(&s).map_err(|e| e.to_string())
        }
    }
}

/// Sets one key (by its canonical name) from a raw value; the error says what was expected.
pub fn set(c: &mut Config, key: &str, raw: Raw<'_>) -> Result<(), String> {
    let text = |what: &str| string(raw, what);
    match key {
        "backend" => c.backend = BackendKind::parse(&text("a backend name like \"slurm\"")?)?,
        "name" => c.name = text("a name like \"my-cluster\"")?,
        "cores" => c.cores = count(raw, 1)?,
        "memory" => c.memory = Some(memory(raw)?),
        "slots" => c.slots = count(raw, 1)?,
        "queue" => c.queue = Some(text("a queue name")?),
        "account" => c.account = Some(text("an account name")?),
        "project" => c.project = Some(text("a project name")?),
        "walltime" => {
            let s = string(raw, "a duration string like \"5h\" or \"04:00:00\"")?;
            let (d, _) =
                super::walltime::parse_walltime(&s, c.backend).map_err(|e| e.to_string())?;
            c.walltime = d;
            c.walltime_written = Some(s);
        }
        "task_time" => c.task_time = Some(duration(raw)?),
        "buffer" => {
            let s = text("a buffer like \"15m\" or \"10%\"")?;
            c.buffer = crate::budget::parse_buffer(&s).map_err(|e| e.to_string())?
        }
        "startup" => c.startup = duration(raw)?,
        "max_jobs" => c.max_jobs = count(raw, 1)?,
        "max_tasks" => c.task_cap = Some(count(raw, 1)?),
        "time_min" => c.time_min = Some(duration(raw)?),
        "overrun_risk" => {
            c.overrun_risk = share(raw, "a chance above 0 and at most 0.5, like 0.01")?
        }
        "scale" => c.scale = crate::budget::Scale::parse(&text("`fast` or `frugal`")?)?,
        "job_extra_directives" => c.job_extra_directives = list(raw)?,
        "job_directives_skip" => c.job_directives_skip = list(raw)?,
        "job_script_prologue" => c.job_script_prologue = list(raw)?,
        "job_script_epilogue" => c.job_script_epilogue = list(raw)?,
        "log_directory" => c.log_directory = Some(PathBuf::from(text("a directory path")?)),
        "local_directory" => c.local_directory = Some(text("a directory path")?),
        "shebang" => c.shebang = text("a shebang like \"#!/usr/bin/env bash\"")?,
        "template" => c.template = Some(PathBuf::from(text("a template file path")?)),
        "cluster_root" => c.cluster_root = PathBuf::from(text("a directory path")?),
        "interface" => {
            let name = text("a network interface like \"ib0\"")?;
            if super::interface::is_address(&name) {
                return Err(format!(
                    "`{name}` is an address, but `interface` names a network interface like \
                     \"ib0\" or \"eth0\" (as in dask-jobqueue); set `host = \"{name}\"` to \
                     listen on an address"
                ));
            }
            c.interface = Some(name);
        }
        "host" => c.host = text("an address like \"0.0.0.0\"")?,
        "port" => c.port = integer(raw, 0, 65535)? as u16,
        "submit_command_extra" => c.submit_command_extra = list(raw)?,
        "cancel_command_extra" => c.cancel_command_extra = list(raw)?,
        "max_array_size" => c.max_array_size = count(raw, 1)?,
        "poll_interval" => c.poll_interval = duration(raw)?,
        "submit_timeout" => c.submit_timeout = duration(raw)?,
        "status_timeout" => c.status_timeout = duration(raw)?,
        "cancel_timeout" => c.cancel_timeout = duration(raw)?,
        "retries" => c.retries = count(raw, 0)?,
        "retries_on_failure" => c.retries_on_failure = count(raw, 0)?,
        "task_timeout" => c.task_timeout = Some(duration(raw)?),
        "checkpoint_signal" => {
            let s = string(raw, "a signal name like \"USR1\"")?;
            c.checkpoint_signal = Some(crate::process::parse_checkpoint_signal(&s)?.to_string())
        }
        "checkpoint_lead" => c.checkpoint_lead = Some(duration(raw)?),
        "checkpoint_exit_code" => c.checkpoint_exit_code = integer(raw, 1, 255)? as i32,
        "checkpointable" => c.checkpointable = boolean(raw)?,
        "max_checkpoints" => c.max_checkpoints = count(raw, 1)?,
        "resource_spec" => c.resource_spec = Some(text("a resource list like \"h_vmem=4G\"")?),
        "sge_parallel_environment" => c.sge_parallel_environment = text("a PE name like \"smp\"")?,
        "sge_memory_resource" => c.sge_memory_resource = text("a resource name like \"h_vmem\"")?,
        "lsf_units" => c.lsf_units = text("an LSF unit like \"mb\"")?,
        "worker_program" => c.worker_program = Some(PathBuf::from(text("a program path")?)),
        "cluster_access" => {
            c.cluster_access = crate::atomic_file::Access::parse(&text("`private` or `group`")?)?
        }
        other => return Err(format!("`{other}` is not a configuration key")),
    }
    Ok(())
}

fn dur(d: Duration) -> Json {
    json!(crate::duration::format_human(d))
}

fn path(p: &Option<PathBuf>) -> Json {
    json!(p.as_ref().map(|p| p.display().to_string()))
}

/// The value of a key as `config show` prints it (durations and sizes in their short form).
pub fn value(c: &Config, key: &str) -> Json {
    match key {
        "backend" => json!(c.backend.name()),
        "name" => json!(c.name),
        "cores" => json!(c.cores),
        "memory" => json!(c.memory.map(crate::memory::format_exact)),
        "slots" => json!(c.slots),
        "queue" => json!(c.queue),
        "account" => json!(c.account),
        "project" => json!(c.project),
        "walltime" => dur(c.walltime),
        "task_time" => c.task_time.map_or(Json::Null, dur),
        "buffer" => json!(c.buffer.to_string()),
        "startup" => dur(c.startup),
        "max_jobs" => json!(c.max_jobs),
        "max_tasks" => json!(c.task_cap),
        "time_min" => c.time_min.map_or(Json::Null, dur),
        "overrun_risk" => json!(c.overrun_risk),
        "scale" => json!(c.scale.name()),
        "job_extra_directives" => json!(c.job_extra_directives),
        "job_directives_skip" => json!(c.job_directives_skip),
        "job_script_prologue" => json!(c.job_script_prologue),
        "job_script_epilogue" => json!(c.job_script_epilogue),
        "log_directory" => path(&c.log_directory),
        "local_directory" => json!(c.local_directory),
        "shebang" => json!(c.shebang),
        "template" => path(&c.template),
        "cluster_root" => json!(c.cluster_root.display().to_string()),
        "interface" => json!(c.interface),
        "host" => json!(c.host),
        "port" => json!(c.port),
        "submit_command_extra" => json!(c.submit_command_extra),
        "cancel_command_extra" => json!(c.cancel_command_extra),
        "max_array_size" => json!(c.max_array_size),
        "poll_interval" => dur(c.poll_interval),
        "submit_timeout" => dur(c.submit_timeout),
        "status_timeout" => dur(c.status_timeout),
        "cancel_timeout" => dur(c.cancel_timeout),
        "retries" => json!(c.retries),
        "retries_on_failure" => json!(c.retries_on_failure),
        "task_timeout" => c.task_timeout.map_or(Json::Null, dur),
        "checkpoint_signal" => json!(c.checkpoint_signal),
        "checkpoint_lead" => c.checkpoint_lead().map_or(Json::Null, dur),
        "checkpoint_exit_code" => json!(c.checkpoint_exit_code),
        "checkpointable" => json!(c.checkpointable),
        "max_checkpoints" => json!(c.max_checkpoints),
        "resource_spec" => json!(c.resource_spec),
        "sge_parallel_environment" => json!(c.sge_parallel_environment),
        "sge_memory_resource" => json!(c.sge_memory_resource),
        "lsf_units" => json!(c.lsf_units),
        "worker_program" => path(&c.worker_program),
        "cluster_access" => json!(c.cluster_access.name()),
        _ => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_rejects_a_wrong_type() {
        for key in KEYS.iter().filter(|k| **k != "checkpointable") {
            let e = set(
                &mut Config::default(),
                key,
                Raw::Toml(&toml::Value::Boolean(true)),
            );
            assert!(e.unwrap_err().contains("found a boolean"), "{key}");
        }
        // The one boolean key refuses text and numbers.
        for wrong in [toml::Value::String("yes".into()), toml::Value::Integer(1)] {
            let e = set(&mut Config::default(), "checkpointable", Raw::Toml(&wrong));
            assert!(e.unwrap_err().contains("expected `true` or `false`"));
        }
    }

    #[test]
    fn checkpoint_keys_take_a_catchable_signal_and_an_exit_status() {
        let mut c = Config::default();
        set(&mut c, "checkpoint_signal", Raw::Text("sigusr2")).unwrap();
        assert_eq!(c.checkpoint_signal.as_deref(), Some("USR2"));
        assert_eq!(c.checkpoint_lead(), Some(Duration::from_secs(60)));
        let e = set(&mut c, "checkpoint_signal", Raw::Text("KILL")).unwrap_err();
        assert!(e.contains("one of USR1, USR2"), "{e}");
        assert!(set(&mut c, "checkpoint_exit_code", Raw::Text("0")).is_err());
        assert!(set(&mut c, "checkpoint_exit_code", Raw::Text("256")).is_err());
        set(&mut c, "checkpointable", Raw::Text("true")).unwrap();
        assert!(c.checkpointable);
    }

    #[test]
    fn aliases_and_dask_yaml_names() {
        assert_eq!(canonical("processes"), Some("slots"));
        assert_eq!(
            canonical("job-extra-directives"),
            Some("job_extra_directives")
        );
        assert_eq!(canonical("env_extra"), Some("job_script_prologue"));
        assert_eq!(canonical("waltime"), None);
        assert_eq!(suggest("waltime"), Some("walltime"));
        assert_eq!(suggest("zzzz"), None);
        assert_eq!(suggest("task_timout"), Some("task_timeout"));
        assert_eq!(suggest("death-timeout"), None);
    }

    #[test]
    fn env_lists_are_json_or_one_item() {
        let mut c = Config::default();
        set(
            &mut c,
            "job_extra_directives",
            Raw::Text(r#"["--qos=high","-C a,b"]"#),
        )
        .unwrap();
        assert_eq!(c.job_extra_directives, ["--qos=high", "-C a,b"]);
        set(
            &mut c,
            "job_extra_directives",
            Raw::Text("--gres=gpu:1,mps:2"),
        )
        .unwrap();
        assert_eq!(c.job_extra_directives, ["--gres=gpu:1,mps:2"]);
    }
}
