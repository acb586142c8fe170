//! The server's event loop in process, on tokio's paused time and port 0: fake workers talk the
//! real protocol over loopback, a fake [`JobControl`] records what the loop asks of the batch
//! system, and the server's clock follows tokio's, so heartbeat timeouts, retry pauses and the
//! retire grace pass in no real time. What a test checks comes from the wire (replies), the
//! journal on disk and the fake batch system's record.
//!
//! Paused time jumps to the next timer whenever the runtime looks idle, and a task waiting on a
//! socket looks idle: a test's time would race ahead while a reply is on its way. So each test
//! holds a [`Freeze`] (a blocking task, which stops the jumps) and moves time only with
//! [`pass`], in tick-sized steps with a moment of real time after each for the sockets.

mod durable_start;
mod left_results;
mod live_worker;
mod preempted;
mod successors;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::core::{Core, CoreConfig};
use super::jobs::JobControl;
use super::{run, ServerOptions, Summary};
use crate::auth::{self, Secret};
use crate::backend::{JobId, JobState};
use crate::budget::{Budget, Buffer};
use crate::journal::{Journal, Replay};
use crate::protocol::{read_frame, write_frame, Reply, Request, Role, RunEnd};
use crate::task::TaskSpec;
use crate::time::{Clock, TokioClock};

/// Unix time at which every test's server clock starts.
const T0: Duration = Duration::from_secs(1_000_000);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the fake batch system was asked, and how it answers.
#[derive(Default)]
struct Batch {
    submitted: Vec<JobId>,
    cancelled: Vec<JobId>,
    /// Submits that fail before one succeeds (`u32::MAX`: all).
    failing_submits: u32,
    states: Vec<(JobId, JobState)>,
}

#[derive(Clone, Default)]
struct FakeBatch(Arc<Mutex<Batch>>);

impl JobControl for FakeBatch {
    fn submit(&mut self, n: u32) -> anyhow::Result<Vec<JobId>> {
        let mut b = self.0.lock().unwrap();
        if b.failing_submits > 0 {
            b.failing_submits = b.failing_submits.saturating_sub(1);
            anyhow::bail!("sbatch: error: Batch job submission failed: Slurm is busy");
        }
        let first = b.submitted.len();
        let ids: Vec<JobId> = (first..first + n as usize)
            .map(|i| JobId::new(format!("f-{}", i + 1)))
            .collect();
        b.submitted.extend(ids.iter().cloned());
        Ok(ids)
    }

    fn poll(&mut self) -> anyhow::Result<Vec<(JobId, JobState)>> {
        Ok(self.0.lock().unwrap().states.clone())
    }

    fn cancel(&mut self, ids: &[JobId]) -> anyhow::Result<()> {
        self.0.lock().unwrap().cancelled.extend_from_slice(ids);
        Ok(())
    }
}

/// While it lives, paused time moves only by [`pass`] (tokio does not auto-advance while a
/// blocking task runs).
struct Freeze {
    _release: std::sync::mpsc::Sender<()>,
}

fn freeze() -> Freeze {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    Freeze { _release: tx }
}

/// A moment of real time for sockets and blocking tasks, with paused time standing still.
async fn settle() {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
        .await
        .unwrap();
}

/// Real time for a journal write in flight to reach the disk (its group-commit window).
async fn wait_for_journal() {
    let window = crate::journal::GROUP_COMMIT_WINDOW * 3;
    tokio::task::spawn_blocking(move || std::thread::sleep(window))
        .await
        .unwrap();
}

/// Lets `d` of paused time pass, a server tick at a time.
async fn pass(d: Duration) {
    let step = super::run::TICK;
    let mut left = d;
    while !left.is_zero() {
        let s = step.min(left);
        tokio::time::advance(s).await;
        settle().await;
        left -= s;
    }
}

/// A server running in this test's runtime.
struct Rig {
    address: String,
    secret: Secret,
    batch: FakeBatch,
    journal: std::path::PathBuf,
    /// The server's clock.
    clock: TokioClock,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<Summary>>,
    _freeze: Freeze,
    _dir: tempfile::TempDir,
}

fn task(cmd: &str) -> TaskSpec {
    TaskSpec {
        cmd: cmd.into(),
        ..TaskSpec::default()
    }
}

impl Rig {
    /// A server with `tasks` of 60 s each, walltime 1 h, exiting once they end when
    /// `closed`.
    async fn start(tasks: usize, closed: bool, batch: FakeBatch) -> Rig {
        let freeze = freeze();
        let dir = tempfile::tempdir().unwrap();
        let journal_path = dir.path().join("journal.jsonl");
        let (mut journal, _) = Journal::open(&journal_path).unwrap();
        let budget = Budget::new(
            Duration::from_secs(3600),
            Buffer::default(),
            Duration::ZERO,
            1,
        )
        .with_task_time(Some(Duration::from_secs(60)));
        let mut core = Core::new(CoreConfig {
            budget,
            retries: 3,
            idle_timeout: Duration::from_secs(30),
            heartbeat_timeout: HEARTBEAT_TIMEOUT,
        });
        let specs = (0..tasks).map(|i| task(&format!("task {i}"))).collect();
        super::seed_tasks(
            &mut core,
            &mut journal,
            Replay::default(),
            specs,
            &Default::default(),
            T0,
        )
        .unwrap();
        if closed {
            core.close_input();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let secret = Secret::generate().unwrap();
        let opts = ServerOptions {
            max_jobs: 4,
            cores: 1,
            slots: 1,
            poll_interval: Duration::from_secs(10),
            log_directory: dir.path().join("logs"),
            worker_program: "hpcluster".into(),
            first_jobs: 0,
            exit_when_done: closed,
            progress: false,
            initial_jobs: Vec::new(),
            joblog: None,
            cluster_dir: Some(dir.path().to_path_buf()),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let clock = TokioClock::starting_at(T0);
        let server = tokio::spawn(run(
            listener,
            secret.clone(),
            core,
            journal,
            Box::new(batch.clone()),
            opts,
            Arc::new(clock),
            async move {
                let _ = stopped.await;
            },
        ));
        Rig {
            address,
            secret,
            batch,
            journal: journal_path,
            clock,
            stop: Some(stop),
            server,
            _freeze: freeze,
            _dir: dir,
        }
    }

    /// A worker of batch job `job` whose deadline is `left` from now.
    async fn worker(&self, job: &str, left: Duration) -> FakeWorker {
        let mut stream = TcpStream::connect(&self.address).await.unwrap();
        auth::connect(&mut stream, &self.secret, Role::Worker)
            .await
            .unwrap();
        let deadline = self.clock.now() + left;
        let hello = Request::WorkerHello {
            job: Some(JobId::new(job)),
            slots: 1,
            deadline: deadline.as_secs_f64(),
            host: "node1".into(),
            pid: 1,
            claims: Vec::new(),
        };
        write_frame(&mut stream, &hello).await.unwrap();
        FakeWorker { stream }
    }

    /// The journal's entries of kind `ev` for task `id`, as JSON.
    fn journal_entries(&self, ev: &str, id: u64) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.journal)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["ev"] == ev && v["id"] == id)
            .collect()
    }

    async fn stop(mut self) -> (anyhow::Result<Summary>, Batch) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.finish().await
    }

    /// Lets time pass until the server returns (at most 10 min of paused time).
    async fn finish(self) -> (anyhow::Result<Summary>, Batch) {
        for _ in 0..2400 {
            if self.server.is_finished() {
                break;
            }
            pass(super::run::TICK).await;
        }
        let summary = self.server.await.unwrap();
        let batch = std::mem::take(&mut *self.batch.0.lock().unwrap());
        (summary, batch)
    }
}

struct FakeWorker {
    stream: TcpStream,
}

impl FakeWorker {
    async fn send(&mut self, req: &Request) {
        write_frame(&mut self.stream, req).await.unwrap();
    }

    async fn recv(&mut self) -> Reply {
        read_frame::<_, Reply>(&mut self.stream)
            .await
            .unwrap()
            .expect("the server closed the connection")
    }

    /// Asks for a task in slot 0 and returns the task ID it is given.
    async fn ask_task(&mut self) -> u64 {
        self.send(&Request::Ask { slot: 0 }).await;
        match self.recv().await {
            Reply::Run { task, .. } => task,
            other => panic!("expected a task, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_report_is_acknowledged_only_once_the_journal_has_it() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let t = w.ask_task().await;
    assert_eq!(t, 0);
    w.send(&Request::TaskEnded {
        run: 0,
        task: t,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: 0 });
    let ended = rig.journal_entries("ended", 0);
    assert_eq!(
        ended.len(),
        1,
        "the ack came before the journal had the end"
    );
    assert_eq!(ended[0]["outcome"], "done");
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().done, 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_worker_is_lost_after_the_heartbeat_timeout_and_its_task_runs_elsewhere() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut silent = rig.worker("f-1", Duration::from_secs(3600)).await;
    assert_eq!(silent.ask_task().await, 0);
    // No heartbeat: 30 s of paused time pass in no real time.
    pass(HEARTBEAT_TIMEOUT + Duration::from_secs(1)).await;
    wait_for_journal().await;
    let requeued = rig.journal_entries("ended", 0);
    assert_eq!(requeued.len(), 1, "{requeued:?}");
    assert_eq!(requeued[0]["outcome"], "requeued");
    assert_eq!(requeued[0]["reason"], "no heartbeat");
    let mut other = rig.worker("f-2", Duration::from_secs(3600)).await;
    assert_eq!(other.ask_task().await, 0);
    // A start is synced at the next tick (it needs no ack).
    pass(super::run::TICK).await;
    wait_for_journal().await;
    assert_eq!(rig.journal_entries("started", 0).len(), 2);
    let (summary, _) = rig.stop().await;
    let s = summary.unwrap();
    assert_eq!((s.retried, s.interrupted), (1, true));
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_keeps_a_worker_with_a_long_task() {
    let rig = Rig::start(1, false, FakeBatch::default()).await;
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    assert_eq!(w.ask_task().await, 0);
    for _ in 0..6 {
        pass(Duration::from_secs(20)).await;
        w.send(&Request::Heartbeat).await;
        settle().await;
    }
    assert!(rig.journal_entries("ended", 0).is_empty());
    let (summary, _) = rig.stop().await;
    assert_eq!(summary.unwrap().retried, 0);
}

#[tokio::test(start_paused = true)]
async fn the_run_submits_for_the_work_and_cancels_what_is_left_at_its_end() {
    let rig = Rig::start(1, true, FakeBatch::default()).await;
    // The first tick asks for one batch job for the one task.
    pass(Duration::from_secs(1)).await;
    assert_eq!(rig.batch.0.lock().unwrap().submitted, [JobId::new("f-1")]);
    let mut w = rig.worker("f-1", Duration::from_secs(3600)).await;
    let t = w.ask_task().await;
    w.send(&Request::TaskEnded {
        run: 0,
        task: t,
        end: RunEnd::Exited { code: 0 },
        secs: 60.0,
    })
    .await;
    assert_eq!(w.recv().await, Reply::Ack { task: 0 });
    w.send(&Request::Ask { slot: 0 }).await;
    assert_eq!(w.recv().await, Reply::Stop { slot: 0 });
    w.send(&Request::Goodbye).await;
    // Its batch job never ends by itself (the fake says nothing): after the retire grace the
    // server cancels it and returns.
    let started = tokio::time::Instant::now();
    let (summary, batch) = rig.finish().await;
    assert!(started.elapsed() >= super::RETIRE_GRACE - Duration::from_secs(1));
    let s = summary.unwrap();
    assert_eq!((s.done, s.batch_jobs, s.interrupted), (1, 1, false));
    assert_eq!(batch.cancelled, [JobId::new("f-1")]);
}

#[tokio::test(start_paused = true)]
async fn failed_submits_are_retried_30s_apart_then_stop_the_run_and_cancel_nothing_unknown() {
    let batch = FakeBatch::default();
    batch.0.lock().unwrap().failing_submits = u32::MAX;
    let rig = Rig::start(2, true, batch).await;
    let started = tokio::time::Instant::now();
    let (summary, batch) = rig.finish().await;
    let e = format!("{:#}", summary.unwrap_err());
    assert!(e.contains("failed 3 times in a row"), "{e}");
    assert!(e.contains("Slurm is busy"), "{e}");
    // Three attempts, 30 s apart.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(60) && took < Duration::from_secs(62),
        "{took:?}"
    );
    assert!(batch.submitted.is_empty() && batch.cancelled.is_empty());
}
