//! Log lines on stderr, at the level `-v`/`-q` chose: `hpcluster: message`.

use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// 0: errors only (`-q`), 1: normal, 2: `-v`, 3+: `-vv`.
pub fn init(verbose: u8, quiet: bool) {
    let level = if quiet { 0 } else { 1 + verbose };
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// A normal progress line (hidden by `-q`).
pub fn info(msg: impl AsRef<str>) {
    if level() >= 1 {
        eprintln!("hpcluster: {}", msg.as_ref());
    }
}

/// A detail shown with `-v`.
pub fn debug(msg: impl AsRef<str>) {
    if level() >= 2 {
        eprintln!("hpcluster: {}", msg.as_ref());
    }
}

/// A warning (hidden by `-q`).
pub fn warn(msg: impl AsRef<str>) {
    if level() >= 1 {
        eprintln!("hpcluster: warning: {}", msg.as_ref());
    }
}
