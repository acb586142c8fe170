//! The server: owns the task queue and the batch jobs, talks to workers and clients.
//!
//! [`core`] decides (synchronous, time passed in). Around it, the event loop ([`run`]) moves
//! bytes and time with tokio, in rooms: [`peers`] (connections, worker messages; [`waiting_room`] sheds connections that do
//! not authenticate), [`clients`]
//! (client requests), [`commit`] (journal entries and the replies held until they are on
//! disk; [`joblog`], the joblog of `up --joblog`), [`job_events`] (when to submit and poll, what the answers mean), [`finish`] (the end
//! of a run), [`resume`] (a journal replayed into the core). [`jobs`] runs batch-system
//! commands off the event loop behind the [`jobs::JobControl`] trait ([`batch`] implements it
//! over a tracker), and [`book`] keeps what each batch job is doing. [`running`] finds a
//! running server from another process; [`progress`] shows how the run goes.

pub mod batch;
pub mod book;
mod clients;
mod commit;
pub mod core;
mod finish;
mod job_events;
pub mod joblog;
pub mod jobs;
mod left_results;
pub mod node_faults;
mod peers;
pub mod progress;
mod resume;
mod run;
pub mod running;
mod waiting_room;

pub use clients::client_request;
pub use job_events::MAX_FAILED_STARTS;
pub use resume::{collect_held_results, seed_tasks, ORPHAN_GRACE};
pub use run::{run, ServerOptions, Summary, RETIRE_GRACE};

#[cfg(test)]
mod tests;
