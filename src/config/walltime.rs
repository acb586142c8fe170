//! Walltimes as the configured batch system reads them. A bare number and two fields `A:B`
//! mean different things to different submit commands: `sbatch` reads `45` as minutes and
//! `30:15` as minutes:seconds; SGE's and PBS's `qsub` read `45` as seconds and `30:15` as
//! minutes:seconds; LSF's `bsub -W` reads `45` as minutes and `05:00` as hours:minutes (so
//! dask-jobqueue's LSFCluster default `00:30` is half an hour). hpcluster reads such a walltime
//! the way the configured backend's submit command does, and says so (`config show`, `up`).
//! Every other form (`5h`, `05:00:00`, `1-00:00:00`) means the same everywhere.

use std::time::Duration;

use crate::backend_kind::BackendKind;
use crate::duration::{format_human, parse_duration, DurationError};

/// How a backend's submit command reads a bare number and `A:B`.
fn reading(backend: BackendKind) -> (u64, u64, &'static str) {
    // (seconds per unit of a bare number, seconds per unit of A in A:B, the command's words)
    match backend {
        BackendKind::Slurm => (60, 60, "sbatch `-t` takes a bare number as minutes and A:B as minutes:seconds"),
        BackendKind::Sge => (1, 60, "SGE's `-l h_rt` takes a bare number as seconds and A:B as minutes:seconds"),
        BackendKind::Pbs => (1, 60, "PBS's `-l walltime` takes a bare number as seconds and A:B as minutes:seconds"),
        BackendKind::Lsf => (60, 3600, "LSF's `bsub -W` takes a bare number as minutes and A:B as hours:minutes"),
        BackendKind::Local => (60, 60, "the local backend takes a bare number as minutes and A:B as minutes:seconds, as sbatch does"),
    }
}

/// A bare number (`45`) or two clock fields (`05:00`): the forms batch systems read
/// differently. Their parts, when `text` is one.
fn ambiguous(text: &str) -> Option<(u64, Option<u64>)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let t = text.trim();
    match t.split_once(':') {
        None if digits(t) => Some((t.parse().ok()?, None)),
        Some((a, b)) if digits(a) && digits(b) => Some((a.parse().ok()?, Some(b.parse().ok()?))),
        _ => None,
    }
}

/// Reads a walltime as `backend`'s submit command does; with a note when the form is one
/// batch systems read differently (`05:00` read as 5h: ...).
pub fn parse_walltime(
    text: &str,
    backend: BackendKind,
) -> Result<(Duration, Option<String>), DurationError> {
    let Some((a, b)) = ambiguous(text) else {
        return parse_duration(text).map(|d| (d, None));
    };
    let (bare, first, words) = reading(backend);
    let secs = match b {
        None => a.checked_mul(bare),
        Some(b) if b < 60 => a
            .checked_mul(first)
            .and_then(|s| s.checked_add(b * first / 60)),
        Some(_) => {
            return Err(DurationError {
                input: text.to_string(),
                reason: "the second field must be under 60".into(),
            })
        }
    }
    .ok_or_else(|| DurationError {
        input: text.to_string(),
        reason: "it is too large".into(),
    })?;
    let d = Duration::from_secs(secs);
    let note = format!(
        "`{}` read as {}: {words}; write \"{}\" to mean it on every backend",
        text.trim(),
        format_human(d),
        format_human(d)
    );
    Ok((d, Some(note)))
}

/// The least walltime a batch system grants: a minute (SLURM's least limit; LSF counts whole
/// minutes). The local backend takes seconds.
pub const LEAST_WALLTIME: Duration = Duration::from_secs(60);

/// A walltime a batch system would not grant (under [`LEAST_WALLTIME`]) is an error before
/// anything is planned, rendered or submitted: a worker with a walltime of 0 s takes no task.
pub fn check_least(config: &super::Config) -> anyhow::Result<()> {
    let granted = config.budget().walltime;
    if config.backend == BackendKind::Local || granted >= LEAST_WALLTIME {
        return Ok(());
    }
    let read = config
        .walltime_note
        .as_ref()
        .map_or(String::new(), |n| format!(" ({n})"));
    anyhow::bail!(
        "`walltime` {} is under one minute{read}: a batch job needs one minute at least \
         (SLURM's least time limit; LSF counts whole minutes); give a walltime like \"1h\" or \
         \"01:00:00\"",
        format_human(config.walltime)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str, b: BackendKind) -> u64 {
        parse_walltime(text, b).unwrap().0.as_secs()
    }

    #[test]
    fn two_fields_and_bare_numbers_are_read_as_each_submit_command_reads_them() {
        assert_eq!(secs("05:00", BackendKind::Lsf), 5 * 3600);
        assert_eq!(secs("00:30", BackendKind::Lsf), 30 * 60);
        assert_eq!(secs("05:00", BackendKind::Slurm), 5 * 60);
        assert_eq!(secs("05:00", BackendKind::Sge), 5 * 60);
        assert_eq!(secs("05:00", BackendKind::Pbs), 5 * 60);
        assert_eq!(secs("45", BackendKind::Slurm), 45 * 60);
        assert_eq!(secs("45", BackendKind::Lsf), 45 * 60);
        assert_eq!(secs("3600", BackendKind::Sge), 3600);
        assert_eq!(secs("3600", BackendKind::Pbs), 3600);
        // Unambiguous forms mean the same everywhere, with no note.
        for b in [BackendKind::Slurm, BackendKind::Lsf, BackendKind::Sge] {
            assert_eq!(
                parse_walltime("05:00:00", b).unwrap(),
                (Duration::from_secs(18_000), None)
            );
            assert_eq!(
                parse_walltime("5h", b).unwrap(),
                (Duration::from_secs(18_000), None)
            );
        }
        let (_, note) = parse_walltime("05:00", BackendKind::Lsf).unwrap();
        assert_eq!(
            note.unwrap(),
            "`05:00` read as 5h: LSF's `bsub -W` takes a bare number as minutes and A:B as \
             hours:minutes; write \"5h\" to mean it on every backend"
        );
        let e = parse_walltime("5:75", BackendKind::Lsf)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid duration `5:75`: the second field must be under 60"),
            "{e}"
        );
    }
}
