//! Durations as batch-system users write them, and as each batch system wants them back.
//!
//! One parser serves flags, the config file and scheduler output: `5h`, `90m`, `4h30m`, `300s`,
//! `2d`, a bare `45` (minutes, as sbatch reads it), `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` and
//! `D-HH:MM:SS`. The formatters write what each batch system accepts; where a system cannot
//! express a value exactly ([`granted_lsf`]: LSF counts whole minutes) the value is rounded
//! *down*, so a plan never assumes more time than the batch system grants.

use std::fmt;
use std::time::Duration;

/// The forms [`parse_duration`] accepts, quoted in every error message.
pub const ACCEPTED_FORMS: &str =
    "5h, 90m, 4h30m, 300s, 2d, 45 (minutes), MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS";

/// A duration that could not be parsed: names the input and the forms that are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{input}`: {reason}; expected one of {ACCEPTED_FORMS}")]
pub struct DurationError {
    pub input: String,
    pub reason: String,
}

fn err(input: &str, reason: impl Into<String>) -> DurationError {
    DurationError {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Seconds from outside (a task's `time`, a peer's message) as a `Duration` without panicking:
/// NaN and negatives are zero, values beyond what a `Duration` holds are `Duration::MAX`.
pub fn from_secs_saturating(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// Parses a duration in any of the [`ACCEPTED_FORMS`]. Fractions of a unit (`1.5h`, `0.5s`)
/// are accepted in the unit form; the clock forms take whole numbers only.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(input, "it is empty"));
    }
    if s.starts_with('-') {
        return Err(err(input, "a duration cannot be negative"));
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        let minutes = parse_int(input, s)?;
        return Ok(Duration::from_secs(minutes.saturating_mul(60)));
    }
    if s.contains(':') || s.contains('-') {
        return parse_clock(input, s);
    }
    parse_units(input, s)
}

fn parse_int(input: &str, field: &str) -> Result<u64, DurationError> {
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_digit()) {
        return Err(err(input, format!("`{field}` is not a whole number")));
    }
    field
        .parse::<u64>()
        .map_err(|_| err(input, format!("`{field}` is too large")))
}

/// `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS` (sbatch's forms).
fn parse_clock(input: &str, s: &str) -> Result<Duration, DurationError> {
    let (days, rest) = match s.split_once('-') {
        Some((d, rest)) => (Some(parse_int(input, d)?), rest),
        None => (None, s),
    };
    let fields: Vec<u64> = rest
        .split(':')
        .map(|f| parse_int(input, f))
        .collect::<Result<_, _>>()?;
    let (h, m, sec) = match (days.is_some(), fields.as_slice()) {
        (false, [m, sec]) => (0, *m, *sec),
        (false, [h, m, sec]) => (*h, *m, *sec),
        (true, [h]) => (*h, 0, 0),
        (true, [h, m]) => (*h, *m, 0),
        (true, [h, m, sec]) => (*h, *m, *sec),
        _ => return Err(err(input, "it has the wrong number of `:` fields")),
    };
    if sec >= 60 || (fields.len() > 2 && m >= 60) || (days.is_some() && h >= 24) {
        return Err(err(input, "a clock field is out of range"));
    }
    let total = days
        .unwrap_or(0)
        .checked_mul(86_400)
        .and_then(|d| d.checked_add(h.checked_mul(3600)?))
        .and_then(|t| t.checked_add(m.checked_mul(60)?))
        .and_then(|t| t.checked_add(sec))
        .ok_or_else(|| err(input, "it is too large"))?;
    Ok(Duration::from_secs(total))
}

/// `5h`, `4h30m`, `1.5h`, `300s`, `2d`, `250ms`: number-unit pairs, largest unit first.
fn parse_units(input: &str, s: &str) -> Result<Duration, DurationError> {
    let mut total = 0f64;
    let mut rest = s;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err(input, format!("`{rest}` has no unit (d, h, m, s or ms)")))?;
        if num_len == 0 {
            return Err(err(input, format!("expected a number before `{rest}`")));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err(input, format!("`{}` is not a number", &rest[..num_len])))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rank) = match rest[..unit_len].trim().to_ascii_lowercase().as_str() {
            "d" | "day" | "days" => (86_400.0, 0),
            "h" | "hr" | "hour" | "hours" => (3_600.0, 1),
            "m" | "min" | "mins" | "minute" | "minutes" => (60.0, 2),
            "s" | "sec" | "secs" | "second" | "seconds" => (1.0, 3),
            "ms" => (0.001, 4),
            other => return Err(err(input, format!("unknown unit `{other}`"))),
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(err(
                input,
                "units must go from largest to smallest, each once",
            ));
        }
        last_rank = rank;
        total += number * unit;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(err(input, "it is too large"));
    }
    Ok(Duration::from_millis((total * 1000.0).round() as u64))
}

/// `HH:MM:SS` with hours unbounded (SGE `h_rt`, PBS `walltime`). Sub-second parts round up:
/// a batch system given less than asked would kill the job early.
pub fn format_hms(d: Duration) -> String {
    let s = ceil_secs(d);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// SLURM `--time`: `HH:MM:SS` below a day, `D-HH:MM:SS` from a day on.
pub fn format_slurm(d: Duration) -> String {
    let s = ceil_secs(d);
    if s < 86_400 {
        return format_hms(d);
    }
    format!(
        "{}-{:02}:{:02}:{:02}",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

/// LSF `-W HH:MM`: whole minutes, rounded down (see [`granted_lsf`]).
pub fn format_lsf(d: Duration) -> String {
    let m = granted_lsf(d).as_secs() / 60;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The walltime LSF grants for a request of `d`: whole minutes, rounded down, so the plan
/// never counts on seconds LSF cannot express.
pub fn granted_lsf(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() / 60 * 60)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A short human form for messages and tables: `4h30m`, `90s`, `1d2h`, `1.5s`.
pub fn format_human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 60_000 && ms % 1000 != 0 {
        return format!("{}s", trim_float(d.as_secs_f64()));
    }
    let s = d.as_secs();
    if s == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let n = (s / size)
            % if unit == "d" {
                u64::MAX
            } else {
                units_above(size)
            };
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

fn units_above(size: u64) -> u64 {
    match size {
        3_600 => 24,
        _ => 60,
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A `Duration` that prints itself with [`format_human`], for `format!` and serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_human(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> u64 {
        parse_duration(s).unwrap().as_secs()
    }

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(secs("5h"), 5 * 3600);
        assert_eq!(secs("90m"), 90 * 60);
        assert_eq!(secs("4h30m"), 4 * 3600 + 1800);
        assert_eq!(secs("300s"), 300);
        assert_eq!(secs("45"), 45 * 60);
        assert_eq!(secs("04:00:00"), 4 * 3600);
        assert_eq!(secs("30:15"), 30 * 60 + 15);
        assert_eq!(secs("1-00:00:00"), 86_400);
        assert_eq!(secs("2-12"), 2 * 86_400 + 12 * 3600);
        assert_eq!(secs("1-02:03"), 86_400 + 2 * 3600 + 180);
        assert_eq!(secs("2d"), 2 * 86_400);
        assert_eq!(secs("100:00:00"), 100 * 3600);
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(secs("0"), 0);
    }

    #[test]
    fn rejects_bad_input_naming_the_forms() {
        for bad in [
            "", "abc", "5x", "h", "-5m", "1:2:3:4", "10:61", "1-25", "5m5h", "1:xx", "5 h 3",
        ] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains("expected one of 5h, 90m"), "{bad}: {e}");
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn formats_per_backend() {
        let d = Duration::from_secs(2 * 3600);
        assert_eq!(format_slurm(d), "02:00:00");
        assert_eq!(format_slurm(Duration::from_secs(86_400 + 61)), "1-00:01:01");
        assert_eq!(format_hms(Duration::from_secs(30 * 3600)), "30:00:00");
        assert_eq!(format_lsf(Duration::from_secs(90 * 60 + 59)), "01:30");
        assert_eq!(
            granted_lsf(Duration::from_secs(119)),
            Duration::from_secs(60)
        );
        assert_eq!(format_hms(Duration::from_millis(1500)), "00:00:02");
    }

    #[test]
    fn human_form_round_trips() {
        for s in ["4h30m", "90s", "1d2h", "5h", "1.5s", "1h1m1s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_human(d)).unwrap(), d, "{s}");
        }
        assert_eq!(format_human(Duration::from_secs(5400)), "1h30m");
    }
}
