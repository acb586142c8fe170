//! `server.json`: where a cluster's running server listens, and its pid. `up` writes it
//! (atomically) once it listens and removes it when it ends; workers read it at each
//! (re)connection, and `status`, `submit` and `down` read it to find the server. This is the
//! one reader and writer of that file.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file's name in the cluster directory.
pub const NAME: &str = "server.json";

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFile {
    /// `HOST:PORT` workers and clients connect to.
    pub address: String,
    /// The `hpcluster up` process.
    pub pid: i32,
}

impl ServerFile {
    /// Writes it into `cluster_dir`.
    pub fn write(&self, cluster_dir: &Path) -> anyhow::Result<()> {
        crate::atomic_file::write(&cluster_dir.join(NAME), &serde_json::to_vec(self)?)
    }

    /// Reads it from `cluster_dir`; the error says whether `up` runs.
    pub fn read(cluster_dir: &Path) -> anyhow::Result<ServerFile> {
        let path = cluster_dir.join(NAME);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "failed to read `{}`: is `hpcluster up` running for this cluster?",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a server address file (expected `{{\"address\": ..., \"pid\": ...}}`); \
                 it is rewritten by the next `hpcluster up`",
                path.display()
            )
        })
    }

    /// Removes it from `cluster_dir` (the server has stopped).
    pub fn remove(cluster_dir: &Path) {
        let _ = std::fs::remove_file(cluster_dir.join(NAME));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = ServerFile {
            address: "login1:4242".into(),
            pid: 77,
        };
        f.write(dir.path()).unwrap();
        assert_eq!(ServerFile::read(dir.path()).unwrap(), f);
        std::fs::write(dir.path().join(NAME), "{}").unwrap();
        let e = format!("{:#}", ServerFile::read(dir.path()).unwrap_err());
        assert!(e.contains("is not a server address file"), "{e}");
        ServerFile::remove(dir.path());
        let e = format!("{:#}", ServerFile::read(dir.path()).unwrap_err());
        assert!(e.contains("is `hpcluster up` running"), "{e}");
    }
}
