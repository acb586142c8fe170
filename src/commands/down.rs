//! `hpcluster down`: stops the cluster's server, looks up by name every submission whose
//! answer was lost (so a batch job with no recorded ID is found), cancels every batch job of
//! the cluster that has not ended (in batches), records it, and waits a little for the batch
//! system to confirm.

use std::time::{Duration, Instant};

use crate::config::Config;

/// How long `down` waits for the batch system to report the cancelled batch jobs as ended.
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);

pub fn run(config: &Config) -> anyhow::Result<i32> {
    let mut config = config.clone();
    config.poll_interval = Duration::from_secs(1);
    let dir = crate::cluster_dir::path_for(&config);
    let mut server_stopped = false;
    if let Some(server) = crate::server::running::find(&dir) {
        // The server cancels its own batch jobs on SIGTERM; it must not submit replacements.
        println!("stopping the server (pid {})", server.pid);
        server_stopped = server.stop(Duration::from_secs(60));
        if !server_stopped {
            tracing::warn!("the server (pid {}) did not stop within 60s", server.pid);
        }
    }
    let mut tracker = crate::commands::status::open_tracker(&config)?;
    if tracker.unresolved() > 0 {
        match tracker.reconcile(true) {
            Ok(found) if !found.is_empty() => {
                let shown: Vec<String> = found.iter().map(|i| i.to_string()).collect();
                println!(
                    "found {} batch job(s) by name whose submission had no readable answer: {}",
                    found.len(),
                    shown.join(" ")
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("{e:#}; run `hpcluster down` again"),
        }
    }
    // Batch jobs the server just cancelled are not cancelled twice (SGE's qdel fails on a job
    // that is gone): the loop below waits for them to be confirmed ended like the others.
    let ids: Vec<_> = tracker
        .jobs()
        .iter()
        .filter(|j| {
            let cancelled_by_server = server_stopped && j.cancel_requested;
            !j.is_settled() && !cancelled_by_server
        })
        .map(|j| j.id.clone())
        .collect();
    let cancelled = tracker.cancel(&ids)?;
    let list: Vec<String> = cancelled.iter().map(|i| i.to_string()).collect();
    println!(
        "cancelled {} batch jobs: {}",
        cancelled.len(),
        list.join(" ")
    );
    let deadline = Instant::now() + CONFIRM_WITHIN;
    while !tracker.all_settled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        if let Err(e) = tracker.poll_once() {
            tracing::warn!("{e:#}");
        }
    }
    let left = tracker.jobs().iter().filter(|j| !j.is_settled()).count();
    if left > 0 {
        tracing::warn!("{left} batch jobs not yet confirmed ended; check `hpcluster status`");
    }
    Ok(0)
}
