//! The cluster directory `<cluster_root>/<name>/`: everything one cluster keeps on disk.
//!
//! `scripts/` holds the rendered job scripts, `logs/` the batch jobs' stdout/stderr, `jobs.json`
//! every submission (recorded before its submit command runs) and every batch job with its ID
//! and last known state ([`jobs_file`]). Other parts add their own
//! files through [`ClusterDir::file`] (the server's `secret`, `server.json`, `journal`). Every
//! write is atomic (temp file + rename), and the `lock` file (flock) keeps two `hpcluster up`
//! off the same directory. It must be on a filesystem the compute nodes see.

pub mod jobs_file;
pub mod server_file;

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};

use crate::atomic_file::Access;
use crate::backend_kind::BackendKind;
use crate::config::Config;
use jobs_file::JobsFile;
pub use jobs_file::{ExcludedNode, JobRecord, Jobs, SubmissionRecord, SubmissionState, Wrote};

/// An open cluster directory (locked when opened by [`ClusterDir::create`]).
#[derive(Debug)]
pub struct ClusterDir {
    path: PathBuf,
    _lock: Option<Flock<File>>,
}

/// Where the cluster directory of a configuration is.
pub fn path_for(config: &Config) -> PathBuf {
    config.cluster_root.join(&config.name)
}

impl ClusterDir {
    /// Creates (or reuses) a private directory and takes its lock: fails if another `up`
    /// holds it.
    pub fn create(path: &Path) -> anyhow::Result<ClusterDir> {
        ClusterDir::create_with(path, Access::Private)
    }

    /// Creates (or reuses) the directory with the mode `access` gives it (set again on reuse,
    /// so a changed `cluster_access` applies), and takes its lock.
    pub fn create_with(path: &Path, access: Access) -> anyhow::Result<ClusterDir> {
        for sub in ["scripts", "logs"] {
            let d = path.join(sub);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("failed to create cluster directory `{}`", d.display()))?;
        }
        let mode = std::fs::Permissions::from_mode(access.dir_mode());
        std::fs::set_permissions(path, mode).with_context(|| {
            format!(
                "failed to set the mode of cluster directory `{}` to {:o}",
                path.display(),
                access.dir_mode()
            )
        })?;
        let path = std::path::absolute(path)?;
        // Its name (and its subdirectories') on disk: `jobs.json` and the journal live here.
        crate::atomic_file::sync_dir(&path)?;
        if let Some(root) = path.parent() {
            crate::atomic_file::sync_dir(root)?;
        }
        let lock_path = path.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("failed to open `{}`", lock_path.display()))?;
        // Held until the directory is dropped (the lock goes with the descriptor).
        let Ok(lock) = Flock::lock(lock, FlockArg::LockExclusiveNonblock) else {
            anyhow::bail!(
                "cluster directory `{}` is in use by another `hpcluster up`: stop it with \
                 `hpcluster down`, or choose another `--name`",
                path.display()
            );
        };
        Ok(ClusterDir {
            path,
            _lock: Some(lock),
        })
    }

    /// Opens an existing directory without locking it (`status`, `down`).
    pub fn open(path: &Path) -> anyhow::Result<ClusterDir> {
        if !path.join("jobs.json").is_file() {
            anyhow::bail!(
                "no cluster at `{}`: expected a `jobs.json` written by `hpcluster up`; check \
                 `--name` and `cluster_root`, or start one with `hpcluster up`",
                path.display()
            );
        }
        Ok(ClusterDir {
            path: std::path::absolute(path)?,
            _lock: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn scripts(&self) -> PathBuf {
        self.path.join("scripts")
    }

    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }

    /// A file of the directory by name (`jobs.json`, `secret`, `server.json`, ...).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn load(&self) -> anyhow::Result<JobsFile> {
        let p = self.file("jobs.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice::<JobsFile>(&b).with_context(|| {
                format!(
                    "failed to parse `{}`: expected hpcluster's jobs file; move it away to \
                     start afresh",
                    p.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JobsFile::default()),
            Err(e) => Err(e).with_context(|| format!("failed to read `{}`", p.display())),
        }
    }

    /// Every submission and batch job recorded (none for a new directory).
    pub fn load_jobs(&self) -> anyhow::Result<Jobs> {
        let f = self.load()?;
        Ok(Jobs {
            submissions: f.submissions,
            jobs: f.jobs,
            excluded_nodes: f.excluded_nodes,
        })
    }

    /// The backend the recorded batch jobs were submitted to.
    pub fn backend(&self) -> anyhow::Result<Option<BackendKind>> {
        Ok(self.load()?.backend)
    }

    /// Writes `jobs.json` (atomically, synced to disk before it returns).
    pub fn save_jobs(&self, backend: BackendKind, jobs: &Jobs) -> anyhow::Result<()> {
        let file = JobsFile {
            backend: Some(backend),
            submissions: jobs.submissions.clone(),
            jobs: jobs.jobs.clone(),
            excluded_nodes: jobs.excluded_nodes.clone(),
        };
        crate::atomic_file::write(&self.file("jobs.json"), &serde_json::to_vec_pretty(&file)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_up_cannot_lock_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c");
        let first = ClusterDir::create(&p).unwrap();
        let err = ClusterDir::create(&p).unwrap_err();
        assert!(
            err.to_string().contains("in use by another `hpcluster up`"),
            "{err}"
        );
        drop(first);
        ClusterDir::create(&p).unwrap();
    }

    #[test]
    fn jobs_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ClusterDir::create(tmp.path()).unwrap();
        assert_eq!(dir.load_jobs().unwrap(), Jobs::default());
        let now = std::time::SystemTime::now();
        let jobs = Jobs {
            submissions: vec![SubmissionRecord {
                name: "c-1".into(),
                array: Some(2),
                state: SubmissionState::Answered,
                at: now,
            }],
            jobs: vec![JobRecord::new(
                crate::backend::JobId::new("8_1"),
                "c-1",
                now,
            )],
            excluded_nodes: vec![ExcludedNode {
                node: "n3".into(),
                why: "2 batch jobs failed there".into(),
                jobs: vec![crate::backend::JobId::new("8_2")],
                at: now,
            }],
        };
        dir.save_jobs(BackendKind::Slurm, &jobs).unwrap();
        assert_eq!(dir.backend().unwrap(), Some(BackendKind::Slurm));
        assert_eq!(dir.load_jobs().unwrap(), jobs);
        assert!(ClusterDir::open(tmp.path()).is_ok());
    }
}
