//! PBS, LSF and SLURM through fake commands on PATH that replay recorded outputs, log their
//! argv and inject failures: arrays, banners, retries without duplicates, one status call per
//! poll cycle, permanent errors, missing commands, `--dry-run`.

#[path = "fixtures/support.rs"]
mod support;

use support::{bin, run_ok, Fake, KillOnDrop};

#[test]
fn pbs_array_is_submitted_once_tracked_per_task_and_done() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("pbsc");
        c.args(["up", "--backend", "pbs", "--jobs", "3"]);
        c
    });
    let qsub = f.calls_of("qsub");
    assert_eq!(qsub.len(), 1, "{qsub:?}");
    assert!(qsub[0].contains("-N pbsc-1 -J 1-3"), "{qsub:?}");
    assert!(
        out.contains("submitted 3 batch jobs: 4101[1].server01 4101[2].server01 4101[3].server01"),
        "{out}"
    );
    assert!(
        out.contains("batch job 4101[2].server01: running -> done"),
        "{out}"
    );
    let statuses = f.calls_of("qstat");
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses[0]
        .starts_with("qstat -x -f -t 4101[1].server01 4101[2].server01 4101[3].server01"));
    let jobs = f.jobs_json("pbsc");
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(jobs["jobs"][0]["state"], "done");
}

#[test]
fn pbs_transient_qsub_failure_is_retried_after_a_lookup() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("pbsr");
        c.env("FAKE_TRANSIENT_qsub", "1")
            .args(["up", "--backend", "pbs"]);
        c
    });
    assert_eq!(f.calls_of("qsub").len(), 2);
    assert_eq!(f.calls_of("qselect"), vec!["qselect -N pbsr-1"]);
    assert!(
        out.contains("submitted 1 batch jobs: 4101.server01"),
        "{out}"
    );
}

#[test]
fn lsf_array_goes_through_stdin_and_ends_done() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("lsfc");
        c.args(["up", "--backend", "lsf", "--jobs", "2"]);
        c
    });
    let bsub = f.calls_of("bsub");
    assert_eq!(bsub.len(), 1, "{bsub:?}");
    assert!(bsub[0].starts_with("bsub -J lsfc-1[1-2] -o "), "{bsub:?}");
    let stdin = std::fs::read_to_string(f.state.join("bsub-stdin")).unwrap();
    assert!(stdin.contains(" worker --cluster-dir "), "{stdin}");
    assert!(out.contains("batch job 4101[1]: running -> done"), "{out}");
    assert!(out.contains("batch job 4101[2]: running -> done"), "{out}");
    assert_eq!(f.calls_of("bjobs").len(), 2);
}

#[test]
fn slurm_submit_that_times_out_after_creating_the_job_is_not_duplicated() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("dedup");
        c.env("FAKE_CREATE_THEN_TIMEOUT", "1")
            .args(["up", "--backend", "slurm", "--jobs", "2"]);
        c
    });
    assert_eq!(f.calls_of("sbatch").len(), 1, "{:?}", f.calls());
    let jobs = std::fs::read_to_string(f.state.join("jobs")).unwrap();
    assert_eq!(jobs.lines().count(), 1, "{jobs}");
    assert!(f
        .calls_of("squeue")
        .iter()
        .any(|c| c.contains("--name dedup-1")));
    assert!(
        out.contains("submitted 2 batch jobs: 4101_1 4101_2"),
        "{out}"
    );
}

#[test]
fn slurm_transient_error_without_a_job_is_retried() {
    let f = Fake::new();
    run_ok({
        let mut c = f.cmd("retry");
        c.env("FAKE_TRANSIENT_sbatch", "2")
            .args(["up", "--backend", "slurm"]);
        c
    });
    assert_eq!(f.calls_of("sbatch").len(), 3);
    let jobs = std::fs::read_to_string(f.state.join("jobs")).unwrap();
    assert_eq!(jobs.lines().count(), 1, "{jobs}");
}

#[test]
fn slurm_transient_status_failure_never_marks_jobs_dead() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("flaky");
        // 4 attempts per poll: the first poll fails wholly, the next ones answer.
        c.env("FAKE_TRANSIENT_squeue", "4")
            .args(["up", "--backend", "slurm"]);
        c
    });
    assert!(out.contains("batch job 4101: running -> done"), "{out}");
    assert!(!out.contains("unknown"), "{out}");
}

#[test]
fn slurm_permanent_error_fails_at_once_showing_the_command() {
    let f = Fake::new();
    let out = f
        .cmd("perm")
        .env("FAKE_PERMANENT_sbatch", "1")
        .args(["up", "--backend", "slurm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("failed to submit batch job `perm-1`"), "{err}");
    assert!(err.contains("sbatch --parsable --job-name=perm-1"), "{err}");
    assert!(err.contains("exit status 1"), "{err}");
    assert!(err.contains("Invalid partition name specified"), "{err}");
    assert_eq!(f.calls_of("sbatch").len(), 1);
}

#[test]
fn slurm_500_jobs_take_one_status_command_per_cycle() {
    let f = Fake::new();
    run_ok({
        let mut c = f.cmd("many");
        c.args(["up", "--backend", "slurm", "--jobs", "500"]);
        c
    });
    assert_eq!(f.calls_of("sbatch").len(), 1);
    let polls = f.calls_of("squeue");
    // cycle 1: all running; cycle 2: all completed.
    assert_eq!(polls.len(), 2, "{} squeue calls", polls.len());
    for p in &polls {
        let ids = p.rsplit(' ').next().unwrap();
        assert_eq!(ids.split(',').count(), 500);
    }
}

#[test]
fn arrays_above_the_max_array_size_are_split() {
    let f = Fake::new();
    let out = run_ok({
        let mut c = f.cmd("split");
        c.env("HPCLUSTER_MAX_ARRAY_SIZE", "4")
            .args(["up", "--backend", "slurm", "--jobs", "10"]);
        c
    });
    let sbatch = f.calls_of("sbatch");
    assert_eq!(sbatch.len(), 3);
    assert!(sbatch[0].contains("--job-name=split-1 --array=1-4"));
    assert!(sbatch[2].contains("--job-name=split-3 --array=1-2"));
    assert!(out.contains("submitted 10 batch jobs"), "{out}");
    assert_eq!(f.calls_of("squeue").len(), 2);
}

#[test]
fn down_cancels_every_job_in_one_call_and_records_it() {
    let f = Fake::new();
    // `up` polls once an hour here, so its jobs stay pending until `down` cancels them.
    let up = f
        .cmd("downc")
        .env("HPCLUSTER_POLL_INTERVAL", "1h")
        .args(["up", "--backend", "pbs", "--jobs", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let up = KillOnDrop(Some(up));
    let jobs = f.work.path().join(".hpcluster/downc/jobs.json");
    for _ in 0..100 {
        if jobs.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = run_ok({
        let mut c = f.cmd("downc");
        c.arg("down");
        c
    });
    assert!(out.contains("cancelled 3 batch jobs"), "{out}");
    let qdel = f.calls_of("qdel");
    assert_eq!(
        qdel,
        vec!["qdel 4101[1].server01 4101[2].server01 4101[3].server01"]
    );
    let status = run_ok({
        let mut c = f.cmd("downc");
        c.args(["status", "--json"]);
        c
    });
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    for j in v["jobs"].as_array().unwrap() {
        assert_eq!(j["state"], "cancelled", "{status}");
    }
    // SIGTERM: `up` cancels what is left (nothing) and says so.
    let out = up.terminate();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("interrupted: cancelled"), "{stdout}");
}

#[test]
fn a_missing_command_names_the_backend_and_the_ways_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(tmp.path())
        .env("PATH", tmp.path())
        .args(["up", "--backend", "sge"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
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
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok({
        let mut c = bin();
        c.current_dir(tmp.path())
            .env("PATH", tmp.path())
            .env("HPCLUSTER_NAME", "dry")
            .env("HPCLUSTER_MAX_ARRAY_SIZE", "2")
            .args(["up", "--dry-run", "--backend", "slurm", "--jobs", "3"]);
        c
    });
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
    assert!(!tmp.path().join(".hpcluster").exists());
}
