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
//!   `privacy`: the modes of the files a run leaves.
//! - `backend_slurm`, `backend_sge`, `tasks_real`: the real SLURM and SGE that
//!   `scripts/test.sh` starts, through the scenarios of `real`.
//!
//! Recorded scheduler outputs for the unit tests stay in `tests/fixtures/`.

mod harness;
mod real;

mod architecture;
mod backend_fake;
mod backend_local;
mod backend_sge;
mod backend_slurm;
mod bad_input;
mod config;
mod dask_configs;
mod docs_scripts;
mod every_backend;
mod job_dirs;
mod logging;
mod manpage;
mod plan_results;
mod privacy;
mod render;
mod scheduler_faults;
mod scheduler_soak;
mod server_load;
mod task_reasons;
mod tasks_faults;
mod tasks_local;
mod tasks_real;
