//! Running the real `hpcluster` binary in an isolated directory: no `HPCLUSTER_*`, `HOME` and
//! `XDG_CONFIG_HOME` point into the temp dir, so no stray configuration leaks into a test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temp directory to run `hpcluster` in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `./hpcluster.toml`.
    pub fn config(&self, text: &str) -> &Sandbox {
        self.write("hpcluster.toml", text);
        self
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `hpcluster ARGS` with a clean environment, run in the sandbox.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpcluster"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("xdg"))
            .current_dir(self.path())
            .args(args);
        cmd
    }

    /// Runs and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run hpcluster");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Config lines that make rendered scripts the same on every machine.
pub const FIXED: &str = "worker_program = \"/opt/hpcluster/bin/hpcluster\"\n\
                         cluster_root = \"/scratch/me/.hpcluster\"\n";
