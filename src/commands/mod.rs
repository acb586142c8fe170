//! One module per user command; each takes the resolved configuration and its own arguments.
//! The task commands (`tasks`, `logs`, `wait`, `explain`, `retry`, `cancel`) read and change
//! tasks through [`task_source`]: the running server, or the journal once none runs.

pub mod cancel;
pub mod config_show;
pub mod down;
pub mod explain;
pub mod logs;
pub mod manpage;
pub mod plan;
pub mod plan_history;
pub mod plan_probe;
pub mod render;
pub mod report;
pub mod retry;
pub mod status;
pub mod submit;
pub mod task_source;
pub mod tasks;
pub mod up;
pub mod up_summary;
pub mod wait;
