//! The plan: the arithmetic of walltime, task time, buffer and max_tasks.
//!
//! Everything here is pure: no clock, no I/O. Instants are durations since an epoch the caller
//! chooses (the Unix epoch in the server and workers, zero in the simulator), so the same
//! [`may_start`] decides admission in a live worker, in tests and in the benchmark simulator.
//!
//! The formula: `usable = walltime - startup - buffer`, `max_tasks = floor(usable / task_time)`
//! per worker slot. The default buffer is [`DEFAULT_BUFFER_PERCENT`] of the walltime.

use std::time::Duration;

use serde::Serialize;

use crate::duration::{format_human, parse_duration, DurationError};

/// The default safety buffer: 5% of the walltime (15 min of a 5 h batch job). It covers the
/// worker's own start and stop, clock skew between nodes, the batch system's kill granularity
/// (SLURM checks limits every 30 s) and moderate error in task estimates.
pub const DEFAULT_BUFFER_PERCENT: f64 = 5.0;

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

/// What the plan is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanInput {
    /// The walltime the batch system grants (already rounded down where it must be).
    pub walltime: Duration,
    /// The expected time of one task.
    pub task_time: Duration,
    pub buffer: Buffer,
    /// Time from the batch job's start to the worker's first task.
    pub startup: Duration,
    /// Tasks a worker runs at once.
    pub slots: u32,
}

/// The plan for one batch job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    #[serde(serialize_with = "ser_secs")]
    pub walltime: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub task_time: Duration,
    #[serde(serialize_with = "ser_secs")]
    pub startup: Duration,
    /// The buffer resolved to a time.
    #[serde(serialize_with = "ser_secs")]
    pub buffer: Duration,
    /// walltime - startup - buffer.
    #[serde(serialize_with = "ser_secs")]
    pub usable: Duration,
    /// Tasks one worker slot may run: floor(usable / task_time).
    pub max_tasks: u32,
    pub slots: u32,
    /// max_tasks * slots.
    pub tasks_per_job: u32,
    /// What a batch job that ran to its walltime would leave idle after its last task.
    #[serde(serialize_with = "ser_secs")]
    pub idle_tail: Duration,
    /// Share of the walltime spent running tasks, 0..=1.
    pub used_share: f64,
    /// The smallest walltime that still fits `max_tasks` tasks per slot.
    #[serde(serialize_with = "ser_secs")]
    pub smallest_walltime: Duration,
    /// The walltime that would fit one more task per slot.
    #[serde(serialize_with = "ser_secs")]
    pub walltime_for_one_more: Duration,
}

/// Why no plan exists.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "a task of {task} does not fit in a walltime of {walltime} (startup {startup}, buffer \
         {buffer}): the smallest walltime that fits one task is {smallest}; raise `walltime` \
         or lower the buffer"
    )]
    TaskDoesNotFit {
        task: String,
        walltime: String,
        startup: String,
        buffer: String,
        smallest: String,
        #[doc(hidden)]
        smallest_walltime: Duration,
    },
    #[error("`task_time` must be greater than zero")]
    ZeroTaskTime,
    #[error("`slots` must be at least 1")]
    ZeroSlots,
}

/// Computes the plan for one batch job.
#[allow(clippy::result_large_err)] // the error carries its message parts; plans are rare
pub fn plan(input: PlanInput) -> Result<Plan, PlanError> {
    if input.task_time.is_zero() {
        return Err(PlanError::ZeroTaskTime);
    }
    if input.slots == 0 {
        return Err(PlanError::ZeroSlots);
    }
    let buffer = input.buffer.resolve(input.walltime);
    let usable = input
        .walltime
        .saturating_sub(input.startup)
        .saturating_sub(buffer);
    let max_tasks = (usable.as_nanos() / input.task_time.as_nanos()).min(u32::MAX as u128) as u32;
    if max_tasks == 0 {
        let smallest = walltime_for(1, &input);
        return Err(PlanError::TaskDoesNotFit {
            task: format_human(input.task_time),
            walltime: format_human(input.walltime),
            startup: format_human(input.startup),
            buffer: input.buffer.to_string(),
            smallest: format_human(smallest),
            smallest_walltime: smallest,
        });
    }
    let busy = input.task_time.saturating_mul(max_tasks);
    let idle_tail = input
        .walltime
        .saturating_sub(input.startup)
        .saturating_sub(busy);
    Ok(Plan {
        walltime: input.walltime,
        task_time: input.task_time,
        startup: input.startup,
        buffer,
        usable,
        max_tasks,
        slots: input.slots,
        tasks_per_job: max_tasks.saturating_mul(input.slots),
        idle_tail,
        used_share: busy.as_secs_f64() / input.walltime.as_secs_f64(),
        smallest_walltime: walltime_for(max_tasks, &input),
        walltime_for_one_more: walltime_for(max_tasks.saturating_add(1), &input),
    })
}

/// The smallest walltime whose plan fits `n` tasks per slot, rounded up to a whole second
/// (a whole minute from an hour on, as users write walltimes).
pub fn walltime_for(n: u32, input: &PlanInput) -> Duration {
    let need = input
        .task_time
        .saturating_mul(n)
        .saturating_add(input.startup);
    let raw = match input.buffer {
        Buffer::Fixed(b) => need.saturating_add(b),
        Buffer::Percent(p) => need.div_f64(1.0 - p / 100.0),
    };
    let step = if raw >= Duration::from_secs(3600) {
        60
    } else {
        1
    };
    let mut secs = raw.as_secs().div_ceil(step) * step;
    if Duration::from_secs(secs) < raw {
        secs += step;
    }
    // A percent buffer grows with the walltime: step until the plan really fits n tasks.
    loop {
        let w = Duration::from_secs(secs);
        let usable = w
            .saturating_sub(input.startup)
            .saturating_sub(input.buffer.resolve(w));
        if usable >= input.task_time.saturating_mul(n) {
            return w;
        }
        secs += step;
    }
}

/// The answer of [`may_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Admission {
    /// The task can finish before the deadline.
    Start,
    /// The worker has started its `max_tasks` already.
    MaxTasksReached { max_tasks: u32 },
    /// The task would not finish (with the buffer) before the deadline.
    NoTime {
        #[serde(serialize_with = "ser_secs")]
        remaining: Duration,
        #[serde(serialize_with = "ser_secs")]
        needed: Duration,
    },
}

/// Decides whether a worker may start a task now: fewer than `max_tasks` started (when a cap
/// is set) and `now + estimate + buffer <= deadline`.
pub fn may_start(
    now: Duration,
    deadline: Duration,
    estimate: Duration,
    buffer: Duration,
    started_so_far: u32,
    max_tasks: Option<u32>,
) -> Admission {
    if let Some(max) = max_tasks {
        if started_so_far >= max {
            return Admission::MaxTasksReached { max_tasks: max };
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

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    fn input(walltime_h: u64, task_h: u64, buffer: Buffer) -> PlanInput {
        PlanInput {
            walltime: Duration::from_secs(walltime_h * H),
            task_time: Duration::from_secs(task_h * H),
            buffer,
            startup: Duration::ZERO,
            slots: 1,
        }
    }

    #[test]
    fn seed_scenario_fits_one_task() {
        let p = plan(input(5, 4, Buffer::default())).unwrap();
        assert_eq!(p.max_tasks, 1);
        assert_eq!(p.idle_tail, Duration::from_secs(H));
        assert_eq!(p.smallest_walltime, Duration::from_secs(4 * H + 13 * 60));
        assert_eq!(
            p.walltime_for_one_more,
            Duration::from_secs(8 * H + 26 * 60)
        );
    }

    #[test]
    fn default_buffer_costs_one_hour_task_in_five() {
        assert_eq!(plan(input(5, 1, Buffer::default())).unwrap().max_tasks, 4);
        let zero = Buffer::Fixed(Duration::ZERO);
        let p = plan(input(5, 1, zero)).unwrap();
        assert_eq!(p.max_tasks, 5);
        assert_eq!(p.used_share, 1.0);
        assert_eq!(p.smallest_walltime, Duration::from_secs(5 * H));
    }

    #[test]
    fn task_longer_than_walltime_names_smallest_walltime() {
        let e = plan(input(3, 4, Buffer::default())).unwrap_err();
        match &e {
            PlanError::TaskDoesNotFit {
                smallest_walltime, ..
            } => assert_eq!(*smallest_walltime, Duration::from_secs(4 * H + 13 * 60)),
            other => panic!("{other:?}"),
        }
        assert!(e
            .to_string()
            .contains("smallest walltime that fits one task is 4h13m"));
    }

    #[test]
    fn startup_and_slots_enter_the_plan() {
        let mut i = input(5, 1, Buffer::Fixed(Duration::from_secs(600)));
        i.startup = Duration::from_secs(600);
        i.slots = 4;
        let p = plan(i).unwrap();
        assert_eq!(p.max_tasks, 4);
        assert_eq!(p.tasks_per_job, 16);
        assert_eq!(p.smallest_walltime, Duration::from_secs(4 * H + 20 * 60));
    }

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
            Admission::MaxTasksReached { max_tasks: 3 }
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
}
