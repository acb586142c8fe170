//! LSF: `bsub < script` (`-J name[1-N]` arrays), one `bjobs -a -o` for many jobs, `bkill`.
//! The script goes on stdin so that bsub reads its `#BSUB` directives.

use std::collections::HashMap;

use super::command::{chunk_ids, stderr_only, Runner, MAX_ID_CHARS};
use super::timed::CommandKind;
use super::{Backend, BackendKind, JobId, JobState, JobStatus, SubmitRequest};
use crate::config::Config;

/// bjobs' fixed output format. `exit_code` tells a run-limit kill (140) from other exits.
const BJOBS_FORMAT: &str = "jobid jobindex stat exit_code delimiter='|'";

/// The exit code LSF reports for a job killed at its run limit (`-W`): 128 + 12, SIGUSR2.
/// Recorded job reports show `TERM_RUNLIMIT: job killed after reaching LSF run time limit.`
/// with `Exited with exit code 140.` (see tests/fixtures/lsf/README.md).
pub const RUNLIMIT_EXIT_CODE: i64 = 140;

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
        let out = self.runner.run(&argv, None, CommandKind::Query)?;
        if !out.success() && !bjobs_stderr_only_missing(&out.stderr) {
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

/// Maps an LSF `STAT` (and `EXIT_CODE` once exited) to a [`JobState`]: `EXIT` with the
/// run-limit exit code 140 is `timeout`, any other `EXIT` is `failed`.
pub fn parse_state(stat: &str, exit: Option<i64>) -> JobState {
    match stat {
        "PEND" | "PSUSP" | "WAIT" => JobState::Pending,
        "RUN" | "USUSP" | "SSUSP" | "PROV" => JobState::Running,
        "DONE" => JobState::Done,
        "EXIT" if exit == Some(RUNLIMIT_EXIT_CODE) => JobState::Timeout,
        "EXIT" | "ZOMBI" => JobState::Failed,
        _ => JobState::Unknown,
    }
}

/// Parses `bjobs -noheader -o "jobid jobindex stat exit_code delimiter='|'"`: `4101|0|RUN|-`,
/// `4102|3|PEND|-` (array task 3 -> `4102[3]`), `4103|0|EXIT|140`. Lines of the older
/// three-field format (`4101|0|RUN`, no exit code) are read too.
pub fn parse_bjobs(stdout: &str) -> HashMap<JobId, JobStatus> {
    stdout
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').map(str::trim).collect();
            let (job, index, stat, exit) = match f[..] {
                [job, index, stat] => (job, index, stat, None),
                [job, index, stat, exit] => (job, index, stat, exit.parse().ok()),
                _ => return None,
            };
            let id = match index {
                "0" | "-" => job.to_string(),
                i => format!("{job}[{i}]"),
            };
            let status = JobStatus {
                node: None,
                state: parse_state(stat, exit),
                native: stat.to_string(),
                started: None,
                ended: None,
                reason: exit
                    .filter(|_| stat == "EXIT")
                    .map(|c| format!("exit code {c}")),
            };
            Some((JobId::new(id), status))
        })
        .collect()
}

/// Whether bjobs' stderr only says that some jobs are not found (`Job <4101> is not found`):
/// jobs older than `CLEAN_PERIOD`, not a failure of the command.
pub fn bjobs_stderr_only_missing(stderr: &str) -> bool {
    stderr_only(stderr, &["is not found"])
}

/// Whether bkill's stderr only says that the jobs are already gone:
/// `Job <4101>: Job has already finished` or `Job <4101>: No matching job found`.
pub fn bkill_stderr_only_gone(stderr: &str) -> bool {
    stderr_only(
        stderr,
        &["Job has already finished", "No matching job found"],
    )
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
        // Output files are the script's `#BSUB -o`/`-e` directives (a `-o` here would win
        // over them, and `job_directives_skip` could not drop it).
        let mut argv = vec!["bsub".to_string(), "-J".into(), name];
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
            || self.find_by_name(req.job_name, req.array),
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
            let out = self.runner.run(&argv, None, CommandKind::Cancel)?;
            if !out.success() && !bkill_stderr_only_gone(&out.stderr) {
                return Err(out.error("failed to cancel LSF batch jobs"));
            }
        }
        Ok(())
    }

    /// `PSUSP`: suspended (held) while pending.
    fn held(&self, status: &JobStatus) -> bool {
        status.native == "PSUSP"
    }

    fn find_by_name(&self, name: &str, _array: Option<u32>) -> anyhow::Result<Vec<JobId>> {
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

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("tests/fixtures/lsf/{name}")).unwrap()
    }

    #[test]
    fn hand_written_bsub_answers_parse() {
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
    fn real_bsub_answer_parses() {
        let out = fixture("bsub-lilac-msk.txt");
        assert_eq!(parse_submit(&out).unwrap(), JobId::new("13298296"));
    }

    #[test]
    fn real_bkill_answer_for_a_finished_job_is_not_an_error() {
        assert!(bkill_stderr_only_gone(&fixture(
            "bkill-finished-lilac-msk.txt"
        )));
        // The answer for a running job goes to stdout with exit 0; it is no "gone" message.
        assert!(!bkill_stderr_only_gone(&fixture(
            "bkill-running-lilac-msk.txt"
        )));
        assert!(bjobs_stderr_only_missing("Job <4101> is not found\n\n"));
        assert!(!bjobs_stderr_only_missing("LSF is down. Please wait ...\n"));
    }

    #[test]
    fn run_limit_exit_code_of_a_real_job_report_is_a_timeout() {
        let report = fixture("job-report-runlimit-dtu-excerpt.txt");
        assert!(report.contains("TERM_RUNLIMIT"));
        let code: i64 = report
            .lines()
            .find_map(|l| l.strip_prefix("Exited with exit code "))
            .and_then(|c| c.trim_end_matches('.').parse().ok())
            .unwrap();
        assert_eq!(code, RUNLIMIT_EXIT_CODE);
        assert_eq!(parse_state("EXIT", Some(code)), JobState::Timeout);
        assert_eq!(parse_state("EXIT", Some(1)), JobState::Failed);
        assert_eq!(parse_state("EXIT", None), JobState::Failed);
        assert_eq!(parse_state("DONE", None), JobState::Done);
    }

    #[test]
    fn hand_written_bjobs_maps_states_and_array_tasks() {
        let m = parse_bjobs(&fixture("bjobs.txt"));
        let st = |id: &str| m[&JobId::new(id)].state;
        assert_eq!(st("4101"), JobState::Running);
        assert_eq!(st("4102[1]"), JobState::Done);
        assert_eq!(st("4102[2]"), JobState::Pending);
        assert_eq!(st("4103"), JobState::Failed);
        assert_eq!(st("4104"), JobState::Running);
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn hand_written_bjobs_with_exit_code_maps_run_limit_kills() {
        let m = parse_bjobs(&fixture("bjobs-exit-code.txt"));
        let st = |id: &str| m[&JobId::new(id)].state;
        assert_eq!(st("4101"), JobState::Running);
        assert_eq!(st("4102[1]"), JobState::Done);
        assert_eq!(st("4102[2]"), JobState::Pending);
        assert_eq!(st("4103"), JobState::Timeout);
        assert_eq!(st("4104"), JobState::Failed);
        assert_eq!(st("4105[3]"), JobState::Timeout);
        assert_eq!(m[&JobId::new("4103")].native, "EXIT");
        assert_eq!(m.len(), 6);
    }
}
