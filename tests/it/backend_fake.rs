//! PBS, LSF and SLURM through fake commands on PATH that replay recorded outputs, log their
//! argv and inject failures: arrays, banners, retries without duplicates, one status call per
//! poll cycle, permanent errors, missing commands, `--dry-run`.
//!
//! `up --jobs N` without `--tasks` is an open cluster that runs until SIGTERM: each test waits
//! for the state it needs in `jobs.json`, then stops `up`. The fakes' jobs never start a worker.

use crate::harness::Test;

/// A cluster named `name` with the fakes first on PATH, polled every 200 ms.
fn fake(name: &str) -> Test {
    Test::new().named(name).fakes().poll("200ms")
}

#[test]
fn pbs_array_is_submitted_once_tracked_per_task_and_done() {
    let f = fake("pbsc");
    let out = f.up_until(&["--backend", "pbs", "--jobs", "3"], 3, "done");
    let qsub = f.calls_of("qsub");
    assert_eq!(qsub.len(), 1, "{qsub:?}");
    assert!(qsub[0].contains("-N pbsc-1 -J 1-3"), "{qsub:?}");
    assert!(
        out.stderr.contains(
            "submitted 3 batch job(s): 4101[1].server01 4101[2].server01 4101[3].server01"
        ),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("batch job 4101[2].server01: running -> done"),
        "{}",
        out.all()
    );
    let statuses = f.calls_of("qstat");
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses[0]
        .starts_with("qstat -x -f -t 4101[1].server01 4101[2].server01 4101[3].server01"));
    let jobs = f.jobs_json();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(jobs["jobs"][0]["state"], "done");
}

#[test]
fn pbs_transient_qsub_failure_is_retried_after_a_lookup() {
    let f = fake("pbsr").env("FAKE_TRANSIENT_qsub", "1");
    let out = f.up_until(&["--backend", "pbs", "--jobs", "1"], 1, "done");
    assert_eq!(f.calls_of("qsub").len(), 2);
    assert_eq!(f.calls_of("qselect"), vec!["qselect -N pbsr-1"]);
    assert!(
        out.stderr
            .contains("submitted 1 batch job(s): 4101.server01\n"),
        "{}",
        out.all()
    );
}

#[test]
fn lsf_array_goes_through_stdin_and_ends_done() {
    let f = fake("lsfc");
    let out = f.up_until(&["--backend", "lsf", "--jobs", "2"], 2, "done");
    let bsub = f.calls_of("bsub");
    assert_eq!(bsub.len(), 1, "{bsub:?}");
    // Issue 9: the output files are the script's `#BSUB -o`/`-e` alone: no `-o` on the command
    // line overrides `log_directory` (it used to be `bsub -J lsfc-1[1-2] -o <logs>/... < ...`).
    // (The script goes on stdin, which is no argument.)
    assert_eq!(bsub[0], "bsub -J lsfc-1[1-2]", "{bsub:?}");
    let stdin = f.fake_file("bsub-stdin");
    assert!(stdin.contains(" worker --cluster-dir "), "{stdin}");
    assert!(
        out.stderr.contains("batch job 4101[1]: running -> done"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("batch job 4101[2]: running -> done"),
        "{}",
        out.all()
    );
    let bjobs = f.calls_of("bjobs");
    assert_eq!(bjobs.len(), 2);
    assert!(
        bjobs[0].starts_with("bjobs -a -noheader -o jobid jobindex stat exit_code delimiter='|' "),
        "{bjobs:?}"
    );
}

#[test]
fn slurm_submit_that_times_out_after_creating_the_job_is_not_duplicated() {
    let f = fake("dedup").env("FAKE_CREATE_THEN_TIMEOUT", "1");
    let out = f.up_until(&["--backend", "slurm", "--jobs", "2"], 2, "done");
    assert_eq!(f.calls_of("sbatch").len(), 1, "{:?}", f.calls());
    let jobs = f.fake_file("jobs");
    assert_eq!(jobs.lines().count(), 1, "{jobs}");
    assert!(f
        .calls_of("squeue")
        .iter()
        .any(|c| c.contains("--name dedup-1")));
    assert!(
        out.stderr
            .contains("submitted 2 batch job(s): 4101_1 4101_2\n"),
        "{}",
        out.all()
    );
    assert_eq!(f.recorded_states().len(), 2);
}

#[test]
fn slurm_transient_error_without_a_job_is_retried() {
    let f = fake("retry").env("FAKE_TRANSIENT_sbatch", "2");
    f.up_until(&["--backend", "slurm", "--jobs", "1"], 1, "done");
    assert_eq!(f.calls_of("sbatch").len(), 3);
    let jobs = f.fake_file("jobs");
    assert_eq!(jobs.lines().count(), 1, "{jobs}");
}

#[test]
fn slurm_transient_status_failure_never_marks_jobs_dead() {
    // 4 attempts per poll: the first poll fails wholly, the next ones answer.
    let f = fake("flaky").env("FAKE_TRANSIENT_squeue", "4");
    let out = f.up_until(&["--backend", "slurm", "--jobs", "1"], 1, "done");
    assert!(
        out.stderr.contains("batch job status failed"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("batch job 4101: running -> done"),
        "{}",
        out.all()
    );
    assert!(!out.stderr.contains("-> unknown"), "{}", out.all());
}

#[test]
fn slurm_permanent_error_fails_at_once_showing_the_command() {
    let f = fake("perm");
    let out = f
        .hpcluster(&["up", "--backend", "slurm", "--jobs", "1"])
        .env("FAKE_PERMANENT_sbatch", "1")
        .output();
    assert_eq!(out.code, Some(1));
    let err = out.stderr;
    assert!(err.contains("failed to submit batch job `perm-1`"), "{err}");
    assert!(err.contains("sbatch --parsable --job-name=perm-1"), "{err}");
    assert!(err.contains("exit status 1"), "{err}");
    assert!(err.contains("Invalid partition name specified"), "{err}");
    assert_eq!(f.calls_of("sbatch").len(), 1);
}

#[test]
fn slurm_500_jobs_take_one_status_command_per_cycle() {
    // `max_jobs` is a hard limit on `--jobs` too (issue 13).
    let f = fake("many").env("HPCLUSTER_MAX_JOBS", "500");
    f.up_until(&["--backend", "slurm", "--jobs", "500"], 500, "done");
    assert_eq!(f.calls_of("sbatch").len(), 1);
    let polls = f.calls_of("squeue");
    // cycle 1: all running; cycle 2: all completed; no poll once nothing is live.
    assert_eq!(polls.len(), 2, "{} squeue calls", polls.len());
    for p in &polls {
        let ids = p.rsplit(' ').next().unwrap();
        assert_eq!(ids.split(',').count(), 500);
    }
}

#[test]
fn arrays_above_the_max_array_size_are_split() {
    let f = fake("split").env("HPCLUSTER_MAX_ARRAY_SIZE", "4");
    let out = f.up_until(&["--backend", "slurm", "--jobs", "10"], 10, "done");
    let sbatch = f.calls_of("sbatch");
    assert_eq!(sbatch.len(), 3);
    assert!(sbatch[0].contains("--job-name=split-1 --array=1-4"));
    assert!(sbatch[2].contains("--job-name=split-3 --array=1-2"));
    assert!(
        out.stderr.contains("submitted 10 batch job(s)"),
        "{}",
        out.all()
    );
    assert_eq!(f.calls_of("squeue").len(), 2);
}

/// `down` with a server running stops it; the server cancels every batch job in one call.
#[test]
fn down_stops_the_server_which_cancels_every_job_in_one_call() {
    // `up` polls once an hour here, so its jobs stay running (after the first poll) until they are cancelled.
    let f = fake("downc");
    let up = f
        .hpcluster(&["up", "--backend", "pbs", "--jobs", "3"])
        .env("HPCLUSTER_POLL_INTERVAL", "1h")
        .spawn();
    f.wait_states(3, "running", 20);
    let down = f.run_ok(&["down"]);
    assert!(down.contains("stopping the server"), "{down}");
    let out = up.wait(30);
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert!(
        out.stderr
            .contains("cancelled 3 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    assert_eq!(
        f.calls_of("qdel"),
        vec!["qdel 4101[1].server01 4101[2].server01 4101[3].server01"]
    );
    let status = f.run_ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["jobs"].as_array().unwrap().len(), 3, "{status}");
    for j in v["jobs"].as_array().unwrap() {
        assert_eq!(j["state"], "cancelled", "{status}");
    }
}

/// `down` without a server (it was killed) cancels every batch job itself, in one call.
#[test]
fn down_without_a_server_cancels_every_job_in_one_call_and_records_it() {
    let f = fake("downk");
    let up = f
        .hpcluster(&["up", "--backend", "pbs", "--jobs", "3"])
        .env("HPCLUSTER_POLL_INTERVAL", "1h")
        .spawn();
    f.wait_states(3, "running", 20);
    up.signal(9);
    let killed = up.wait(10);
    assert_eq!(killed.code, None, "{}", killed.all());
    let out = f.run_ok(&["down"]);
    assert!(!out.contains("stopping the server"), "{out}");
    assert!(out.contains("cancelled 3 batch jobs"), "{out}");
    assert_eq!(
        f.calls_of("qdel"),
        vec!["qdel 4101[1].server01 4101[2].server01 4101[3].server01"]
    );
    assert_eq!(f.recorded_states(), vec!["cancelled"; 3]);
}

#[test]
fn a_missing_command_names_the_backend_and_the_ways_out() {
    let t = Test::new();
    let out = t
        .hpcluster(&["up", "--backend", "sge", "--jobs", "1"])
        .env("PATH", t.path())
        .output();
    assert_eq!(out.code, Some(1));
    let err = out.stderr;
    assert!(
        err.contains("`qsub` not found on PATH: the `sge` backend needs it"),
        "{err}"
    );
    assert!(
        err.contains("--dry-run") && err.contains("backend = \"local\""),
        "{err}"
    );
}

#[test]
fn dry_run_prints_every_script_and_command_and_creates_nothing() {
    let t = Test::new()
        .named("dry")
        .env("HPCLUSTER_MAX_ARRAY_SIZE", "2");
    let out = t
        .hpcluster(&["up", "--dry-run", "--backend", "slurm", "--jobs", "3"])
        .env("PATH", t.path())
        .ok();
    assert!(out.contains("# batch job `dry-1` (array of 2)"), "{out}");
    assert!(out.contains("# batch job `dry-2`: "), "{out}");
    assert!(
        out.contains("sbatch --parsable --job-name=dry-1 --array=1-2 "),
        "{out}"
    );
    assert!(
        out.contains("sbatch --parsable --job-name=dry-2 /"),
        "{out}"
    );
    assert_eq!(out.matches(" worker --cluster-dir ").count(), 2, "{out}");
    assert!(!t.path().join(".hpcluster").exists());
}

/// A submit whose answer holds no readable job ID stops `up` at once (a retry would only make
/// more batch jobs it cannot track), and a Grid Engine answer to the PBS backend says so.
#[test]
fn an_unreadable_submit_answer_stops_up_after_one_submit() {
    // Grid Engine's qsub, qstat and qdel on PATH.
    let f = fake("wrongq").env("FAKE_GRID_ENGINE", "1");
    let tasks = f.write("tasks.txt", "true\ntrue\n");
    let out = f
        .hpcluster(&[
            "up",
            "--backend",
            "pbs",
            "--walltime",
            "1h",
            "--task-time",
            "1m",
            "--tasks",
            tasks.to_str().unwrap(),
        ])
        .spawn()
        .wait(60);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("cannot read a job ID from qsub's output"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("this `qsub` is Grid Engine's, not PBS's: set `backend = \"sge\"`"),
        "{}",
        out.all()
    );
    // Issue 9: the batch job is not left untracked: it is looked up by its name, recorded,
    // and cancelled when `up` stops (it used to say the job "may exist: find it by that name").
    assert!(
        out.stderr.contains(
            "found batch job(s) 4101.server01 by the name `wrongq-1` and recorded them in \
             `jobs.json`; its submit command had said: the answer to the submission of batch \
             job `wrongq-1` holds no job ID hpcluster can read: cannot read a job ID"
        ),
        "{}",
        out.all()
    );
    assert_eq!(f.calls_of("qsub").len(), 1, "{:?}", f.calls());
    assert_eq!(f.calls_of("qselect"), ["qselect -N wrongq-1"]);
    assert_eq!(f.calls_of("qdel"), ["qdel 4101.server01"]);
    assert_eq!(f.recorded_ids(), ["4101.server01"]);
}

/// Issue 9: a `qsub` that answers in a sentence (NQSII's `Request N.server was submitted to
/// queue: ...`, tests/fixtures/pbs/README.md) is read, and the batch job tracked to its end.
#[test]
fn pbs_answer_in_a_sentence_is_read_and_tracked() {
    let f = fake("pbssent").env("FAKE_PBS_SENTENCE", "1");
    let out = f.up_until(&["--backend", "pbs", "--jobs", "1"], 1, "done");
    assert!(
        out.stderr
            .contains("submitted 1 batch job(s): 4101.server01\n"),
        "{}",
        out.all()
    );
    assert_eq!(f.recorded_ids(), ["4101.server01"]);
    assert!(
        f.calls_of("qstat")[0].ends_with(" 4101.server01"),
        "{:?}",
        f.calls()
    );
}

/// Issue 9: an array answer (`N[].server`) to a submission of one batch job is tracked by the
/// subjob `qstat -t` lists for it, not by the parent nor a guessed name.
#[test]
fn pbs_array_answer_to_one_job_is_tracked_by_its_subjob() {
    let f = fake("pbsarr").env("FAKE_PBS_ARRAY_ANSWER", "1");
    let out = f.up_until(&["--backend", "pbs", "--jobs", "1"], 1, "done");
    assert_eq!(f.calls_of("qsub").len(), 1, "{:?}", f.calls());
    assert!(!f.calls_of("qsub")[0].contains(" -J "), "{:?}", f.calls());
    assert_eq!(
        f.calls_of("qstat")[0],
        "qstat -x -f -t 4101[].server01",
        "the subjobs are asked for"
    );
    assert!(
        out.stderr
            .contains("submitted 1 batch job(s): 4101[1].server01\n"),
        "{}",
        out.all()
    );
    assert_eq!(f.recorded_ids(), ["4101[1].server01"]);
}
