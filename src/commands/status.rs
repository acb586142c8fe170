//! `hpcluster status [--json]`: every batch job of a cluster with its ID, state and times,
//! refreshed with one status call.

use serde::Serialize;

use crate::backend::{self, Runner};
use crate::cluster_dir::{self, ClusterDir, ExcludedNode, JobRecord};
use crate::config::Config;
use crate::time::{format_local, unix_secs};
use crate::tracker::Tracker;

#[derive(Serialize)]
struct JobView<'a> {
    id: String,
    name: &'a str,
    state: String,
    native: &'a str,
    /// Unix seconds.
    submitted: u64,
    started: Option<u64>,
    ended: Option<u64>,
    vanished: bool,
    /// What the batch system says of why it is pending, held or ended.
    reason: Option<&'a str>,
    /// The last lines of its output, once it failed.
    wrote: Option<&'a crate::cluster_dir::Wrote>,
    /// The node it ran on, where the batch system said.
    node: Option<&'a str>,
}

/// A node new batch jobs are kept off, and why.
#[derive(Serialize)]
struct ExcludedView<'a> {
    node: &'a str,
    why: &'a str,
    jobs: Vec<String>,
    /// Unix seconds.
    excluded: u64,
}

impl<'a> From<&'a ExcludedNode> for ExcludedView<'a> {
    fn from(n: &'a ExcludedNode) -> Self {
        ExcludedView {
            node: &n.node,
            why: &n.why,
            jobs: n.jobs.iter().map(|j| j.to_string()).collect(),
            excluded: unix_secs(n.at),
        }
    }
}

impl<'a> From<&'a JobRecord> for JobView<'a> {
    fn from(j: &'a JobRecord) -> Self {
        JobView {
            id: j.id.to_string(),
            name: &j.name,
            state: j.state.to_string(),
            native: &j.native,
            submitted: unix_secs(j.submitted),
            started: j.started.map(unix_secs),
            ended: j.ended.map(unix_secs),
            vanished: j.vanished,
            reason: j.reason.as_deref(),
            wrote: j.wrote.as_ref(),
            node: j.node.as_deref(),
        }
    }
}

/// Opens the cluster of a configuration with a tracker over its recorded batch jobs.
pub fn open_tracker(config: &Config) -> anyhow::Result<Tracker> {
    let dir = ClusterDir::open(&cluster_dir::path_for(config))?;
    let mut config = config.clone();
    if let Some(kind) = dir.backend()? {
        config.backend = kind;
    }
    let backend = backend::for_config(&config, Runner::for_config(&config));
    Tracker::new(&config, backend, dir)
}

pub fn run(config: &Config, json: bool) -> anyhow::Result<i32> {
    let config = config.clone();
    let mut tracker = open_tracker(&config)?;
    let dir = tracker.dir().path().to_path_buf();
    // While `up` runs it is the only writer: ask it, and show the batch jobs as it recorded them.
    let server = crate::server::running::find(&dir);
    let tasks = match server.as_ref().map(|s| s.status(&dir)) {
        Some(Ok(status)) => status,
        answer => {
            match answer {
                Some(Err(e)) => {
                    tracing::warn!("the server did not answer ({e:#}): showing the journal")
                }
                _ => {
                    if let Err(e) = tracker.poll_once() {
                        tracing::warn!("showing the last known states: {e:#}");
                    }
                }
            }
            crate::commands::task_source::status_from_journal(&dir, tracker.jobs())?
        }
    };
    let tasks = serde_json::to_value(&tasks)?;
    if json {
        let jobs: Vec<JobView> = tracker.jobs().iter().map(JobView::from).collect();
        let excluded: Vec<ExcludedView> = tracker
            .excluded_nodes()
            .iter()
            .map(ExcludedView::from)
            .collect();
        let out = serde_json::json!({
            "cluster": config.name,
            "directory": tracker.dir().path(),
            "backend": config.backend,
            "server": server.as_ref().map(|s| s.address.clone()),
            "server_status": tasks,
            "jobs": jobs,
            "excluded_nodes": excluded,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    print_tasks(server.as_ref().map(|s| s.address.as_str()), &tasks);
    let time = |t: Option<std::time::SystemTime>| t.map_or("-".to_string(), format_local);
    println!(
        "{:<16} {:<16} {:<10} {:<12} {:<19} {:<19} {:<19} REASON",
        "ID", "NAME", "STATE", "NATIVE", "SUBMITTED", "STARTED", "ENDED"
    );
    for j in tracker.jobs() {
        println!(
            "{:<16} {:<16} {:<10} {:<12} {:<19} {:<19} {:<19} {}",
            j.id.to_string(),
            j.name,
            j.state.to_string(),
            j.native,
            format_local(j.submitted),
            time(j.started),
            time(j.ended),
            j.reason.as_deref().unwrap_or("-")
        );
        if let Some(w) = j.wrote.as_ref().filter(|w| !w.tail.is_empty()) {
            println!("    {} ends with:", w.file.display());
            for line in &w.tail {
                println!("      {line}");
            }
        }
    }
    let open: Vec<&str> = tracker
        .submissions()
        .iter()
        .filter(|s| s.state == crate::cluster_dir::SubmissionState::Sent)
        .map(|s| s.name.as_str())
        .collect();
    if !open.is_empty() {
        println!(
            "submitted without a readable answer (looked up by name by `up` and `down`): {}",
            open.join(" ")
        );
    }
    for n in tracker.excluded_nodes() {
        println!(
            "node `{}` is excluded from new submissions since {}: {}",
            n.node,
            format_local(n.at),
            n.why
        );
    }
    Ok(0)
}

fn print_tasks(server: Option<&str>, v: &serde_json::Value) {
    match server {
        Some(a) => println!("server: running at {a}"),
        None => println!("server: not running (task counts from the journal)"),
    }
    let t = &v["tasks"];
    if t.is_object() {
        println!(
            "tasks: {} done, {} running, {} pending, {} failed, {} killed, {} cancelled",
            t["done"], t["running"], t["pending"], t["failed"], t["killed"], t["cancelled"]
        );
    }
    if let Some(workers) = v["workers"].as_array() {
        println!("workers: {}", workers.len());
        for w in workers {
            println!(
                "  worker {} in batch job {} on {}: {} running, {} done, {:.0}s left",
                w["id"],
                w["job"].as_str().unwrap_or("?"),
                w["host"].as_str().unwrap_or("?"),
                w["running"],
                w["tasks_done"],
                w["seconds_left"].as_f64().unwrap_or(0.0)
            );
        }
    }
    println!();
}
