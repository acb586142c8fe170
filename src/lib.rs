//! hpcluster runs a bag of tasks in worker batch jobs without wasting walltime.
//!
//! The stages, in order: [`cli`] (what the user typed) -> [`config`] (one resolved
//! configuration) -> [`plan`] (walltime arithmetic, the admission rule) -> [`template`]
//! (job scripts) -> [`backend`] (submit, status, cancel) -> [`worker`] (tasks).
//! [`duration`] parses and formats walltimes for all of them; [`run`] ties a command to its work.

pub mod backend;
pub mod cli;
pub mod cluster_dir;
pub mod commands;
pub mod config;
pub mod duration;
pub mod log;
pub mod plan;
pub mod run;
pub mod template;
pub mod tracker;
pub mod worker;
