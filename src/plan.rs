//! The plan: what a batch job's [`Budget`] means for tasks of a known time.
//!
//! `max_tasks = floor(usable / task_time)` per worker slot, where `usable = walltime - startup
//! - buffer` comes from the budget; the idle tail, the share of the walltime used, the
//! smallest walltime that still fits as many tasks and the one that fits one more, and the
//! `time_min` to give SLURM's backfill (startup + one task + buffer). Pure: no clock, no I/O. `max_tasks` means only this computed value; the user's cap on it is the
//! budget's `task_cap`.

use std::time::Duration;

use serde::Serialize;

use crate::budget::{ser_secs, Budget, Buffer};
use crate::duration::format_human;

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
    /// The `time_min` to recommend (SLURM's `--time-min`): startup + one task + buffer, in
    /// whole minutes, at most the walltime.
    #[serde(serialize_with = "ser_secs")]
    pub time_min: Duration,
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

/// Computes the plan for one batch job of this budget, for tasks of `task_time`.
#[allow(clippy::result_large_err)] // the error carries its message parts; plans are rare
pub fn plan(budget: &Budget, task_time: Duration) -> Result<Plan, PlanError> {
    if task_time.is_zero() {
        return Err(PlanError::ZeroTaskTime);
    }
    if budget.slots == 0 {
        return Err(PlanError::ZeroSlots);
    }
    let max_tasks = (budget.usable.as_nanos() / task_time.as_nanos()).min(u32::MAX as u128) as u32;
    if max_tasks == 0 {
        let smallest = walltime_for(1, budget, task_time);
        return Err(PlanError::TaskDoesNotFit {
            task: format_human(task_time),
            walltime: format_human(budget.walltime),
            startup: format_human(budget.startup),
            buffer: budget.buffer_rule.to_string(),
            smallest: format_human(smallest),
            smallest_walltime: smallest,
        });
    }
    let busy = task_time.saturating_mul(max_tasks);
    let idle_tail = budget
        .walltime
        .saturating_sub(budget.startup)
        .saturating_sub(busy);
    Ok(Plan {
        walltime: budget.walltime,
        task_time,
        startup: budget.startup,
        buffer: budget.buffer,
        usable: budget.usable,
        max_tasks,
        slots: budget.slots,
        tasks_per_job: max_tasks.saturating_mul(budget.slots),
        idle_tail,
        used_share: busy.as_secs_f64() / budget.walltime.as_secs_f64(),
        smallest_walltime: walltime_for(max_tasks, budget, task_time),
        walltime_for_one_more: walltime_for(max_tasks.saturating_add(1), budget, task_time),
        time_min: time_min_for(budget, task_time),
    })
}

/// The shortest walltime worth starting a batch job for: its startup, one task and the
/// buffer (resolved for the walltime asked, which is what the worker keeps), rounded up to a
/// whole minute (SLURM counts minutes), at most the walltime.
pub fn time_min_for(budget: &Budget, task_time: Duration) -> Duration {
    let need = budget
        .startup
        .saturating_add(task_time)
        .saturating_add(budget.buffer);
    let minutes = need.as_nanos().div_ceil(60_000_000_000);
    Duration::from_secs(u64::try_from(minutes * 60).unwrap_or(u64::MAX)).min(budget.walltime)
}

/// The smallest walltime whose budget fits `n` tasks of `task_time` per slot, rounded up to a
/// whole second (a whole minute from an hour on, as users write walltimes).
pub fn walltime_for(n: u32, budget: &Budget, task_time: Duration) -> Duration {
    let need = task_time.saturating_mul(n).saturating_add(budget.startup);
    let raw = match budget.buffer_rule {
        Buffer::Fixed(b) => need.saturating_add(b),
        Buffer::Percent(p) => {
            crate::duration::from_secs_saturating(need.as_secs_f64() / (1.0 - p / 100.0))
        }
    };
    if raw >= Duration::from_secs(u64::MAX / 2) {
        // Beyond any clock (a hostile task time): no walltime fits; say the largest.
        return raw;
    }
    let step = if raw >= Duration::from_secs(3600) {
        60
    } else {
        1
    };
    let mut secs = raw.as_secs().div_ceil(step).saturating_mul(step);
    if Duration::from_secs(secs) < raw {
        secs = secs.saturating_add(step);
    }
    // A percent buffer grows with the walltime: step until the plan really fits n tasks.
    loop {
        let w = Duration::from_secs(secs);
        let usable = Budget::new(w, budget.buffer_rule, budget.startup, budget.slots).usable;
        // A time beyond any clock (a task's `time` of 1e20 s) gets the largest walltime.
        if usable >= task_time.saturating_mul(n) || secs >= u64::MAX / 2 {
            return w;
        }
        secs = secs.saturating_add(step);
    }
}

/// A task whose own `time` exceeds what any batch job of the budget offers: it can never start.
#[derive(Debug, Clone, PartialEq)]
pub struct NeverFits {
    /// Its position in the tasks given, from 0.
    pub index: usize,
    pub time: Duration,
    /// The smallest walltime that would fit it.
    pub walltime: Duration,
}

/// The tasks whose own `time` the budget can never fit, in order.
pub fn never_fitting(budget: &Budget, tasks: &[crate::task::TaskSpec]) -> Vec<NeverFits> {
    tasks
        .iter()
        .enumerate()
        .filter_map(|(index, t)| {
            let time = crate::duration::from_secs_saturating(t.time?);
            budget.never_fits(time).then(|| NeverFits {
                index,
                time,
                walltime: walltime_for(1, budget, time),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    fn budget(walltime_h: u64, buffer: Buffer) -> Budget {
        Budget::new(
            Duration::from_secs(walltime_h * H),
            buffer,
            Duration::ZERO,
            1,
        )
    }

    fn hours(h: u64) -> Duration {
        Duration::from_secs(h * H)
    }

    #[test]
    fn tasks_whose_own_time_never_fits_are_named_with_the_walltime_that_would() {
        let b = budget(5, Buffer::default());
        let task = |time: f64| crate::task::TaskSpec {
            cmd: "x".into(),
            time: Some(time),
            ..Default::default()
        };
        let tasks = [task(3600.0), task(6.0 * 3600.0), task(1e9)];
        let got = never_fitting(&b, &tasks);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].index, 1);
        assert_eq!(got[0].walltime, walltime_for(1, &b, hours(6)));
        let at = |w: Duration| Budget::new(w, b.buffer_rule, b.startup, b.slots);
        assert!(!at(got[0].walltime).never_fits(hours(6)));
        assert!(at(got[0].walltime - Duration::from_secs(60)).never_fits(hours(6)));
        assert_eq!(got[1].index, 2);
    }

    #[test]
    fn a_task_time_beyond_any_clock_gets_the_largest_walltime_without_a_panic() {
        let huge = crate::duration::from_secs_saturating(1e20);
        for buffer in [Buffer::default(), Buffer::Fixed(hours(1))] {
            let w = walltime_for(1, &budget(5, buffer), huge);
            assert!(w >= Duration::from_secs(u64::MAX / 2), "{w:?}");
        }
    }

    #[test]
    fn seed_scenario_fits_one_task() {
        let p = plan(&budget(5, Buffer::default()), hours(4)).unwrap();
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
        assert_eq!(
            plan(&budget(5, Buffer::default()), hours(1))
                .unwrap()
                .max_tasks,
            4
        );
        let zero = Buffer::Fixed(Duration::ZERO);
        let p = plan(&budget(5, zero), hours(1)).unwrap();
        assert_eq!(p.max_tasks, 5);
        assert_eq!(p.used_share, 1.0);
        assert_eq!(p.smallest_walltime, Duration::from_secs(5 * H));
    }

    #[test]
    fn task_longer_than_walltime_names_smallest_walltime() {
        let e = plan(&budget(3, Buffer::default()), hours(4)).unwrap_err();
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
    fn time_min_is_startup_one_task_and_buffer_in_whole_minutes() {
        let b = Budget::new(hours(5), Buffer::default(), Duration::from_secs(90), 1);
        // 90 s + 1 h + 15 min = 1h16m30s, rounded up: 1h17m.
        let p = plan(&b, hours(1)).unwrap();
        assert_eq!(p.time_min, Duration::from_secs(3600 + 17 * 60));
        // Never above the walltime.
        assert_eq!(
            time_min_for(&b, Duration::from_secs(4 * H + 50 * 60)),
            hours(5)
        );
    }

    #[test]
    fn startup_and_slots_enter_the_plan() {
        let b = Budget::new(
            hours(5),
            Buffer::Fixed(Duration::from_secs(600)),
            Duration::from_secs(600),
            4,
        );
        let p = plan(&b, hours(1)).unwrap();
        assert_eq!(p.max_tasks, 4);
        assert_eq!(p.tasks_per_job, 16);
        assert_eq!(p.smallest_walltime, Duration::from_secs(4 * H + 20 * 60));
    }
}
