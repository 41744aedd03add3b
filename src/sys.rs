//! Thin, synchronous wrappers around the host tools the local backend drives
//! (`ip`, signals, `/proc`). Synchronous on purpose: cleanup must also run
//! from `Drop` and from a panic.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// An external command that failed.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// The program could not be started at all.
    #[error("cannot run `{program}`: {source} (is it installed and on PATH?)")]
    Spawn {
        /// The program name.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line, for the message.
        command: String,
        /// The exit status.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

/// Run `program args...`, returning stdout; a non-zero exit is an error that
/// carries the command line and stderr.
pub fn run<I, S>(program: &str, args: I) -> Result<String, SysError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
    let out = Command::new(program)
        .args(&args)
        .output()
        .map_err(|source| SysError::Spawn { program: program.to_string(), source })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let command = std::iter::once(program.to_string())
            .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        Err(SysError::Failed {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Run `ip args...`.
pub fn ip<I, S>(args: I) -> Result<String, SysError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run("ip", args)
}

/// Whether the process `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name, is the state.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// The NUL-separated command line of `pid`, joined by spaces.
pub fn pid_cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(raw.split(|b| *b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>().join(" "))
}

/// The command line of `pid`, one string per argument.
pub fn pid_argv(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    Some(raw.split(|b| *b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect())
}

/// Every pid (but this process) whose argument list `matches` says is one
/// we look for. Match whole arguments, never a substring of the command
/// line: another user's process may mention our marker in passing.
pub fn pids_where(matches: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let me = std::process::id();
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| pid_argv(*pid).is_some_and(|a| matches(&a)))
        .collect()
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`
/// field 22): with the pid, an identity of one process that a later
/// process reusing the pid does not share. `None` when it is gone.
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    start_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 22 (`starttime`) of a `/proc/PID/stat` line.
fn start_ticks(stat: &str) -> Option<u64> {
    // Fields after the parenthesised command name start at field 3.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// How long process `pid` has been running (from `/proc`), `None` when it
/// is gone or unreadable.
pub fn process_age(pid: u32) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten()?;
    age_from(&stat, uptime, u64::try_from(ticks).ok()?)
}

/// A process's age from its `/proc/PID/stat` line, the system's uptime in
/// seconds and the clock ticks per second (`starttime`, field 22, is in
/// ticks since boot).
fn age_from(stat: &str, uptime_secs: f64, ticks_per_sec: u64) -> Option<std::time::Duration> {
    let started = start_ticks(stat)? as f64 / ticks_per_sec.max(1) as f64;
    std::time::Duration::try_from_secs_f64((uptime_secs - started).max(0.0)).ok()
}

/// Send `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) -> std::io::Result<()> {
    let Ok(raw) = i32::try_from(pid) else { return Ok(()) };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// The last `lines` lines of a text file ("" when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read(path) else { return String::new() };
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether this process may create namespaces and interfaces (root, or at
/// least CAP_NET_ADMIN and CAP_SYS_ADMIN in its effective set).
pub fn has_net_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_NET_ADMIN: u32 = 12;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    let Some(eff) = status.lines().find_map(|l| l.strip_prefix("CapEff:")) else { return false };
    let Ok(bits) = u64::from_str_radix(eff.trim(), 16) else { return false };
    bits & (1 << CAP_NET_ADMIN) != 0 && bits & (1 << CAP_SYS_ADMIN) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_age_comes_from_its_start_time_since_boot() {
        // pid 42 `(java (x))` started 1500 ticks (15 s at 100 Hz) after boot.
        let stat = "42 (java (x)) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 30 0 1500 1000 100";
        assert_eq!(age_from(stat, 75.0, 100), Some(std::time::Duration::from_secs(60)));
        let me = process_age(std::process::id()).expect("this process has an age");
        let boot: f64 =
            std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(me.as_secs_f64() <= boot + 1.0, "{me:?}");
    }

    #[test]
    fn a_process_start_is_field_22_and_stays_the_same_for_one_process() {
        let stat = "42 (java (x)) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 30 0 1500 1000 100";
        assert_eq!(start_ticks(stat), Some(1500));
        let me = std::process::id();
        let t = process_start_ticks(me).expect("this process has a start");
        assert_eq!(process_start_ticks(me), Some(t));
        let child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let other = process_start_ticks(child.id()).expect("the child has a start");
        assert!(other >= t);
        assert_eq!(process_start_ticks(u32::MAX - 1), None);
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn failed_command_carries_stderr() {
        let err = run("sh", ["-c", "echo boom >&2; exit 3"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("boom") && msg.contains("sh -c"), "{msg}");
        assert!(matches!(run("zk-chaos-no-such-program", ["x"]), Err(SysError::Spawn { .. })));
    }

    #[test]
    fn own_process_is_alive_and_has_cmdline() {
        let me = std::process::id();
        assert!(pid_alive(me));
        assert!(pid_cmdline(me).is_some());
        assert!(!pid_alive(u32::MAX - 1));
    }
}
