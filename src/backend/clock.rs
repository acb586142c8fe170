//! Wall-clock times as batch systems print them (local time), turned into `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A local date and time to `SystemTime` (through the C library's `mktime`).
pub fn local_time(year: i32, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<SystemTime> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // SAFETY: tm is plain data; mktime only reads and normalises it.
    let secs = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = year - 1900;
        tm.tm_mon = month as i32 - 1;
        tm.tm_mday = day as i32;
        tm.tm_hour = h as i32;
        tm.tm_min = m as i32;
        tm.tm_sec = s as i32;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
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

/// Seconds since the Unix epoch (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `2026-11-26 10:04:45` in local time.
pub fn format_local(t: SystemTime) -> String {
    let secs = unix_secs(t) as libc::time_t;
    // SAFETY: localtime_r writes into our tm only.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
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
    }
}
