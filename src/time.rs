//! Time as hpcluster reads it: the wall clock of the server and the workers ([`Clock`],
//! [`unix_now`]) and the local times batch systems print (`2026-11-26T10:04:45`,
//! `11/26/2026 10:04:45`, `Thu Nov 26 10:04:46 2026`).
//!
//! Everything that decides takes `now` as an argument; only the edges read a [`Clock`]. The
//! server's shell takes one so its tests run on tokio's paused time ([`TokioClock`]). Local
//! times go through `jiff` and the system time zone (`TZ`, then `/etc/localtime`), as the batch
//! systems' own commands print them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::{civil, tz::TimeZone, Timestamp};

/// Seconds since the Unix epoch, now (zero before it).
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Where the server reads the time, as seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        unix_now()
    }
}

/// Unix time that follows tokio's clock from a fixed start: under `tokio::time::pause` it moves
/// only when tokio's time does, so tests of the server's shell control every timer and every
/// `now` the core sees.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    unix_at_start: Duration,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `unix_at_start` now.
    pub fn starting_at(unix_at_start: Duration) -> TokioClock {
        TokioClock {
            unix_at_start,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.unix_at_start + self.start.elapsed()
    }
}

/// Seconds since the Unix epoch of `t` (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A local date and time, in the system time zone, as a `SystemTime`; `None` when it does
/// not exist.
pub fn local_time(year: i32, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<SystemTime> {
    let small = |v: u32| i8::try_from(v).ok();
    let dt = civil::DateTime::new(
        i16::try_from(year).ok()?,
        small(month)?,
        small(day)?,
        small(h)?,
        small(m)?,
        small(s.min(59))?,
        0,
    )
    .ok()?;
    let zoned = dt.to_zoned_datetime(TimeZone::system()).ok()?;
    let secs = u64::try_from(zoned.timestamp().as_second()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn nums(s: &str, seps: &[char]) -> Vec<u32> {
    s.split(|c| seps.contains(&c))
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<u32>>>()
        .unwrap_or_default()
}

/// SLURM's `2026-11-26T10:04:45`; `N/A`, `Unknown`, `None` give `None`.
pub fn parse_iso(s: &str) -> Option<SystemTime> {
    match nums(s.trim(), &['-', 'T', ':'])[..] {
        [y, mo, d, h, mi, se] => local_time(y as i32, mo, d, h, mi, se),
        _ => None,
    }
}

/// SGE qstat's `11/26/2026 10:04:46`.
pub fn parse_mdy(s: &str) -> Option<SystemTime> {
    match nums(s.trim(), &['/', ' ', ':'])[..] {
        [mo, d, y, h, mi, se] => local_time(y as i32, mo, d, h, mi, se),
        _ => None,
    }
}

/// `Thu Nov 26 10:04:46 2026` (qacct, PBS `stime`, ctime format).
pub fn parse_ctime(s: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, mon, day, time, year] = parts[..] else {
        return None;
    };
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let [h, m, sec] = nums(time, &[':'])[..] else {
        return None;
    };
    local_time(year.parse().ok()?, month, day.parse().ok()?, h, m, sec)
}

/// `2026-11-26 10:04:45` in local time.
pub fn format_local(t: SystemTime) -> String {
    let ts = i64::try_from(unix_secs(t))
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned_datetime(TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_agree() {
        let a = parse_iso("2026-11-26T10:04:45").unwrap();
        assert_eq!(parse_mdy("11/26/2026 10:04:45"), Some(a));
        assert_eq!(parse_ctime("Thu Nov 26 10:04:45 2026"), Some(a));
        assert_eq!(parse_iso("N/A"), None);
        assert_eq!(parse_iso("Unknown"), None);
        assert_eq!(parse_iso("2026-13-01T00:00:00"), None);
    }

    #[test]
    fn local_times_are_an_hour_apart_and_format_back() {
        let a = parse_iso("2026-11-26T10:55:00").unwrap();
        let b = parse_iso("2026-11-26T11:55:30").unwrap();
        assert_eq!(b.duration_since(a).unwrap(), Duration::from_secs(3630));
        assert_eq!(format_local(a), "2026-11-26 10:55:00");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_moves_with_paused_time() {
        let c = TokioClock::starting_at(Duration::from_secs(1000));
        assert_eq!(c.now(), Duration::from_secs(1000));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(c.now(), Duration::from_secs(1030));
    }
}
