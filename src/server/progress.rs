//! Progress of a run. On a terminal (stderr is one, and `TERM` is set and not `dumb`) a status
//! line redrawn in place by indicatif, with log lines written above it (`crate::log` suspends the
//! bar around each). Otherwise a plain log line `hpcluster: tasks: ...` when the counts changed,
//! at most every 10 s, and never an escape code.
//!
//! The ETA comes from the pace measured at the last completion, counted down since: it does not
//! grow while tasks run and none ends.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::duration::format_human;
use crate::server::core::Counts;

/// The shortest time between two plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    out: Output,
    /// The counts part of the last line shown (without the ETA): what "changed" compares.
    last_counts: String,
    started: Instant,
    pace: Pace,
}

enum Output {
    Off,
    /// Redrawn in place; registered with `crate::log` until [`Progress::finish`].
    Bar(ProgressBar),
    Plain {
        last_print: Option<Instant>,
    },
}

/// What the ETA is measured from.
#[derive(Debug, Default)]
struct Pace {
    /// Tasks already ended at the first update (resumed from the journal): not this run's pace.
    ended_before: Option<usize>,
    /// Tasks ended at the last completion seen.
    ended: usize,
    /// Time since the start at that completion.
    at: Duration,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let term = std::env::var("TERM").ok();
        let out = if !enabled || crate::log::level() < 1 {
            Output::Off
        } else if redraws(std::io::stderr().is_terminal(), term.as_deref()) {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
            crate::log::attach_bar(bar.clone());
            Output::Bar(bar)
        } else {
            Output::Plain { last_print: None }
        };
        Progress {
            out,
            last_counts: String::new(),
            started: Instant::now(),
            pace: Pace::default(),
        }
    }

    /// The status line for these counts (pure, for tests and logs).
    pub fn line(c: &Counts, jobs_pending: u32, jobs_running: u32, eta: Option<Duration>) -> String {
        let mut s = counts_text(c, jobs_pending, jobs_running);
        if let Some(eta) = eta {
            s.push_str(&format!(
                " | ETA {}",
                format_human(Duration::from_secs(eta.as_secs()))
            ));
        }
        s
    }

    pub fn update(&mut self, c: &Counts, jobs_pending: u32, jobs_running: u32) {
        self.update_at(c, jobs_pending, jobs_running, Instant::now());
    }

    fn update_at(&mut self, c: &Counts, jobs_pending: u32, jobs_running: u32, now: Instant) {
        if matches!(self.out, Output::Off) {
            return;
        }
        let elapsed = now.saturating_duration_since(self.started);
        let ended = c.done + c.failed;
        let before = *self.pace.ended_before.get_or_insert(ended);
        if ended > self.pace.ended {
            self.pace.ended = ended;
            self.pace.at = elapsed;
        }
        let completed = self.pace.ended.saturating_sub(before);
        let eta = eta(c.pending + c.running, completed, self.pace.at, elapsed);
        let counts = counts_text(c, jobs_pending, jobs_running);
        let changed = counts != self.last_counts;
        match &mut self.out {
            Output::Off => return,
            Output::Bar(bar) => {
                let line = Progress::line(c, jobs_pending, jobs_running, eta);
                if line != bar.message() {
                    bar.set_message(line);
                }
            }
            Output::Plain { last_print } => {
                if !plain_due(changed, *last_print, now) {
                    return;
                }
                *last_print = Some(now);
                tracing::info!("{}", Progress::line(c, jobs_pending, jobs_running, eta));
            }
        }
        self.last_counts = counts;
    }

    /// Leaves the last status line on the terminal, ended by a newline (so what is printed next
    /// starts a line of its own); log lines go straight to stderr again.
    pub fn finish(&mut self) {
        if let Output::Bar(bar) = std::mem::replace(&mut self.out, Output::Off) {
            crate::log::detach_bar(|| {
                let last = bar.message();
                bar.finish_and_clear();
                if !last.is_empty() {
                    eprintln!("{last}");
                }
            });
        }
    }
}

impl Drop for Progress {
    /// An `up` that stops on an error never calls [`Progress::finish`]; its error message must
    /// not be glued to the status line either.
    fn drop(&mut self) {
        self.finish();
    }
}

fn counts_text(c: &Counts, jobs_pending: u32, jobs_running: u32) -> String {
    format!(
        "tasks: {} done, {} running, {} pending, {} failed | batch jobs: {} pending, {} running",
        c.done, c.running, c.pending, c.failed, jobs_pending, jobs_running
    )
}

/// Whether the status line is redrawn in place: stderr is a terminal that knows escape codes.
fn redraws(stderr_is_terminal: bool, term: Option<&str>) -> bool {
    stderr_is_terminal && term.is_some_and(|t| !t.is_empty() && t != "dumb")
}

/// Whether a plain progress line is due: the counts changed and the last one is 10 s old.
fn plain_due(changed: bool, last_print: Option<Instant>, now: Instant) -> bool {
    changed && last_print.is_none_or(|t| now.saturating_duration_since(t) >= PLAIN_EVERY)
}

/// Time left for `remaining` tasks at the pace of the last completion (`completed` tasks ended
/// `at_last` after the start), less the time since it; `now` is also counted from the start.
/// None before the first completion or when nothing remains; never negative.
pub fn eta(
    remaining: usize,
    completed: usize,
    at_last: Duration,
    now: Duration,
) -> Option<Duration> {
    if remaining == 0 || completed == 0 {
        return None;
    }
    let then = at_last.mul_f64(remaining as f64 / completed as f64);
    Some(then.saturating_sub(now.saturating_sub(at_last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(done: usize, running: usize, pending: usize, failed: usize) -> Counts {
        Counts {
            done,
            running,
            pending,
            failed,
            ..Counts::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn line_names_tasks_batch_jobs_and_the_eta() {
        let c = counts(3, 2, 5, 1);
        assert_eq!(
            Progress::line(&c, 1, 2, None),
            "tasks: 3 done, 2 running, 5 pending, 1 failed | batch jobs: 1 pending, 2 running"
        );
        assert_eq!(
            Progress::line(&c, 0, 1, Some(Duration::from_millis(90_700))),
            "tasks: 3 done, 2 running, 5 pending, 1 failed | batch jobs: 0 pending, 1 running \
             | ETA 1m30s"
        );
    }

    #[test]
    fn eta_needs_a_completion_and_something_left() {
        assert_eq!(eta(4, 0, secs(0), secs(30)), None);
        assert_eq!(eta(0, 4, secs(20), secs(30)), None);
    }

    #[test]
    fn eta_counts_down_between_completions() {
        // 2 tasks ended in the first 20 s: 6 more take 60 s from then.
        assert_eq!(eta(6, 2, secs(20), secs(20)), Some(secs(60)));
        assert_eq!(eta(6, 2, secs(20), secs(35)), Some(secs(45)));
        assert_eq!(eta(6, 2, secs(20), secs(79)), Some(secs(1)));
    }

    #[test]
    fn eta_stops_at_zero() {
        assert_eq!(eta(6, 2, secs(20), secs(80)), Some(Duration::ZERO));
        assert_eq!(eta(6, 2, secs(20), secs(500)), Some(Duration::ZERO));
        // A clock that is behind the last completion does not add time either.
        assert_eq!(eta(6, 2, secs(20), secs(10)), Some(secs(60)));
    }

    #[test]
    fn a_completion_measures_the_pace_again() {
        // The 3rd task ends at 50 s, later than the pace said: 5 left at 50/3 s each.
        assert_eq!(
            eta(5, 3, secs(50), secs(50)),
            Some(Duration::from_secs_f64(250.0 / 3.0))
        );
    }

    #[test]
    fn only_a_terminal_that_knows_escapes_redraws() {
        assert!(redraws(true, Some("xterm-256color")));
        assert!(!redraws(true, Some("dumb")));
        assert!(!redraws(true, Some("")));
        assert!(!redraws(true, None));
        assert!(!redraws(false, Some("xterm")));
    }

    #[test]
    fn plain_lines_need_a_change_and_10_seconds() {
        let t0 = Instant::now();
        assert!(plain_due(true, None, t0));
        assert!(!plain_due(false, None, t0));
        assert!(!plain_due(true, Some(t0), t0 + secs(9)));
        assert!(plain_due(true, Some(t0), t0 + secs(10)));
        assert!(!plain_due(false, Some(t0), t0 + secs(60)));
    }

    /// A plain progress that records the ETA it would show, with made-up times.
    fn plain() -> Progress {
        Progress {
            out: Output::Plain { last_print: None },
            last_counts: String::new(),
            started: Instant::now(),
            pace: Pace::default(),
        }
    }

    #[test]
    fn tasks_resumed_from_the_journal_do_not_count_in_the_pace() {
        let mut p = plain();
        let t0 = p.started;
        p.update_at(&counts(10, 2, 4, 0), 0, 1, t0);
        p.update_at(&counts(12, 2, 2, 0), 0, 1, t0 + secs(40));
        assert_eq!((p.pace.ended_before, p.pace.ended), (Some(10), 12));
        assert_eq!(p.pace.at, secs(40));
        assert_eq!(
            eta(4, p.pace.ended - 10, p.pace.at, secs(40)),
            Some(secs(80))
        );
    }

    #[test]
    fn plain_progress_records_when_it_printed() {
        let mut p = plain();
        let t0 = p.started;
        p.update_at(&counts(0, 2, 4, 0), 0, 1, t0);
        p.update_at(&counts(1, 2, 3, 0), 0, 1, t0 + secs(3));
        let Output::Plain { last_print } = p.out else {
            panic!("not plain")
        };
        assert_eq!(last_print, Some(t0));
        assert!(p.last_counts.starts_with("tasks: 0 done, 2 running"));
    }
}
