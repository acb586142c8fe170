//! The one harness every integration test uses: [`Test`] builds a sandbox (a temp directory
//! holding the cluster directory, the config file, the tasks files and the fakes' state), runs
//! the real `hpcluster` binary in it to completion or in the background, and reads what the run
//! left (`evidence.rs`: `jobs.json`, `journal.jsonl`, the fakes' argv log, task outputs).
//!
//! Every command starts from an empty environment: `PATH` (the test's own, or the fakes of
//! `tests/fake-bin` first), and `HOME` and `XDG_CONFIG_HOME` inside the sandbox, so no
//! `HPCLUSTER_*` variable, user config or batch-job variable (`SLURM_JOB_ID`, ...) of the
//! machine running the tests leaks into a test.

mod evidence;
mod process;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use evidence::{assert_each_done_once, ends, ev, summary};
pub use process::{signal_pid, Background, Finished};

/// Config lines that make rendered scripts the same on every machine.
pub const FIXED: &str = "worker_program = \"/opt/hpcluster/bin/hpcluster\"\n\
                         cluster_root = \"/scratch/me/.hpcluster\"\n";

/// How long a command run to completion may take before the test fails showing its output.
const RUN_TIMEOUT_SECS: u64 = 120;

/// The fake batch commands (`sbatch`, `qsub`, `bsub`, ...) that log their argv.
pub fn fake_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-bin")
}

/// A sandbox to run `hpcluster` in. Built with chained calls, then used through `&self`:
///
/// ```ignore
/// let t = Test::new().cluster("seed").fakes().poll("200ms");
/// let up = t.spawn(&["up", "--backend", "slurm", "--jobs", "2"]);
/// t.wait_states(2, "running", 30);
/// ```
pub struct Test {
    tmp: tempfile::TempDir,
    /// The cluster name (`HPCLUSTER_NAME`); `None` leaves hpcluster's default, `hpcluster`,
    /// on which the rendered-script snapshots depend.
    name: Option<String>,
    /// Set on every command, in order (a later value of a variable wins).
    env: Vec<(OsString, OsString)>,
}

impl Test {
    /// A fresh temp directory and the clean environment described atop this file.
    pub fn new() -> Test {
        let tmp = tempfile::tempdir().expect("temp dir");
        let env = vec![
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("HOME".into(), tmp.path().join("home").into()),
            ("XDG_CONFIG_HOME".into(), tmp.path().join("xdg").into()),
        ];
        Test {
            tmp,
            name: None,
            env,
        }
    }

    /// A cluster with a name unique to this test run, starting with `prefix`.
    pub fn cluster(self, prefix: &str) -> Test {
        self.named(&unique_name(prefix))
    }

    /// A cluster named exactly `name` (for tests whose assertions spell out job names).
    pub fn named(mut self, name: &str) -> Test {
        self.name = Some(name.to_string());
        self.env("HPCLUSTER_NAME", name)
    }

    /// `tests/fake-bin` first on `PATH` (then only `/usr/bin:/bin`: the fakes shadow the real
    /// batch commands of this machine), their state in `<sandbox>/fake-state`, and a 10 ms
    /// retry backoff.
    pub fn fakes(self) -> Test {
        let state = self.fake_state();
        std::fs::create_dir_all(&state).unwrap();
        let path = format!("{}:/usr/bin:/bin", fake_bin().display());
        self.env("PATH", path)
            .env("FAKE_STATE", state)
            .env("HPCLUSTER_RETRY_BACKOFF_MS", "10")
    }

    /// `HPCLUSTER_POLL_INTERVAL`: how often the server asks the batch system.
    pub fn poll(self, interval: &str) -> Test {
        self.env("HPCLUSTER_POLL_INTERVAL", interval)
    }

    /// Writes `./hpcluster.toml`.
    pub fn config(self, text: &str) -> Test {
        self.write("hpcluster.toml", text);
        self
    }

    /// Sets `key` for every command of this test.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Test {
        vars.iter().fold(self, |t, (k, v)| t.env(*k, *v))
    }

    /// The sandbox directory, where every command runs.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The cluster name (panics for a test that set none).
    pub fn name(&self) -> &str {
        self.name
            .as_deref()
            .expect("a cluster name: Test::cluster or Test::named")
    }

    /// `.hpcluster/<name>/`, the cluster directory.
    pub fn cluster_dir(&self) -> PathBuf {
        self.path().join(".hpcluster").join(self.name())
    }

    /// The fakes' state directory (`FAKE_STATE`).
    pub fn fake_state(&self) -> PathBuf {
        self.path().join("fake-state")
    }

    /// Writes `text` to `file` in the sandbox (creating directories) and returns its path.
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `hpcluster ARGS` in the sandbox with the test's environment, to add to and run.
    pub fn hpcluster(&self, args: &[&str]) -> Invocation {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hpcluster"));
        cmd.env_clear().current_dir(self.path()).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Invocation { cmd }
    }

    /// Runs `hpcluster ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Finished {
        self.hpcluster(args).output()
    }

    /// Runs `hpcluster ARGS` to completion and returns its stdout; panics unless it succeeds.
    pub fn run_ok(&self, args: &[&str]) -> String {
        self.hpcluster(args).ok()
    }

    /// Starts `hpcluster ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Background {
        self.hpcluster(args).spawn()
    }

    /// `up --backend BACKEND --tasks TASKS`, to add arguments to.
    pub fn up_tasks(&self, backend: &str, tasks: &Path) -> Invocation {
        self.hpcluster(&["up", "--backend", backend, "--tasks"])
            .args(&[tasks.to_str().unwrap()])
    }

    /// `up ARGS` in the background until its `n` batch jobs are all `state` (at most 60 s),
    /// then SIGTERM; returns what it printed.
    pub fn up_until(&self, args: &[&str], n: usize, state: &str) -> Finished {
        let up = self.hpcluster(&["up"]).args(args).spawn();
        self.wait_states(n, state, 60);
        up.terminate()
    }
}

/// One `hpcluster` command of a [`Test`], with more arguments or variables than the test's.
pub struct Invocation {
    cmd: std::process::Command,
}

impl Invocation {
    pub fn args(mut self, args: &[&str]) -> Invocation {
        self.cmd.args(args);
        self
    }

    /// Sets `key` for this command only.
    pub fn env(
        mut self,
        key: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> Invocation {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Invocation {
        self.cmd.envs(vars.iter().copied());
        self
    }

    /// Runs it with at most `n` open files (soft and hard limit), as on a login node that
    /// sets a low one.
    pub fn open_files_limit(mut self, n: u64) -> Invocation {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only setrlimit(2) runs, which is async-signal-safe.
        unsafe {
            self.cmd.pre_exec(move || {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                    .map_err(std::io::Error::from)
            });
        }
        self
    }

    /// The command itself, for a test that wires its streams by hand.
    pub fn command(self) -> std::process::Command {
        self.cmd
    }

    /// Starts it in the background (see [`Background`]).
    pub fn spawn(self) -> Background {
        process::spawn(self.cmd)
    }

    /// Runs it to completion (at most two minutes).
    pub fn output(self) -> Finished {
        self.spawn().wait(RUN_TIMEOUT_SECS)
    }

    /// Runs it to completion and returns its stdout; panics, showing both streams, unless it
    /// exits 0.
    pub fn ok(self) -> String {
        let shown = format!("{:?}", self.cmd);
        let out = self.output();
        assert_eq!(out.code, Some(0), "failed: {shown}\n{}", out.all());
        out.stdout
    }
}

/// A tasks file's text: one command per line.
pub fn lines(cmds: &[&str]) -> String {
    cmds.iter().map(|c| format!("{c}\n")).collect()
}

/// A name unique to this test run (SGE: starts with a letter, no spaces or colons): the tests
/// share one process, so a counter tells apart two names made in the same nanosecond.
pub fn unique_name(prefix: &str) -> String {
    static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos:x}n{n}", std::process::id())
}

/// Polls `f` every 200 ms until it returns Some, at most `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed().as_secs() < secs,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
