//! Finding the server of a cluster from another process (`status`, `down`, `submit`).
//!
//! `up` writes `server.json` (address and pid) into the cluster directory and removes it when
//! it ends. While a server runs it is the only writer of the cluster's files; other commands
//! ask it over the wire, or stop it with SIGTERM, instead of writing beside it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::auth::Secret;
use crate::cluster_dir::server_file::ServerFile;
use crate::protocol::{Reply, Request, ServerStatus};

/// A server that answers, as `server.json` describes it.
#[derive(Debug, Clone)]
pub struct RunningServer {
    pub address: String,
    pub pid: i32,
}

/// The cluster's server, if its `server.json` names a live process.
pub fn find(cluster_dir: &Path) -> Option<RunningServer> {
    let f = ServerFile::read(cluster_dir).ok()?;
    crate::process::is_alive(f.pid).then_some(RunningServer {
        address: f.address,
        pid: f.pid,
    })
}

impl RunningServer {
    /// The server's summary of tasks, workers and batch jobs.
    pub fn status(&self, cluster_dir: &Path) -> anyhow::Result<ServerStatus> {
        match self.request(cluster_dir, &Request::Status)? {
            Reply::Summary { status } => Ok(status),
            other => anyhow::bail!("unexpected answer from the server: {other:?}"),
        }
    }

    /// Sends one request as a client (proving it knows the cluster's secret) and returns the
    /// answer; a refusal is an error with the server's reason.
    pub fn request(&self, cluster_dir: &Path, req: &Request) -> anyhow::Result<Reply> {
        let secret = Secret::load(&cluster_dir.join("secret"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        match rt.block_on(crate::server::client_request(&self.address, &secret, req))? {
            Reply::Refused { reason } => anyhow::bail!("the server refused: {reason}"),
            other => Ok(other),
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
