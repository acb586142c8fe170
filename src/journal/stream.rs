//! A journal file read one entry at a time ([`Entries`]), for what folds the journal into a
//! few figures and need not hold it: `report`'s ledger and what `up` prints at its end. Its
//! memory is that of one line, however long the journal. A blank line is skipped, a torn last
//! line (a crash mid-write) is left out, and any other unreadable line is an error naming it,
//! as when the whole text is replayed ([`super::parse_journal`]).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;

use super::Entry;

/// The entries of a journal file, in order.
pub struct Entries {
    reader: BufReader<File>,
    /// The line being read, reused from line to line.
    line: Vec<u8>,
    /// Lines read so far (blank ones included), for errors.
    number: usize,
    origin: String,
    /// The end, a torn last line or an error was met: nothing more is read.
    over: bool,
}

/// The entries of the journal at `path` (`None`: there is none).
pub fn entries(path: &Path) -> anyhow::Result<Option<Entries>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("failed to read journal `{}`", path.display()))
        }
    };
    Ok(Some(Entries {
        reader: BufReader::with_capacity(1 << 16, file),
        line: Vec::new(),
        number: 0,
        origin: path.display().to_string(),
        over: false,
    }))
}

impl Entries {
    /// The next line's entry: `Ok(None)` at the end or at a torn last line.
    fn read(&mut self) -> anyhow::Result<Option<Entry>> {
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .with_context(|| format!("failed to read journal `{}`", self.origin))?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            let complete = self.line.ends_with(b"\n");
            let body = self.line.trim_ascii();
            if body.is_empty() {
                continue;
            }
            return match serde_json::from_slice::<Entry>(body) {
                Ok(e) => Ok(Some(e)),
                Err(_) if !complete => Ok(None),
                Err(e) => Err(anyhow::anyhow!(
                    "journal `{}` line {} is corrupt ({e})",
                    self.origin,
                    self.number
                )),
            };
        }
    }
}

impl Iterator for Entries {
    type Item = anyhow::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.over {
            return None;
        }
        let got = self.read().transpose();
        self.over = !matches!(got, Some(Ok(_)));
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> anyhow::Result<Vec<Entry>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, text).unwrap();
        entries(&path).unwrap().unwrap().collect()
    }

    const ADDED: &str = "{\"ev\":\"added\",\"id\":0,\"spec\":{\"cmd\":\"a\"}}";

    #[test]
    fn entries_are_read_in_order_past_blank_lines_and_a_torn_last_line_is_left_out() {
        let torn = format!("{ADDED}\n\n  \n{ADDED}\n{{\"ev\":\"ended\",\"id\":0,\"outc");
        assert_eq!(read_all(&torn).unwrap().len(), 2);
        // A whole entry that lacks only its newline is kept.
        assert_eq!(read_all(&format!("{ADDED}\n{ADDED}")).unwrap().len(), 2);
        assert_eq!(read_all("").unwrap().len(), 0);
    }

    #[test]
    fn a_corrupt_line_is_an_error_naming_it_and_nothing_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, format!("{ADDED}\n\nnot json\n{ADDED}\n")).unwrap();
        let mut it = entries(&path).unwrap().unwrap();
        assert!(it.next().unwrap().is_ok());
        let e = it.next().unwrap().unwrap_err();
        let want = format!("journal `{}` line 3 is corrupt", path.display());
        assert!(format!("{e:#}").contains(&want), "{e:#}");
        assert!(it.next().is_none());
    }

    #[test]
    fn a_missing_journal_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(entries(&dir.path().join("none")).unwrap().is_none());
    }
}
