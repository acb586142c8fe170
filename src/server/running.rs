//! Finding the server of a cluster from another process (`status`, `down`, `submit`).
//!
//! `up` writes `server.json` (address and pid) into the cluster directory and removes it when
//! it ends. While a server runs it is the only writer of the cluster's files; other commands
//! ask it over the wire, or stop it with SIGTERM, instead of writing beside it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::auth::Secret;
use crate::protocol::{Reply, Request};

/// A server that answers, as `server.json` describes it.
#[derive(Debug, Clone)]
pub struct RunningServer {
    pub address: String,
    pub pid: i32,
}

/// The cluster's server, if its `server.json` names a live process.
pub fn find(cluster_dir: &Path) -> Option<RunningServer> {
    let text = std::fs::read_to_string(cluster_dir.join("server.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = v["pid"].as_i64()? as i32;
    let alive = crate::process::is_alive(pid);
    alive.then(|| RunningServer {
        address: v["address"].as_str().unwrap_or_default().to_string(),
        pid,
    })
}

impl RunningServer {
    /// The server's summary of tasks, workers and batch jobs.
    pub fn status(&self, cluster_dir: &Path) -> anyhow::Result<serde_json::Value> {
        let secret = Secret::load(&cluster_dir.join("secret"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        match rt.block_on(crate::server::client_request(
            &self.address,
            &secret,
            &Request::Status,
        ))? {
            Reply::Summary { json } => Ok(json),
            other => anyhow::bail!("unexpected answer from the server: {other:?}"),
        }
    }

    /// Asks the server to stop (SIGTERM: it cancels its batch jobs) and waits for it to exit.
    pub fn stop(&self, within: Duration) -> bool {
        crate::process::signal(self.pid, crate::process::SIGTERM);
        let until = Instant::now() + within;
        while Instant::now() < until {
            if !crate::process::is_alive(self.pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}
