//! Issue 11: the batch system's own warning reaches the tasks, on the real SLURM and SGE that
//! `scripts/test.sh` starts (skipped with a reason when absent, mandatory under `CI=true`).
//! A task that saves on its `checkpoint_signal` (USR2) runs in a batch job with a 5-minute
//! walltime and a 20 s `checkpoint_lead`, so the worker's own clock would ask it only 4m40s
//! in. The batch system warns the batch job instead (SLURM: `scancel --signal=USR1 --batch`,
//! what `--signal=B:USR1@20` does 20 s before the end; SGE: a soft walltime `s_rt` of 20 s):
//! the job script passes SIGUSR1 on to the worker, the task gets USR2 at once, saves and exits
//! 85, the warned worker starts nothing that does not end within the lead (the task's 30 s do
//! not fit) and retires, and the task's second run, in a new batch job, finishes it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{ev, summary, wait_for, Finished, Test};
use crate::real::Sched;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts the cluster of `t` with one checkpointing task under `walltime`; `warn` warns the
/// first batch job (given its ID) once the task runs, and returns when it did. Returns `up`'s
/// output, the time of the warning, and when the task says it got its checkpoint signal.
fn warned_run(
    s: &Sched,
    t: &Test,
    walltime: &str,
    warn: impl FnOnce(&str) -> u64,
) -> (Finished, u64, u64) {
    let d = t.path().display().to_string();
    let cmd = format!(
        "trap 'echo $HPCLUSTER_ATTEMPT $(date +%s) >> {d}/signalled; exit 85' USR2; \
         echo $HPCLUSTER_ATTEMPT >> {d}/starts; \
         [ $HPCLUSTER_ATTEMPT -ge 2 ] && exit 0; \
         while :; do sleep 1 & wait $!; done"
    );
    let task = serde_json::json!({"cmd": cmd, "time": "30s"});
    let tasks = t.write("tasks.jsonl", &format!("{task}\n"));
    let t0 = Instant::now();
    let up = t
        .up_tasks(s.backend, &tasks)
        .args(&["--walltime", walltime, "--buffer", "1s", "--max-jobs", "2"])
        .spawn();
    let job = wait_for(60, "the task's first run", || {
        let journal = t.journal();
        let job = ev(&journal, "started")
            .next()
            .and_then(|e| e["job"].as_str().map(String::from));
        job
    });
    let warned = warn(&job);
    let out = up.wait(180);
    assert!(
        t0.elapsed() < Duration::from_secs(150),
        "the run waited for the worker's own clock: {:?}\n{}",
        t0.elapsed(),
        out.all()
    );
    let signalled = std::fs::read_to_string(t.path().join("signalled"))
        .unwrap_or_else(|e| panic!("the task got no checkpoint signal ({e}):\n{}", out.all()));
    let (attempt, at) = signalled.trim().split_once(' ').unwrap();
    assert_eq!(attempt, "1", "{signalled}");
    (out, warned, at.parse().unwrap())
}

/// What every warned run ends with: done in two runs, one checkpointed, two batch jobs.
fn assert_resumed(t: &Test, out: &Finished) {
    assert_eq!(out.code, Some(0), "{}", out.all());
    let starts = std::fs::read_to_string(t.path().join("starts")).unwrap();
    assert_eq!(starts, "1\n2\n", "{}", out.all());
    let [done, failed, _, retried, walltime_kills, _] = summary(out);
    assert_eq!(
        (done, failed, retried, walltime_kills),
        (1, 0, 0, 0),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("1 checkpointed"), "{}", out.all());
    let journal = t.journal();
    let jobs: Vec<&str> = ev(&journal, "started")
        .map(|e| e["job"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(jobs.len(), 2, "{journal:?}");
    assert_ne!(jobs[0], jobs[1], "both runs in one batch job: {journal:?}");
}

#[test]
fn slurm_the_batch_shells_warning_reaches_the_task_and_it_resumes_in_a_new_batch_job() {
    let Some(s) = Sched::slurm() else {
        return;
    };
    let t = s
        .test("ckwarn", "500ms")
        .config("checkpoint_signal = \"USR2\"\ncheckpoint_lead = \"20s\"\nretries = 0\n");
    let script = t.run_ok(&["render", "--backend", "slurm"]);
    assert!(script.contains("#SBATCH --signal=B:USR1@20\n"), "{script}");
    let (out, warned, at) = warned_run(&s, &t, "5m", |job| {
        let now = unix_now();
        let st = std::process::Command::new("scancel")
            .args(["--signal=USR1", "--batch", job])
            .status()
            .unwrap();
        assert!(st.success(), "scancel --signal=USR1 --batch {job}: {st}");
        now
    });
    assert!(
        at <= warned + 5,
        "checkpoint signal at {at}, warning at {warned}"
    );
    assert_resumed(&t, &out);
}

/// The directive itself: `#SBATCH --signal=B:USR1@30` under a 2-minute walltime. SLURM sends
/// USR1 to the batch shell about 30 s before the end ("up to 60 seconds earlier", sbatch(1):
/// 64 s into the batch job when measured, where the worker's own clock would ask at 90 s); the
/// script passes it on, and the server hears of the warning, which only SIGUSR1 brings.
#[test]
fn slurm_sbatch_signal_warns_the_batch_job_before_its_walltime() {
    let Some(s) = Sched::slurm() else {
        return;
    };
    let t = s
        .test("cksig", "1s")
        .config("checkpoint_signal = \"USR2\"\ncheckpoint_lead = \"30s\"\nretries = 0\n");
    let (out, started, at) = warned_run(&s, &t, "2m", |_| unix_now());
    assert!(
        out.stderr
            .contains("its batch system warned that its batch job ends soon"),
        "{}",
        out.all()
    );
    assert!(
        at >= started && at <= started + 95,
        "checkpoint signal at {at}, first run at about {started}"
    );
    assert_resumed(&t, &out);
}

/// SGE: Grid Engine sends the job SIGUSR1 at its soft walltime `s_rt` (queue_conf(5),
/// "RESOURCE LIMITS"), which the script asks for `checkpoint_lead` before `h_rt`. Here a
/// `job_extra_directives` line of 10 s replaces the generated one (4m40s), so the warning
/// comes long before the worker's own clock would ask; the job script passes it on, and the
/// task resumes in a new batch job. Grid Engine signals the job script's process group (the
/// shell and the worker), not the tasks' own groups: a task whose `checkpoint_signal` is USR2
/// does not die of the USR1.
#[test]
fn sge_the_soft_walltimes_warning_reaches_the_task_and_it_resumes_in_a_new_batch_job() {
    let Some(s) = Sched::sge() else {
        return;
    };
    let ck = "checkpoint_signal = \"USR2\"\ncheckpoint_lead = \"20s\"\nretries = 0\n";
    let t = s.test("ckwarn", "500ms").config(ck);
    let generated = t.run_ok(&["render", "--backend", "sge", "--walltime", "5m"]);
    assert!(generated.contains("#$ -l s_rt=00:04:40\n"), "{generated}");
    let t = s.test("ckwarn", "500ms").config(&format!(
        "{ck}job_extra_directives = [\"-l s_rt=0:0:10\"]\n"
    ));
    let (out, started, at) = warned_run(&s, &t, "5m", |_| unix_now());
    assert!(
        out.stderr
            .contains("its batch system warned that its batch job ends soon"),
        "{}",
        out.all()
    );
    assert!(
        at <= started + 40,
        "checkpoint signal at {at}, first run at about {started}"
    );
    assert_resumed(&t, &out);
}
