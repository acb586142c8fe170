//! Checks of the merged configuration: values every key's parser accepted on its own but that
//! are wrong together (an `account` on SGE) or would break a job script (see [`crate::validate`]).

use super::Config;
use crate::backend_kind::BackendKind;

/// A check that failed, with the key it is about (so the caller can say where it was set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub key: String,
    pub message: String,
}

fn fail(key: &str, message: impl ToString) -> CheckError {
    CheckError {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// Checks a merged configuration.
pub fn check(c: &Config) -> Result<(), CheckError> {
    check_script_values(c)?;
    check_charge_key(c)?;
    if c.walltime.is_zero() {
        return Err(fail(
            "walltime",
            "`walltime` must be greater than zero, like \"5h\"",
        ));
    }
    if c.task_time.is_some_and(|t| t.is_zero()) {
        return Err(fail(
            "task_time",
            "`task_time` must be greater than zero, like \"1h\"",
        ));
    }
    let limits = [
        ("submit_timeout", c.submit_timeout),
        ("status_timeout", c.status_timeout),
        ("cancel_timeout", c.cancel_timeout),
    ];
    for (key, limit) in limits {
        if limit.is_zero() {
            return Err(fail(
                key,
                format!("`{key}` must be greater than zero, like \"60s\""),
            ));
        }
    }
    check_time_min(c)?;
    if c.task_timeout.is_some_and(|t| t.is_zero()) {
        return Err(fail(
            "task_timeout",
            "`task_timeout` must be greater than zero, like \"2h\" (leave it unset for no limit)",
        ));
    }
    if c.checkpoint_lead.is_some_and(|t| t.is_zero()) {
        return Err(fail(
            "checkpoint_lead",
            "`checkpoint_lead` must be greater than zero, like \"60s\"",
        ));
    }
    check_checkpoint_lead(c)?;
    if c.checkpointable && c.checkpoint_signal.is_none() {
        return Err(fail(
            "checkpointable",
            "`checkpointable = true` needs `checkpoint_signal`, like \"USR1\": a task is only \
             started for a piece of its work when its worker will ask it to checkpoint",
        ));
    }
    if crate::memory::parse_lsf_units(&c.lsf_units).is_none() {
        return Err(fail(
            "lsf_units",
            format!(
                "invalid `lsf_units` `{}`: expected one of {} (the site's LSF_UNIT_FOR_LIMITS)",
                c.lsf_units,
                crate::memory::LSF_UNITS
            ),
        ));
    }
    Ok(())
}

/// `time_min` is a SLURM request for a walltime between it and `walltime`.
fn check_time_min(c: &Config) -> Result<(), CheckError> {
    let Some(t) = c.time_min else {
        return Ok(());
    };
    let h = crate::duration::format_human;
    if c.backend != BackendKind::Slurm && c.backend != BackendKind::Local {
        return Err(fail(
            "time_min",
            format!(
                "`time_min` is a SLURM option (`--time-min`); the {} backend has no such \
                 request: remove `time_min`, or use `walltime` alone",
                c.backend
            ),
        ));
    }
    if t.is_zero() || t > c.walltime {
        return Err(fail(
            "time_min",
            format!(
                "`time_min` must be above zero and at most the walltime ({}), found {}: set \
                 it to the shortest walltime worth starting for, like `hpcluster plan` \
                 recommends",
                h(c.walltime),
                h(t)
            ),
        ));
    }
    Ok(())
}

/// The longest `checkpoint_lead` SLURM's `--signal` takes, seconds (`sbatch(1)`: "sig_time
/// must have an integer value between 0 and 65535").
pub const SLURM_MAX_SIGNAL_TIME: u64 = 65535;

/// With `checkpoint_signal` set, the signal goes out `checkpoint_lead` before the deadline, and
/// the job script asks the batch system to warn that long before the end: the lead must be
/// shorter than the walltime, and on SLURM fit `--signal`.
fn check_checkpoint_lead(c: &Config) -> Result<(), CheckError> {
    let Some(lead) = c.checkpoint_lead() else {
        return Ok(());
    };
    let h = crate::duration::format_human;
    let walltime = c.budget().walltime;
    if lead >= walltime {
        return Err(fail(
            "checkpoint_lead",
            format!(
                "`checkpoint_lead` ({}) must be shorter than the walltime ({}): tasks would be \
                 asked to checkpoint before they start; lower `checkpoint_lead` (like \"60s\") \
                 or raise `walltime`",
                h(lead),
                h(walltime)
            ),
        ));
    }
    let secs = lead.as_secs_f64().ceil() as u64;
    if c.backend == BackendKind::Slurm && secs > SLURM_MAX_SIGNAL_TIME {
        return Err(fail(
            "checkpoint_lead",
            format!(
                "`checkpoint_lead` ({}) is longer than SLURM's `--signal` takes ({} s, {}), \
                 with which the job script asks SLURM to warn the batch job: lower \
                 `checkpoint_lead` to at most that",
                h(lead),
                SLURM_MAX_SIGNAL_TIME,
                h(std::time::Duration::from_secs(SLURM_MAX_SIGNAL_TIME))
            ),
        ));
    }
    Ok(())
}

/// Every value that lands in a job script, by the one table of [`super::script_values`].
fn check_script_values(c: &Config) -> Result<(), CheckError> {
    super::script_values::check(c).map_err(|v| fail(&v.key.clone(), v))
}

/// SLURM and PBS charge an `account`; SGE and LSF a `project` (as in dask-jobqueue). The wrong
/// one is an error, not a silently dropped directive: a batch job charged to the default
/// account is hard to undo.
fn check_charge_key(c: &Config) -> Result<(), CheckError> {
    let (wrong, right, value) = match c.backend {
        BackendKind::Sge | BackendKind::Lsf => ("account", "project", &c.account),
        BackendKind::Slurm | BackendKind::Pbs => ("project", "account", &c.project),
        BackendKind::Local => return Ok(()),
    };
    if value.is_some() {
        return Err(fail(
            wrong,
            format!(
                "`{wrong}` is not used by the {} backend, which charges an `{right}`: rename \
                 `{wrong}` to `{right}`",
                c.backend
            )
            .replace("an `project`", "a `project`"),
        ));
    }
    Ok(())
}
