//! The configuration file: a flat TOML table of keys, read with the span of every key and value
//! so an unknown key or a wrong type names its line.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use toml::Spanned;

use super::keys::{self, Raw};
use super::{Config, Source};

/// One entry of the file: the key as written, its canonical name, its value and its line.
struct Entry {
    written: String,
    key: &'static str,
    value: toml::Value,
    line: Line,
}

/// A 1-based line number; 0 when unknown.
#[derive(Debug, Clone, Copy)]
struct Line(usize);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => f.write_str("?"),
            n => write!(f, "{n}"),
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Reads the file and applies every key to `config`, recording the file as their source.
pub fn apply(
    config: &mut Config,
    sources: &mut BTreeMap<String, Source>,
    path: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read config `{}`", path.display()))?;
    for entry in parse_entries(&text, path)? {
        keys::set(config, entry.key, Raw::Toml(&entry.value)).map_err(|reason| {
            anyhow::anyhow!(
                "invalid `{}` on line {} of config `{}`: {reason}",
                entry.written,
                entry.line,
                path.display()
            )
        })?;
        sources.insert(entry.key.to_string(), Source::File(path.to_path_buf()));
    }
    Ok(())
}

fn parse_entries(text: &str, path: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut table: toml::Table = toml::from_str(text)
        .with_context(|| format!("failed to parse config `{}` as TOML", path.display()))?;
    // A second pass for the position of every top-level key (values are not needed here).
    let spans: BTreeMap<Spanned<String>, serde::de::IgnoredAny> =
        toml::from_str(text).unwrap_or_default();
    let mut keys: Vec<(usize, String)> = spans
        .keys()
        .map(|k| (line_of(text, k.span().start), k.get_ref().clone()))
        .collect();
    keys.sort();
    for key in table.keys() {
        if !keys.iter().any(|(_, k)| k == key) {
            keys.push((0, key.clone())); // no span known: line 0 is shown as "line ?"
        }
    }
    let mut seen: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut entries = Vec::new();
    for (line, written) in keys {
        let line = Line(line);
        let value = table
            .remove(&written)
            .unwrap_or(toml::Value::Boolean(false));
        let Some(key) = keys::canonical(&written) else {
            if let Some(why) = keys::dask_only(&written) {
                bail!(
                    "unknown key `{written}` on line {line} of config `{}`: dask-jobqueue's \
                     `{written}` has no hpcluster key: {why}",
                    path.display()
                );
            }
            let hint = match keys::suggest(&written) {
                _ if value.is_table() => "the config is one flat table of keys: \
                    write them at the top of the file, without a `[section]`"
                    .to_string(),
                Some(k) => format!("did you mean `{k}`?"),
                None => "see docs/configuration.md for every key".to_string(),
            };
            bail!(
                "unknown key `{written}` on line {line} of config `{}`: {hint}",
                path.display()
            );
        };
        if let Some(first) = seen.insert(key, written.clone()) {
            bail!(
                "`{written}` on line {line} of config `{}` sets `{key}` again (as `{first}` did): \
                 keep one of them",
                path.display()
            );
        }
        entries.push(Entry {
            written,
            key,
            value,
            line,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "backend = \"slurm\"\n\ncores = \"many\"\n").unwrap();
        let mut c = Config::default();
        let e = apply(&mut c, &mut BTreeMap::new(), &path)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid `cores` on line 3 of config"), "{e}");
        assert!(e.contains("expected a whole number from 1"), "{e}");
    }

    #[test]
    fn aliases_collide() {
        let e = parse_entries("slots = 2\nprocesses = 3\n", Path::new("c.toml"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sets `slots` again"), "{e}");
    }
}
