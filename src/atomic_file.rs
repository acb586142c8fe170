//! Files that are either wholly old or wholly new, and on disk once written: the one way
//! hpcluster writes `jobs.json`, `server.json`, the secret, job scripts and a local batch job's
//! state.
//!
//! A temporary file in the same directory (`tempfile`), written and `fsync`ed, renamed over the
//! target (`persist`), then the directory `fsync`ed so the rename itself survives a crash. A
//! reader never sees a half-written file and a crash never leaves an empty one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// Mode of a file anyone may read (before the umask), as `std::fs::write` creates it.
pub const SHARED: u32 = 0o666;
/// Mode of a file only its owner may read or write (the cluster's secret).
pub const PRIVATE: u32 = 0o600;

/// Who may read a cluster directory (the `cluster_access` key): the directory gets
/// [`Access::dir_mode`], and every file hpcluster or a worker creates in it (the journal, task
/// outputs) takes its read and write bits from the directory's mode ([`file_mode_in`]), so a
/// worker in a batch job follows the choice without being told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Only the owner: directory 0700, files 0600.
    #[default]
    Private,
    /// The owner's group may read: directory 0750, files 0640.
    Group,
}

impl Access {
    /// `private` or `group`; the error says which are accepted.
    pub fn parse(text: &str) -> Result<Access, String> {
        match text {
            "private" => Ok(Access::Private),
            "group" => Ok(Access::Group),
            other => Err(format!(
                "unknown access `{other}`: expected `private` (only you: directory 0700, files \
                 0600) or `group` (your group may read: 0750, 0640)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Access::Private => "private",
            Access::Group => "group",
        }
    }

    pub fn dir_mode(self) -> u32 {
        match self {
            Access::Private => 0o700,
            Access::Group => 0o750,
        }
    }
}

/// The mode of a new file in `dir`: the directory's read and write bits (0700 -> 0600, 0750 ->
/// 0640); [`PRIVATE`] when the directory cannot be read.
pub fn file_mode_in(dir: &Path) -> u32 {
    std::fs::metadata(dir).map_or(PRIVATE, |m| m.permissions().mode() & 0o666)
}

/// Writes `data` to `path` atomically and durably, with mode [`SHARED`] (less the umask).
pub fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_with_mode(path, data, SHARED)
}

/// Writes `data` to `path` atomically and durably; a new file gets `mode` (less the umask).
pub fn write_with_mode(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("failed to write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("failed to replace `{}`", path.display()))?;
    sync_dir(dir)
}

/// Puts a directory's entries (a rename, a new file) on disk.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("failed to sync directory `{}`", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_with_the_mode_asked_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobs.json");
        write(&p, b"first").unwrap();
        write(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let secret = dir.path().join("secret");
        write_with_mode(&secret, b"s", PRIVATE).unwrap();
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_missing_directory_is_named() {
        let e = write(Path::new("/nonexistent-dir-hpc/x.json"), b"x").unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent-dir-hpc"), "{e:#}");
    }
}
