//! hpcluster's integration tests, in one binary (it links once): each module drives the real
//! `hpcluster` through the one harness, [`harness::Test`].
//!
//! - `plan_results`, `config`, `bad_input`, `render`: the commands that only read
//!   configuration (`render` snapshots every backend's script with insta, in `snapshots/`).
//! - `logging`: what `up` writes on a terminal, a dumb terminal and a pipe; `manpage`: the
//!   hidden command that writes the man pages.
//! - `every_backend`: one scenario (up, status, down or SIGTERM, cancel) on all five backends.
//! - `backend_fake`: PBS, LSF and SLURM through the fake commands of `tests/fake-bin`.
//! - `backend_local`: the local backend's batch jobs.
//! - `tasks_local`, `tasks_faults`: tasks end to end on the local backend, and its faults;
//!   `copies`: issue 11's reproductions (no task twice at once, none completed run again);
//!   `privacy`: the modes of the files a run leaves; `task_reasons`: why a task could not run.
//! - `walltime_local`: learning without `task_time`, and short tasks run side by side.
//! - `report`: the ledger of core-hours against what the batch system and the tasks recorded.
//! - `backend_slurm`, `backend_sge`, `tasks_real`: the real SLURM and SGE that
//!   `scripts/test.sh` starts, through the scenarios of `real`; `backfill_slurm`: a batch
//!   job with `time_min` started by SLURM's backfill, and its worker's granted limit.
//! - `tasks_define`, `tasks_fix`, `tasks_control`: tasks from `--array` and `--args`
//!   templates; failed tasks listed, retried and waited for, hopeless tasks and timeouts; the
//!   task commands while `up` runs (issue 10). `joblog`: `up --joblog` read by GNU parallel.
//!   `json_schema`: every `--json` against `docs/json.md`. `closed_pipe`: data commands into a
//!   closed pipe. `preemption`: batch jobs the fake SLURM ends `PREEMPTED` or `NODE_FAIL`;
//!   `job_stop`: a batch job stopped while a task runs, on the fake SLURM that runs its jobs.
//! - `backend_slurm`, `backend_sge`, `tasks_real`, `tasks_fix_real`: the real SLURM and SGE
//!   that `scripts/test.sh` starts, through the scenarios of `real`.
//!
//! Recorded scheduler outputs for the unit tests stay in `tests/fixtures/`.

mod harness;
mod real;

mod architecture;
mod backend_fake;
mod backend_local;
mod backend_sge;
mod backend_slurm;
mod backfill_slurm;
mod bad_input;
mod checkpoint;
mod checkpoint_real;
mod closed_pipe;
mod config;
mod copies;
mod dask_configs;
mod docs_scripts;
mod every_backend;
mod held_results;
mod job_dirs;
mod job_stop;
mod joblog;
mod json_schema;
mod logging;
mod manpage;
mod plan_results;
mod preemption;
mod privacy;
mod render;
mod report;
mod scheduler_faults;
mod scheduler_soak;
mod server_load;
mod task_guard;
mod task_reasons;
mod tasks_control;
mod tasks_define;
mod tasks_faults;
mod tasks_fix;
mod tasks_fix_real;
mod tasks_local;
mod tasks_real;
mod walltime_local;
