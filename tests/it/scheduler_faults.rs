//! Issue 13's fake scheduler suite: the faults that leaked batch jobs, each injected into the
//! fake SLURM of `tests/fake-bin`, whose own record (`jobs`, `cancelled`, `max_live`) is the
//! evidence. After each, the fake holds no live batch job once `up` (or, where `up` says so,
//! `down`) has finished, never held more than `max_jobs`, and no name was submitted twice.
//! The fake's jobs stay running until cancelled (`FAKE_RUNNING_POLLS`) and never start a
//! worker, but in the one case that needs a task run (`FAKE_EXECUTE`).

use std::time::{Duration, Instant};

use crate::harness::{wait_for, Finished, Test};

const MAX_JOBS: u32 = 5;

/// A cluster on the fake SLURM whose batch jobs run until cancelled, with short command
/// time limits.
fn fake(prefix: &str) -> Test {
    Test::new()
        .cluster(prefix)
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
        .env("HPCLUSTER_MAX_JOBS", MAX_JOBS.to_string())
        .env("HPCLUSTER_MAX_ARRAY_SIZE", "1")
        .env("HPCLUSTER_SUBMIT_TIMEOUT", "5s")
        .env("HPCLUSTER_STATUS_TIMEOUT", "5s")
        .env("HPCLUSTER_CANCEL_TIMEOUT", "5s")
}

/// What every scenario promises, from the fake's own record.
fn nothing_left(t: &Test, out: &Finished) {
    assert_eq!(
        t.fake_live(),
        Vec::<String>::new(),
        "live jobs left\n{}",
        out.all()
    );
    assert!(
        t.fake_max_live() <= MAX_JOBS,
        "{} jobs were live at once\n{}",
        t.fake_max_live(),
        out.all()
    );
    assert_eq!(t.fake_duplicates(), Vec::<String>::new(), "{}", out.all());
    let created: Vec<String> = t.fake_jobs().into_iter().map(|(id, _)| id).collect();
    let mut recorded = t.recorded_ids();
    recorded.sort();
    let mut created_sorted = created.clone();
    created_sorted.sort();
    assert_eq!(
        recorded,
        created_sorted,
        "jobs.json vs the fake\n{}",
        out.all()
    );
}

fn tasks(t: &Test, n: usize) -> String {
    let path = t.write("tasks.txt", &"sleep 1\n".repeat(n));
    path.to_str().unwrap().to_string()
}

#[test]
fn a_batch_of_submissions_that_fails_part_way_leaves_no_job_behind() {
    // The server's loop wants 3 batch jobs for 3 tasks of a minute in 2-minute batch jobs;
    // the 2nd sbatch fails: the 1st batch job joins the book and is cancelled at the end.
    let t = fake("partway").env("FAKE_FAIL_sbatch_AT", "2");
    let tasks = tasks(&t, 3);
    let up = t
        .up_tasks("slurm", std::path::Path::new(&tasks))
        .args(&["--walltime", "2m", "--task-time", "1m"])
        .spawn();
    wait_for(30, "the failed second sbatch", || {
        (t.calls_of("sbatch").len() >= 2).then_some(())
    });
    wait_for(30, "the first job recorded", || {
        (t.recorded_ids().len() == 1).then_some(())
    });
    // The loop has taken the failed submission in (not only the batch-system thread).
    up.wait_for_stderr(30, "will retry in 30s");
    let out = up.terminate();
    assert!(
        out.stderr.contains("submitted 1 batch job: 4101\n"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("submitting worker batch jobs failed (will retry in 30s)"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("failed to submit batch job `"),
        "{}",
        out.all()
    );
    assert_eq!(t.calls_of("scancel"), ["scancel 4101"], "{}", out.all());
    nothing_left(&t, &out);
}

#[test]
fn a_failure_in_the_first_jobs_stops_up_and_cancels_what_it_created() {
    let t = fake("firstfail").env("FAKE_FAIL_sbatch_AT", "2");
    let out = t.run(&["up", "--backend", "slurm", "--jobs", "3"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let name = t.name();
    assert!(
        out.stderr.contains(&format!(
            "error: the batch system knows no batch job named `{name}-2`; its submit command \
             said: failed to submit batch job `{name}-2`: `sbatch --parsable --job-name={name}-2"
        )),
        "{}",
        out.all()
    );
    assert_eq!(t.calls_of("sbatch").len(), 2, "{:?}", t.calls());
    assert_eq!(t.calls_of("scancel"), ["scancel 4101"]);
    nothing_left(&t, &out);
}

#[test]
fn ctrl_c_during_the_first_jobs_stops_submitting_and_cancels() {
    let t = fake("ctrlc").env("FAKE_SLOW_sbatch", "1");
    let up = t.spawn(&["up", "--backend", "slurm", "--jobs", "4"]);
    wait_for(30, "the first job created", || {
        (!t.fake_jobs().is_empty()).then_some(())
    });
    up.signal(2);
    let out = up.wait(30);
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert!(
        out.stderr
            .contains("interrupted (Ctrl-C): cancelling the batch jobs"),
        "{}",
        out.all()
    );
    // The submission in flight finished; no further one started.
    assert!(t.calls_of("sbatch").len() < 4, "{:?}", t.calls());
    assert!(!t.cluster_dir().join("server.json").exists());
    nothing_left(&t, &out);
}

#[test]
fn a_second_ctrl_c_exits_at_once_saying_what_is_left_and_down_cleans_up() {
    let t = fake("twice").env("FAKE_SLOW_sbatch", "3");
    let up = t.spawn(&["up", "--backend", "slurm", "--jobs", "3"]);
    wait_for(30, "the first job created", || {
        (!t.fake_jobs().is_empty()).then_some(())
    });
    up.signal(2);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    up.signal(2);
    let out = up.wait(30);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(out.code, Some(130), "{}", out.all());
    let name = t.name();
    assert!(
        out.stderr.contains(&format!(
            "interrupted again: exiting at once, leaving the batch job(s) submitted as \
             `{name}-1` may exist; cancel them with `hpcluster down --name {name}`"
        )),
        "{}",
        out.all()
    );
    assert!(!t.cluster_dir().join("server.json").exists());
    // The sbatch in flight created its job: `down` finds it by name.
    let down = t.run_ok(&["down"]);
    assert!(
        down.contains("found 1 batch job(s) by name whose submission had no readable answer: 4101"),
        "{down}"
    );
    nothing_left(&t, &out);
}

#[test]
fn a_silent_sbatch_is_found_by_name_and_cancelled() {
    let t = fake("silent").env("FAKE_SILENT_sbatch_AT", "1");
    let out = t.run(&["up", "--backend", "slurm", "--jobs", "1"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let name = t.name();
    assert!(
        out.stderr.contains(&format!(
            "error: found batch job(s) 4101 by the name `{name}-1` and recorded them in \
             `jobs.json`; its submit command had said: the answer to the submission of batch \
             job `{name}-1` holds no job ID hpcluster can read: cannot read a job ID from \
             sbatch's output"
        )),
        "{}",
        out.all()
    );
    assert_eq!(t.calls_of("scancel"), ["scancel 4101"]);
    nothing_left(&t, &out);
    // Names are unique across runs of the cluster: the next `up` goes on after `-1`.
    let dry = t.run_ok(&["up", "--dry-run", "--backend", "slurm", "--jobs", "1"]);
    assert!(dry.contains(&format!("# batch job `{name}-2`: ")), "{dry}");
}

#[test]
fn down_cancels_a_batch_job_known_only_by_its_name() {
    // The answer is lost and so is the lookup: `up` leaves the name in `jobs.json`, and
    // `down` finds the batch job by it.
    let t = fake("byname").env("FAKE_SILENT_sbatch_AT", "1");
    let out = t
        .hpcluster(&["up", "--backend", "slurm", "--jobs", "1"])
        .env("FAKE_FAIL_LOOKUP", "1")
        .output();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("`jobs.json` keeps the name, which `up` and `hpcluster down` look up again"),
        "{}",
        out.all()
    );
    assert_eq!(t.fake_live(), ["4101"], "not cancelled by up: it had no ID");
    let down = t.run_ok(&["down"]);
    assert!(
        down.contains("found 1 batch job(s) by name whose submission had no readable answer: 4101"),
        "{down}"
    );
    assert!(down.contains("cancelled 1 batch jobs: 4101"), "{down}");
    nothing_left(&t, &out);
}

#[test]
fn a_hung_squeue_is_a_failed_poll_and_does_not_hold_up_the_exit() {
    let t = fake("hung")
        .env("FAKE_HANG_squeue", "1")
        .env("HPCLUSTER_STATUS_TIMEOUT", "1s");
    let up = t.spawn(&["up", "--backend", "slurm", "--jobs", "2"]);
    wait_for(30, "two recorded jobs", || {
        (t.recorded_ids().len() == 2).then_some(())
    });
    // The first status command hangs past its limit; the next one is in flight, hanging.
    wait_for(30, "two hanging squeue", || {
        (t.fake_file("faults").matches("squeue").count() >= 2).then_some(())
    });
    let t0 = Instant::now();
    let out = up.terminate();
    let took = t0.elapsed();
    eprintln!("exit {took:?} after SIGTERM with a hung squeue");
    assert!(
        took < Duration::from_secs(10),
        "exit took {took:?}\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains(
            "batch job status failed (jobs kept as they were): status unknown this cycle; batch \
             jobs are kept as they were: `squeue -h -t all -r -o %i|%T|%S|%e|%r|%N -j 4101,4102` \
             did not finish within 1s (`status_timeout`); it was stopped"
        ),
        "{}",
        out.all()
    );
    assert_eq!(out.code, Some(130), "{}", out.all());
    assert_eq!(
        t.calls_of("scancel"),
        ["scancel 4101 4102"],
        "{}",
        out.all()
    );
    nothing_left(&t, &out);
}

#[test]
fn max_jobs_holds_for_jobs_and_for_a_resumed_up() {
    let t = fake("maxjobs");
    let up = t.spawn(&[
        "up",
        "--backend",
        "slurm",
        "--max-jobs",
        "2",
        "--jobs",
        "10",
    ]);
    t.wait_states(2, "running", 30);
    up.signal(9);
    let killed = up.wait(10);
    assert!(
        killed.stderr.contains(
            "`--jobs 10` is above `max_jobs` 2: starting 2; raise `max_jobs` to start more"
        ),
        "{}",
        killed.all()
    );
    // The same command again: the 2 live batch jobs are re-attached and count.
    let up = t.spawn(&[
        "up",
        "--backend",
        "slurm",
        "--max-jobs",
        "2",
        "--jobs",
        "10",
    ]);
    wait_for(30, "the re-attached jobs", || {
        std::fs::read_to_string(t.cluster_dir().join("server.json")).ok()
    });
    std::thread::sleep(Duration::from_secs(1));
    let out = up.terminate();
    assert!(
        out.stderr.contains(
            "`--jobs 10` is above `max_jobs` 2 and 2 batch job(s) of the previous run are live: \
             starting 0"
        ),
        "{}",
        out.all()
    );
    assert_eq!(t.calls_of("sbatch").len(), 2, "{:?}", t.calls());
    assert_eq!(t.fake_max_live(), 2);
    nothing_left(&t, &out);
}

/// Issue 9: a batch job held before its worker connects is reported once, with the batch
/// system's reason.
#[test]
fn a_held_batch_job_is_reported_with_its_reason() {
    let t = fake("held").env("FAKE_HELD", "1");
    let up = t.spawn(&["up", "--backend", "slurm", "--jobs", "1"]);
    wait_for(30, "a poll", || {
        (t.calls_of("squeue").len() >= 3).then_some(())
    });
    let out = up.terminate();
    let name = t.name();
    let said = format!(
        "batch job 4101 (`{name}-1`) is held (PENDING, Reason=JobHeldAdmin): it will not start \
         until the hold is released"
    );
    assert_eq!(out.stderr.matches(&said).count(), 1, "{}", out.all());
    nothing_left(&t, &out);
}

/// `--backend pbs` where the `qsub` on PATH is Grid Engine's: it would take the job and answer
/// in words PBS's parser cannot read, leaving a batch job nobody tracks. `up` refuses before
/// submitting anything (the qsub here records any call).
#[test]
fn pbs_with_grid_engines_qsub_is_refused_before_any_submission() {
    let t = Test::new().cluster("foreignq");
    let bin = t.path().join("sge-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let called = t.path().join("qsub-called");
    let qsub = bin.join("qsub");
    std::fs::write(
        &qsub,
        format!(
            "#!/bin/sh\necho called >> {}\necho 'Your job 246 (\"x\") has been submitted'\n",
            called.display()
        ),
    )
    .unwrap();
    std::fs::write(bin.join("qconf"), "#!/bin/sh\n").unwrap();
    for f in ["qsub", "qconf"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let t = t.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let tasks = tasks(&t, 1);
    let out = t
        .up_tasks("pbs", std::path::Path::new(&tasks))
        .args(&["--walltime", "1h", "--task-time", "10m"])
        .output();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "error: the `qsub` on PATH (`{}`) is Grid Engine's (`qconf` stands beside it), not \
             PBS's: set `backend = \"sge\"`, or put PBS's `qsub` first on PATH",
            qsub.display()
        ),
        "{}",
        out.all()
    );
    assert!(!called.exists(), "qsub was called: {}", out.all());
}

/// The fake-SLURM soak's stalled run (seed 1200040): a submit that failed where it may have
/// reached the controller (4 transient failures in a row), whose name the batch system then
/// did not know, stayed open for the rest of the run and counted against `max_jobs`: with
/// `max_jobs` 1, `up` never submitted again and no task ran. Now a submission still absent
/// `submit_timeout` after it was first found absent created nothing: the next submit cycle,
/// 30 s after the failure, submits, and the batch job (the fake runs it) runs the task.
#[test]
fn a_submit_in_doubt_that_created_nothing_stops_counting_against_max_jobs() {
    let t = Test::new()
        .cluster("doubt")
        .fakes()
        .poll("200ms")
        .env("FAKE_EXECUTE", "1")
        .env("FAKE_TRANSIENT_sbatch", "4")
        .env("HPCLUSTER_MAX_JOBS", "1")
        .env("HPCLUSTER_SUBMIT_TIMEOUT", "1s");
    let tasks = t.write("tasks.txt", "true\n");
    let out = t
        .up_tasks("slurm", &tasks)
        .args(&["--walltime", "1m", "--task-time", "5s"])
        .spawn()
        .wait(60);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(crate::harness::summary(&out)[0], 1, "{}", out.all());
    assert!(out.stderr.contains("will retry in 30s"), "{}", out.all());
    assert_eq!(t.fake_jobs().len(), 1, "{}", out.all());
}
