//! PBS Pro / OpenPBS / Torque: `qsub` (`-J` arrays), one `qstat -x -f -t` for many jobs,
//! `qdel`, `qselect -N` to find a job by name.

use std::collections::HashMap;

use super::command::{chunk_ids, Runner, MAX_ID_CHARS};
use super::{clock, Backend, BackendKind, JobId, JobState, JobStatus, SubmitRequest};
use crate::config::Config;

pub struct Pbs {
    runner: Runner,
    submit_extra: Vec<String>,
    cancel_extra: Vec<String>,
}

impl Pbs {
    pub fn new(config: &Config, runner: Runner) -> Pbs {
        Pbs {
            runner,
            submit_extra: config.submit_command_extra.clone(),
            cancel_extra: config.cancel_command_extra.clone(),
        }
    }
}

/// Whether a line is wholly a PBS job ID: `4101`, `4101.server01`, `4101[].server01`.
fn is_pbs_id(line: &str) -> bool {
    let (num, rest) = line.split_at(
        line.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(line.len()),
    );
    let rest = rest.strip_prefix("[]").unwrap_or(rest);
    !num.is_empty()
        && (rest.is_empty()
            || rest.strip_prefix('.').is_some_and(|host| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            }))
}

/// Parses qsub's answer (`4101.server01`, `4101[].server01`); banner lines are skipped.
pub fn parse_submit(stdout: &str) -> anyhow::Result<JobId> {
    stdout
        .lines()
        .map(str::trim)
        .rfind(|l| is_pbs_id(l))
        .map(JobId::new)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot read a job ID from qsub's output: expected `N.server` or `N[].server`, \
                 got:\n{}",
                stdout.trim_end()
            )
        })
}

/// The IDs of array tasks `1..=n` of `4101[].server01`: `4101[1].server01`, ...
pub fn expand_array(parent: &JobId, n: u32) -> Vec<JobId> {
    match parent.id.split_once("[]") {
        Some((num, host)) => super::expand_array(n, |i| format!("{num}[{i}]{host}")),
        None => vec![parent.clone()],
    }
}

/// Maps a PBS `job_state` (and `Exit_status` once finished) to a [`JobState`].
pub fn parse_state(code: &str, exit: Option<i64>) -> JobState {
    match code {
        "Q" | "H" | "W" | "T" | "S" | "U" => JobState::Pending,
        "R" | "B" => JobState::Running,
        "E" => JobState::Completing,
        "F" | "X" | "C" => match exit {
            Some(0) => JobState::Done,
            Some(-29) | Some(-11) => JobState::Timeout, // JOB_EXEC_KILL_WALLTIME (Pro, Torque)
            Some(271) | Some(265) => JobState::Cancelled, // killed by qdel: SIGTERM / SIGKILL
            None if code == "X" => JobState::Cancelled, // subjob deleted before it ran
            _ => JobState::Failed,
        },
        _ => JobState::Unknown,
    }
}

/// Parses `qstat -x -f -t`: blocks of `Job Id: ID` then `    key = value` lines.
pub fn parse_qstat(stdout: &str) -> HashMap<JobId, JobStatus> {
    let mut out = HashMap::new();
    let mut blocks: Vec<(String, HashMap<String, String>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(id) = line.strip_prefix("Job Id:") {
            blocks.push((id.trim().to_string(), HashMap::new()));
        } else if let (Some((_, fields)), Some((k, v))) =
            (blocks.last_mut(), line.split_once(" = "))
        {
            fields.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    for (id, f) in blocks {
        if id.contains("[]") {
            continue; // the array parent: its tasks are listed on their own with -t
        }
        let code = f.get("job_state").cloned().unwrap_or_default();
        let exit = f.get("Exit_status").and_then(|e| e.parse().ok());
        let state = parse_state(&code, exit);
        let time = |k: &str| f.get(k).and_then(|v| clock::parse_ctime(v));
        out.insert(
            JobId::new(id),
            JobStatus {
                state,
                native: code,
                started: time("stime").or_else(|| time("start_time")),
                ended: time("obittime")
                    .or_else(|| time("comp_time"))
                    .filter(|_| state.is_final()),
            },
        );
    }
    out
}

impl Backend for Pbs {
    fn kind(&self) -> BackendKind {
        BackendKind::Pbs
    }

    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String> {
        let mut argv = vec!["qsub".to_string(), "-N".into(), req.job_name.to_string()];
        if let Some(n) = req.array {
            argv.extend(["-J".to_string(), format!("1-{n}")]);
        }
        argv.extend(self.submit_extra.iter().cloned());
        argv.push(req.script.display().to_string());
        argv
    }

    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>> {
        let expand = |ids: Vec<JobId>| -> Vec<JobId> {
            ids.iter()
                .flat_map(|j| expand_array(j, req.array.unwrap_or(1)))
                .collect()
        };
        self.runner.submit(
            &self.submit_argv(req),
            req.workdir,
            req.job_name,
            |out| parse_submit(out).map(|j| expand(vec![j])),
            || self.find_by_name(req.job_name).map(expand),
        )
    }

    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut all = HashMap::new();
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let mut argv: Vec<String> = ["qstat", "-x", "-f", "-t"].map(String::from).to_vec();
            argv.extend(chunk.iter().map(|j| j.id.clone()));
            let out = self.runner.run(&argv, None)?;
            let only_unknown = out.stderr.lines().all(|l| l.contains("Unknown Job Id"));
            if !out.success() && !only_unknown {
                return Err(out.error("failed to read the status of PBS batch jobs"));
            }
            all.extend(parse_qstat(&out.stdout));
        }
        all.retain(|id, _| ids.contains(id));
        Ok(all)
    }

    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()> {
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let mut argv = vec!["qdel".to_string()];
            argv.extend(self.cancel_extra.iter().cloned());
            argv.extend(chunk.iter().map(|j| j.id.clone()));
            let out = self.runner.run(&argv, None)?;
            let gone = out
                .stderr
                .lines()
                .all(|l| l.contains("Unknown Job Id") || l.contains("Job has finished"));
            if !out.success() && !gone {
                return Err(out.error("failed to cancel PBS batch jobs"));
            }
        }
        Ok(())
    }

    fn find_by_name(&self, name: &str) -> anyhow::Result<Vec<JobId>> {
        let argv = vec!["qselect".to_string(), "-N".into(), name.to_string()];
        let out = self.runner.run(&argv, None)?;
        if !out.success() {
            return Err(out.error("failed to look up PBS batch jobs by name"));
        }
        Ok(out
            .stdout
            .split_whitespace()
            .filter(|l| is_pbs_id(l))
            .map(JobId::new)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_qsub_answer_parses() {
        assert_eq!(
            parse_submit("4101.server01\n").unwrap(),
            JobId::new("4101.server01")
        );
        assert_eq!(
            parse_submit("4101[].server01\n").unwrap(),
            JobId::new("4101[].server01")
        );
        assert_eq!(
            parse_submit("Welcome to cluster2!\n4101.pbs-2.example.org\n").unwrap(),
            JobId::new("4101.pbs-2.example.org")
        );
        assert!(parse_submit("qsub: Job has been rejected 12\n").is_err());
        let tasks = expand_array(&JobId::new("4101[].server01"), 3);
        assert_eq!(tasks[2], JobId::new("4101[3].server01"));
    }

    #[test]
    fn recorded_qstat_full_maps_states() {
        let out = std::fs::read_to_string("tests/fixtures/pbs/qstat-xft.txt").unwrap();
        let m = parse_qstat(&out);
        let st = |id: &str| m[&JobId::new(id)].state;
        assert_eq!(st("4101.server01"), JobState::Done);
        assert_eq!(st("4102[1].server01"), JobState::Running);
        assert_eq!(st("4102[2].server01"), JobState::Pending);
        assert_eq!(st("4103.server01"), JobState::Timeout);
        assert_eq!(st("4104.server01"), JobState::Cancelled);
        assert!(m[&JobId::new("4101.server01")].ended.is_some());
        assert_eq!(m.len(), 5);
    }
}
