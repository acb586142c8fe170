//! The import graph of `src/` (issue 8): read from the source text, every `crate::` path a file
//! names is an arrow from its top-level module to another. The modules stand in layers, lowest
//! first; an arrow may only point down (or within its own module), so the graph has no circles
//! and no lower layer leans on a higher one. A new module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, lowest layer first.
const LAYERS: &[&[&str]] = &[
    // Foundations: no hpcluster imports beyond this layer.
    &[
        "duration",
        "memory",
        "backend_kind",
        "time",
        "atomic_file",
        "process",
        "log",
    ],
    // The learner of task durations (a task's history keeps what its kills showed with it).
    &["estimate"],
    // Values and rules: the walltime budget, the task model, what may go into a script.
    &["validate", "budget", "task"],
    // The resolved configuration and the plan of its budget; the tasks-file reader.
    &["config", "plan", "tasks"],
    // Job scripts.
    &["template"],
    // Batch systems.
    &["backend"],
    // What a cluster keeps on disk; the wire; the journal.
    &["cluster_dir", "protocol", "journal"],
    // Authentication; the set of tracked batch jobs; the ledger of their core-hours; results
    // that wait on disk for the server.
    &["auth", "tracker", "accounting", "held_results"],
    // The two processes: the server (`up`) and the worker (in a batch job).
    &["server", "worker"],
    // The simulator drives the server's core.
    &["sim"],
    // What the user typed, then the commands, then the program.
    &["cli"],
    &["commands"],
    &["run", "lib", "main"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/it/architecture.rs"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// `text` without its `//` comments (doc comments may name anything).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules named after `crate::` in `text` (`use crate::{a, b::c}` too), without
/// comments.
fn imports(text: &str) -> BTreeSet<String> {
    let code = code_of(text);
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue; // `hpcluster_crate::`, `$crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every arrow between top-level modules: (from, to) -> the files that draw it.
fn graph() -> BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut arrows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in files {
        let from = module_of(&src, &f);
        for to in imports(&std::fs::read_to_string(&f).unwrap()) {
            if to != from {
                let rel = f.strip_prefix(&src).unwrap().display().to_string();
                arrows.entry((from.clone(), to)).or_default().push(rel);
            }
        }
    }
    arrows
}

#[test]
fn every_import_points_to_a_lower_layer() {
    let arrows = graph();
    // The reader sees the graph (the program is more than foundations).
    assert!(arrows.len() > 50, "{arrows:?}");
    assert!(arrows.contains_key(&("commands".to_string(), "server".to_string())));
    let upward: Vec<String> = arrows
        .into_iter()
        .filter(|((from, to), _)| layer_of(to) >= layer_of(from))
        .map(|((from, to), files)| format!("{from} -> {to} (in {})", files.join(", ")))
        .collect();
    assert!(
        upward.is_empty(),
        "imports that point up or sideways (move the definition to the lower room):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_server_core_and_the_worker_stay_in_their_rooms() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("server/core"), &mut files);
    for f in files {
        let text = code_of(&std::fs::read_to_string(&f).unwrap());
        for banned in [
            "tokio",
            "std::net",
            "SystemTime",
            "Instant::now",
            "crate::server::",
        ] {
            assert!(
                !text.contains(banned),
                "{} names `{banned}`: the core has no sockets and no clock",
                f.display()
            );
        }
    }
    let mut files = Vec::new();
    rust_files(&src.join("worker"), &mut files);
    for f in files {
        let text = code_of(&std::fs::read_to_string(&f).unwrap());
        assert!(
            !text.contains("crate::server"),
            "{} imports the server",
            f.display()
        );
    }
}

#[test]
fn the_import_reader_sees_groups_and_paths_but_not_comments() {
    let got =
        imports("use crate::{a, b::c};\n// crate::commented\nlet x = crate::d::e(); my_crate::f;");
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        ["a", "b", "d"].map(String::from)
    );
}
