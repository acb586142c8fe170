//! hpcluster runs a bag of tasks in worker batch jobs without wasting walltime.
//!
//! The stages, in order: [`cli`] (what the user typed) -> [`config`] (one resolved
//! configuration) -> [`plan`] (walltime arithmetic, the admission rule) -> [`template`]
//! (job scripts) -> [`backend`] and [`tracker`] (submit, status, cancel) -> [`server`] and
//! [`worker`] (tasks, with [`journal`], [`protocol`] and [`auth`]). [`sim`] replays the
//! server's core against simulated batch jobs; [`accounting`] is the ledger of where a
//! cluster's core-hours went.
//! [`duration`] parses and formats walltimes for all of them, [`memory`] byte sizes, and
//! [`validate`] refuses values that would break a job script; [`run`] ties a command to its work.

pub mod accounting;
pub mod atomic_file;
pub mod auth;
pub mod backend;
pub mod backend_kind;
pub mod budget;
pub mod cli;
pub mod cluster_dir;
pub mod commands;
pub mod config;
pub mod duration;
pub mod estimate;
pub mod held_results;
pub mod journal;
pub mod log;
pub mod memory;
pub mod plan;
pub mod process;
pub mod protocol;
pub mod run;
pub mod server;
pub mod sim;
pub mod task;
pub mod tasks;
pub mod template;
pub mod time;
pub mod tracker;
pub mod validate;
pub mod worker;
