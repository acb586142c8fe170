//! `--array FIRST-LAST[:STEP]`: one task per index of a range, as batch systems' job arrays
//! spell it (`sbatch --array=1-100:2`). Parsing is pure; an error says which forms are accepted.

/// The most tasks one `--array` may define (a typo such as `1-10000000000` is refused, not
/// turned into a journal of that many lines).
pub const MAX_ARRAY_TASKS: u64 = 10_000_000;

/// A range of indexes: `first`, `first + step`, ... up to `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayRange {
    pub first: u64,
    pub last: u64,
    pub step: u64,
}

impl ArrayRange {
    pub fn indexes(self) -> impl Iterator<Item = u64> {
        (self.first..=self.last).step_by(self.step as usize)
    }

    pub fn len(self) -> u64 {
        (self.last - self.first) / self.step + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

/// Parses `1-100`, `0-98:2` or `7` (one index).
pub fn parse_array(input: &str) -> anyhow::Result<ArrayRange> {
    let bad = |why: &str| {
        anyhow::anyhow!(
            "invalid `--array` `{input}`: {why}; expected FIRST-LAST or FIRST-LAST:STEP, like \
             `1-100` or `0-98:2`"
        )
    };
    let s = input.trim();
    let (range, step) = match s.split_once(':') {
        Some((r, st)) => (r, Some(st)),
        None => (s, None),
    };
    let number = |t: &str, what: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| bad(&format!("{what} `{t}` is not a whole number")))
    };
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (number(a, "FIRST")?, number(b, "LAST")?),
        None => {
            let n = number(range, "the index")?;
            (n, n)
        }
    };
    let step = match step {
        Some(t) => number(t, "STEP")?,
        None => 1,
    };
    if step == 0 {
        return Err(bad("STEP must be at least 1"));
    }
    if last < first {
        return Err(bad("LAST is smaller than FIRST"));
    }
    let r = ArrayRange { first, last, step };
    if r.len() > MAX_ARRAY_TASKS {
        return Err(bad(&format!(
            "{} tasks is more than the {MAX_ARRAY_TASKS} one array may define",
            r.len()
        )));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_with_and_without_a_step() {
        let r = parse_array("1-5").unwrap();
        assert_eq!(r.indexes().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        let r = parse_array("0-9:4").unwrap();
        assert_eq!(r.indexes().collect::<Vec<_>>(), [0, 4, 8]);
        assert_eq!(r.len(), 3);
        assert_eq!(parse_array("7").unwrap().indexes().count(), 1);
    }

    #[test]
    fn errors_say_what_is_expected() {
        let e = parse_array("5-1").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid `--array` `5-1`: LAST is smaller than FIRST; expected FIRST-LAST or \
             FIRST-LAST:STEP, like `1-100` or `0-98:2`"
        );
        for bad in ["1-x", "a", "1-10:0", "-3", "1-2-3", "0-99999999999"] {
            let e = parse_array(bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("FIRST-LAST"),
                "{e}"
            );
        }
    }
}
