//! SLURM: `sbatch --parsable`, one `squeue -t all -r` for many jobs, `scancel`; vanished jobs
//! from `sacct` where accounting exists, else `scontrol show job -o` while MinJobAge lasts.

use std::collections::HashMap;

use super::command::{chunk_ids, Runner, MAX_ID_CHARS};
use super::timed::CommandKind;
use super::{Backend, BackendKind, Explanation, JobId, JobState, JobStatus, SubmitRequest};
use crate::config::Config;
use crate::time as clock;

/// How long a worker waits for `squeue` to tell its batch job's end time.
pub const END_TIME_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// squeue's fixed output format: ID, long state, start, end, reason, nodes.
const SQUEUE_FORMAT: &str = "%i|%T|%S|%e|%r|%N";

pub struct Slurm {
    runner: Runner,
    submit_extra: Vec<String>,
    cancel_extra: Vec<String>,
}

impl Slurm {
    pub fn new(config: &Config, runner: Runner) -> Slurm {
        Slurm {
            runner,
            submit_extra: config.submit_command_extra.clone(),
            cancel_extra: config.cancel_command_extra.clone(),
        }
    }

    fn squeue(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut argv = vec!["squeue".to_string(), "-h".into(), "-t".into(), "all".into()];
        argv.extend(["-r".into(), "-o".into(), SQUEUE_FORMAT.into()]);
        if let Some(c) = ids.iter().find_map(|j| j.cluster.clone()) {
            argv.push(format!("--clusters={c}"));
        }
        argv.push("-j".into());
        argv.push(
            ids.iter()
                .map(|j| j.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        let out = self.runner.run(&argv, None, CommandKind::Query)?;
        if !out.success() {
            // Every listed job was purged: not an error, just nothing to report.
            if out.stderr.contains("Invalid job id specified") {
                return Ok(HashMap::new());
            }
            return Err(out.error("failed to read the status of SLURM batch jobs"));
        }
        let cluster = ids.iter().find_map(|j| j.cluster.clone());
        Ok(parse_squeue(&out.stdout)
            .into_iter()
            .map(|(mut id, st)| {
                id.cluster.clone_from(&cluster);
                (id, st)
            })
            .collect())
    }
}

/// Parses sbatch's answer: `--parsable` (`4101`, `4101;clusterA`) or the sentence
/// (`Submitted batch job 4101`, `... on cluster clusterA`). Banner lines are skipped: only a
/// line that is wholly one of these forms counts, the last such line wins.
pub fn parse_submit(stdout: &str) -> anyhow::Result<JobId> {
    let parse_line = |line: &str| -> Option<JobId> {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Submitted batch job ") {
            let mut words = rest.split_whitespace();
            let id = words.next().filter(|w| is_number(w))?;
            return match (words.next(), words.next(), words.next(), words.next()) {
                (None, ..) => Some(JobId::new(id)),
                (Some("on"), Some("cluster"), Some(c), None) => Some(JobId {
                    id: id.into(),
                    cluster: Some(c.into()),
                }),
                _ => None,
            };
        }
        let (id, cluster) = match line.split_once(';') {
            Some((id, c)) if !c.is_empty() && !c.contains(char::is_whitespace) => {
                (id, Some(c.to_string()))
            }
            Some(_) => return None,
            None => (line, None),
        };
        is_number(id).then(|| JobId {
            id: id.into(),
            cluster,
        })
    };
    stdout
        .lines()
        .filter_map(parse_line)
        .next_back()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot read a job ID from sbatch's output: expected `Submitted batch job N` or \
                 `N[;cluster]`, got:\n{}",
                stdout.trim_end()
            )
        })
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Maps a SLURM long state (`PENDING`, `CANCELLED by 0`, ...) or short code to a [`JobState`].
pub fn parse_state(native: &str) -> JobState {
    let word = native
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('+');
    match word {
        "PENDING" | "PD" | "CONFIGURING" | "CF" | "REQUEUED" | "RQ" | "REQUEUE_HOLD"
        | "REQUEUE_FED" | "RESV_DEL_HOLD" => JobState::Pending,
        "RUNNING" | "R" | "SUSPENDED" | "S" | "STOPPED" | "ST" | "RESIZING" | "SIGNALING" => {
            JobState::Running
        }
        "COMPLETING" | "CG" | "STAGE_OUT" | "SO" => JobState::Completing,
        "COMPLETED" | "CD" => JobState::Done,
        "FAILED" | "F" | "OUT_OF_MEMORY" | "OOM" | "SPECIAL_EXIT" | "SE" => JobState::Failed,
        // Not the tasks' fault: their runs are lost, not failed (issue 11, item 5).
        "PREEMPTED" | "PR" => JobState::Preempted,
        "NODE_FAIL" | "NF" | "BOOT_FAIL" | "BF" => JobState::NodeFailed,
        "TIMEOUT" | "TO" | "DEADLINE" | "DL" => JobState::Timeout,
        "CANCELLED" | "CA" | "REVOKED" | "RV" => JobState::Cancelled,
        _ => JobState::Unknown,
    }
}

fn status(
    native: &str,
    start: &str,
    end: &str,
    reason: Option<&str>,
    node: Option<&str>,
) -> JobStatus {
    let state = parse_state(native);
    let started = clock::parse_iso(start).filter(|_| state != JobState::Pending);
    // For a running job squeue's end is start + limit: only a final job has really ended.
    let ended = clock::parse_iso(end).filter(|_| state.is_final());
    JobStatus {
        state,
        native: native.to_string(),
        started,
        ended,
        // `None` is SLURM's word for no reason.
        reason: reason
            .map(str::trim)
            .filter(|r| !r.is_empty() && *r != "None")
            .map(|r| format!("Reason={r}")),
        node: node
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "(null)")
            .map(str::to_string),
    }
}

/// Parses `squeue -h -t all -r -o '%i|%T|%S|%e|%r|%N'` (also the first five, and the four of
/// `sacct -n -P -X -o JobID,State,Start,End`).
pub fn parse_squeue(stdout: &str) -> HashMap<JobId, JobStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').collect();
            let (id, native, start, end, reason, node) = match f[..] {
                [id, native, start, end] => (id, native, start, end, None, None),
                [id, native, start, end, reason] => (id, native, start, end, Some(reason), None),
                // The node list (`%N`): empty while pending.
                [id, native, start, end, reason, node] => {
                    (id, native, start, end, Some(reason), Some(node))
                }
                _ => return None,
            };
            Some((JobId::new(id), status(native, start, end, reason, node)))
        })
        .collect()
}

/// Parses one line of `scontrol show job -o`; the ID is `ArrayJobId_ArrayTaskId` for tasks.
pub fn parse_scontrol(stdout: &str) -> Option<(JobId, JobStatus)> {
    let fields: HashMap<&str, &str> = stdout
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let id = match (fields.get("ArrayJobId"), fields.get("ArrayTaskId")) {
        (Some(j), Some(t)) => format!("{j}_{t}"),
        _ => fields.get("JobId")?.to_string(),
    };
    let native = fields.get("JobState")?;
    let get = |k| fields.get(k).copied().unwrap_or("");
    Some((
        JobId::new(id),
        status(
            native,
            get("StartTime"),
            get("EndTime"),
            fields.get("Reason").copied(),
            fields.get("NodeList").copied(),
        ),
    ))
}

/// What `scontrol show job -o` says of why a batch job is where it is (`Reason=JobLaunchFailure
/// ExitCode=0:53`), and where its stderr and stdout went.
pub fn parse_explanation(stdout: &str) -> Option<Explanation> {
    let fields: HashMap<&str, &str> = stdout
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let state = fields.get("JobState")?;
    let mut said = format!("JobState={state}");
    for key in ["Reason", "ExitCode"] {
        if let Some(v) = fields.get(key).filter(|v| **v != "None") {
            said.push_str(&format!(" {key}={v}"));
        }
    }
    // scontrol shows a name with a pattern as it was given (`%J` unexpanded): such a name is
    // left to the script's directives, where hpcluster fills the pattern in.
    let files = ["StdErr", "StdOut"]
        .iter()
        .filter_map(|k| fields.get(k))
        .filter(|p| p.starts_with('/') && !p.contains('%'))
        .map(std::path::PathBuf::from)
        .collect();
    Some(Explanation { said, files })
}

/// The end time SLURM has set for batch job `job` (`squeue -h -j JOB -o %e`), as seconds since
/// the Unix epoch: what a worker inside that job takes as its deadline when it is earlier than
/// its own count (a `--time-min` job, a limit changed with `scontrol`). `None` when `squeue`
/// does not answer with a time.
/// Asked once at the worker's start, with [`END_TIME_WITHIN`] to answer.
pub fn end_time(job: &str) -> Option<std::time::Duration> {
    let mut cmd = std::process::Command::new("squeue");
    cmd.args(["-h", "-j", job, "-o", "%e"])
        .stdin(std::process::Stdio::null());
    let limits = super::timed::Timeouts {
        query: END_TIME_WITHIN,
        ..Default::default()
    };
    let shown = format!("squeue -h -j {job} -o %e");
    let out = super::timed::run(
        cmd,
        &shown,
        CommandKind::Query,
        &limits,
        &super::timed::Stop::new(),
    )
    .ok()?;
    let end = clock::parse_iso(out.stdout.trim())?;
    end.duration_since(std::time::UNIX_EPOCH).ok()
}

impl Backend for Slurm {
    fn kind(&self) -> BackendKind {
        BackendKind::Slurm
    }

    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String> {
        let mut argv = vec![
            "sbatch".to_string(),
            "--parsable".into(),
            format!("--job-name={}", req.job_name),
        ];
        if let Some(n) = req.array {
            argv.push(format!("--array=1-{n}"));
        }
        if !req.exclude.is_empty() {
            argv.push(format!("--exclude={}", req.exclude.join(",")));
        }
        argv.extend(self.submit_extra.iter().cloned());
        argv.push(req.script.display().to_string());
        argv
    }

    fn excludes_nodes(&self) -> bool {
        true
    }

    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>> {
        let expand = |job: JobId| match req.array {
            Some(n) => (1..=n)
                .map(|i| JobId {
                    id: format!("{}_{i}", job.id),
                    cluster: job.cluster.clone(),
                })
                .collect(),
            None => vec![job],
        };
        self.runner.submit(
            &self.submit_argv(req),
            req.workdir,
            req.job_name,
            |out| parse_submit(out).map(expand),
            || self.find_by_name(req.job_name, req.array),
        )
    }

    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut all = HashMap::new();
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            all.extend(self.squeue(&chunk)?);
        }
        Ok(all)
    }

    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()> {
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let mut argv = vec!["scancel".to_string()];
            argv.extend(self.cancel_extra.iter().cloned());
            if let Some(c) = chunk.iter().find_map(|j| j.cluster.clone()) {
                argv.push(format!("--clusters={c}"));
            }
            argv.extend(chunk.iter().map(|j| j.id.clone()));
            let out = self.runner.run(&argv, None, CommandKind::Cancel)?;
            if !out.success() {
                return Err(out.error("failed to cancel SLURM batch jobs"));
            }
        }
        Ok(())
    }

    fn find_by_name(&self, name: &str, _array: Option<u32>) -> anyhow::Result<Vec<JobId>> {
        let argv: Vec<String> = [
            "squeue", "-h", "-t", "all", "-r", "-o", "%i", "--name", name,
        ]
        .map(String::from)
        .to_vec();
        let out = self.runner.run(&argv, None, CommandKind::Query)?;
        if !out.success() {
            return Err(out.error("failed to look up SLURM batch jobs by name"));
        }
        Ok(out.stdout.split_whitespace().map(JobId::new).collect())
    }

    fn final_status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut found = HashMap::new();
        if which::which("sacct").is_ok() {
            let mut argv: Vec<String> = ["sacct", "-n", "-P", "-X", "-o", "JobID,State,Start,End"]
                .map(String::from)
                .to_vec();
            argv.push("-j".into());
            argv.push(
                ids.iter()
                    .map(|j| j.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            let out = self.runner.run_once(&argv, None, CommandKind::Query)?;
            if out.success() {
                found.extend(parse_squeue(&out.stdout));
            }
        }
        let rest: Vec<JobId> = ids
            .iter()
            .filter(|id| !found.contains_key(&JobId::new(&id.id)))
            .cloned()
            .collect();
        for id in rest {
            let argv = vec![
                "scontrol".into(),
                "show".into(),
                "job".into(),
                "-o".into(),
                id.id.clone(),
            ];
            let out = self.runner.run_once(&argv, None, CommandKind::Query)?;
            if let Some((jid, st)) = out.success().then(|| parse_scontrol(&out.stdout)).flatten() {
                found.insert(jid, st);
            }
        }
        Ok(found
            .into_iter()
            .filter(|(_, st)| st.state.is_final())
            .filter_map(|(jid, st)| ids.iter().find(|i| i.id == jid.id).map(|i| (i.clone(), st)))
            .collect())
    }

    /// `scontrol show job -o ID`: `Reason`, `ExitCode`, `StdErr`, `StdOut` (while `MinJobAge`
    /// keeps the job).
    fn explain(&self, id: &JobId, _status: &JobStatus) -> anyhow::Result<Option<Explanation>> {
        let argv: Vec<String> = vec![
            "scontrol".into(),
            "show".into(),
            "job".into(),
            "-o".into(),
            id.id.clone(),
        ];
        let out = self.runner.run_once(&argv, None, CommandKind::Query)?;
        Ok(out
            .success()
            .then(|| parse_explanation(&out.stdout))
            .flatten())
    }

    /// Held by a user or an administrator, or requeued and held after a launch failure.
    fn held(&self, status: &JobStatus) -> bool {
        status.state == JobState::Pending
            && status
                .reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("held"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_sbatch_answer_parses() {
        let cases = [
            ("Submitted batch job 4101\n", "4101", None),
            ("4101\n", "4101", None),
            ("4101;clusterA\n", "4101", Some("clusterA")),
            (
                "Submitted batch job 4101 on cluster clusterA\n",
                "4101",
                Some("clusterA"),
            ),
            (
                "Welcome to cluster2!\nSubmitted batch job 4101\n",
                "4101",
                None,
            ),
            ("Welcome to cluster2!\n4101\n", "4101", None),
            (
                "JSV: h_data=1G\nNote: 3 jobs queued\n4101;clusterA\n",
                "4101",
                Some("clusterA"),
            ),
        ];
        for (out, id, cluster) in cases {
            let got = parse_submit(out).unwrap();
            assert_eq!(got.id, id, "{out:?}");
            assert_eq!(got.cluster.as_deref(), cluster, "{out:?}");
        }
    }

    #[test]
    fn unparseable_sbatch_output_is_shown() {
        let err = parse_submit("Welcome to cluster2!\nsomething odd 12\n").unwrap_err();
        assert!(err.to_string().contains("something odd 12"), "{err}");
        assert!(parse_submit("").is_err());
    }

    #[test]
    fn squeue_lines_map_to_states_and_times() {
        let out = std::fs::read_to_string("tests/fixtures/slurm/squeue.txt").unwrap();
        let m = parse_squeue(&out);
        let st = |id: &str| m[&JobId::new(id)].clone();
        assert_eq!(st("2_1").state, JobState::Running);
        assert!(st("2_1").started.is_some());
        assert!(st("2_1").ended.is_none());
        assert_eq!(st("5").state, JobState::Pending);
        assert_eq!(st("7").state, JobState::Cancelled);
        assert_eq!(st("2").state, JobState::Timeout);
        assert!(st("2").ended.is_some());
        assert_eq!(st("13").state, JobState::Failed);
        assert_eq!(st("14").state, JobState::Done);
        assert_eq!(st("15").state, JobState::Completing);
        assert_eq!(m.len(), 7);
    }

    #[test]
    fn recorded_failures_give_their_reason_exit_code_and_files() {
        let read = |f: &str| std::fs::read_to_string(format!("tests/fixtures/slurm/{f}")).unwrap();
        let m = parse_squeue(&read("squeue-reasons.txt"));
        assert_eq!(m[&JobId::new("73")].state, JobState::Failed);
        assert_eq!(
            m[&JobId::new("73")].reason.as_deref(),
            Some("Reason=NonZeroExitCode")
        );
        assert_eq!(
            m[&JobId::new("74")].reason.as_deref(),
            Some("Reason=JobLaunchFailure")
        );
        let x = parse_explanation(&read("scontrol-exit3.txt")).unwrap();
        assert_eq!(
            x.said,
            "JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0"
        );
        // `%J` is shown unexpanded: the script's directives give the file instead.
        assert!(x.files.is_empty(), "{:?}", x.files);
        let x = parse_explanation(&read("scontrol-launch-failure.txt")).unwrap();
        assert_eq!(
            x.said,
            "JobState=FAILED Reason=JobLaunchFailure ExitCode=0:53"
        );
        assert_eq!(
            x.files,
            [
                std::path::PathBuf::from("/tmp/i9-nonexist3/x-74.err"),
                std::path::PathBuf::from("/tmp/i9-nonexist3/x-74.out")
            ]
        );
        // A pending job's reason; `None` is no reason.
        let p =
            parse_squeue("5|PENDING|N/A|N/A|Priority\n6|RUNNING|2026-11-26T10:00:00|N/A|None\n");
        assert_eq!(
            p[&JobId::new("5")].reason.as_deref(),
            Some("Reason=Priority")
        );
        assert_eq!(p[&JobId::new("6")].reason, None);
    }

    #[test]
    fn preemption_and_node_failure_are_not_failures() {
        // squeue(1), JOB STATE CODES: PR "terminated due to preemption", NF "terminated due
        // to failure of one or more allocated nodes", BF "terminated due to launch failure,
        // typically due to a hardware failure".
        for (native, want) in [
            ("PREEMPTED", JobState::Preempted),
            ("PR", JobState::Preempted),
            ("NODE_FAIL", JobState::NodeFailed),
            ("NF", JobState::NodeFailed),
            ("BOOT_FAIL", JobState::NodeFailed),
            ("BF", JobState::NodeFailed),
            ("FAILED", JobState::Failed),
            ("OUT_OF_MEMORY", JobState::Failed),
        ] {
            assert_eq!(parse_state(native), want, "{native}");
            assert!(want.is_final(), "{native}");
            assert_eq!(want.is_lost(), want != JobState::Failed, "{native}");
        }
        let m = parse_squeue(
            "80|PREEMPTED|2026-12-03T10:00:00|2026-12-03T10:05:00|None\n\
             81|NODE_FAIL|2026-12-03T10:00:00|2026-12-03T10:05:00|None\n",
        );
        assert_eq!(m[&JobId::new("80")].state, JobState::Preempted);
        assert!(m[&JobId::new("81")].ended.is_some());
    }

    #[test]
    fn a_requeued_job_is_pending_again_never_ended() {
        // `scontrol requeue 2` of a running job on the test SLURM (recorded): RUNNING, then
        // COMPLETING, then PENDING (Reason=BeginTime) under the same ID.
        let out = std::fs::read_to_string("tests/fixtures/slurm/squeue-requeue.txt").unwrap();
        let states: Vec<JobState> = out
            .lines()
            .map(|l| parse_squeue(l)[&JobId::new("2")].state)
            .collect();
        assert_eq!(
            states,
            [
                JobState::Pending,
                JobState::Running,
                JobState::Completing,
                JobState::Pending,
                JobState::Cancelled
            ]
        );
        assert!(states[..4].iter().all(|s| !s.is_final()));
    }

    #[test]
    fn the_node_list_is_read_from_squeue_and_scontrol() {
        // `%N` is empty while a batch job is pending and after a requeue (the fixture's first,
        // fourth and fifth lines), `vm` while it runs.
        let out = std::fs::read_to_string("tests/fixtures/slurm/squeue-requeue.txt").unwrap();
        let nodes: Vec<Option<String>> = out
            .lines()
            .map(|l| parse_squeue(l)[&JobId::new("2")].node.clone())
            .collect();
        let vm = Some("vm".to_string());
        assert_eq!(nodes, [None, vm.clone(), vm.clone(), None, None]);
        let several = parse_squeue("9|NODE_FAIL|N/A|N/A|None|n[1-2]\n8|PENDING|N/A|N/A|None\n");
        assert_eq!(several[&JobId::new("9")].node.as_deref(), Some("n[1-2]"));
        assert_eq!(several[&JobId::new("8")].node, None);
        // scontrol's `NodeList` (`(null)` before it runs); not `ReqNodeList` or `ExcNodeList`.
        let out = std::fs::read_to_string("tests/fixtures/slurm/scontrol-exit3.txt").unwrap();
        assert_eq!(parse_scontrol(&out).unwrap().1.node, vm);
        let pending = "JobId=5 JobState=PENDING Reason=None ReqNodeList=(null) NodeList=(null)";
        assert_eq!(parse_scontrol(pending).unwrap().1.node, None);
    }

    #[test]
    fn excluded_nodes_go_on_the_sbatch_command_line() {
        let config = Config::default();
        let slurm = Slurm::new(&config, Runner::for_config(&config));
        let exclude = ["n3".to_string(), "n7".to_string()];
        let req = SubmitRequest {
            script: std::path::Path::new("/c/scripts/c-4.sh"),
            job_name: "c-4",
            array: None,
            workdir: std::path::Path::new("/c/logs"),
            exclude: &exclude,
        };
        assert_eq!(
            slurm.submit_argv(&req),
            [
                "sbatch",
                "--parsable",
                "--job-name=c-4",
                "--exclude=n3,n7",
                "/c/scripts/c-4.sh"
            ]
        );
        let none = SubmitRequest {
            exclude: &[],
            ..req
        };
        assert!(!slurm
            .submit_argv(&none)
            .iter()
            .any(|a| a.starts_with("--exclude")));
    }

    #[test]
    fn scontrol_gives_the_array_task_id() {
        let out = std::fs::read_to_string("tests/fixtures/slurm/scontrol-completed.txt").unwrap();
        let (id, st) = parse_scontrol(&out).unwrap();
        assert_eq!(id, JobId::new("2_1"));
        assert_eq!(st.state, JobState::Done);
        assert!(st.started.is_some() && st.ended.is_some());
    }
}
