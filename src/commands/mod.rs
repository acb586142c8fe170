//! One module per user command; each takes the resolved configuration and its own arguments.

pub mod config_show;
pub mod down;
pub mod manpage;
pub mod plan;
pub mod plan_history;
pub mod plan_probe;
pub mod render;
pub mod report;
pub mod status;
pub mod submit;
pub mod up;
