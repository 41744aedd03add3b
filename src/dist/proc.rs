//! Running the helper programs (curl, apt-get, dpkg, tar, java) with a time
//! bound, their stderr kept for error messages.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{DistError, Progress};

/// What a finished command printed.
pub(crate) struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Byte progress to report while a command runs: `size()` is polled.
pub(crate) struct Watch<'a> {
    pub size: &'a (dyn Fn() -> u64 + Send + Sync),
    pub total: Option<u64>,
    pub progress: &'a dyn Progress,
}

/// The last `n` non-empty lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    let mut s = std.get_program().to_string_lossy().into_owned();
    for a in std.get_args() {
        let a = a.to_string_lossy();
        // The `-o Dir::...=<cache path>` noise makes messages unreadable.
        if a.starts_with("Dir::") || a == "-o" {
            continue;
        }
        s.push(' ');
        s.push_str(&a);
    }
    s
}

/// Run `cmd` to completion within `timeout`; a non-zero exit is an error
/// carrying the stderr tail. `hint` says how to get the program if it is
/// missing.
pub(crate) async fn run(
    mut cmd: Command,
    timeout: Duration,
    hint: &str,
    watch: Option<Watch<'_>>,
) -> Result<Output, DistError> {
    let command = describe(&cmd);
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DistError::ToolMissing { program: program.clone(), hint: hint.to_string() }
        } else {
            DistError::io(format!("starting `{command}`"), e)
        }
    })?;
    let wait = child.wait_with_output();
    tokio::pin!(wait);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let out = loop {
        tokio::select! {
            r = &mut wait => break r.map_err(|e| DistError::io(format!("running `{command}`"), e))?,
            _ = &mut deadline => {
                return Err(DistError::Command {
                    command,
                    status: format!("timed out after {} s", timeout.as_secs()),
                    stderr_tail: String::new(),
                });
            }
            _ = tick.tick() => {
                if let Some(w) = &watch {
                    w.progress.bytes((w.size)(), w.total);
                }
            }
        }
    };
    if let Some(w) = &watch {
        w.progress.bytes((w.size)(), w.total);
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => format!("{}", out.status),
        };
        return Err(DistError::Command { command, status, stderr_tail: tail(&stderr, 15) });
    }
    Ok(Output { stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    #[tokio::test]
    async fn failures_carry_stderr_and_missing_tools_say_so() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo one >&2; echo two >&2; exit 3"]);
        let e = run(c, Duration::from_secs(10), "", None).await.err().unwrap();
        let m = e.to_string();
        assert!(m.contains("exit status 3") && m.contains("one\ntwo"), "{m}");

        let c = Command::new("/nonexistent/zk-chaos-tool");
        let e = run(c, Duration::from_secs(10), "install it", None).await.err().unwrap();
        assert!(matches!(e, DistError::ToolMissing { .. }), "{e}");

        let mut c = Command::new("sleep");
        c.arg("10");
        let e = run(c, Duration::from_millis(200), "", None).await.err().unwrap();
        assert!(e.to_string().contains("timed out"), "{e}");
    }
}
