//! Task results that wait on disk until the server has them (issue 11, item 1).
//!
//! When a task ends, its worker writes the result (task, run ID, how it ended, seconds) to
//! `<cluster>/results/<worker>/<task>-<run>.json` before it sends the report, and removes the
//! file once the server acknowledges it (the `ended` entry is then in the journal). A report
//! is thus never only in a worker's memory: a worker that reconnects sends again every report
//! not yet acknowledged, a worker restarted in the same batch job finds the files of its
//! predecessor, and a resumed server reads what workers that died before their report got
//! through (killed, their batch job ended) left behind. Every such report is of a copy the
//! server may no longer count on, and goes through the rule for stale copies (a success is
//! kept if the task is not done elsewhere). Files are written with [`crate::atomic_file`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::protocol::{RunEnd, RunId};

/// The directory of the cluster directory that holds every worker's results.
pub const DIR: &str = "results";

/// One task run's result, as its worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeldResult {
    pub task: u64,
    #[serde(default)]
    pub run: RunId,
    pub end: RunEnd,
    pub secs: f64,
}

/// The results directory of one worker: `key` names its batch job (a worker restarted in the
/// same batch job finds its predecessor's results) or, without one, its host and process.
pub fn worker_dir(cluster_dir: &Path, key: &str) -> PathBuf {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cluster_dir.join(DIR).join(safe)
}

impl HeldResult {
    /// Its file in a worker's results directory.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-{}.json", self.task, self.run))
    }

    /// Writes it into `dir` (created if needed) atomically and durably; returns the file.
    pub fn write(&self, dir: &Path, mode: u32) -> anyhow::Result<PathBuf> {
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
            // The new directories' names are on disk too (`results/` and this worker's).
            if let Some(results) = dir.parent() {
                crate::atomic_file::sync_dir(results)?;
                if let Some(cluster) = results.parent() {
                    crate::atomic_file::sync_dir(cluster)?;
                }
            }
        }
        let path = self.path_in(dir);
        crate::atomic_file::write_with_mode(&path, &serde_json::to_vec(self)?, mode)?;
        Ok(path)
    }
}

/// The results in `dir`, with their files, by task and run; unreadable files are skipped
/// with a warning (a missing directory holds none).
pub fn read_dir(dir: &Path) -> Vec<(PathBuf, HeldResult)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, HeldResult)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let read = std::fs::read(&p)
                .map_err(anyhow::Error::from)
                .and_then(|b| Ok(serde_json::from_slice::<HeldResult>(&b)?));
            match read {
                Ok(r) => Some((p, r)),
                Err(e) => {
                    tracing::warn!("skipping the held result `{}`: {e:#}", p.display());
                    None
                }
            }
        })
        .collect();
    out.sort_by_key(|(_, r)| (r.task, r.run));
    out
}

/// Every worker's results left in a cluster directory.
pub fn read_all(cluster_dir: &Path) -> Vec<(PathBuf, HeldResult)> {
    let Ok(entries) = std::fs::read_dir(cluster_dir.join(DIR)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .flat_map(|d| read_dir(&d))
        .collect()
}

/// Removes a result the server has (a file already gone is fine).
pub fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("failed to remove the held result `{}`: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_written_is_read_back_from_its_worker_dir_and_the_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let w = worker_dir(dir.path(), "local-1/../x");
        assert_eq!(w, dir.path().join("results").join("local-1_.._x"));
        let r = HeldResult {
            task: 7,
            run: 42,
            end: RunEnd::Exited { code: 0 },
            secs: 1.5,
        };
        let p = r.write(&w, 0o600).unwrap();
        std::fs::write(w.join("garbage.json"), b"{").unwrap();
        assert_eq!(read_dir(&w), [(p.clone(), r)]);
        assert_eq!(read_all(dir.path()), [(p.clone(), r)]);
        remove(&p);
        remove(&p);
        assert!(read_all(dir.path()).is_empty());
    }
}
