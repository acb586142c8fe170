//! `hpcluster status [--json]`: every batch job of a cluster with its ID, state and times,
//! refreshed with one status call.

use serde::Serialize;

use crate::backend::clock::{format_local, unix_secs};
use crate::backend::{self, Runner};
use crate::cluster_dir::{self, ClusterDir, JobRecord};
use crate::config::Config;
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
    let backend = backend::for_config(&config, Runner::new(config.backend));
    Tracker::new(&config, backend, dir)
}

pub fn run(config: &Config, json: bool) -> anyhow::Result<i32> {
    let config = config.clone();
    let mut tracker = open_tracker(&config)?;
    if let Err(e) = tracker.poll_once() {
        crate::log::warn(format!("showing the last known states: {e:#}"));
    }
    if json {
        let jobs: Vec<JobView> = tracker.jobs().iter().map(JobView::from).collect();
        let out = serde_json::json!({
            "cluster": config.name,
            "directory": tracker.dir().path(),
            "backend": config.backend,
            "jobs": jobs,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    let time = |t: Option<std::time::SystemTime>| t.map_or("-".to_string(), format_local);
    println!(
        "{:<16} {:<16} {:<10} {:<12} {:<19} {:<19} {:<19}",
        "ID", "NAME", "STATE", "NATIVE", "SUBMITTED", "STARTED", "ENDED"
    );
    for j in tracker.jobs() {
        println!(
            "{:<16} {:<16} {:<10} {:<12} {:<19} {:<19} {:<19}",
            j.id.to_string(),
            j.name,
            j.state.to_string(),
            j.native,
            format_local(j.submitted),
            time(j.started),
            time(j.ended)
        );
    }
    Ok(0)
}
