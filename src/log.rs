//! Log lines on stderr through `tracing`: `hpcluster: message`, `hpcluster: warning: message`.
//!
//! `-q` shows errors only, the default info and warnings, `-v` adds debug lines and `-vv` trace
//! lines; `RUST_LOG` (EnvFilter syntax) replaces what the flags chose when it is set. The line
//! gets more detail as the filter lets more through: from debug on each line starts with an
//! RFC 3339 UTC timestamp (`2026-05-01T12:34:56.789012Z`), from trace also with the level. Any
//! module logs with the `tracing` macros, so `RUST_LOG=hpcluster::server=debug` narrows the
//! detail to one room. Lines never carry colour or other escape codes. While a progress bar
//! is drawn ([`attach_bar`]), every line is written with the bar suspended, so it appears above
//! the bar on a line of its own.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// The progress bar being drawn on stderr, if any: log lines are written around it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the global `tracing` subscriber for these flags and `RUST_LOG`. A second call
/// changes nothing but [`level`] (the subscriber can be set once per process).
pub fn init(verbose: u8, quiet: bool) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let choice = choose(verbose, quiet, rust_log.as_deref());
    LEVEL.store(choice.level, Ordering::Relaxed);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(choice.style)
        .with_writer(StderrAroundBar);
    let installed = tracing_subscriber::registry()
        .with(choice.filter)
        .with(layer)
        .try_init()
        .is_ok();
    if let (true, Some(e)) = (installed, choice.rust_log_error) {
        tracing::warn!(
            "ignored `RUST_LOG`: {e}; it takes EnvFilter directives such as `debug` or `hpcluster=trace`"
        );
    }
}

/// 0: errors only (`-q`), 1: info and warnings, 2: debug (`-v`), 3: trace (`-vv`); the most
/// detailed level any directive of the filter lets through.
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// From now on log lines suspend `bar` while they are written (the progress display calls it).
pub(crate) fn attach_bar(bar: ProgressBar) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
}

/// Runs `end` (which takes the bar off the screen; it must not log) while log lines wait, then
/// lets them go straight to stderr again: none can land between the two.
pub(crate) fn detach_bar(end: impl FnOnce()) {
    let mut bar = BAR.lock().unwrap_or_else(|e| e.into_inner());
    end();
    *bar = None;
}

/// What the flags and `RUST_LOG` chose.
pub(crate) struct Choice {
    pub filter: EnvFilter,
    pub style: Style,
    /// The value of [`level`].
    pub level: u8,
    /// `RUST_LOG` was set but not valid; the flags' filter is used instead.
    pub rust_log_error: Option<String>,
}

/// The filter directives `-q`/`-v`/`-vv` stand for.
fn flag_directives(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    }
}

/// The filter (`RUST_LOG` when set and not empty, else the flags'), and the line style and
/// [`level`] that follow from the most detailed level it lets through (pure: `RUST_LOG` is
/// passed in).
pub(crate) fn choose(verbose: u8, quiet: bool, rust_log: Option<&str>) -> Choice {
    let flags = || EnvFilter::new(flag_directives(verbose, quiet));
    let (filter, rust_log_error) = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (flags(), None),
        Some(s) => match EnvFilter::try_new(s) {
            Ok(f) => (f, None),
            Err(e) => (flags(), Some(e.to_string())),
        },
    };
    let max = filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    Choice {
        style: Style {
            timestamps: max >= LevelFilter::DEBUG,
            levels: max >= LevelFilter::TRACE,
        },
        level: level_number(max),
        filter,
        rust_log_error,
    }
}

fn level_number(max: LevelFilter) -> u8 {
    if max >= LevelFilter::TRACE {
        3
    } else if max >= LevelFilter::DEBUG {
        2
    } else if max >= LevelFilter::INFO {
        1
    } else {
        0
    }
}

/// How one event becomes a line: `[timestamp ][LEVEL ]hpcluster: [warning: |error: ]message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub timestamps: bool,
    pub levels: bool,
}

impl<S, N> FormatEvent<S, N> for Style
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        if self.timestamps {
            SystemTime.format_time(&mut w)?;
            w.write_char(' ')?;
        }
        if self.levels {
            write!(w, "{level:>5} ")?;
        }
        w.write_str(prefix(level))?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// What a line of this level starts with, after any timestamp and level.
fn prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "hpcluster: error: ",
        Level::WARN => "hpcluster: warning: ",
        _ => "hpcluster: ",
    }
}

/// Makes a [`Line`] per event.
struct StderrAroundBar;

impl<'a> MakeWriter<'a> for StderrAroundBar {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

/// One formatted event, written to stderr in one piece when dropped, with the progress bar (if
/// any) cleared meanwhile and redrawn after.
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&self.0);
            let _ = err.flush();
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(timestamps: bool, levels: bool) -> Style {
        Style { timestamps, levels }
    }

    #[test]
    fn flags_choose_the_level_and_the_line_style() {
        for (verbose, quiet, level, want) in [
            (0, true, 0, style(false, false)),
            (0, false, 1, style(false, false)),
            (1, false, 2, style(true, false)),
            (2, false, 3, style(true, true)),
            (5, false, 3, style(true, true)),
        ] {
            let c = choose(verbose, quiet, None);
            assert_eq!(
                (c.level, c.style),
                (level, want),
                "-v x{verbose} -q {quiet}"
            );
            assert!(c.rust_log_error.is_none());
        }
    }

    #[test]
    fn rust_log_replaces_the_flags() {
        let c = choose(0, false, Some("trace"));
        assert_eq!((c.level, c.style), (3, style(true, true)));
        let c = choose(2, false, Some("warn"));
        assert_eq!((c.level, c.style), (0, style(false, false)));
        let c = choose(0, true, Some("info"));
        assert_eq!((c.level, c.style), (1, style(false, false)));
        // The most detailed directive decides the style, whatever its target.
        let c = choose(0, false, Some("info,hpcluster::worker=debug"));
        assert_eq!((c.level, c.style), (2, style(true, false)));
    }

    #[test]
    fn empty_rust_log_is_unset_and_a_bad_one_falls_back_to_the_flags() {
        let c = choose(1, false, Some("  "));
        assert_eq!((c.level, c.rust_log_error.is_none()), (2, true));
        let c = choose(1, false, Some("hpcluster=loud"));
        assert_eq!(c.level, 2);
        assert!(c.rust_log_error.is_some());
    }

    #[test]
    fn warnings_and_errors_say_so() {
        assert_eq!(prefix(Level::INFO), "hpcluster: ");
        assert_eq!(prefix(Level::DEBUG), "hpcluster: ");
        assert_eq!(prefix(Level::WARN), "hpcluster: warning: ");
        assert_eq!(prefix(Level::ERROR), "hpcluster: error: ");
    }

    /// The whole line, through a real subscriber writing into a buffer.
    fn format(style: Style, emit: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::TRACE)
            .event_format(style)
            .with_writer(move || buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn lines_read_as_before_by_default() {
        let out = format(style(false, false), || {
            tracing::info!("submitted 1 batch job");
            tracing::warn!("task 3 was killed by the walltime");
            tracing::info!(job = 7, "direct");
        });
        assert_eq!(
            out,
            "hpcluster: submitted 1 batch job\n\
             hpcluster: warning: task 3 was killed by the walltime\n\
             hpcluster: direct job=7\n"
        );
    }

    #[test]
    fn verbose_lines_carry_a_timestamp_and_trace_lines_a_level() {
        let out = format(style(true, false), || tracing::debug!("detail"));
        let (stamp, rest) = out.split_once(' ').unwrap();
        assert_eq!(rest, "hpcluster: detail\n");
        assert!(is_rfc3339_utc(stamp), "{stamp:?}");
        let out = format(style(true, true), || tracing::trace!("fine"));
        let (stamp, rest) = out.split_once(' ').unwrap();
        assert!(is_rfc3339_utc(stamp), "{stamp:?}");
        assert_eq!(rest, "TRACE hpcluster: fine\n");
    }

    /// `2026-05-01T12:34:56.789012Z`
    fn is_rfc3339_utc(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 27
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[26] == b'Z'
            && s.chars()
                .enumerate()
                .all(|(i, ch)| [4, 7, 10, 13, 16, 19, 26].contains(&i) || ch.is_ascii_digit())
    }
}
