//! The worker's scratch directory, from `local_directory`.
//!
//! A job script exports `HPCLUSTER_LOCAL_DIRECTORY` with the configured `local_directory`,
//! expanded by the batch job's shell (so `$TMPDIR` or `/scratch/$USER` mean the compute
//! node's). The worker makes a directory of its own inside it, gives it to every task as
//! `TMPDIR` and `HPCLUSTER_LOCAL_DIR`, and removes it when it exits. A `local_directory`
//! that cannot be created is an error: the worker stops rather than run tasks that expect
//! their scratch space somewhere else.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The environment variable a job script sets from `local_directory`.
pub const ENV: &str = "HPCLUSTER_LOCAL_DIRECTORY";

/// A worker's scratch directory; removed (with its contents) when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes `<local_directory>/hpcluster-<job>-<pid>` (the job part only when known).
    pub fn create(local_directory: &Path, job: Option<&str>) -> anyhow::Result<Scratch> {
        let name = match job {
            Some(j) => format!("hpcluster-{}-{}", sanitize(j), std::process::id()),
            None => format!("hpcluster-{}", std::process::id()),
        };
        let path = local_directory.join(name);
        std::fs::create_dir_all(&path).with_context(|| {
            format!(
                "`local_directory` `{}` has no room for the worker's scratch directory `{}`; \
                 set `local_directory` to a directory writable on the compute nodes (for \
                 example `$TMPDIR`), or unset it",
                local_directory.display(),
                path.display()
            )
        })?;
        Ok(Scratch { path })
    }

    /// The scratch directory named by the environment, if any.
    pub fn from_env(
        env: &std::collections::HashMap<String, String>,
        job: Option<&str>,
    ) -> anyhow::Result<Option<Scratch>> {
        match env.get(ENV).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(dir) => Scratch::create(Path::new(dir), job).map(Some),
            None => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(
                    "could not remove the scratch directory `{}`: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// A job ID as a file name part: `1234_5`, `7.server` stay; anything else becomes `_`.
fn sanitize(job: &str) -> String {
    job.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_directory_is_made_inside_and_removed_at_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let path = {
            let s = Scratch::create(tmp.path(), Some("42_3")).unwrap();
            let p = s.path().to_path_buf();
            assert!(p.is_dir());
            assert!(p.starts_with(tmp.path()));
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            assert_eq!(name, format!("hpcluster-42_3-{}", std::process::id()));
            std::fs::write(p.join("spill"), b"x").unwrap();
            p
        };
        assert!(!path.exists());
    }

    #[test]
    fn an_unwritable_local_directory_names_the_key_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"").unwrap();
        let e = Scratch::create(&file, None).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("`local_directory`"), "{msg}");
        assert!(msg.contains("writable on the compute nodes"), "{msg}");
    }

    #[test]
    fn job_ids_become_file_names() {
        assert_eq!(sanitize("7.server"), "7.server");
        assert_eq!(sanitize("a/b c"), "a_b_c");
    }

    #[test]
    fn an_empty_variable_means_no_scratch_directory() {
        let mut env = std::collections::HashMap::new();
        assert!(Scratch::from_env(&env, None).unwrap().is_none());
        env.insert(ENV.to_string(), "  ".to_string());
        assert!(Scratch::from_env(&env, None).unwrap().is_none());
    }
}
