//! The server: owns the task queue and the batch jobs, talks to workers and clients.
//!
//! [`core`] decides (synchronous, time passed in); [`shell`] moves bytes and time (tokio);
//! [`jobs`] keeps the batch jobs and runs batch-system commands off the event loop;
//! [`progress`] shows how the run goes.

pub mod batch;
pub mod core;
pub mod jobs;
pub mod progress;
pub mod running;
pub mod shell;
