//! Issue 4 acceptance on the local backend, with seconds for hours: the seed scenario with
//! and without admission, packing of variable durations, and the fault tests (a worker killed,
//! a batch job cancelled, the server killed and resumed, a client with a wrong secret, garbage
//! on the server's port). Evidence comes from the summary line, `journal.jsonl` and `jobs.json`.

#[path = "fixtures/support.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{bin, recorded_jobs, run_ok, signal_pid, spawn, unique_name, wait_for, Finished};

/// One cluster in a temp dir on the local backend, polled every 200 ms.
struct Cluster {
    tmp: tempfile::TempDir,
    name: String,
}

impl Cluster {
    fn new(prefix: &str) -> Cluster {
        Cluster {
            tmp: tempfile::tempdir().unwrap(),
            name: unique_name(prefix),
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join(".hpcluster").join(&self.name)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(file);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.current_dir(self.tmp.path())
            .env("HPCLUSTER_NAME", &self.name)
            .env("HPCLUSTER_POLL_INTERVAL", "200ms")
            .args(args);
        c
    }

    /// `up --backend local --tasks FILE ARGS`.
    fn up(&self, tasks: &Path, args: &[&str]) -> Command {
        let mut c = self.cmd(&[
            "up",
            "--backend",
            "local",
            "--tasks",
            tasks.to_str().unwrap(),
        ]);
        c.args(args);
        c
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir().join("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Batch job id -> (started, ended) in Unix seconds, from `jobs.json`.
    fn job_times(&self) -> HashMap<String, (Option<f64>, Option<f64>)> {
        let secs = |v: &serde_json::Value| {
            v["secs_since_epoch"]
                .as_f64()
                .map(|s| s + v["nanos_since_epoch"].as_f64().unwrap_or(0.0) / 1e9)
        };
        recorded_jobs(&self.dir())["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["id"]["id"].as_str().unwrap().to_string(),
                    (secs(&j["started"]), secs(&j["ended"])),
                )
            })
            .collect()
    }

    /// Pids of this cluster's workers.
    fn worker_pids(&self) -> Vec<i32> {
        let pattern = format!("hpcluster worker --cluster-dir {}", self.dir().display());
        let out = Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

fn ev<'a>(
    journal: &'a [serde_json::Value],
    kind: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
    journal.iter().filter(move |e| e["ev"] == kind)
}

/// `ended` entries of task `id` with outcome `outcome`.
fn ends(journal: &[serde_json::Value], id: u64, outcome: &str) -> usize {
    ev(journal, "ended")
        .filter(|e| e["id"] == id && e["outcome"] == outcome)
        .count()
}

/// Every task 0..n ended `done` exactly once, and was added exactly once.
fn assert_each_done_once(journal: &[serde_json::Value], n: u64, out: &str) {
    assert_eq!(ev(journal, "added").count() as u64, n, "{out}");
    for id in 0..n {
        assert_eq!(
            ends(journal, id, "done"),
            1,
            "task {id}: {journal:#?}\n{out}"
        );
    }
}

/// The summary line's numbers: (done, failed, not run, retried, killed by the walltime, jobs).
fn summary(out: &Finished) -> [u64; 6] {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(" task(s) done, "))
        .unwrap_or_else(|| panic!("no summary line:\n{}", out.all()));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|w| !w.is_empty() && !w.contains('.'))
        .map(|w| w.parse().unwrap())
        .collect();
    [nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]]
}

fn lines(cmds: &[&str]) -> String {
    cmds.iter().map(|c| format!("{c}\n")).collect()
}

/// Walltime 5 s, tasks of 4 s, two batch jobs at a time: each batch job runs one task and
/// ends early; nothing is killed by the walltime.
#[test]
fn seed_scenario_every_task_completes_one_per_batch_job_none_killed() {
    let c = Cluster::new("seed");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4"; 4]));
    let out = spawn(c.up(
        &tasks,
        &["--walltime", "5s", "--task-time", "4s", "--max-jobs", "2"],
    ))
    .wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (4, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 4, &out.all());
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for s in ev(&journal, "started") {
        *per_job
            .entry(s["job"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_job.len(), 4, "{per_job:?}\n{}", out.all());
    assert!(per_job.values().all(|n| *n == 1), "{per_job:?}");
    assert_eq!(jobs, 4, "{}", out.all());
    for (id, (started, ended)) in c.job_times() {
        let (Some(s), Some(e)) = (started, ended) else {
            panic!(
                "batch job {id} has no recorded start or end\n{}\njobs.json: {}",
                out.all(),
                recorded_jobs(&c.dir())
            );
        };
        assert!(
            e - s < 5.0,
            "batch job {id} ran {:.1}s, its walltime is 5s",
            e - s
        );
    }
    let states = support::recorded_states(&c.dir());
    assert!(states.iter().all(|s| s == "done"), "{states:?}");
}

/// The same run without admission starts second tasks that the walltime kills.
#[test]
fn seed_scenario_without_admission_has_tasks_killed_by_the_walltime() {
    let c = Cluster::new("seedoff");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4"; 4]));
    let out = spawn(c.up(
        &tasks,
        &[
            "--walltime",
            "5s",
            "--task-time",
            "4s",
            "--max-jobs",
            "2",
            "--no-admission",
        ],
    ))
    .wait(120);
    let [_, _, _, retried, killed, _] = summary(&out);
    assert!(killed > 0, "{}", out.all());
    assert!(retried >= killed, "{}", out.all());
    assert!(
        out.stdout
            .contains("some tasks were killed by the walltime"),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert!(
        ev(&journal, "ended").any(|e| e["outcome"] == "requeued"),
        "{journal:#?}"
    );
}

/// Tasks of 1 s and 3 s in batch jobs of 7 s: short tasks are packed, none is started
/// that cannot finish before its batch job's deadline, all complete.
#[test]
fn variable_durations_are_packed_and_never_started_too_late() {
    let c = Cluster::new("pack");
    let mut text = String::new();
    for _ in 0..3 {
        text.push_str("{\"cmd\": \"sleep 3\", \"time\": \"3s\"}\n");
    }
    for _ in 0..6 {
        text.push_str("{\"cmd\": \"sleep 1\", \"time\": \"1s\"}\n");
    }
    let tasks = c.write("tasks.jsonl", &text);
    let out = spawn(c.up(
        &tasks,
        &["--walltime", "7s", "--task-time", "3s", "--max-jobs", "2"],
    ))
    .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, _, killed, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, killed),
        (9, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 9, &out.all());
    let times = c.job_times();
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for s in ev(&journal, "started") {
        let id = s["id"].as_u64().unwrap();
        let est = if id < 3 { 3.0 } else { 1.0 };
        let job = s["job"].as_str().unwrap();
        *per_job.entry(job.to_string()).or_default() += 1;
        let start = times[job].0.unwrap();
        let at = s["at"].as_f64().unwrap();
        assert!(
            at + est <= start + 7.0,
            "task {id} started {:.2}s into batch job {job}: a {est}s task cannot finish in 7s",
            at - start
        );
    }
    assert!(per_job.values().any(|n| *n > 1), "no packing: {per_job:?}");
}

/// Waits until task 0 runs: the journal has its `started` entry (synced within a tick).
fn wait_started(c: &Cluster) {
    let path = c.dir().join("journal.jsonl");
    wait_for(30, "task 0 to start", || {
        let text = std::fs::read_to_string(&path).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["ev"] == "started" && e["id"] == 0)
            .then_some(())
    });
}

/// A worker killed with SIGKILL mid-task: its task is requeued, runs again and completes once.
#[test]
fn a_worker_killed_mid_task_has_its_task_run_again_once() {
    let c = Cluster::new("wkill");
    let tasks = c.write("tasks.txt", &lines(&["sleep 3"; 3]));
    let up = spawn(c.up(
        &tasks,
        &["--walltime", "30s", "--task-time", "5s", "--max-jobs", "1"],
    ));
    wait_started(&c);
    let pids = c.worker_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    signal_pid(pids[0], 9);
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, _, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, retried, killed),
        (3, 0, 1, 0),
        "{}",
        out.all()
    );
    assert!(jobs >= 2, "a replacement batch job: {}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 3, &out.all());
    assert_eq!(ends(&journal, 0, "requeued"), 1, "{journal:#?}");
    assert_eq!(
        ev(&journal, "started").filter(|e| e["id"] == 0).count(),
        2,
        "{journal:#?}"
    );
}

/// A worker's batch job cancelled mid-task (SIGTERM to the local job's supervisor, as the
/// batch system would): the task is requeued, runs again and completes once.
#[test]
fn a_batch_job_cancelled_mid_task_has_its_task_run_again_once() {
    let c = Cluster::new("jcancel");
    let tasks = c.write("tasks.txt", &lines(&["sleep 3"; 3]));
    let up = spawn(c.up(
        &tasks,
        &["--walltime", "30s", "--task-time", "5s", "--max-jobs", "1"],
    ));
    wait_started(&c);
    let pid: i32 = std::fs::read_to_string(c.dir().join("local/local-1/pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal_pid(pid, 15);
    let out = up.wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, _, retried, _, _] = summary(&out);
    assert_eq!((done, failed, retried), (3, 0, 1), "{}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 3, &out.all());
    assert_eq!(ends(&journal, 0, "requeued"), 1, "{journal:#?}");
    let first_job = ev(&journal, "started").next().unwrap()["job"].clone();
    assert_eq!(first_job, "local-1");
    assert!(
        ev(&journal, "started").any(|e| e["id"] == 0 && e["job"] != "local-1"),
        "task 0 ran again in another batch job: {journal:#?}"
    );
    assert_eq!(support::recorded_states(&c.dir())[0], "cancelled");
}

/// The server killed with SIGKILL and started again on the same cluster with the same tasks
/// file resumes from its journal: no completed task runs again, the file's tasks are not added
/// twice, and every task finishes.
#[test]
fn a_killed_server_resumes_without_running_completed_tasks_again() {
    let c = Cluster::new("resume");
    let tasks = c.write("tasks.txt", &lines(&["sleep 1"; 6]));
    let args = ["--walltime", "60s", "--task-time", "2s", "--max-jobs", "1"];
    let up = spawn(c.up(&tasks, &args));
    wait_for(60, "2 tasks done", || {
        (ev(&c.journal(), "ended")
            .filter(|e| e["outcome"] == "done")
            .count()
            >= 2)
            .then_some(())
    });
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let before = c.journal();
    let done_before: Vec<u64> = ev(&before, "ended")
        .filter(|e| e["outcome"] == "done")
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert!(
        done_before.len() >= 2 && done_before.len() < 6,
        "{before:#?}"
    );
    let out = spawn(c.up(&tasks, &args)).wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stderr.contains("resumed 6 task(s) from the journal"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("resuming them, 0 new"), "{}", out.all());
    let [done, failed, not_run, ..] = summary(&out);
    assert_eq!((done, failed, not_run), (6, 0, 0), "{}", out.all());
    let after = c.journal();
    for e in ev(&after[before.len()..], "started") {
        let id = e["id"].as_u64().unwrap();
        assert!(
            !done_before.contains(&id),
            "task {id} was done before the crash and started again: {after:#?}"
        );
    }
    assert_each_done_once(&after, 6, &out.all());
}

/// Resuming with a tasks file that does not start with the journal's tasks is refused.
#[test]
fn resuming_with_a_different_tasks_file_is_refused() {
    let c = Cluster::new("resumediff");
    let first = c.write("a.txt", &lines(&["true"]));
    let out = spawn(c.up(&first, &["--walltime", "30s", "--task-time", "2s"])).wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let other = c.write("b.txt", &lines(&["false", "true"]));
    let out = spawn(c.up(&other, &["--walltime", "30s", "--task-time", "2s"])).wait(30);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("already holds 1 task(s) that are not the first tasks of the tasks file"),
        "{}",
        out.all()
    );
    assert_eq!(ev(&c.journal(), "added").count(), 1);
}

/// A client with a wrong secret is refused and the server carries on: with the right secret
/// back, the same client is served.
#[test]
fn a_client_with_a_wrong_secret_is_refused() {
    let c = Cluster::new("secret");
    let up = spawn(c.cmd(&["up", "--backend", "local"]));
    let server = c.dir().join("server.json");
    wait_for(20, "server.json", || server.exists().then_some(()));
    let secret_file = c.dir().join("secret");
    let right = std::fs::read_to_string(&secret_file).unwrap();
    let wrong: String = right
        .trim()
        .chars()
        .map(|ch| if ch == '0' { '1' } else { '0' })
        .collect();
    std::fs::write(&secret_file, &wrong).unwrap();
    let out = c.cmd(&["submit", "--", "echo", "hi"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("secret"), "{err}");
    std::fs::write(&secret_file, &right).unwrap();
    let ok = run_ok(c.cmd(&["submit", "--", "echo", "hi"]));
    assert!(!ok.is_empty());
    let out = up.terminate();
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert_eq!(ev(&c.journal(), "added").count(), 1, "{}", out.all());
}

/// Garbage on the server's port (no handshake, a huge frame length) is dropped without
/// disturbing the run: every task still completes.
#[test]
fn garbage_on_the_server_port_does_not_disturb_the_run() {
    use std::io::Write;
    let c = Cluster::new("garbage");
    let tasks = c.write("tasks.txt", &lines(&["sleep 2"; 2]));
    let up = spawn(c.up(&tasks, &["--walltime", "30s", "--task-time", "3s"]));
    let server = c.dir().join("server.json");
    let address = wait_for(20, "server.json", || {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&server).ok()?).ok()?;
        v["address"].as_str().map(str::to_string)
    });
    let port = address.rsplit(':').next().unwrap();
    let mut garbage = Vec::new();
    for _ in 0..3 {
        let mut s =
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        let _ = s.write_all(&[0xff; 16]);
        let _ = s.write_all(&vec![b'x'; 1 << 20]);
        garbage.push(s);
    }
    let out = up.wait(60);
    drop(garbage);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, ..] = summary(&out);
    assert_eq!((done, failed), (2, 0), "{}", out.all());
}

/// Short tasks are sent ahead to busy slots: every one still runs exactly once, none is
/// counted as retried, and each slot never holds more than one task waiting.
#[test]
fn short_tasks_sent_ahead_each_run_exactly_once() {
    let c = Cluster::new("ahead");
    let tasks = c.write("tasks.txt", &lines(&["true"; 300]));
    let out = spawn(c.up(
        &tasks,
        &[
            "--walltime",
            "1h",
            "--task-time",
            "1s",
            "--slots",
            "2",
            "--max-jobs",
            "1",
        ],
    ))
    .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (300, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 300, &out.all());
    assert_eq!(ev(&journal, "started").count(), 300, "{}", out.all());
    // Sent ahead: some task was started (sent) before the previous task of its slot ended.
    let mut open = 0usize;
    let mut most_open = 0usize;
    for e in &journal {
        match e["ev"].as_str() {
            Some("started") => open += 1,
            Some("ended") => open -= 1,
            _ => {}
        }
        most_open = most_open.max(open);
    }
    assert!(
        (3..=4).contains(&most_open),
        "2 slots with one task each sent ahead hold 3 or 4 tasks at once, saw {most_open}"
    );
}

/// A task sent ahead that no longer fits when its slot frees up (the task before it ran
/// past its estimate) goes back unstarted, costs no retry, and runs in a later batch job.
///
/// Tasks take 4.5 s against an estimate of 2 s, walltime 6 s, no buffer: the server sends the
/// next task ahead while `t0 + 2 + 2 <= 6` (the worker connected at `t0`), the worker finds
/// `t0 + 4.5 + 2 > 6` when the first task ends, and the first task ends before the walltime
/// while `t0 < 1.5 s`: the outcome holds for any worker start under 1.5 s.
#[test]
fn a_task_sent_ahead_that_no_longer_fits_is_given_back_unstarted() {
    let c = Cluster::new("giveback");
    let tasks = c.write("tasks.txt", &lines(&["sleep 4.5"; 4]));
    let out = spawn(c.up(
        &tasks,
        &[
            "--walltime",
            "6s",
            "--task-time",
            "2s",
            "--buffer",
            "0",
            "--max-jobs",
            "2",
        ],
    ))
    .wait(120);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let [done, failed, not_run, retried, killed, jobs] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, killed),
        (4, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    assert_eq!(jobs, 4, "one task per batch job: {}", out.all());
    let journal = c.journal();
    assert_each_done_once(&journal, 4, &out.all());
    let returned = ev(&journal, "ended")
        .filter(|e| e["outcome"] == "returned")
        .count();
    assert!(
        returned >= 1,
        "no task came back unstarted:\n{journal:#?}\n{}",
        out.all()
    );
}

/// `local_directory` gives each worker a scratch directory of its own, the tasks' `TMPDIR`,
/// removed when the worker ends.
#[test]
fn tasks_get_a_scratch_directory_under_local_directory_removed_at_the_end() {
    let c = Cluster::new("scratch");
    let scratch_root = c.tmp.path().join("scratch");
    std::fs::create_dir(&scratch_root).unwrap();
    let tasks = c.write(
        "tasks.txt",
        &lines(&[
            "test \"$TMPDIR\" = \"$HPCLUSTER_LOCAL_DIR\" && test -d \"$TMPDIR\" && echo \"$TMPDIR\" && touch \"$TMPDIR/spill\"",
        ]),
    );
    let mut cmd = c.up(&tasks, &["--walltime", "1h", "--task-time", "1s"]);
    cmd.env("HPCLUSTER_LOCAL_DIRECTORY", &scratch_root);
    let out = spawn(cmd).wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let said = std::fs::read_to_string(c.dir().join("tasks/000/0.out")).unwrap();
    let seen = std::path::Path::new(said.trim());
    assert!(seen.starts_with(&scratch_root), "TMPDIR {said:?}");
    assert_ne!(seen, scratch_root.as_path());
    assert!(
        !seen.exists(),
        "the scratch directory {seen:?} is left behind"
    );
    assert_eq!(std::fs::read_dir(&scratch_root).unwrap().count(), 0);
}

/// `up` killed (kill -9) while its workers run tasks, then started again: the workers keep
/// their tasks running, reconnect to the new server and claim them; nothing runs twice, and
/// the batch job is re-attached, neither cancelled nor submitted again.
#[test]
fn a_restarted_server_gets_back_the_tasks_its_workers_kept_running() {
    let c = Cluster::new("reattach");
    let ran = c.tmp.path().join("ran.txt");
    let cmd = format!("sleep 4; echo $HPCLUSTER_TASK_ID >> {}", ran.display());
    let tasks = c.write("tasks.txt", &lines(&[cmd.as_str(), cmd.as_str()]));
    let args = [
        "--walltime",
        "60s",
        "--task-time",
        "10s",
        "--max-jobs",
        "1",
        "--slots",
        "2",
    ];
    let up = spawn(c.up(&tasks, &args));
    wait_for(30, "2 tasks started", || {
        (ev(&c.journal(), "started").count() >= 2).then_some(())
    });
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let out = spawn(c.up(&tasks, &args)).wait(90);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stderr.contains("re-attached 1 batch job(s)"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("came back holding 2 task(s)"),
        "{}",
        out.all()
    );
    let [done, failed, not_run, retried, walltime_kills, _] = summary(&out);
    assert_eq!(
        (done, failed, not_run, retried, walltime_kills),
        (2, 0, 0, 0, 0),
        "{}",
        out.all()
    );
    let journal = c.journal();
    assert_each_done_once(&journal, 2, &out.all());
    assert_eq!(
        ev(&journal, "started").count(),
        2,
        "a task started twice: {journal:#?}"
    );
    let mut ran: Vec<String> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ran.sort();
    assert_eq!(ran, ["0", "1"], "each task ran exactly once");
    let states = support::recorded_states(&c.dir());
    assert_eq!(states, ["done"], "the batch job ended by itself");
}

/// When `up` gives up (here: batch jobs end before their worker connects), it still cancels
/// the batch jobs it submitted: none is left queued or running.
#[test]
fn up_that_gives_up_cancels_its_batch_jobs() {
    let c = Cluster::new("giveup");
    let tasks = c.write("tasks.txt", &lines(&["true"; 20]));
    let mut cmd = c.up(
        &tasks,
        &["--walltime", "60s", "--task-time", "30s", "--max-jobs", "4"],
    );
    // Batch jobs 1-3 fail before their worker starts; the others hang on in their prologue.
    cmd.env(
        "HPCLUSTER_JOB_SCRIPT_PROLOGUE",
        "case $HPCLUSTER_LOCAL_JOB_ID in local-1|local-2|local-3) exit 3;; *) sleep 60;; esac",
    );
    let out = spawn(cmd).wait(90);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("3 batch jobs in a row ended before their worker connected"),
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("cancelled "), "{}", out.all());
    let states = support::recorded_states(&c.dir());
    assert!(states.len() >= 4, "{states:?}");
    assert!(
        states
            .iter()
            .all(|s| !["pending", "running", "unknown"].contains(&s.as_str())),
        "batch jobs left behind: {states:?}\n{}",
        out.all()
    );
}
