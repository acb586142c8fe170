//! Other processes, as hpcluster touches them: whether one is alive, a signal to it or to its
//! process group, and this machine's host name and network interfaces. Through `nix`, so no
//! `unsafe` is needed here.

use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

pub use nix::sys::signal::Signal;
pub use nix::sys::signal::Signal::{SIGKILL, SIGTERM};

/// The signals a worker may send a task to ask it to checkpoint (`checkpoint_signal`): those
/// the task's guard passes on to the command (`worker/guard.rs`), by their names without `SIG`.
pub const CHECKPOINT_SIGNALS: [&str; 6] = ["USR1", "USR2", "TERM", "INT", "HUP", "QUIT"];

/// A `checkpoint_signal` (`USR1`, `SIGUSR1`, `usr1`), as its name without `SIG`; or what is
/// expected.
pub fn parse_checkpoint_signal(text: &str) -> Result<&'static str, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    CHECKPOINT_SIGNALS
        .iter()
        .find(|s| **s == name)
        .copied()
        .ok_or_else(|| {
            format!(
                "expected a signal a task can catch, one of {}, found `{text}`",
                CHECKPOINT_SIGNALS.join(", ")
            )
        })
}

/// The signal a [`parse_checkpoint_signal`] name stands for.
pub fn checkpoint_signal(name: &str) -> Option<Signal> {
    let name = parse_checkpoint_signal(name).ok()?;
    format!("SIG{name}").parse().ok()
}

/// The process `pid` exists (signal 0 only checks).
pub fn is_alive(pid: i32) -> bool {
    pid > 0 && kill(Pid::from_raw(pid), None).is_ok()
}

/// A `/proc/PID/stat` line of a process that has ended: a zombie (`Z`, waiting for its parent
/// to reap it) or one being torn down (`X`). The state is the field after the command, which
/// may hold spaces and parentheses.
pub fn stat_ended(stat: &str) -> bool {
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Sends `sig` to process `pid`; a process that is already gone is not an error.
pub fn signal(pid: i32, sig: Signal) {
    if pid > 0 {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Sends `sig` to every process of group `pgid` (a task, a local batch job's script).
pub fn signal_group(pgid: i32, sig: Signal) {
    if pgid > 0 {
        let _ = killpg(Pid::from_raw(pgid), sig);
    }
}

/// This process's parent (after the parent dies: whoever adopted it, often 1).
pub fn parent_pid() -> i32 {
    nix::unistd::getppid().as_raw()
}

/// This process's process group.
pub fn own_group() -> i32 {
    nix::unistd::getpgrp().as_raw()
}

/// Asks the kernel to send `sig` to this process when its parent dies (Linux; elsewhere the
/// caller's [`parent_pid`] check alone notices). A failure only loses the early warning.
pub fn signal_on_parent_death(sig: Signal) {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_pdeathsig(sig) {
        tracing::debug!("failed to set the parent-death signal: {e}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sig;
}

/// Ends this process as signal `sig` would by default (no core file), so that whoever waits
/// for it sees the same end as a child of its own that `sig` ended; the exit status `128 + sig`
/// if the signal does not end a process.
pub fn exit_as_signaled(sig: i32) -> ! {
    use nix::sys::resource::{setrlimit, Resource};
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128 + sig)
}

/// This machine's host name (`unknown` if it cannot be read).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Raises this process's soft limit of open files to its hard limit (a server holds one per
/// worker); returns (before, after), or `None` when the limit cannot be read or set.
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return Some((soft, soft));
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
    Some((soft, hard))
}

/// This machine's network interfaces, each with its addresses (none for an interface that
/// has no IP address), in the order the system lists them.
pub fn interface_addresses() -> Vec<(String, Vec<std::net::IpAddr>)> {
    let mut out: Vec<(String, Vec<std::net::IpAddr>)> = Vec::new();
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return out;
    };
    for ifa in list {
        let ip = ifa.address.as_ref().and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| std::net::IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| std::net::IpAddr::V6(v6.ip())))
        });
        let at = match out.iter().position(|(n, _)| *n == ifa.interface_name) {
            Some(i) => i,
            None => {
                out.push((ifa.interface_name.clone(), Vec::new()));
                out.len() - 1
            }
        };
        out[at].1.extend(ip);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_process_is_told_from_a_live_one_by_its_stat_line() {
        assert!(stat_ended("42 (a) b) Z 1 40 41 0 -1"));
        assert!(stat_ended("42 (sh) X 1 40 41 0 -1"));
        assert!(!stat_ended("42 (sleep) S 1 40 41 0 -1"));
        assert!(!stat_ended("42 (Z) R 1 40 41 0 -1"));
        assert!(!stat_ended("garbage"));
    }

    #[test]
    fn the_loopback_interface_has_its_address() {
        let all = interface_addresses();
        let lo = all
            .iter()
            .find(|(n, _)| n == "lo")
            .expect("a loopback interface");
        assert!(
            lo.1.contains(&std::net::IpAddr::from([127, 0, 0, 1])),
            "{all:?}"
        );
    }

    #[test]
    fn this_process_is_alive_and_has_a_host_name() {
        assert!(is_alive(std::process::id() as i32));
        assert!(!is_alive(0));
        assert!(!hostname().is_empty());
    }

    #[test]
    fn a_group_signal_ends_the_group() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        signal_group(child.id() as i32, SIGKILL);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
