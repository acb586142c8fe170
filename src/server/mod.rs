//! The server: owns the task queue and the batch jobs, talks to workers and clients.
//!
//! [`core`] decides (synchronous, time passed in); [`shell`] moves bytes and time (tokio).

pub mod core;
