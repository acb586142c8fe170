//! Issue 10, item 7: every data command's `--json` has one shape, the one `docs/json.md`
//! documents with an example, whether or not a server runs. Each command's real output is
//! checked against the examples of its section: the same keys at every level, the same kinds
//! of values (`null` on either side stands for any kind), every element of a list shaped like
//! the example's first.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{wait_for, Test};

/// The JSON examples of the section headed `## \`hpcluster {command}\``.
fn examples(command: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let heading = format!("## `hpcluster {command}`");
    let start = doc
        .find(&heading)
        .unwrap_or_else(|| panic!("docs/json.md has no section {heading}"));
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let blocks: Vec<Value> = section
        .split("```json\n")
        .skip(1)
        .map(|b| {
            let body = &b[..b.find("```").unwrap()];
            serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("an example of {heading} is not JSON: {e}\n{body}"))
        })
        .collect();
    assert!(!blocks.is_empty(), "{heading} has no example");
    blocks
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `actual` has the shape of `doc`; the error names where it differs.
fn same_shape(doc: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (doc, actual) {
        (Value::Null, _) | (_, Value::Null) => Ok(()),
        (Value::Object(d), Value::Object(a)) => {
            let dk: BTreeSet<&String> = d.keys().collect();
            let ak: BTreeSet<&String> = a.keys().collect();
            if dk != ak {
                return Err(format!("{at}: documented keys {dk:?}, printed keys {ak:?}"));
            }
            d.iter()
                .try_for_each(|(k, v)| same_shape(v, &a[k], &format!("{at}.{k}")))
        }
        (Value::Array(d), Value::Array(a)) => match d.first() {
            None if a.is_empty() => Ok(()),
            None => Err(format!("{at}: documented empty, printed {} items", a.len())),
            Some(first) => a
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| same_shape(first, item, &format!("{at}[{i}]"))),
        },
        (d, a) if kind(d) == kind(a) => Ok(()),
        (d, a) => Err(format!("{at}: documented {}, printed {}", kind(d), kind(a))),
    }
}

fn check(doc: &Value, printed: &str) {
    let actual: Value = serde_json::from_str(printed).unwrap();
    if let Err(e) = same_shape(doc, &actual, "$") {
        panic!("{e}\nprinted:\n{printed}");
    }
}

/// A shape check that can fail: a missing key, a number for a string, a list of the wrong
/// items are all caught.
#[test]
fn the_shape_check_catches_a_missing_key_and_a_wrong_kind() {
    let doc: Value = serde_json::from_str(r#"{"a": 1, "b": [{"c": "x"}], "d": null}"#).unwrap();
    let ok: Value = serde_json::from_str(r#"{"a": 2.5, "b": [], "d": {"e": 1}}"#).unwrap();
    assert_eq!(same_shape(&doc, &ok, "$"), Ok(()));
    for bad in [
        r#"{"a": 1, "b": []}"#,
        r#"{"a": "1", "b": [], "d": null}"#,
        r#"{"a": 1, "b": [{"c": 1}], "d": null}"#,
        r#"{"a": 1, "b": [], "d": null, "z": 0}"#,
    ] {
        let v: Value = serde_json::from_str(bad).unwrap();
        assert!(same_shape(&doc, &v, "$").is_err(), "{bad}");
    }
}

/// `status --json` and `tasks --json` while `up` runs, and after: each as documented, and the
/// two documented `status` examples the same shape.
#[test]
fn status_and_tasks_print_the_documented_shape_with_and_without_a_server() {
    let status_docs = examples("status --json");
    assert_eq!(status_docs.len(), 2);
    same_shape(&status_docs[0], &status_docs[1], "$").unwrap();
    let tasks_doc = &examples("tasks --json")[0];

    let c = Test::new().cluster("schema").poll("200ms");
    let up = c.spawn(&[
        "up",
        "--backend",
        "local",
        "--walltime",
        "10m",
        "--task-time",
        "1s",
    ]);
    wait_for(30, "the server", || {
        c.cluster_dir().join("server.json").exists().then_some(())
    });
    c.run_ok(&["submit", "--task-name", "a", "--", "sleep 3; exit 1"]);
    c.run_ok(&["submit", "--", "true"]);
    wait_for(30, "a connected worker", || {
        // `status` fails until `up` has recorded its first batch job.
        let v: Value = serde_json::from_str(&c.run(&["status", "--json"]).stdout).ok()?;
        (!v["server_status"]["workers"].as_array()?.is_empty()).then_some(())
    });
    let live = c.run_ok(&["status", "--json"]);
    check(&status_docs[0], &live);
    let v: Value = serde_json::from_str(&live).unwrap();
    assert!(v["server"].is_string(), "{live}");
    check(tasks_doc, &c.run_ok(&["tasks", "--json"]));

    assert_eq!(c.run(&["wait"]).code, Some(1));
    c.run_ok(&["down"]);
    up.wait(60);
    let after = c.run_ok(&["status", "--json"]);
    check(&status_docs[1], &after);
    let v: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(v["server"], Value::Null, "{after}");
    let tasks = c.run_ok(&["tasks", "--json"]);
    check(tasks_doc, &tasks);
    let v: Value = serde_json::from_str(&tasks).unwrap();
    assert_eq!(v[0]["exit_code"], 1, "{tasks}");
}

/// `config show --json`: one entry per key of docs/configuration.md, each shaped as the
/// example of its source (default, file, env, flag).
#[test]
fn config_show_prints_every_documented_key_shaped_by_its_source() {
    let doc = &examples("config show --json")[0];
    let c = Test::new()
        .config("walltime = \"2h\"\n")
        .env("HPCLUSTER_CORES", "4");
    let printed = c.run_ok(&["config", "show", "--json", "--slots", "2"]);
    let actual: Value = serde_json::from_str(&printed).unwrap();
    let entries = actual.as_object().unwrap();
    let mut sources_seen = BTreeSet::new();
    for (key, entry) in entries {
        let source = entry["source"].as_str().unwrap();
        sources_seen.insert(source.to_string());
        let example = doc
            .as_object()
            .unwrap()
            .values()
            .find(|e| e["source"] == source)
            .unwrap_or_else(|| panic!("no documented entry with source {source}"));
        // Values differ in kind from key to key; the entry's keys must not.
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(keys(entry), keys(example), "{key}: {printed}");
    }
    assert_eq!(sources_seen.len(), 4, "{printed}");
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    // The rows of the `## Keys` table (later tables name dask-jobqueue's keywords).
    let keys_section = reference
        .split("\n## Keys\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/configuration.md has a `## Keys` section");
    let documented: BTreeSet<String> = keys_section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .collect();
    let printed_keys: BTreeSet<String> = entries.keys().cloned().collect();
    assert_eq!(
        printed_keys, documented,
        "keys of config show vs docs/configuration.md"
    );
}

#[test]
fn plan_prints_the_documented_shape() {
    let doc = &examples("plan --json")[0];
    let printed = Test::new().run_ok(&["plan", "--walltime", "5h", "--task-time", "4h", "--json"]);
    check(doc, &printed);
}
