//! The walltime budget of a batch job: the one place where the walltime becomes usable time.
//!
//! A [`Budget`] is built once from the resolved configuration ([`crate::config::Config::budget`])
//! and handed to everything that needs the walltime: `plan`, the job script templates, the
//! worker command line, the server's scheduling core and the benchmark simulator. It holds the
//! walltime the batch system grants ([`granted_walltime`]: LSF counts whole minutes), the buffer
//! resolved to a time, the startup, the usable time (`walltime - startup - buffer`), the slots,
//! the task time and the user's cap on tasks per slot (the `max_tasks` key), the accepted risk
//! that a task overruns its estimate (`overrun_risk`), the shortest walltime SLURM may grant
//! for backfill (`time_min`) and how many batch jobs to run at once ([`Scale`]). The admission
//! rule ([`may_start`]) and the walltime slack ([`WALLTIME_SLACK`]) live here too, so each is
//! defined once. Everything is pure: instants are durations since an epoch the caller chooses.

use std::time::Duration;

use serde::Serialize;

use crate::backend_kind::BackendKind;
use crate::duration::{format_human, parse_duration, DurationError};

/// The default safety buffer: 5% of the walltime (15 min of a 5 h batch job). It covers the
/// worker's own start and stop, clock skew between nodes, the batch system's kill granularity
/// (SLURM checks limits every 30 s) and moderate error in task estimates.
pub const DEFAULT_BUFFER_PERCENT: f64 = 5.0;

/// A run that ends this close to its batch job's deadline (or later) was killed by the
/// walltime, not by something else: the batch system's kill comes within seconds of it.
pub const WALLTIME_SLACK: Duration = Duration::from_secs(3);

/// The default accepted chance that a task runs longer than the estimate it was admitted
/// with (the `overrun_risk` key): estimates are the 99th percentile of what was seen.
pub const DEFAULT_OVERRUN_RISK: f64 = 0.01;

/// A slot that has started nothing and has at least this share of the usable time left is
/// fresh: it may start a task whose estimate fills a whole batch job (see [`Budget::fresh`]).
pub const FRESH_SHARE: f64 = 0.9;

/// How many batch jobs the server runs at once for the pending work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Finish soonest: as many batch jobs as the pending tasks keep busy at once (tasks per
    /// slot), up to `max_jobs`, unless a task is shorter than a batch job's startup and queue
    /// wait; successors are queued ahead of workers about to retire.
    #[default]
    Fast,
    /// Fewest batch jobs: pack the pending tasks into as few walltimes as hold them, for
    /// sites that charge per batch job or limit submissions. No successors ahead.
    Frugal,
}

impl Scale {
    /// Parses `fast` or `frugal`.
    pub fn parse(s: &str) -> Result<Scale, String> {
        match s.trim() {
            "fast" => Ok(Scale::Fast),
            "frugal" => Ok(Scale::Frugal),
            other => Err(format!(
                "expected `fast` (finish soonest) or `frugal` (fewest batch jobs), found `{other}`"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Fast => "fast",
            Scale::Frugal => "frugal",
        }
    }
}

/// The safety margin kept between the expected end of the last task and the walltime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Buffer {
    /// A fixed time, e.g. `15m`.
    Fixed(#[serde(serialize_with = "ser_secs")] Duration),
    /// A share of the walltime in percent, e.g. `10%`.
    Percent(f64),
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::Percent(DEFAULT_BUFFER_PERCENT)
    }
}

impl Buffer {
    /// The buffer as a time, for a batch job of the given walltime.
    pub fn resolve(self, walltime: Duration) -> Duration {
        match self {
            Buffer::Fixed(d) => d,
            Buffer::Percent(p) => walltime.mul_f64(p / 100.0),
        }
    }
}

impl std::fmt::Display for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Buffer::Fixed(d) => f.write_str(&format_human(*d)),
            Buffer::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// A buffer that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BufferError {
    #[error("invalid buffer `{0}`: a percentage must be a number from 0 to 99, like `10%`")]
    Percent(String),
    #[error(transparent)]
    Duration(#[from] DurationError),
}

/// Parses `15m`, `90s`, `0` (no buffer) or `10%` (of the walltime).
pub fn parse_buffer(input: &str) -> Result<Buffer, BufferError> {
    let s = input.trim();
    if let Some(p) = s.strip_suffix('%') {
        let value: f64 = p
            .trim()
            .parse()
            .map_err(|_| BufferError::Percent(input.to_string()))?;
        if !(0.0..100.0).contains(&value) {
            return Err(BufferError::Percent(input.to_string()));
        }
        return Ok(Buffer::Percent(value));
    }
    Ok(Buffer::Fixed(parse_duration(s)?))
}

/// The walltime a backend grants for a request: LSF's `-W` counts whole minutes, so its
/// walltime is rounded down (the worker must not count on seconds it never gets).
pub fn granted_walltime(kind: BackendKind, requested: Duration) -> Duration {
    match kind {
        BackendKind::Lsf => crate::duration::granted_lsf(requested),
        _ => requested,
    }
}

/// What one batch job's walltime offers, computed once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// The walltime the batch system grants.
    #[serde(serialize_with = "ser_secs")]
    pub walltime: Duration,
    /// The buffer as configured (a time or a share of the walltime).
    pub buffer_rule: Buffer,
    /// The buffer resolved to a time for this walltime.
    #[serde(serialize_with = "ser_secs")]
    pub buffer: Duration,
    /// Time from the batch job's start to the worker's first task.
    #[serde(serialize_with = "ser_secs")]
    pub startup: Duration,
    /// `walltime - startup - buffer`: the longest task a fresh worker can take.
    #[serde(serialize_with = "ser_secs")]
    pub usable: Duration,
    /// Tasks a worker runs at once.
    pub slots: u32,
    /// The expected time of a task that does not give its own.
    #[serde(serialize_with = "ser_opt_secs")]
    pub task_time: Option<Duration>,
    /// The user's cap on tasks started per worker slot (the `max_tasks` key; the dask plugin's
    /// N). `None`: the deadline alone decides.
    pub task_cap: Option<u32>,
    /// Walltime-aware admission; off only for `up --no-admission`, a comparison mode in which
    /// workers start every task like a plain Dask worker.
    pub admission: bool,
    /// The accepted chance that a task runs longer than its estimate (`overrun_risk`).
    pub overrun_risk: f64,
    /// The shortest walltime SLURM may grant to start a batch job sooner by backfill
    /// (`time_min`, `--time-min`); the worker reads the limit it was granted.
    #[serde(serialize_with = "ser_opt_secs")]
    pub time_min: Option<Duration>,
    /// How many batch jobs to run at once (`scale`).
    pub scale: Scale,
    /// When the oldest pending task does not fit a worker's time left, give it the pending
    /// task that fits best; off only in the simulator, to compare with plain FIFO.
    pub best_fit: bool,
}

impl Budget {
    /// The budget of a batch job the batch system grants `walltime` (already rounded down where
    /// it must be: see [`granted_walltime`]), with admission on and no task time or cap.
    pub fn new(walltime: Duration, buffer_rule: Buffer, startup: Duration, slots: u32) -> Budget {
        let buffer = buffer_rule.resolve(walltime);
        Budget {
            walltime,
            buffer_rule,
            buffer,
            startup,
            usable: walltime.saturating_sub(startup).saturating_sub(buffer),
            slots,
            task_time: None,
            task_cap: None,
            admission: true,
            overrun_risk: DEFAULT_OVERRUN_RISK,
            time_min: None,
            scale: Scale::Fast,
            best_fit: true,
        }
    }

    pub fn with_overrun_risk(mut self, risk: f64) -> Budget {
        self.overrun_risk = risk;
        self
    }

    pub fn with_time_min(mut self, time_min: Option<Duration>) -> Budget {
        self.time_min = time_min;
        self
    }

    pub fn with_scale(mut self, scale: Scale) -> Budget {
        self.scale = scale;
        self
    }

    pub fn with_best_fit(mut self, best_fit: bool) -> Budget {
        self.best_fit = best_fit;
        self
    }

    /// A slot that has started nothing and has at least [`FRESH_SHARE`] of the usable time
    /// left (its worker connected soon after its batch job started): it may start a task whose
    /// estimate is capped at the usable time, so tasks whose learned estimate exceeds what any
    /// batch job offers still run, one per fresh batch job, instead of retiring every worker.
    pub fn fresh(&self, left: Duration, started: u32) -> bool {
        started == 0 && left >= self.usable.mul_f64(FRESH_SHARE)
    }

    pub fn with_task_time(mut self, task_time: Option<Duration>) -> Budget {
        self.task_time = task_time;
        self
    }

    pub fn with_task_cap(mut self, task_cap: Option<u32>) -> Budget {
        self.task_cap = task_cap;
        self
    }

    pub fn with_admission(mut self, admission: bool) -> Budget {
        self.admission = admission;
        self
    }

    /// Whether a worker slot that has started `started` tasks may start one of `estimate` at
    /// `now` on a worker whose batch job ends at `deadline` (see [`may_start`]). Without
    /// admission only the cap applies.
    pub fn admit(
        &self,
        now: Duration,
        deadline: Duration,
        estimate: Duration,
        started: u32,
    ) -> Admission {
        if !self.admission {
            return may_start(
                Duration::ZERO,
                Duration::MAX,
                Duration::ZERO,
                Duration::ZERO,
                started,
                self.task_cap,
            );
        }
        may_start(now, deadline, estimate, self.buffer, started, self.task_cap)
    }

    /// [`Budget::admit`] for a task that checkpoints (`checkpointable`, with a
    /// `checkpoint_signal` sent `lead` before the deadline): one whose estimate does not fit
    /// starts anyway while [`fits_a_piece`] says a piece of it does.
    pub fn admit_in_pieces(
        &self,
        now: Duration,
        deadline: Duration,
        estimate: Duration,
        started: u32,
        lead: Duration,
    ) -> Admission {
        match self.admit(now, deadline, estimate, started) {
            Admission::NoTime { .. } if fits_a_piece(now, deadline, lead) => Admission::Start,
            other => other,
        }
    }

    /// A task of this time can never start: it exceeds what a fresh batch job offers.
    pub fn never_fits(&self, time: Duration) -> bool {
        time > self.usable
    }

    /// What is left of a worker's time for new tasks at `now`: to its deadline, less the buffer.
    pub fn left(&self, now: Duration, deadline: Duration) -> Duration {
        deadline.saturating_sub(now).saturating_sub(self.buffer)
    }
}

/// The shortest piece of work a checkpointing task is started for, in checkpoint leads: a
/// task signalled `lead` before the deadline starts only while `lead` plus twice `lead` of
/// work remain, so every piece does at least twice as much work as its checkpoint may take.
pub const PIECE_LEADS: u32 = 2;

/// A checkpointing task may start at `now`: at least `lead` (its checkpoint) and
/// [`PIECE_LEADS`] x `lead` (its work) remain before `deadline`. The server applies it at
/// dispatch, the worker again before it starts a task sent ahead.
pub fn fits_a_piece(now: Duration, deadline: Duration, lead: Duration) -> bool {
    let needed = lead.saturating_mul(PIECE_LEADS + 1);
    !lead.is_zero() && deadline.saturating_sub(now) >= needed
}

/// A run that ended at `now` on a worker whose deadline is `deadline` was ended by the walltime.
pub fn killed_by_walltime(now: Duration, deadline: Duration) -> bool {
    now.saturating_add(WALLTIME_SLACK) >= deadline
}

/// The answer of [`may_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Admission {
    /// The task can finish before the deadline.
    Start,
    /// The slot has started as many tasks as the user's cap (`max_tasks`) allows.
    CapReached { task_cap: u32 },
    /// The task would not finish (with the buffer) before the deadline.
    NoTime {
        #[serde(serialize_with = "ser_secs")]
        remaining: Duration,
        #[serde(serialize_with = "ser_secs")]
        needed: Duration,
    },
}

/// The admission rule: a worker slot may start a task now if it has started fewer than
/// `task_cap` tasks (when a cap is set) and `now + estimate + buffer <= deadline`. The server
/// applies it to every dispatch, and the worker again before it starts a task sent ahead.
pub fn may_start(
    now: Duration,
    deadline: Duration,
    estimate: Duration,
    buffer: Duration,
    started_so_far: u32,
    task_cap: Option<u32>,
) -> Admission {
    if let Some(cap) = task_cap {
        if started_so_far >= cap {
            return Admission::CapReached { task_cap: cap };
        }
    }
    let remaining = deadline.saturating_sub(now);
    let needed = estimate.saturating_add(buffer);
    if needed <= remaining {
        Admission::Start
    } else {
        Admission::NoTime { remaining, needed }
    }
}

pub(crate) fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn parses_buffers() {
        assert_eq!(parse_buffer("10%").unwrap(), Buffer::Percent(10.0));
        assert_eq!(
            parse_buffer("15m").unwrap(),
            Buffer::Fixed(Duration::from_secs(900))
        );
        assert_eq!(parse_buffer("0").unwrap(), Buffer::Fixed(Duration::ZERO));
        assert!(parse_buffer("150%").is_err());
        assert!(parse_buffer("x%").is_err());
        assert!(parse_buffer("soon").is_err());
    }

    #[test]
    fn the_budget_resolves_the_buffer_once_and_lsf_grants_whole_minutes() {
        let s = Duration::from_secs;
        let b = Budget::new(s(5 * H), Buffer::default(), s(600), 2);
        assert_eq!(b.buffer, s(900));
        assert_eq!(b.usable, s(5 * H - 1500));
        assert!(b.never_fits(s(5 * H - 1499)));
        assert!(!b.never_fits(s(5 * H - 1500)));
        assert_eq!(b.left(s(100), s(2000)), s(1000));
        assert_eq!(granted_walltime(BackendKind::Lsf, s(3659)), s(3600));
        assert_eq!(granted_walltime(BackendKind::Slurm, s(3659)), s(3659));
    }

    #[test]
    fn a_checkpointing_task_starts_while_its_lead_and_twice_its_lead_remain() {
        let s = Duration::from_secs;
        assert!(fits_a_piece(s(0), s(30), s(10)));
        assert!(!fits_a_piece(s(1), s(30), s(10)));
        assert!(!fits_a_piece(s(0), s(30), s(0)));
    }

    #[test]
    fn may_start_checks_deadline_and_cap() {
        let s = Duration::from_secs;
        // the seed: 4 h task done at 4 h, 1 h left: the second 4 h task must not start
        assert_eq!(
            may_start(s(0), s(5 * H), s(4 * H), s(900), 0, None),
            Admission::Start
        );
        assert_eq!(
            may_start(s(4 * H), s(5 * H), s(4 * H), s(900), 1, None),
            Admission::NoTime {
                remaining: s(H),
                needed: s(4 * H + 900)
            }
        );
        assert_eq!(
            may_start(s(0), s(5 * H), s(60), s(0), 3, Some(3)),
            Admission::CapReached { task_cap: 3 }
        );
        // exactly fits
        assert_eq!(
            may_start(s(10), s(20), s(7), s(3), 0, Some(1)),
            Admission::Start
        );
        // past the deadline already
        assert!(matches!(
            may_start(s(30), s(20), s(1), s(0), 0, None),
            Admission::NoTime { .. }
        ));
    }

    #[test]
    fn without_admission_only_the_cap_applies() {
        let s = Duration::from_secs;
        let b = Budget::new(s(100), Buffer::default(), s(0), 1)
            .with_task_cap(Some(2))
            .with_admission(false);
        assert_eq!(b.admit(s(99), s(100), s(50), 1), Admission::Start);
        assert_eq!(
            b.admit(s(0), s(100), s(1), 2),
            Admission::CapReached { task_cap: 2 }
        );
    }

    #[test]
    fn a_run_ending_near_the_deadline_was_killed_by_the_walltime() {
        let s = Duration::from_secs;
        assert!(killed_by_walltime(s(97), s(100)));
        assert!(!killed_by_walltime(s(96), s(100)));
    }
}
