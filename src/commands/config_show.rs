//! `hpcluster config show`: every key, its resolved value and where it came from.

use serde_json::{json, Map, Value};

use crate::config::keys::{self, KEYS};
use crate::config::{Resolved, Source};

/// One row per key: (key, value as JSON, source).
fn rows(r: &Resolved) -> Vec<(&'static str, Value, Source)> {
    KEYS.iter()
        .map(|key| {
            let source = r.sources.get(*key).cloned().unwrap_or(Source::Default);
            (*key, keys::value(&r.config, key), source)
        })
        .collect()
}

fn source_json(s: &Source) -> Value {
    match s {
        Source::Default => json!({"source": "default"}),
        Source::File(p) => json!({"source": "file", "path": p.display().to_string()}),
        Source::Env(var) => json!({"source": "env", "var": var}),
        Source::Flag => json!({"source": "flag"}),
    }
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Default => "default".to_string(),
        Source::File(p) => format!("file ({})", p.display()),
        Source::Env(var) => format!("env ({var})"),
        Source::Flag => "flag".to_string(),
    }
}

pub fn run(r: &Resolved, json: bool) -> anyhow::Result<i32> {
    let rows = rows(r);
    if json {
        let mut map = Map::new();
        for (key, value, source) in &rows {
            let mut entry = source_json(source);
            entry["value"] = value.clone();
            if *key == "walltime" {
                if let Some(note) = &r.config.walltime_note {
                    entry["read_as"] = Value::String(note.clone());
                }
            }
            map.insert(key.to_string(), entry);
        }
        println!("{}", serde_json::to_string_pretty(&Value::Object(map))?);
        return Ok(0);
    }
    match &r.file {
        Some(p) => println!("# config file: {}", p.display()),
        None => println!("# config file: none (defaults, environment and flags only)"),
    }
    let width = KEYS.iter().map(|k| k.len()).max().unwrap_or(0);
    for (key, value, source) in &rows {
        let shown = match value {
            Value::Null => "(unset)".to_string(),
            other => other.to_string(),
        };
        println!("{key:<width$}  {shown}  [{}]", source_text(source));
        if *key == "walltime" {
            if let Some(note) = &r.config.walltime_note {
                println!("{:<width$}  # {note}", "");
            }
        }
    }
    Ok(0)
}
