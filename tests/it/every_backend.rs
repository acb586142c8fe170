//! One scenario, written once and run on every backend: `up --jobs 2` on an open cluster, both
//! batch jobs recorded running, `status --json` shows them, then `down` (or SIGTERM to `up`)
//! stops the server, which cancels them: both end `cancelled` (LSF too: see [`backend`]), and the
//! backend's cancel command ran once, for exactly the IDs that were submitted.
//!
//! slurm, sge, pbs and lsf run through the fakes of `tests/fake-bin`, told to keep a job running
//! until it is cancelled (`FAKE_RUNNING_POLLS`); local runs real batch jobs whose prologue
//! sleeps, so no worker starts, and must leave no batch command called and no process behind.

use crate::harness::{wait_for, Test};

/// How the scenario stops the cluster.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// `hpcluster down` from another process.
    Down,
    /// SIGTERM to `up`, as a user's Ctrl-C or a login node's logout would.
    Sigterm,
}

/// What the scenario needs to know of a backend.
struct Backend {
    /// The fake command that cancels (none for local).
    cancel: Option<&'static str>,
    /// What makes the fakes answer as this batch system.
    fake_env: &'static [(&'static str, &'static str)],
    /// The state `jobs.json` records for a batch job that `up` cancelled.
    cancelled: &'static str,
}

fn backend(name: &str) -> Backend {
    let (cancel, fake_env, cancelled): (_, &'static [_], _) = match name {
        "slurm" => (Some("scancel"), &[], "cancelled"),
        // qsub, qstat and qdel are shared with PBS: the fakes answer as Grid Engine's.
        "sge" => (Some("qdel"), &[("FAKE_GRID_ENGINE", "1")], "cancelled"),
        "pbs" => (Some("qdel"), &[], "cancelled"),
        // bjobs shows a killed job as `EXIT` (the fake: exit code 1), which `lsf::parse_state`
        // reads as `failed`: a batch job hpcluster asked to cancel that ends failed was
        // cancelled (`tracker/poll.rs`).
        "lsf" => (Some("bkill"), &[], "cancelled"),
        "local" => (None, &[], "cancelled"),
        _ => panic!("unknown backend `{name}`"),
    };
    Backend {
        cancel,
        fake_env,
        cancelled,
    }
}

pub fn scenario(name: &str, stop: Stop) {
    let b = backend(name);
    let t = Test::new()
        .cluster(&format!("every{name}"))
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
        .env("HPCLUSTER_JOB_SCRIPT_PROLOGUE", "sleep 300")
        .envs(b.fake_env);
    let up = t.spawn(&["up", "--backend", name, "--jobs", "2"]);
    t.wait_states(2, "running", 30);
    let ids = t.recorded_ids();
    assert!(ids[0] != ids[1] && !ids[0].is_empty(), "{ids:?}");
    // Answered by the server.
    let running: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.clone(), "running".to_string()))
        .collect();
    assert_eq!(t.job_states(), running);
    let out = match stop {
        Stop::Down => {
            let down = t.run_ok(&["down"]);
            assert!(down.contains("stopping the server"), "{down}");
            up.wait(60)
        }
        Stop::Sigterm => {
            let out = up.terminate();
            assert!(
                out.stderr
                    .contains("terminated (SIGTERM): cancelling the batch jobs"),
                "{}",
                out.all()
            );
            out
        }
    };
    assert_eq!(out.code, Some(130), "{}", out.all());
    let submitted = format!("submitted 2 batch job(s): {}\n", ids.join(" "));
    assert!(out.stderr.contains(&submitted), "{}", out.all());
    assert!(
        out.stderr
            .contains("cancelled 2 batch jobs still queued or running"),
        "{}",
        out.all()
    );
    // `up` waited for the batch system to confirm.
    assert_eq!(t.recorded_states(), vec![b.cancelled; 2], "{}", out.all());
    match b.cancel {
        Some(cancel) => assert_eq!(
            t.calls_of(cancel),
            vec![format!("{cancel} {}", ids.join(" "))],
            "{:?}",
            t.calls()
        ),
        None => {
            assert_eq!(t.calls(), Vec::<String>::new(), "no batch command");
            for n in 1..=2 {
                let proc = format!("/proc/{}", t.local_job_pid(n));
                wait_for(10, &format!("the supervisor of local-{n} to exit"), || {
                    (!std::path::Path::new(&proc).exists()).then_some(())
                });
            }
        }
    }
}

/// One module per backend, with one test per way to stop.
macro_rules! every_backend {
    ($($backend:ident),+) => {$(
        mod $backend {
            use super::{scenario, Stop};

            #[test]
            fn down_cancels_exactly_the_submitted_batch_jobs() {
                scenario(stringify!($backend), Stop::Down);
            }

            #[test]
            fn sigterm_to_up_cancels_exactly_the_submitted_batch_jobs() {
                scenario(stringify!($backend), Stop::Sigterm);
            }
        }
    )+};
}

every_backend!(slurm, sge, pbs, lsf, local);
