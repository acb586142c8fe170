//! A worker's deadline and batch system, from its environment: the batch job's start (written
//! by the job script) plus the walltime, or earlier where the batch system says so (SLURM's end
//! time from `squeue`, the local backend's `HPCLUSTER_JOB_DEADLINE`); the batch system given on
//! the command line, else guessed from the variables each one sets. A SLURM batch job submitted
//! with `--time-min` may be started by backfill with a shorter limit than it asked: `squeue`'s
//! end time is that granted limit, and [`granted`] tells the worker's log how much it got.

use std::collections::HashMap;
use std::time::Duration;

use crate::backend_kind::BackendKind;

/// The batch system a worker runs under: given on its command line, else guessed from the
/// variables each batch system sets.
pub fn backend_from_env(
    given: Option<BackendKind>,
    env: &HashMap<String, String>,
) -> Option<BackendKind> {
    let has = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    given.or(if has("HPCLUSTER_LOCAL_JOB_ID") {
        Some(BackendKind::Local)
    } else if has("SLURM_JOB_ID") {
        Some(BackendKind::Slurm)
    } else if has("JOB_ID") && (has("SGE_ROOT") || has("SGE_TASK_ID")) {
        Some(BackendKind::Sge)
    } else if has("PBS_JOBID") {
        Some(BackendKind::Pbs)
    } else if has("LSB_JOBID") {
        Some(BackendKind::Lsf)
    } else {
        None
    })
}

/// When the batch job started: what the job script recorded (before its prologue ran), or
/// `started` (the worker's own start) if earlier or unrecorded.
pub fn job_start(started: Duration, env: &HashMap<String, String>) -> Duration {
    env.get("HPCLUSTER_JOB_START")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .map_or(started, |s| s.min(started))
}

/// The walltime the batch system granted, when its deadline comes more than a second before
/// the job's start plus the walltime asked (SLURM's backfill under `--time-min`).
pub fn granted(job_start: Duration, walltime: Duration, deadline: Duration) -> Option<Duration> {
    let asked = job_start.saturating_add(walltime);
    (deadline.saturating_add(Duration::from_secs(1)) < asked)
        .then(|| deadline.saturating_sub(job_start))
}

/// The earliest of the deadlines known: start + walltime, and what the batch system says.
pub fn deadline(started: Duration, walltime: Duration, env: &HashMap<String, String>) -> Duration {
    let started = job_start(started, env);
    let mut d = started.saturating_add(walltime);
    if let Some(local) = env
        .get("HPCLUSTER_JOB_DEADLINE")
        .and_then(|v| v.parse::<f64>().ok())
    {
        d = d.min(crate::duration::from_secs_saturating(local));
    }
    if let Some(id) = env
        .get("SLURM_JOB_ID")
        .filter(|_| env.contains_key("SLURM_JOB_NAME"))
    {
        if let Some(end) = crate::backend::slurm::end_time(id) {
            d = d.min(end);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_backend_is_given_or_guessed_from_the_environment() {
        let guess = |pairs: &[(&str, &str)]| backend_from_env(None, &env(pairs));
        assert_eq!(guess(&[("SLURM_JOB_ID", "12")]), Some(BackendKind::Slurm));
        assert_eq!(
            guess(&[("JOB_ID", "4"), ("SGE_TASK_ID", "undefined")]),
            Some(BackendKind::Sge)
        );
        assert_eq!(guess(&[("PBS_JOBID", "7.srv")]), Some(BackendKind::Pbs));
        assert_eq!(guess(&[("LSB_JOBID", "5")]), Some(BackendKind::Lsf));
        assert_eq!(
            guess(&[("HPCLUSTER_LOCAL_JOB_ID", "local-3"), ("SLURM_JOB_ID", "1")]),
            Some(BackendKind::Local)
        );
        assert_eq!(guess(&[("JOB_ID", "4")]), None);
        assert_eq!(
            backend_from_env(Some(BackendKind::Pbs), &env(&[("SLURM_JOB_ID", "1")])),
            Some(BackendKind::Pbs)
        );
    }

    #[test]
    fn deadline_takes_the_earliest() {
        let s = Duration::from_secs;
        assert_eq!(deadline(s(100), s(50), &env(&[])), s(150));
        assert_eq!(
            deadline(s(100), s(50), &env(&[("HPCLUSTER_JOB_DEADLINE", "140.5")])),
            Duration::from_secs_f64(140.5)
        );
        assert_eq!(
            deadline(s(100), s(50), &env(&[("HPCLUSTER_JOB_DEADLINE", "900")])),
            s(150)
        );
    }

    #[test]
    fn a_shorter_limit_than_asked_is_reported_as_granted() {
        let s = Duration::from_secs;
        assert_eq!(granted(s(100), s(3600), s(400)), Some(s(300)));
        assert_eq!(granted(s(100), s(3600), s(3700)), None);
        assert_eq!(
            granted(s(100), s(3600), Duration::from_secs_f64(3699.5)),
            None
        );
        let e = env(&[("HPCLUSTER_JOB_START", "90")]);
        assert_eq!(job_start(s(100), &e), s(90));
        assert_eq!(job_start(s(80), &e), s(80));
    }
}
