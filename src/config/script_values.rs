//! Which configuration keys reach a job script (or a batch command's line), and what each
//! becomes there: one table that `config` checks every loaded configuration by and the
//! template checks every rendered configuration by, so a key cannot reach a script unchecked.
//! Every key of [`super::keys::KEYS`] is either here or in [`TYPED`] (a test holds the two to `KEYS`), so a
//! new key must say which it is.

use super::keys::value;
use super::Config;
use crate::validate::{Becomes, UnsafeValue};

/// Every key whose text reaches a job script or a batch command, with what it becomes.
pub const SCRIPT_VALUES: &[(&str, Becomes)] = &[
    ("name", Becomes::JobName),
    ("queue", Becomes::DirectiveWord),
    ("account", Becomes::DirectiveWord),
    ("project", Becomes::DirectiveWord),
    ("resource_spec", Becomes::DirectiveWord),
    ("sge_parallel_environment", Becomes::DirectiveWord),
    ("sge_memory_resource", Becomes::DirectiveWord),
    ("log_directory", Becomes::DirectiveWord),
    ("cluster_root", Becomes::DirectiveWord),
    ("interface", Becomes::DirectiveWord),
    ("host", Becomes::DirectiveWord),
    ("job_extra_directives", Becomes::Directive),
    ("job_directives_skip", Becomes::Directive),
    ("job_script_prologue", Becomes::ShellLine),
    ("job_script_epilogue", Becomes::ShellLine),
    ("local_directory", Becomes::DoubleQuoted),
    ("shebang", Becomes::Shebang),
    ("worker_program", Becomes::QuotedWord),
    ("template", Becomes::Argument),
    ("submit_command_extra", Becomes::Argument),
    ("cancel_command_extra", Becomes::Argument),
];

/// Keys whose value is typed (a number, a duration, a size, one of a few names) and written by
/// hpcluster in the backend's own format, so no text of the user's reaches a script.
pub const TYPED: &[&str] = &[
    "backend",
    "cores",
    "memory",
    "slots",
    "walltime",
    "task_time",
    "buffer",
    "startup",
    "max_jobs",
    "max_tasks",
    "port",
    "max_array_size",
    "poll_interval",
    "submit_timeout",
    "status_timeout",
    "cancel_timeout",
    "retries",
    "lsf_units",
    "cluster_access",
    "time_min",
    "overrun_risk",
    "scale",
    "retries_on_failure",
    "task_timeout",
    "checkpoint_signal",
    "checkpoint_lead",
    "checkpoint_exit_code",
    "checkpointable",
    "max_checkpoints",
];

/// Checks every value of every key of [`SCRIPT_VALUES`] by what it becomes.
pub fn check(c: &Config) -> Result<(), UnsafeValue> {
    for (key, becomes) in SCRIPT_VALUES {
        for text in texts(&value(c, key)) {
            becomes.check(key, &text, c.backend)?;
        }
    }
    Ok(())
}

/// The text of a key's value as `config show` prints it: one string, each item of a list, or
/// nothing when unset.
fn texts(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(texts).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::keys::KEYS;
    use super::*;

    #[test]
    fn every_key_says_whether_it_reaches_a_script() {
        let mut listed: Vec<&str> = SCRIPT_VALUES.iter().map(|(k, _)| *k).collect();
        listed.extend(TYPED);
        listed.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(listed, keys);
    }

    #[test]
    fn lists_are_checked_item_by_item() {
        let c = Config {
            job_script_epilogue: vec!["echo ok".into(), "a\0b".into()],
            ..Config::default()
        };
        let e = check(&c).unwrap_err();
        assert_eq!(e.key, "job_script_epilogue");
        assert!(e.reason.contains("NUL"), "{e}");
    }
}
