//! Progress of a run: a redrawn status line when stderr is a terminal, plain log lines
//! (only when something changed, at most every 10 s) otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::duration::format_human;
use crate::server::core::Counts;

pub struct Progress {
    tty: bool,
    enabled: bool,
    last_line: String,
    last_print: Option<Instant>,
    started: Instant,
    drawn: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            enabled: enabled && crate::log::level() >= 1,
            last_line: String::new(),
            last_print: None,
            started: Instant::now(),
            drawn: false,
        }
    }

    /// The status line for these counts (pure, for tests and logs).
    pub fn line(c: &Counts, jobs_pending: u32, jobs_running: u32, eta: Option<Duration>) -> String {
        let mut s = format!(
            "tasks: {} done, {} running, {} pending, {} failed | batch jobs: {} pending, {} running",
            c.done, c.running, c.pending, c.failed, jobs_pending, jobs_running
        );
        if let Some(eta) = eta {
            s.push_str(&format!(
                " | ETA {}",
                format_human(Duration::from_secs(eta.as_secs()))
            ));
        }
        s
    }

    pub fn update(&mut self, c: &Counts, jobs_pending: u32, jobs_running: u32) {
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed();
        let ended = c.done + c.failed;
        let eta = (ended > 0 && c.pending + c.running > 0)
            .then(|| elapsed.mul_f64((c.pending + c.running) as f64 / ended as f64));
        let line = Progress::line(c, jobs_pending, jobs_running, eta);
        let changed = line.split(" | ETA").next() != self.last_line.split(" | ETA").next();
        if self.tty {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else if changed
            && self
                .last_print
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            eprintln!("hpcluster: {line}");
            self.last_print = Some(Instant::now());
        } else {
            return;
        }
        self.last_line = line;
    }

    /// Ends the redrawn line.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}
