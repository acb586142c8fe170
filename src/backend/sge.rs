//! Son of Grid Engine / SGE: `qsub -terse`, one `qstat -u '*'` for all jobs, `qdel`; vanished
//! jobs from `qacct -j`. The script names its shell with `#$ -S` (queues often default to
//! `/bin/sh`, ignoring the shebang).

use std::collections::HashMap;

use super::command::{chunk_ids, Runner, MAX_ID_CHARS};
use super::timed::CommandKind;
use super::{Backend, BackendKind, Explanation, JobId, JobState, JobStatus, SubmitRequest};
use crate::config::Config;
use crate::time as clock;

pub struct Sge {
    runner: Runner,
    submit_extra: Vec<String>,
    cancel_extra: Vec<String>,
}

impl Sge {
    pub fn new(config: &Config, runner: Runner) -> Sge {
        Sge {
            runner,
            submit_extra: config.submit_command_extra.clone(),
            cancel_extra: config.cancel_command_extra.clone(),
        }
    }
}

/// A submitted job number and, for a job-array, its task IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub job: String,
    pub tasks: Vec<u32>,
}

impl Submitted {
    /// One ID per batch job: `N` or `N.t` per array task.
    pub fn ids(&self) -> Vec<JobId> {
        if self.tasks.is_empty() {
            return vec![JobId::new(&self.job)];
        }
        self.tasks
            .iter()
            .map(|t| JobId::new(format!("{}.{t}", self.job)))
            .collect()
    }
}

/// Parses qsub's answer: `-terse` (`4101`, `4101.1-10:1`) or the sentence
/// (`Your job 4101 ("name") has been submitted`, `Your job-array 4101.1-10:1 ("name") ...`).
/// Other lines (JSV messages, banners) are skipped.
pub fn parse_submit(stdout: &str) -> anyhow::Result<Submitted> {
    let parse_spec = |spec: &str| -> Option<Submitted> {
        let (job, range) = match spec.split_once('.') {
            Some((j, r)) => (j, Some(r)),
            None => (spec, None),
        };
        if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let tasks = match range {
            Some(r) => parse_tasks(r)?,
            None => Vec::new(),
        };
        Some(Submitted {
            job: job.to_string(),
            tasks,
        })
    };
    let parse_line = |line: &str| -> Option<Submitted> {
        let line = line.trim();
        let rest = line
            .strip_prefix("Your job-array ")
            .or_else(|| line.strip_prefix("Your job "));
        match rest {
            Some(rest) if line.ends_with("has been submitted") => {
                parse_spec(rest.split_whitespace().next()?)
            }
            Some(_) => None,
            None => parse_spec(line),
        }
    };
    stdout
        .lines()
        .filter_map(parse_line)
        .next_back()
        .ok_or_else(|| {
            let pbs_like = stdout.lines().map(str::trim).any(|l| {
                l.split_once('.').is_some_and(|(n, server)| {
                    !n.is_empty()
                        && n.trim_end_matches("[]").bytes().all(|b| b.is_ascii_digit())
                        && !server.is_empty()
                        && !server.contains(' ')
                })
            });
            let hint = if pbs_like {
                "\nthis `qsub` looks like PBS's, not Grid Engine's: set `backend = \"pbs\"`"
            } else {
                ""
            };
            anyhow::anyhow!(
                "cannot read a job ID from qsub's output: expected `N`, `N.1-10:1` or `Your job N \
             (...) has been submitted`, got:\n{}{hint}",
                stdout.trim_end()
            )
        })
}

/// Expands an SGE task list: `3`, `1-10:1`, `1-9:2`, `1,3,5`.
pub fn parse_tasks(spec: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let (range, step) = match part.split_once(':') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = range.parse::<u32>().ok()?;
                (a, a)
            }
        };
        out.extend((a..=b).step_by(step as usize));
    }
    Some(out)
}

/// Maps an SGE state code (`qw`, `hqw`, `r`, `t`, `Eqw`, `dr`, ...) to a [`JobState`].
pub fn parse_state(code: &str) -> JobState {
    if code.contains('E') {
        JobState::Failed // stays in error until a human clears it: it will not run
    } else if code.contains('d') {
        JobState::Completing
    } else if code.contains(['r', 't', 's', 'S', 'T']) {
        // `R` only says the job was rescheduled (sge_status(5)): `Rr` runs, `Rq` waits.
        JobState::Running
    } else if code.contains(['q', 'w', 'h']) {
        JobState::Pending
    } else {
        JobState::Unknown
    }
}

/// Parses plain `qstat -u '*'`: one row per job or running task; a pending array shows one row
/// with a task range, expanded here to one ID per task.
pub fn parse_qstat(stdout: &str) -> HashMap<JobId, JobStatus> {
    let mut out = HashMap::new();
    for line in stdout.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || !f[0].bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let state = parse_state(f[4]);
        let when = clock::parse_mdy(&format!("{} {}", f[5], f[6]));
        let rest = if f[7].contains('@') { &f[8..] } else { &f[7..] };
        let status = JobStatus {
            node: None,
            state,
            native: f[4].to_string(),
            started: when.filter(|_| state == JobState::Running),
            ended: None,
            reason: None,
        };
        let tasks = rest.get(1).and_then(|spec| parse_tasks(spec));
        let sub = Submitted {
            job: f[0].to_string(),
            tasks: tasks.unwrap_or_default(),
        };
        for id in sub.ids() {
            out.insert(id, status.clone());
        }
    }
    out
}

/// Parses `qacct -j N`: one block per job or task, with `failed` and `exit_status`.
pub fn parse_qacct(stdout: &str) -> HashMap<JobId, JobStatus> {
    let mut out = HashMap::new();
    for block in stdout.split("==============================================================") {
        let fields: HashMap<&str, &str> = block
            .lines()
            .filter_map(|l| l.split_once(char::is_whitespace))
            .map(|(k, v)| (k, v.trim()))
            .collect();
        let Some(job) = fields.get("jobnumber") else {
            continue;
        };
        let id = match fields.get("taskid").filter(|t| **t != "undefined") {
            Some(t) => format!("{job}.{t}"),
            None => job.to_string(),
        };
        let failed = fields.get("failed").copied().unwrap_or("0");
        let exit = fields.get("exit_status").copied().unwrap_or("0");
        let code = failed.split_whitespace().next().unwrap_or("0");
        let state = match (code, exit.split_whitespace().next().unwrap_or("0")) {
            ("0", "0") => JobState::Done,
            ("37", _) => JobState::Timeout,
            ("100", "137") => JobState::Cancelled,
            _ if failed.contains("h_rt") => JobState::Timeout,
            _ => JobState::Failed,
        };
        let time = |k| fields.get(k).and_then(|v| clock::parse_ctime(v));
        out.insert(
            JobId::new(id),
            JobStatus {
                node: None,
                state,
                native: format!("failed={code} exit_status={exit}"),
                started: time("start_time"),
                ended: time("end_time"),
                reason: Some(format!("qacct: failed {failed}, exit_status {exit}")),
            },
        );
    }
    out
}

/// Parses the `error reason` lines of `qstat -j N`, which say why a job is in error state
/// (`Eqw`): `can't open output file "/x/": Is a directory`.
pub fn parse_error_reasons(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("error reason"))
        .filter_map(|rest| rest.split_once(':'))
        .map(|(_, why)| why.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Parses `qstat -j NAME`: the job numbers (and array tasks) of jobs with that name.
pub fn parse_qstat_j(stdout: &str) -> Vec<JobId> {
    let mut ids = Vec::new();
    let mut job: Option<Submitted> = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("job_number:") {
            ids.extend(job.take().map(|s| s.ids()).unwrap_or_default());
            job = Some(Submitted {
                job: n.trim().to_string(),
                tasks: Vec::new(),
            });
        } else if let Some(spec) = line.strip_prefix("job-array tasks:") {
            if let (Some(j), Some(t)) = (job.as_mut(), parse_tasks(spec.trim())) {
                j.tasks = t;
            }
        }
    }
    ids.extend(job.map(|s| s.ids()).unwrap_or_default());
    ids
}

impl Backend for Sge {
    fn kind(&self) -> BackendKind {
        BackendKind::Sge
    }

    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String> {
        // The shell (`-S`), `-cwd` and `-j y` are directives of the script, where
        // `job_directives_skip` can drop them; the command line holds only the name and the
        // array, by which hpcluster finds its batch jobs.
        let mut argv: Vec<String> = ["qsub", "-terse"].map(String::from).to_vec();
        argv.extend(["-N".to_string(), req.job_name.to_string()]);
        if let Some(n) = req.array {
            argv.extend(["-t".to_string(), format!("1-{n}")]);
        }
        argv.extend(self.submit_extra.iter().cloned());
        argv.push(req.script.display().to_string());
        argv
    }

    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>> {
        self.runner.submit(
            &self.submit_argv(req),
            req.workdir,
            req.job_name,
            |out| parse_submit(out).map(|s| s.ids()),
            || self.find_by_name(req.job_name, req.array),
        )
    }

    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let argv: Vec<String> = ["qstat", "-u", "*"].map(String::from).to_vec();
        let out = self.runner.run(&argv, None, CommandKind::Query)?;
        if !out.success() {
            return Err(out.error("failed to read the status of SGE batch jobs"));
        }
        let mut all = parse_qstat(&out.stdout);
        all.retain(|id, _| ids.contains(id));
        Ok(all)
    }

    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()> {
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let mut argv = vec!["qdel".to_string()];
            argv.extend(self.cancel_extra.iter().cloned());
            argv.extend(chunk.iter().map(|j| j.id.clone()));
            let out = self.runner.run(&argv, None, CommandKind::Cancel)?;
            // qdel exits 1 when some job is already gone; that is what we wanted.
            if !out.success() && !out.stdout.contains("does not exist") {
                return Err(out.error("failed to cancel SGE batch jobs"));
            }
        }
        Ok(())
    }

    fn find_by_name(&self, name: &str, _array: Option<u32>) -> anyhow::Result<Vec<JobId>> {
        let argv = vec!["qstat".to_string(), "-j".into(), name.to_string()];
        let out = self.runner.run(&argv, None, CommandKind::Query)?;
        if out.success() {
            return Ok(parse_qstat_j(&out.stdout));
        }
        if format!("{}{}", out.stdout, out.stderr).contains("do not exist") {
            return Ok(Vec::new());
        }
        Err(out.error("failed to look up SGE batch jobs by name"))
    }

    /// An error state (`Eqw`): `qstat -j N` says why.
    fn explain(&self, id: &JobId, status: &JobStatus) -> anyhow::Result<Option<Explanation>> {
        if !self.stuck(status) {
            return Ok(None);
        }
        let job = id.id.split('.').next().unwrap_or(&id.id).to_string();
        let argv = vec!["qstat".to_string(), "-j".into(), job];
        let out = self.runner.run_once(&argv, None, CommandKind::Query)?;
        let reasons = parse_error_reasons(&out.stdout);
        Ok((!reasons.is_empty()).then(|| Explanation {
            said: format!("state {}: {}", status.native, reasons.join("; ")),
            files: Vec::new(),
        }))
    }

    /// `Eqw`: in error, and queued until someone deletes it.
    fn stuck(&self, status: &JobStatus) -> bool {
        status.native.contains('E')
    }

    /// `hqw`, `Eqw`: a hold or an error keeps it from starting.
    fn held(&self, status: &JobStatus) -> bool {
        status.native.contains(['h', 'E'])
    }

    fn final_status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut jobs: Vec<&str> = ids
            .iter()
            .map(|j| j.id.split('.').next().unwrap_or(""))
            .collect();
        jobs.sort_unstable();
        jobs.dedup();
        let mut found = HashMap::new();
        for job in jobs {
            let argv = vec!["qacct".to_string(), "-j".into(), job.to_string()];
            let out = self.runner.run_once(&argv, None, CommandKind::Query)?;
            if out.success() {
                found.extend(parse_qacct(&out.stdout));
            }
        }
        found.retain(|id, _| ids.contains(id));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_qsub_answer_parses() {
        let ids = |out: &str| parse_submit(out).unwrap().ids();
        assert_eq!(ids("4101\n"), vec![JobId::new("4101")]);
        assert_eq!(ids("14.1-3:1\n").len(), 3);
        assert_eq!(ids("14.1-3:1\n")[2], JobId::new("14.3"));
        assert_eq!(
            ids("Your job 4101 (\"name\") has been submitted\n"),
            vec![JobId::new("4101")]
        );
        let arr = ids("Your job-array 4101.1-10:1 (\"arr\") has been submitted\n");
        assert_eq!(arr.len(), 10);
        assert_eq!(arr[0], JobId::new("4101.1"));
        assert_eq!(ids("JSV: h_data=1G\n4101\n"), vec![JobId::new("4101")]);
        assert_eq!(
            ids("Welcome to cluster2!\nYour job 4101 (\"w2\") has been submitted\n"),
            vec![JobId::new("4101")]
        );
        let err = parse_submit("Unable to run job: error 5\n").unwrap_err();
        assert!(err.to_string().contains("Unable to run job: error 5"));
    }

    #[test]
    fn task_lists_expand() {
        assert_eq!(parse_tasks("1-9:2"), Some(vec![1, 3, 5, 7, 9]));
        assert_eq!(parse_tasks("1,3"), Some(vec![1, 3]));
        assert_eq!(parse_tasks("x"), None);
    }

    #[test]
    fn recorded_qstat_maps_every_row() {
        let out = std::fs::read_to_string("tests/fixtures/sge/qstat.txt").unwrap();
        let m = parse_qstat(&out);
        let st = |id: &str| m[&JobId::new(id)].state;
        assert_eq!(st("2.1"), JobState::Running);
        assert_eq!(st("2.2"), JobState::Running);
        assert_eq!(st("3"), JobState::Running);
        assert_eq!(st("5"), JobState::Pending);
        assert_eq!(st("6.3"), JobState::Pending);
        assert_eq!(st("6.5"), JobState::Pending);
        assert_eq!(st("7"), JobState::Pending);
        assert_eq!(st("8"), JobState::Failed);
        assert_eq!(st("9"), JobState::Completing);
        assert!(m[&JobId::new("3")].started.is_some());
        assert_eq!(m.len(), 10);
    }

    #[test]
    fn a_rescheduled_job_waits_again_under_its_id() {
        // Issue 11: `qmod -rj 179` of a running job (recorded): `r`, then `Rq` (pending,
        // re-queue: sge_status(5)), which was read as running.
        let read = |f: &str| std::fs::read_to_string(format!("tests/fixtures/sge/{f}")).unwrap();
        let before = parse_qstat(&read("qstat-rescheduled-before.txt"));
        assert_eq!(before[&JobId::new("179")].state, JobState::Running);
        let after = parse_qstat(&read("qstat-rescheduled.txt"));
        assert_eq!(after[&JobId::new("179")].state, JobState::Pending);
        assert_eq!(after[&JobId::new("179")].native, "Rq");
        assert_eq!(parse_state("Rr"), JobState::Running);
        assert_eq!(parse_state("Rt"), JobState::Running);
        assert_eq!(parse_state("hRwq"), JobState::Pending);
        assert_eq!(parse_state("dRr"), JobState::Completing);
    }

    #[test]
    fn recorded_qacct_gives_final_states() {
        let out = std::fs::read_to_string("tests/fixtures/sge/qacct-array.txt").unwrap();
        let m = parse_qacct(&out);
        assert_eq!(m.len(), 3);
        assert_eq!(m[&JobId::new("2.1")].state, JobState::Done);
        assert!(m[&JobId::new("2.1")].ended.is_some());
        let timeout = "jobnumber    3\ntaskid       undefined\nfailed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit\nexit_status  137 (Killed)\n";
        assert_eq!(
            parse_qacct(timeout)[&JobId::new("3")].state,
            JobState::Timeout
        );
        let deleted = "jobnumber    4\ntaskid       undefined\nfailed       100 : assumedly after job\nexit_status  137 (Killed)\n";
        assert_eq!(
            parse_qacct(deleted)[&JobId::new("4")].state,
            JobState::Cancelled
        );
    }

    #[test]
    fn a_recorded_eqw_job_is_failed_and_says_why() {
        let read = |f: &str| std::fs::read_to_string(format!("tests/fixtures/sge/{f}")).unwrap();
        let m = parse_qstat(&read("qstat-eqw.txt"));
        assert_eq!(m[&JobId::new("40")].state, JobState::Failed);
        assert_eq!(m[&JobId::new("40")].native, "Eqw");
        assert_eq!(
            parse_error_reasons(&read("qstat-j-eqw.txt")),
            ["12/03/2026 12:57:45 [0:14106]: error: can't open output file \"/tmp/i9-nonexist-sge2/\": Is a directory"]
        );
        assert_eq!(parse_qstat_j(&read("qstat-j-eqw.txt")), [JobId::new("40")]);
    }

    #[test]
    fn qstat_j_finds_jobs_by_name() {
        let out = "==============\njob_number:                 2\njob_name:  rec-b\njob-array tasks:            1-3:1\n";
        assert_eq!(parse_qstat_j(out).len(), 3);
        assert_eq!(parse_qstat_j("job_number:   7\n"), vec![JobId::new("7")]);
    }
}
