//! The server's scheduling core: synchronous, no sockets, no clock.
//!
//! Every input is an `on_*` event with the time passed in (seconds since an epoch the caller
//! chooses, as a `Duration`); every decision comes back as a value. The tokio shell in
//! [`super::shell`] feeds it from sockets and timers, and the benchmark simulator feeds it
//! from simulated batch jobs: both run this same code.
//!
//! Dispatch is by pull: a free worker slot asks, and the core answers with the oldest pending
//! task that can finish before that worker's deadline ([`crate::plan::may_start`]), tells the
//! slot to retire when pending tasks exist but none fits, or parks it while the queue is empty.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use crate::backend::JobId;
use crate::estimate::Estimator;
use crate::plan::{may_start, Admission, Buffer};
use crate::protocol::{Claim, RunEnd, TaskSpec};

pub type TaskId = u64;
pub type WorkerId = u64;

/// How far into the scan of timed tasks a dispatch looks for one that fits.
const TIMED_SCAN_LIMIT: usize = 4096;
/// A worker lost this close to its deadline was killed by the walltime.
const WALLTIME_SLACK: Duration = Duration::from_secs(3);
/// A slot whose task is expected to end within this long gets its next task sent ahead, so
/// it starts without waiting for a round trip to the server (see [`Core::prefetch`]).
pub const PREFETCH_BELOW: Duration = Duration::from_secs(2);

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub task_time: Option<Duration>,
    pub buffer: Buffer,
    /// Walltime of the batch jobs (for the buffer and job planning).
    pub walltime: Duration,
    pub startup: Duration,
    pub slots: u32,
    /// Retries after a lost or interrupted run.
    pub retries: u32,
    /// Parked slots retire after this long without work.
    pub idle_timeout: Duration,
    /// Workers silent this long are lost.
    pub heartbeat_timeout: Duration,
}

/// The state of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    Pending,
    Running { worker: WorkerId, slot: u32 },
    Done,
    Failed { reason: String },
}

/// A task's description as the core keeps it: command, time and retries inline, the rarely
/// used rest boxed, so a million queued tasks stay small (see `docs/benchmarks.md`).
#[derive(Debug, Clone)]
struct StoredSpec {
    cmd: Box<str>,
    time: Option<f64>,
    retries: Option<u32>,
    extra: Option<Box<SpecExtra>>,
}

#[derive(Debug, Clone)]
struct SpecExtra {
    name: Option<String>,
    cwd: Option<String>,
    env: std::collections::BTreeMap<String, String>,
}

impl From<TaskSpec> for StoredSpec {
    fn from(s: TaskSpec) -> StoredSpec {
        let extra = (s.name.is_some() || s.cwd.is_some() || !s.env.is_empty()).then(|| {
            Box::new(SpecExtra {
                name: s.name,
                cwd: s.cwd,
                env: s.env,
            })
        });
        StoredSpec {
            cmd: s.cmd.into_boxed_str(),
            time: s.time,
            retries: s.retries,
            extra,
        }
    }
}

impl StoredSpec {
    fn to_spec(&self) -> TaskSpec {
        let (name, cwd, env) = match &self.extra {
            Some(e) => (e.name.clone(), e.cwd.clone(), e.env.clone()),
            None => (None, None, Default::default()),
        };
        TaskSpec {
            cmd: self.cmd.to_string(),
            name,
            time: self.time,
            cwd,
            env,
            retries: self.retries,
        }
    }
}

#[derive(Debug, Clone)]
struct Task {
    spec: StoredSpec,
    state: TaskState,
    /// Runs that ended without a result (lost worker, interruption, walltime kill).
    lost_runs: u32,
}

/// What a worker said of itself in its hello.
#[derive(Debug, Clone)]
pub struct WorkerHello {
    pub job: Option<JobId>,
    pub slots: u32,
    pub deadline: Duration,
    pub host: String,
    pub max_tasks: Option<u32>,
    pub admission: bool,
    /// Tasks it already holds (a worker reconnecting to a restarted server).
    pub claims: Vec<Claim>,
}

#[derive(Debug, Clone)]
struct Worker {
    hello: WorkerHello,
    started_per_slot: Vec<u32>,
    running: Vec<RunningTask>,
    parked: Vec<(u32, Duration)>,
    retired_slots: u32,
    last_seen: Duration,
    tasks_done: u64,
}

/// The worker of a task the journal left running on a batch job that may still be alive:
/// nobody, until that job's worker reconnects and claims it.
const ORPHAN: WorkerId = WorkerId::MAX;

/// A task sent to a worker slot, running or (sent ahead) queued behind the slot's task.
#[derive(Debug, Clone, Copy)]
struct RunningTask {
    task: TaskId,
    slot: u32,
    /// When it was sent.
    since: Duration,
    /// The estimate it was admitted with.
    estimate: Duration,
}

/// The answer to a slot's request.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    Run {
        task: TaskId,
        spec: TaskSpec,
        estimate: Duration,
        buffer: Duration,
    },
    /// Pending tasks exist but none can finish before the deadline (or max_tasks reached).
    Retire { reason: String },
    /// No task pending now; ask again when told.
    Park,
    /// Every task has ended and no more will come.
    Stop,
    /// The slot still runs a task sent ahead: nothing to answer (see [`Core::prefetch`]).
    Busy,
}

/// How a task ended, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Done,
    Failed {
        reason: String,
    },
    /// Back in the queue after a lost, interrupted or walltime-killed run.
    Requeued {
        reason: String,
        walltime: bool,
    },
    /// Sent ahead to a worker slot that gave it back unstarted (no run is lost).
    Returned,
}

/// One task-level event for the journal and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    pub task: TaskId,
    pub outcome: Outcome,
    pub secs: f64,
}

/// Counters for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    pub requeued: u64,
    pub walltime_kills: u64,
    pub task_seconds: f64,
}

/// The scheduling core.
#[derive(Debug)]
pub struct Core {
    cfg: CoreConfig,
    tasks: Vec<Task>,
    pending_default: VecDeque<TaskId>,
    pending_timed: VecDeque<TaskId>,
    workers: HashMap<WorkerId, Worker>,
    estimator: Estimator,
    counts: Counts,
    /// No more tasks will be added (a `--tasks` run).
    input_closed: bool,
    /// walltime - startup - buffer: the longest task a fresh worker can take.
    usable: Duration,
    /// Start times of running tasks that use the default estimate: the oldest one's elapsed
    /// time bounds the estimate from below (a task running 70 min says tasks take >= 70 min,
    /// before any of the long ones has finished and taught the estimator).
    running_default: BTreeSet<(Duration, TaskId)>,
    /// Tasks the journal left running, by batch job, held until the job's worker claims
    /// them, the job ends, or the time given (then requeued).
    orphans: HashMap<String, (Duration, Vec<TaskId>)>,
}

/// What the core makes of a worker's claims.
#[derive(Debug, Default, PartialEq)]
pub struct ClaimOutcome {
    /// Claimed tasks that are not the worker's: it must stop them.
    pub disowned: Vec<TaskId>,
    /// Tasks of its batch job it did not claim, requeued.
    pub requeued: Vec<TaskEvent>,
}

impl Core {
    pub fn new(cfg: CoreConfig) -> Core {
        let usable = cfg
            .walltime
            .saturating_sub(cfg.startup)
            .saturating_sub(cfg.buffer.resolve(cfg.walltime));
        Core {
            usable,
            running_default: BTreeSet::new(),
            estimator: Estimator::new(cfg.task_time),
            cfg,
            tasks: Vec::new(),
            pending_default: VecDeque::new(),
            pending_timed: VecDeque::new(),
            workers: HashMap::new(),
            counts: Counts::default(),
            input_closed: false,
            orphans: HashMap::new(),
        }
    }

    /// Adds tasks; returns the ID of the first.
    pub fn on_tasks_added(&mut self, specs: Vec<TaskSpec>) -> TaskId {
        let first = self.tasks.len() as TaskId;
        self.tasks.reserve(specs.len());
        for spec in specs {
            let id = self.tasks.len() as TaskId;
            if let Some(reason) = self.never_fits(&spec) {
                let state = TaskState::Failed { reason };
                self.tasks.push(Task {
                    spec: spec.into(),
                    state,
                    lost_runs: 0,
                });
                self.counts.failed += 1;
                continue;
            }
            self.enqueue(id, spec.time.is_some(), false);
            self.tasks.push(Task {
                spec: spec.into(),
                state: TaskState::Pending,
                lost_runs: 0,
            });
            self.counts.pending += 1;
        }
        first
    }

    /// Why a task can never start: its own time exceeds what a fresh batch job offers.
    pub fn never_fits(&self, spec: &TaskSpec) -> Option<String> {
        let t = Duration::from_secs_f64(spec.time?.max(0.0));
        (t > self.usable).then(|| {
            format!(
                "its time {} exceeds the {} a batch job offers (walltime - startup - buffer); \
                 raise `walltime`",
                crate::duration::format_human(t),
                crate::duration::format_human(self.usable)
            )
        })
    }

    /// The estimate for tasks without their own time, at `now`: the learned estimate, raised
    /// to the elapsed time of the oldest such task still running (times the margin), capped at
    /// what a fresh batch job offers, so a fresh worker can always take one and nothing loops.
    pub fn default_estimate_at(&self, now: Duration) -> Duration {
        let mut est = self.estimator.default_estimate();
        if let Some((since, _)) = self.running_default.first() {
            est = est.max(now.saturating_sub(*since).mul_f64(crate::estimate::MARGIN));
        }
        est.min(self.usable)
    }

    /// Restores a task from the journal in its final or pending state.
    pub fn restore_task(&mut self, spec: TaskSpec, state: TaskState, lost_runs: u32) {
        let id = self.tasks.len() as TaskId;
        match &state {
            TaskState::Pending | TaskState::Running { .. } => {
                self.enqueue(id, spec.time.is_some(), false);
                self.counts.pending += 1;
            }
            TaskState::Done => self.counts.done += 1,
            TaskState::Failed { .. } => self.counts.failed += 1,
        }
        let state = match state {
            TaskState::Running { .. } => TaskState::Pending,
            s => s,
        };
        self.tasks.push(Task {
            spec: spec.into(),
            state,
            lost_runs,
        });
    }

    /// Restores a task the journal left running on batch job `job`, which may still be alive:
    /// it stays running (nobody's) until the job's worker claims it, the job ends
    /// ([`Core::on_job_ended`]) or `until` passes ([`Core::expire_orphans`]).
    pub fn restore_orphan(&mut self, spec: TaskSpec, job: String, lost_runs: u32, until: Duration) {
        let id = self.tasks.len() as TaskId;
        self.tasks.push(Task {
            spec: spec.into(),
            state: TaskState::Running {
                worker: ORPHAN,
                slot: 0,
            },
            lost_runs,
        });
        self.counts.running += 1;
        self.orphans
            .entry(job)
            .or_insert_with(|| (until, Vec::new()))
            .1
            .push(id);
    }

    /// A worker's claims (in its hello, after it reconnected): tasks the journal left running
    /// on its batch job become its own again; claims of anything else are disowned; tasks of
    /// its job it does not claim are requeued.
    pub fn on_claims(&mut self, id: WorkerId, now: Duration) -> ClaimOutcome {
        let mut out = ClaimOutcome::default();
        let Some(w) = self.workers.get(&id) else {
            return out;
        };
        let claims = w.hello.claims.clone();
        let job = w.hello.job.as_ref().map(|j| j.to_string());
        let mut held = job
            .as_ref()
            .and_then(|j| self.orphans.remove(j))
            .map(|(_, tasks)| tasks)
            .unwrap_or_default();
        for c in claims {
            match held.iter().position(|t| *t == c.task) {
                Some(pos) => {
                    held.swap_remove(pos);
                }
                // Still on an older connection of the same batch job that the server has not
                // seen close yet (the worker reconnected after a network fault): moved over.
                None if self.take_from_same_job(c.task, id, job.as_deref()) => {}
                None => {
                    out.disowned.push(c.task);
                    continue;
                }
            }
            let estimate = self
                .estimator
                .estimate(self.tasks[c.task as usize].spec.time);
            self.tasks[c.task as usize].state = TaskState::Running {
                worker: id,
                slot: c.slot,
            };
            if self.tasks[c.task as usize].spec.time.is_none() {
                self.running_default.insert((now, c.task));
            }
            let w = self.workers.get_mut(&id).expect("checked above");
            w.running.push(RunningTask {
                task: c.task,
                slot: c.slot,
                since: now,
                estimate,
            });
        }
        for task in held {
            self.counts.running -= 1;
            out.requeued.push(self.requeue(
                task,
                0.0,
                "its worker came back without it after the server restarted".into(),
                false,
            ));
        }
        out
    }

    /// Removes `task` from another worker of batch job `job` (not `to`) that runs it.
    fn take_from_same_job(&mut self, task: TaskId, to: WorkerId, job: Option<&str>) -> bool {
        let Some(job) = job else {
            return false;
        };
        let TaskState::Running { worker, .. } = self.tasks[task as usize].state else {
            return false;
        };
        if worker == to || worker == ORPHAN {
            return false;
        }
        let Some(old) = self.workers.get_mut(&worker) else {
            return false;
        };
        if old.hello.job.as_ref().map(|j| j.to_string()).as_deref() != Some(job) {
            return false;
        }
        let Some(pos) = old.running.iter().position(|r| r.task == task) else {
            return false;
        };
        let moved = old.running.remove(pos);
        self.running_default.remove(&(moved.since, task));
        true
    }

    /// A batch job ended: tasks the journal left running on it are requeued.
    pub fn on_job_ended(&mut self, job: &str) -> Vec<TaskEvent> {
        let Some((_, tasks)) = self.orphans.remove(job) else {
            return Vec::new();
        };
        self.requeue_orphans(tasks, "its batch job ended while the server was down")
    }

    /// Tasks the journal left running whose worker has not come back in time are requeued.
    pub fn expire_orphans(&mut self, now: Duration) -> Vec<TaskEvent> {
        let expired: Vec<String> = self
            .orphans
            .iter()
            .filter(|(_, (until, _))| now >= *until)
            .map(|(job, _)| job.clone())
            .collect();
        let mut events = Vec::new();
        for job in expired {
            if let Some((_, tasks)) = self.orphans.remove(&job) {
                events.extend(self.requeue_orphans(
                    tasks,
                    "its worker did not come back after the server restarted",
                ));
            }
        }
        events
    }

    fn requeue_orphans(&mut self, tasks: Vec<TaskId>, reason: &str) -> Vec<TaskEvent> {
        tasks
            .into_iter()
            .map(|t| {
                self.counts.running -= 1;
                self.requeue(t, 0.0, reason.into(), false)
            })
            .collect()
    }

    /// A duration from the journal's history teaches the estimate.
    pub fn learn(&mut self, secs: f64) {
        self.estimator.observe(secs);
    }

    /// No more tasks will be added: workers stop once the queue drains.
    pub fn close_input(&mut self) {
        self.input_closed = true;
    }

    fn enqueue(&mut self, id: TaskId, timed: bool, front: bool) {
        let q = if timed {
            &mut self.pending_timed
        } else {
            &mut self.pending_default
        };
        if front {
            q.push_front(id)
        } else {
            q.push_back(id)
        }
    }

    pub fn on_worker_hello(&mut self, id: WorkerId, hello: WorkerHello, now: Duration) {
        let slots = hello.slots.max(1) as usize;
        self.workers.insert(
            id,
            Worker {
                hello,
                started_per_slot: vec![0; slots],
                running: Vec::new(),
                parked: Vec::new(),
                retired_slots: 0,
                last_seen: now,
                tasks_done: 0,
            },
        );
    }

    /// Any message from a worker proves it is alive.
    pub fn on_heartbeat(&mut self, id: WorkerId, now: Duration) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.last_seen = now;
        }
    }

    /// A free slot asks for work.
    pub fn on_ask(&mut self, id: WorkerId, slot: u32, now: Duration) -> Dispatch {
        self.on_heartbeat(id, now);
        let Some(worker) = self.workers.get(&id) else {
            return Dispatch::Stop;
        };
        let slot_ix = (slot as usize).min(worker.started_per_slot.len().saturating_sub(1));
        if worker.running.iter().any(|r| r.slot == slot_ix as u32) {
            // Its task sent ahead has started: the ask is for the one after (`prefetch`).
            return Dispatch::Busy;
        }
        let started = worker.started_per_slot.get(slot_ix).copied().unwrap_or(0);
        let (deadline, max_tasks, admission) = (
            worker.hello.deadline,
            worker.hello.max_tasks,
            worker.hello.admission,
        );
        if self.pending_default.is_empty() && self.pending_timed.is_empty() {
            if self.is_finished() {
                self.retire_slot(id);
                return Dispatch::Stop;
            }
            if let Some(w) = self.workers.get_mut(&id) {
                w.parked.push((slot, now));
            }
            return Dispatch::Park;
        }
        let buffer = self.cfg.buffer.resolve(self.cfg.walltime);
        match self.select(now, now, deadline, started, max_tasks, admission) {
            Ok(task) => self.start(id, slot_ix as u32, task, now, now, buffer),
            Err(refusal) => {
                self.retire_slot(id);
                Dispatch::Retire {
                    reason: describe_refusal(refusal),
                }
            }
        }
    }

    /// Sends a slot its next task ahead while its current task runs, so the worker starts it
    /// the moment the current one ends instead of idling for a round trip to the server.
    /// Only for slots whose task is known to end within [`PREFETCH_BELOW`] (for longer
    /// tasks the round trip is noise, and a task held for long could start sooner elsewhere);
    /// one task at most waits per slot. The task is admitted as if it started when the
    /// current one is expected to end, and the worker checks the deadline again before it
    /// starts it. `None` when nothing is sent; a refusal here never retires the slot (its
    /// next ask does that).
    pub fn prefetch(&mut self, id: WorkerId, slot: u32, now: Duration) -> Option<Dispatch> {
        if self.pending_default.is_empty() && self.pending_timed.is_empty() {
            return None;
        }
        let worker = self.workers.get(&id)?;
        let slot_ix = (slot as usize).min(worker.started_per_slot.len().saturating_sub(1));
        let mut on_slot = worker.running.iter().filter(|r| r.slot == slot_ix as u32);
        let current = *on_slot.next()?;
        // A zero estimate means unknown (no `task_time`, nothing learned yet): not short.
        if on_slot.next().is_some()
            || current.estimate.is_zero()
            || current.estimate > PREFETCH_BELOW
        {
            return None;
        }
        let at = (current.since + current.estimate).max(now);
        let started = worker.started_per_slot.get(slot_ix).copied().unwrap_or(0);
        let (deadline, max_tasks, admission) = (
            worker.hello.deadline,
            worker.hello.max_tasks,
            worker.hello.admission,
        );
        let buffer = self.cfg.buffer.resolve(self.cfg.walltime);
        let task = self
            .select(now, at, deadline, started, max_tasks, admission)
            .ok()?;
        Some(self.start(id, slot_ix as u32, task, now, at, buffer))
    }

    /// Takes the oldest pending task that may start at `at` on a worker with this deadline
    /// and count of tasks started in the slot, out of the queue; or why none may.
    fn select(
        &mut self,
        now: Duration,
        at: Duration,
        deadline: Duration,
        started: u32,
        max_tasks: Option<u32>,
        admission: bool,
    ) -> Result<TaskId, Option<Admission>> {
        let buffer = self.cfg.buffer.resolve(self.cfg.walltime);
        let mut refusal = None;
        let default_est = self.default_estimate_at(now);
        let mut pick: Option<(TaskId, bool)> = None;
        if let Some(&front) = self.pending_default.front() {
            match self.admit(
                at,
                deadline,
                default_est,
                buffer,
                started,
                max_tasks,
                admission,
            ) {
                Admission::Start => pick = Some((front, false)),
                other => refusal = Some(other),
            }
        }
        let default_id = pick.map(|(t, _)| t);
        for (pos, &t) in self.pending_timed.iter().take(TIMED_SCAN_LIMIT).enumerate() {
            if default_id.is_some_and(|d| d < t) {
                break;
            }
            let est = self.estimator.estimate(self.tasks[t as usize].spec.time);
            match self.admit(at, deadline, est, buffer, started, max_tasks, admission) {
                Admission::Start => {
                    pick = Some((pos as TaskId, true));
                    break;
                }
                other => {
                    if refusal.is_none() {
                        refusal = Some(other)
                    }
                }
            }
        }
        match pick {
            Some((pos, true)) => Ok(self
                .pending_timed
                .remove(pos as usize)
                .expect("position from the scan")),
            Some((_, false)) => Ok(self
                .pending_default
                .pop_front()
                .expect("front from the check")),
            None => Err(refusal),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        now: Duration,
        deadline: Duration,
        estimate: Duration,
        buffer: Duration,
        started: u32,
        max_tasks: Option<u32>,
        admission: bool,
    ) -> Admission {
        if !admission {
            // Comparison mode: only the cap applies, as with a greedy worker.
            return may_start(
                Duration::ZERO,
                Duration::MAX,
                Duration::ZERO,
                Duration::ZERO,
                started,
                max_tasks,
            );
        }
        may_start(now, deadline, estimate, buffer, started, max_tasks)
    }

    /// Hands a task to a slot; it starts at `since` (now, or when the slot's current task is
    /// expected to end for a task sent ahead), which is what the oldest-running bound of the
    /// estimate counts from.
    fn start(
        &mut self,
        id: WorkerId,
        slot: u32,
        task: TaskId,
        now: Duration,
        since: Duration,
        buffer: Duration,
    ) -> Dispatch {
        let estimate = match self.tasks[task as usize].spec.time {
            Some(own) => self.estimator.estimate(Some(own)),
            None => {
                let e = self.default_estimate_at(now);
                self.running_default.insert((since, task));
                e
            }
        };
        let t = &mut self.tasks[task as usize];
        t.state = TaskState::Running { worker: id, slot };
        let spec = t.spec.to_spec();
        let w = self.workers.get_mut(&id).expect("worker checked by on_ask");
        if let Some(n) = w.started_per_slot.get_mut(slot as usize) {
            *n += 1;
        }
        w.running.push(RunningTask {
            task,
            slot,
            since,
            estimate,
        });
        self.counts.pending -= 1;
        self.counts.running += 1;
        Dispatch::Run {
            task,
            spec,
            estimate,
            buffer,
        }
    }

    fn retire_slot(&mut self, id: WorkerId) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.retired_slots = (w.retired_slots + 1).min(w.hello.slots);
        }
    }

    /// Parked slots that can be served now: after tasks arrive, or to stop or retire them.
    pub fn on_wake(&mut self, now: Duration) -> Vec<(WorkerId, u32, Dispatch)> {
        let mut out = Vec::new();
        let has_pending = !(self.pending_default.is_empty() && self.pending_timed.is_empty());
        let finished = self.is_finished();
        let idle_timeout = self.cfg.idle_timeout;
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for id in ids {
            let parked =
                std::mem::take(&mut self.workers.get_mut(&id).expect("id from keys").parked);
            let mut keep = Vec::new();
            for (slot, since) in parked {
                if has_pending || finished {
                    let d = self.on_ask(id, slot, now);
                    if d != Dispatch::Park {
                        out.push((id, slot, d));
                    }
                } else if now.saturating_sub(since) >= idle_timeout {
                    self.retire_slot(id);
                    out.push((
                        id,
                        slot,
                        Dispatch::Retire {
                            reason: "no work arrived within the idle timeout".into(),
                        },
                    ));
                } else {
                    keep.push((slot, since));
                }
            }
            if let Some(w) = self.workers.get_mut(&id) {
                w.parked.extend(keep);
            }
        }
        out
    }

    /// A task ended on a worker.
    pub fn on_task_ended(
        &mut self,
        id: WorkerId,
        task: TaskId,
        end: RunEnd,
        secs: f64,
        now: Duration,
    ) -> Option<TaskEvent> {
        self.on_heartbeat(id, now);
        let w = self.workers.get_mut(&id)?;
        let pos = w.running.iter().position(|r| r.task == task)?;
        // `remove`, not `swap_remove`: a slot's tasks stay in the order they were sent.
        let since = w.running.remove(pos).since;
        let deadline = w.hello.deadline;
        self.running_default.remove(&(since, task));
        self.counts.running -= 1;
        let outcome = match end {
            RunEnd::NotStarted => return Some(self.give_back(task)),
            RunEnd::Exited { code: 0 } => {
                w.tasks_done += 1;
                self.estimator.observe(secs);
                Outcome::Done
            }
            RunEnd::Exited { code } => Outcome::Failed {
                reason: format!("exit status {code}"),
            },
            RunEnd::Signaled { signal } => {
                let near = now.saturating_add(WALLTIME_SLACK) >= deadline;
                if near {
                    return Some(self.requeue(task, secs, "killed by the walltime".into(), true));
                }
                Outcome::Failed {
                    reason: format!("killed by signal {signal}"),
                }
            }
            RunEnd::Interrupted { walltime } => {
                let reason = if walltime {
                    "killed by the walltime"
                } else {
                    "interrupted (the batch job was stopped)"
                };
                return Some(self.requeue(task, secs, reason.into(), walltime));
            }
        };
        self.finish(task, outcome.clone());
        self.counts.task_seconds += secs;
        Some(TaskEvent {
            task,
            outcome,
            secs,
        })
    }

    fn finish(&mut self, task: TaskId, outcome: Outcome) {
        let t = &mut self.tasks[task as usize];
        match outcome {
            Outcome::Done => {
                t.state = TaskState::Done;
                self.counts.done += 1;
            }
            Outcome::Failed { reason } => {
                t.state = TaskState::Failed { reason };
                self.counts.failed += 1;
            }
            Outcome::Requeued { .. } | Outcome::Returned => {
                unreachable!("requeue and give_back have their own paths")
            }
        }
    }

    fn requeue(&mut self, task: TaskId, secs: f64, reason: String, walltime: bool) -> TaskEvent {
        if walltime {
            self.counts.walltime_kills += 1;
        }
        let retries = self.tasks[task as usize]
            .spec
            .retries
            .unwrap_or(self.cfg.retries);
        let t = &mut self.tasks[task as usize];
        t.lost_runs += 1;
        if t.lost_runs > retries {
            let reason = format!("{reason}, {} times (retries = {retries})", t.lost_runs);
            let outcome = Outcome::Failed { reason };
            self.finish(task, outcome.clone());
            return TaskEvent {
                task,
                outcome,
                secs,
            };
        }
        t.state = TaskState::Pending;
        let timed = t.spec.time.is_some();
        self.enqueue(task, timed, true);
        self.counts.pending += 1;
        self.counts.requeued += 1;
        TaskEvent {
            task,
            outcome: Outcome::Requeued { reason, walltime },
            secs,
        }
    }

    /// A task sent ahead comes back unstarted: first in line again, no run lost.
    fn give_back(&mut self, task: TaskId) -> TaskEvent {
        let t = &mut self.tasks[task as usize];
        t.state = TaskState::Pending;
        let timed = t.spec.time.is_some();
        self.enqueue(task, timed, true);
        self.counts.pending += 1;
        TaskEvent {
            task,
            outcome: Outcome::Returned,
            secs: 0.0,
        }
    }

    /// The worker left cleanly; anything it still held is requeued.
    pub fn on_goodbye(&mut self, id: WorkerId, now: Duration) -> Vec<TaskEvent> {
        self.on_worker_lost(id, "worker left while running it", now)
    }

    /// The worker is gone (connection lost, batch job ended, heartbeat timeout).
    pub fn on_worker_lost(&mut self, id: WorkerId, why: &str, now: Duration) -> Vec<TaskEvent> {
        let Some(w) = self.workers.remove(&id) else {
            return Vec::new();
        };
        let walltime = now.saturating_add(WALLTIME_SLACK) >= w.hello.deadline;
        let mut events = Vec::new();
        let mut slots_seen = BTreeSet::new();
        for RunningTask {
            task, since, slot, ..
        } in w.running
        {
            self.running_default.remove(&(since, task));
            self.counts.running -= 1;
            if !slots_seen.insert(slot) {
                // The second task of a slot was sent ahead and cannot have started.
                events.push(self.give_back(task));
                continue;
            }
            let reason = if walltime {
                "killed by the walltime".to_string()
            } else {
                why.to_string()
            };
            events.push(self.requeue(task, 0.0, reason, walltime));
        }
        events
    }

    /// Workers silent past the heartbeat timeout.
    pub fn silent_workers(&self, now: Duration) -> Vec<WorkerId> {
        self.workers
            .iter()
            .filter(|(_, w)| now.saturating_sub(w.last_seen) > self.cfg.heartbeat_timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every task has ended and no more will come.
    pub fn is_finished(&self) -> bool {
        self.input_closed && self.counts.pending == 0 && self.counts.running == 0
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn task_state(&self, task: TaskId) -> Option<&TaskState> {
        self.tasks.get(task as usize).map(|t| &t.state)
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    pub fn default_estimate(&self) -> Duration {
        self.estimator.default_estimate().min(self.usable)
    }

    /// Connected workers: (id, job, host, running tasks, tasks done, deadline).
    pub fn workers(
        &self,
    ) -> impl Iterator<Item = (WorkerId, Option<&JobId>, &str, usize, u64, Duration)> {
        self.workers.iter().map(|(id, w)| {
            (
                *id,
                w.hello.job.as_ref(),
                w.hello.host.as_str(),
                w.running.len(),
                w.tasks_done,
                w.hello.deadline,
            )
        })
    }

    /// How many new batch jobs to submit: enough for the pending tasks that the queued batch
    /// jobs and the connected workers cannot take, within `max_jobs`, never more than the
    /// pending work can use, none once the queue is empty.
    pub fn jobs_wanted(
        &self,
        queued_jobs: u32,
        active_jobs: u32,
        max_jobs: u32,
        now: Duration,
    ) -> u32 {
        let pending = self.counts.pending as f64;
        if pending == 0.0 {
            return 0;
        }
        let est = self.default_estimate_at(now).max(Duration::from_millis(1));
        let walltime = self.cfg.walltime;
        let per_slot = (self.usable.as_secs_f64() / est.as_secs_f64())
            .floor()
            .max(1.0);
        let per_job = per_slot * self.cfg.slots.max(1) as f64;
        let mut supply = queued_jobs as f64 * per_job;
        for w in self.workers.values() {
            let active = w.hello.slots.saturating_sub(w.retired_slots) as f64;
            let left = w
                .hello
                .deadline
                .saturating_sub(now)
                .saturating_sub(self.cfg.buffer.resolve(walltime));
            supply += active * (left.as_secs_f64() / est.as_secs_f64()).floor();
        }
        let short = pending - supply;
        if short <= 0.0 {
            return 0;
        }
        let need = (short / per_job).ceil() as u32;
        need.min(max_jobs.saturating_sub(active_jobs))
    }
}

fn describe_refusal(refusal: Option<Admission>) -> String {
    match refusal {
        Some(Admission::MaxTasksReached { max_tasks }) => format!("max_tasks ({max_tasks}) reached"),
        Some(Admission::NoTime { remaining, needed }) => format!(
            "no pending task fits: {} left before the deadline, the next task needs {} with the buffer",
            crate::duration::format_human(remaining),
            crate::duration::format_human(needed)
        ),
        _ => "no pending task fits".to_string(),
    }
}

#[cfg(test)]
mod tests;
