//! Byte sizes as dask-jobqueue users write them, and as each batch system wants them back.
//!
//! [`parse_memory`] reads `memory` the way dask's `parse_bytes` does: a number (fractions
//! allowed) and a case-insensitive unit, where `kB`/`MB`/`GB`/`TB`/`PB` and the bare letters
//! `k`/`m`/`g`/`t`/`p` are powers of 1000 and `KiB`/`MiB`/`GiB`/`TiB`/`PiB` (or `ki`...`pi`) are
//! powers of 1024; no unit means bytes. So `100GB` is 10^11 bytes and `512M` is 512*10^6.
//! The formatters round *up*, never asking the batch system for less than was configured:
//! SLURM `--mem` and PBS `mem=` in binary units exactly as dask-jobqueue 0.9.0 writes them,
//! LSF `-M` in the site's unit (decimal, like dask), SGE per slot.

/// The forms [`parse_memory`] accepts, quoted in every error message.
pub const ACCEPTED_FORMS: &str = "100GB (10^9 bytes each), 4GiB (2^30 bytes each), 1500MB, \
     512M (= 512MB), 2.5GB or a whole number of bytes; units B, kB, MB, GB, TB, PB, KiB, MiB, \
     GiB, TiB, PiB, any case";

/// The units LSF accepts for `LSF_UNIT_FOR_LIMITS`, quoted in error messages.
pub const LSF_UNITS: &str = "kb, mb, gb, tb, pb or eb";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// A byte size that could not be parsed: names the input and the forms that are accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid memory `{input}`: {reason}; expected a size like {ACCEPTED_FORMS}")]
pub struct MemoryError {
    pub input: String,
    pub reason: String,
}

fn err(input: &str, reason: impl Into<String>) -> MemoryError {
    MemoryError {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Parses a byte size in any of the [`ACCEPTED_FORMS`]; the result is at least one byte.
pub fn parse_memory(input: &str) -> Result<u64, MemoryError> {
    let s: String = input.chars().filter(|c| *c != ' ').collect();
    if s.is_empty() {
        return Err(err(input, "it is empty"));
    }
    if s.starts_with('-') {
        return Err(err(input, "a size cannot be negative"));
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(err(input, "it does not start with a number"));
    }
    let multiplier =
        unit_multiplier(unit).ok_or_else(|| err(input, format!("`{unit}` is not a unit")))?;
    let n: f64 = number
        .parse()
        .map_err(|_| err(input, format!("`{number}` is not a number")))?;
    let bytes = n * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(err(input, "it is too large"));
    }
    if bytes < 1.0 {
        return Err(err(input, "it must be at least one byte"));
    }
    Ok(bytes as u64)
}

fn unit_multiplier(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('b').unwrap_or(&u);
    let (prefix, binary) = match u.strip_suffix('i') {
        Some(p) if !p.is_empty() => (p, true),
        _ => (u, false),
    };
    let power = match prefix {
        "" if !binary => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let base: u64 = if binary { 1024 } else { 1000 };
    Some(base.pow(power))
}

fn ceil_div(n: u64, d: u64) -> u64 {
    n.div_ceil(d)
}

/// SLURM `--mem=`: ceil in GiB/MiB/KiB with suffix G/M/K, as dask-jobqueue 0.9.0
/// (`100GB` -> `94G`, `1500MB` -> `2G`); at least `1K`.
pub fn format_slurm(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{}G", ceil_div(bytes, GIB))
    } else if bytes >= MIB {
        format!("{}M", ceil_div(bytes, MIB))
    } else {
        format!("{}K", ceil_div(bytes, KIB).max(1))
    }
}

/// PBS `mem=`: ceil in GiB named `GB` from 10 GiB on, else MiB named `MB`, else `kB`, else
/// bytes, as dask-jobqueue 0.9.0 (`24GB` -> `23GB`, `4GB` -> `3815MB`).
pub fn format_pbs(bytes: u64) -> String {
    if bytes >= 10 * GIB {
        format!("{}GB", ceil_div(bytes, GIB))
    } else if bytes >= 10 * MIB {
        format!("{}MB", ceil_div(bytes, MIB))
    } else if bytes >= 10 * KIB {
        format!("{}kB", ceil_div(bytes, KIB))
    } else {
        format!("{bytes}B")
    }
}

/// The power of 1000 of an LSF unit (`LSF_UNIT_FOR_LIMITS`): `kb` -> 1, `MB` -> 2, `g` -> 3.
pub fn parse_lsf_units(units: &str) -> Option<u32> {
    let u = units.trim().to_ascii_lowercase();
    let u = u.strip_suffix('b').unwrap_or(&u);
    match u {
        "k" => Some(1),
        "m" => Some(2),
        "g" => Some(3),
        "t" => Some(4),
        "p" => Some(5),
        "e" => Some(6),
        _ => None,
    }
}

/// LSF `-M`: ceil(bytes / 1000^k) in the site unit, as dask-jobqueue (`16GiB` in `mb` ->
/// `17180`). `None` when `units` is not an LSF unit.
pub fn format_lsf(bytes: u64, units: &str) -> Option<String> {
    let power = parse_lsf_units(units)?;
    Some(ceil_div(bytes, 1000u64.pow(power)).to_string())
}

/// SGE memory per slot (`h_vmem` and friends are per slot): ceil(bytes / slots) in MiB, or
/// in GiB when that is exact (`16GiB` over 4 slots -> `4G`, `4GB` over 1 -> `3815M`).
pub fn format_sge_per_slot(bytes: u64, slots: u32) -> String {
    let per_slot = ceil_div(bytes, u64::from(slots.max(1)));
    let mib = ceil_div(per_slot, MIB);
    if mib % 1024 == 0 {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

/// The shortest exact spelling of a size, for `config show`: `100GB`, `4GiB`, `1500MB`, or
/// bytes when no unit divides it.
pub fn format_exact(bytes: u64) -> String {
    const UNITS: [(&str, u64); 8] = [
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("PB", 1_000_000_000_000_000),
        ("TB", 1_000_000_000_000),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
    ];
    let mut best: Option<(u64, &str)> = None;
    for (name, size) in UNITS {
        if bytes % size == 0 && best.is_none_or(|(n, _)| bytes / size < n) {
            best = Some((bytes / size, name));
        }
    }
    match best {
        Some((n, unit)) => format!("{n}{unit}"),
        None => format!("{bytes}B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_dask() {
        assert_eq!(parse_memory("100GB"), Ok(100_000_000_000));
        assert_eq!(parse_memory("4GiB"), Ok(4 << 30));
        assert_eq!(parse_memory("1500MB"), Ok(1_500_000_000));
        assert_eq!(parse_memory("512M"), Ok(512_000_000));
        assert_eq!(parse_memory("16gib"), Ok(16 << 30));
        assert_eq!(parse_memory("2.5 GB"), Ok(2_500_000_000));
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert_eq!(parse_memory("8Gi"), Ok(8 << 30));
    }

    #[test]
    fn rejects_bad_sizes_with_the_accepted_forms() {
        for bad in ["", "lots", "10XB", "-4GB", "0", "GB", "1e400GB"] {
            let e = parse_memory(bad).unwrap_err().to_string();
            assert!(e.contains("expected a size like 100GB"), "{bad}: {e}");
        }
        assert!(parse_memory("10XB").unwrap_err().reason.contains("`XB`"));
    }

    #[test]
    fn slurm_matches_dask_0_9() {
        let cases = [
            ("100GB", "94G"),
            ("24GB", "23G"),
            ("20GB", "19G"),
            ("4GB", "4G"),
            ("1500MB", "2G"),
            ("16GiB", "16G"),
            ("500MB", "477M"),
            ("100", "1K"),
        ];
        for (input, want) in cases {
            assert_eq!(format_slurm(parse_memory(input).unwrap()), want, "{input}");
        }
    }

    #[test]
    fn pbs_matches_dask_0_9() {
        let cases = [
            ("24GB", "23GB"),
            ("20GB", "19GB"),
            ("4GB", "3815MB"),
            ("1500MB", "1431MB"),
            ("16GiB", "16GB"),
            ("5000", "5000B"),
        ];
        for (input, want) in cases {
            assert_eq!(format_pbs(parse_memory(input).unwrap()), want, "{input}");
        }
    }

    #[test]
    fn lsf_is_decimal_in_the_site_unit() {
        let gib16 = parse_memory("16GiB").unwrap();
        assert_eq!(format_lsf(gib16, "mb").as_deref(), Some("17180"));
        assert_eq!(format_lsf(24_000_000_000, "MB").as_deref(), Some("24000"));
        assert_eq!(
            format_lsf(24_000_000_000, "kb").as_deref(),
            Some("24000000")
        );
        assert_eq!(format_lsf(1_500_000_000, "g").as_deref(), Some("2"));
        assert_eq!(format_lsf(1, "bogus"), None);
    }

    #[test]
    fn sge_is_per_slot_rounded_up() {
        assert_eq!(format_sge_per_slot(16 << 30, 4), "4G");
        assert_eq!(format_sge_per_slot(4_000_000_000, 1), "3815M");
        assert_eq!(format_sge_per_slot(100_000_000_000, 24), "3974M");
    }

    #[test]
    fn exact_spelling_round_trips() {
        for s in ["100GB", "4GiB", "1500MB", "1234B"] {
            assert_eq!(format_exact(parse_memory(s).unwrap()), s);
        }
    }
}
