//! A process of the test's own: `hpcluster` in the background, with its output drained and its
//! exit reaped by threads, and signals sent to any process of the test's cluster.

use std::process::Command;

/// What a finished background `hpcluster` left: exit code (None if killed by a signal), output.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// A background `hpcluster` with both output streams drained by threads (so a chatty process
/// never blocks on a full pipe) and reaped by a thread as soon as it exits (so `down`, which
/// waits for the server's pid to disappear, does not wait on a zombie); killed if the test
/// fails before it ends.
pub struct Background {
    pid: i32,
    exited: Option<std::sync::mpsc::Receiver<std::process::ExitStatus>>,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
    /// What the process has written to stderr so far.
    err_so_far: Shared,
}

type Shared = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// Reads `r` to its end on a thread, keeping what has come so far in `seen`.
fn drain(r: impl std::io::Read + Send + 'static, seen: Shared) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut r = r;
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
        let all = seen.lock().unwrap();
        String::from_utf8_lossy(&all).into_owned()
    })
}

impl Background {
    /// Sends `sig` to the process (harmless once it has exited: the reaper owns the pid only
    /// until then, and the tests do not outlive a reused pid).
    pub fn signal(&self, sig: i32) {
        if self.exited.is_some() {
            signal_pid(self.pid, sig);
        }
    }

    /// Waits until the process has written `needle` to stderr (at most `secs`, else panics
    /// showing what it wrote): an event the test must not stop the process before.
    pub fn wait_for_stderr(&self, secs: u64, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let so_far = String::from_utf8_lossy(&self.err_so_far.lock().unwrap()).into_owned();
            if so_far.contains(needle) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{needle}` on stderr after {secs} s:\n{so_far}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and collects the output.
    pub fn terminate(self) -> Finished {
        self.signal(15);
        self.wait(120)
    }

    /// Waits for the exit (at most `secs`, else panics showing the output so far).
    pub fn wait(mut self, secs: u64) -> Finished {
        let rx = self.exited.take().unwrap();
        match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
            Ok(status) => self.collect(status.code()),
            Err(_) => {
                signal_pid(self.pid, 9);
                let _ = rx.recv();
                let f = self.collect(None);
                panic!("still running after {secs} s:\n{}", f.all());
            }
        }
    }

    fn collect(&mut self, code: Option<i32>) -> Finished {
        Finished {
            code,
            stdout: self
                .out
                .take()
                .map(|h| h.join().unwrap())
                .unwrap_or_default(),
            stderr: self
                .err
                .take()
                .map(|h| h.join().unwrap())
                .unwrap_or_default(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rx) = self.exited.take() {
            signal_pid(self.pid, 9);
            let _ = rx.recv();
        }
    }
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `sig` to any process (a worker, a local batch job's supervisor).
pub fn signal_pid(pid: i32, sig: i32) {
    // SAFETY: kill(2); the tests only signal processes of their own cluster.
    unsafe { kill(pid, sig) };
}

/// Starts `c` in the background with stdout and stderr captured.
pub(super) fn spawn(mut c: Command) -> Background {
    let mut child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().map(|r| drain(r, Shared::default()));
    let err_so_far = Shared::default();
    let err = child.stderr.take().map(|r| drain(r, err_so_far.clone()));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(st) = child.wait() {
            let _ = tx.send(st);
        }
    });
    Background {
        pid,
        exited: Some(rx),
        out,
        err,
        err_so_far,
    }
}
