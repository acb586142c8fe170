//! LSF: `bsub < script` (`-J name[1-N]` arrays), one `bjobs -a -o` for many jobs, `bkill`.
//! The script goes on stdin so that bsub reads its `#BSUB` directives.

use std::collections::HashMap;

use super::command::{chunk_ids, Runner, MAX_ID_CHARS};
use super::{Backend, BackendKind, JobId, JobState, JobStatus, SubmitRequest};
use crate::config::Config;

/// bjobs' fixed output format.
const BJOBS_FORMAT: &str = "jobid jobindex stat delimiter='|'";

pub struct Lsf {
    runner: Runner,
    submit_extra: Vec<String>,
    cancel_extra: Vec<String>,
}

impl Lsf {
    pub fn new(config: &Config, runner: Runner) -> Lsf {
        Lsf {
            runner,
            submit_extra: config.submit_command_extra.clone(),
            cancel_extra: config.cancel_command_extra.clone(),
        }
    }

    fn bjobs(&self, args: &[String], what: &str) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut argv: Vec<String> = ["bjobs", "-a", "-noheader", "-o", BJOBS_FORMAT]
            .map(String::from)
            .to_vec();
        argv.extend(args.iter().cloned());
        let out = self.runner.run(&argv, None)?;
        let only_missing = out
            .stderr
            .lines()
            .all(|l| l.contains("is not found") || l.trim().is_empty());
        if !out.success() && !only_missing {
            return Err(out.error(what));
        }
        Ok(parse_bjobs(&out.stdout))
    }
}

/// Parses bsub's answer: `Job <4101> is submitted to queue <normal>.` (or `default queue`).
/// Other lines are skipped.
pub fn parse_submit(stdout: &str) -> anyhow::Result<JobId> {
    let parse_line = |line: &str| -> Option<JobId> {
        let rest = line.trim().strip_prefix("Job <")?;
        let (id, rest) = rest.split_once('>')?;
        let ok = rest.starts_with(" is submitted to ") && id.bytes().all(|b| b.is_ascii_digit());
        (ok && !id.is_empty()).then(|| JobId::new(id))
    };
    stdout
        .lines()
        .filter_map(parse_line)
        .next_back()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot read a job ID from bsub's output: expected `Job <N> is submitted to queue \
             <q>.`, got:\n{}",
                stdout.trim_end()
            )
        })
}

/// Maps an LSF `STAT` to a [`JobState`].
pub fn parse_state(stat: &str) -> JobState {
    match stat {
        "PEND" | "PSUSP" | "WAIT" => JobState::Pending,
        "RUN" | "USUSP" | "SSUSP" | "PROV" => JobState::Running,
        "DONE" => JobState::Done,
        "EXIT" | "ZOMBI" => JobState::Failed,
        _ => JobState::Unknown,
    }
}

/// Parses `bjobs -noheader -o "jobid jobindex stat delimiter='|'"`: `4101|0|RUN`,
/// `4102|3|PEND` (array task 3 -> `4102[3]`).
pub fn parse_bjobs(stdout: &str) -> HashMap<JobId, JobStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').collect();
            let [job, index, stat] = f[..] else {
                return None;
            };
            let id = match index {
                "0" | "-" => job.to_string(),
                i => format!("{job}[{i}]"),
            };
            let status = JobStatus {
                state: parse_state(stat),
                native: stat.to_string(),
                started: None,
                ended: None,
            };
            Some((JobId::new(id), status))
        })
        .collect()
}

impl Backend for Lsf {
    fn kind(&self) -> BackendKind {
        BackendKind::Lsf
    }

    fn submit_argv(&self, req: &SubmitRequest<'_>) -> Vec<String> {
        let name = match req.array {
            Some(n) => format!("{}[1-{n}]", req.job_name),
            None => req.job_name.to_string(),
        };
        let log = req.workdir.join(format!("{}.%J.%I.out", req.job_name));
        let mut argv = vec!["bsub".to_string(), "-J".into(), name];
        argv.extend(["-o".to_string(), log.display().to_string()]);
        argv.extend(self.submit_extra.iter().cloned());
        argv.extend(["<".to_string(), req.script.display().to_string()]);
        argv
    }

    fn submit(&self, req: &SubmitRequest<'_>) -> anyhow::Result<Vec<JobId>> {
        let expand = |job: JobId| match req.array {
            Some(n) => super::expand_array(n, |i| format!("{}[{i}]", job.id)),
            None => vec![job],
        };
        self.runner.submit(
            &self.submit_argv(req),
            req.workdir,
            req.job_name,
            |out| parse_submit(out).map(expand),
            || self.find_by_name(req.job_name),
        )
    }

    fn status(&self, ids: &[JobId]) -> anyhow::Result<HashMap<JobId, JobStatus>> {
        let mut all = HashMap::new();
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let args: Vec<String> = chunk.iter().map(|j| j.id.clone()).collect();
            all.extend(self.bjobs(&args, "failed to read the status of LSF batch jobs")?);
        }
        all.retain(|id, _| ids.contains(id));
        Ok(all)
    }

    fn cancel(&self, ids: &[JobId]) -> anyhow::Result<()> {
        for chunk in chunk_ids(ids, MAX_ID_CHARS) {
            let mut argv = vec!["bkill".to_string()];
            argv.extend(self.cancel_extra.iter().cloned());
            argv.extend(chunk.iter().map(|j| j.id.clone()));
            let out = self.runner.run(&argv, None)?;
            let gone = out.stderr.lines().all(|l| {
                l.contains("Job has already finished") || l.contains("No matching job found")
            });
            if !out.success() && !gone {
                return Err(out.error("failed to cancel LSF batch jobs"));
            }
        }
        Ok(())
    }

    fn find_by_name(&self, name: &str) -> anyhow::Result<Vec<JobId>> {
        let args = vec!["-J".to_string(), name.to_string()];
        let mut ids: Vec<JobId> = self
            .bjobs(&args, "failed to look up LSF batch jobs by name")?
            .into_keys()
            .collect();
        ids.sort();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_bsub_answer_parses() {
        let cases = [
            "Job <4101> is submitted to queue <normal>.\n",
            "Job <4101> is submitted to default queue <normal>.\n",
            "Welcome to cluster2!\nJob <4101> is submitted to queue <short>.\n",
            "Job <12> will be scheduled\nJob <4101> is submitted to default queue <normal>.\n",
        ];
        for out in cases {
            assert_eq!(parse_submit(out).unwrap(), JobId::new("4101"), "{out:?}");
        }
        let err = parse_submit("Request aborted by esub. Job not submitted.\n").unwrap_err();
        assert!(err.to_string().contains("Request aborted by esub"));
    }

    #[test]
    fn recorded_bjobs_maps_states_and_array_tasks() {
        let out = std::fs::read_to_string("tests/fixtures/lsf/bjobs.txt").unwrap();
        let m = parse_bjobs(&out);
        let st = |id: &str| m[&JobId::new(id)].state;
        assert_eq!(st("4101"), JobState::Running);
        assert_eq!(st("4102[1]"), JobState::Done);
        assert_eq!(st("4102[2]"), JobState::Pending);
        assert_eq!(st("4103"), JobState::Failed);
        assert_eq!(st("4104"), JobState::Running);
        assert_eq!(m.len(), 5);
    }
}
