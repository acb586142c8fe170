//! Issue 13: the server sheds load. A flood of idle connections that never authenticate (3,000
//! of them against a server limited to 512 open files, as a low login-node limit would) must
//! not starve it: `status` answers, a submitted task runs (the task itself records it), and
//! the batch job it needs is submitted and recorded in `jobs.json`.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::harness::{wait_for, Test};

/// This test process's soft limit of open files raised to its hard limit (it holds the flood).
fn raise_own_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    hard
}

#[test]
fn three_thousand_idle_connections_do_not_starve_the_server() {
    if raise_own_limit() < 4000 {
        eprintln!("skipped: this machine's hard limit of open files is below 4000");
        return;
    }
    let t = Test::new().cluster("flood").poll("200ms");
    let up = t
        .hpcluster(&["up", "--walltime", "2m", "--task-time", "1s"])
        .open_files_limit(512)
        .spawn();
    let server_file = t.cluster_dir().join("server.json");
    let address = wait_for(30, "server.json", || {
        let text = std::fs::read_to_string(&server_file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v["address"].as_str()?.replace("0.0.0.0", "127.0.0.1"))
    });
    let port = address.rsplit(':').next().unwrap();
    let target = format!("127.0.0.1:{port}");
    // The flood: 3,000 idle connections held open, the oldest replaced by a new one all along.
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    let flood = {
        let (stop, made) = (stop.clone(), made.clone());
        std::thread::spawn(move || {
            let mut open = VecDeque::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(c) = TcpStream::connect(&target) {
                    open.push_back(c);
                    made.fetch_add(1, Ordering::Relaxed);
                }
                if open.len() > 3000 {
                    open.pop_front();
                }
            }
        })
    };
    wait_for(60, "3,000 idle connections", || {
        (made.load(Ordering::Relaxed) >= 3000).then_some(())
    });
    // While the flood goes on: status answers...
    let status = t.run_ok(&["status", "--json"]);
    assert!(status.contains("\"tasks\""), "{status}");
    // ...and a task submitted now runs, which needs jobs.json written and a batch job started.
    let ran = t.path().join("ran");
    let cmd = format!("touch {}", ran.display());
    t.run_ok(&["submit", "--", "sh", "-c", &cmd]);
    wait_for(60, "the submitted task to run", || {
        ran.exists().then_some(())
    });
    let jobs = t.jobs_json();
    assert!(
        !jobs["jobs"].as_array().unwrap().is_empty(),
        "no batch job recorded: {jobs}"
    );
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    let out = up.terminate();
    assert!(!out.stderr.contains("Too many open files"), "{}", out.all());
    assert!(
        out.stderr
            .contains("connection(s) that had not authenticated: more than 256 were waiting"),
        "{}",
        out.all()
    );
}
