//! Running the tools the kind backend drives (`docker`, `kind`, `kubectl`):
//! one [`Cmd`] at a time, bounded by its own timeout, stdout and stderr
//! captured, and every failure an error that carries the full command line
//! and the tail of its stderr. Behind [`Runner`] so tests script the tools.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

/// A command-line tool the backend drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// The Docker CLI (and, behind it, the engine).
    Docker,
    /// kind (Kubernetes in Docker).
    Kind,
    /// kubectl.
    Kubectl,
}

impl Tool {
    /// The program name looked up on `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            Self::Docker => "docker",
            Self::Kind => "kind",
            Self::Kubectl => "kubectl",
        }
    }

    /// How to install it, for the `NotFound` message.
    pub fn install_hint(self) -> &'static str {
        match self {
            Self::Docker => {
                "install Docker Engine (Debian/Ubuntu: `apt-get install docker.io`, or Docker's own packages) \
                 and start it (`systemctl start docker`)"
            }
            Self::Kind => {
                "install kind v0.24.0 or newer (`go install sigs.k8s.io/kind@v0.29.0`, or the release binary \
                 from the kind GitHub releases page into a directory on PATH)"
            }
            Self::Kubectl => {
                "install kubectl (Debian/Ubuntu: `apt-get install kubectl` from the Kubernetes apt repository, \
                 or the release binary into a directory on PATH)"
            }
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// One invocation: the tool, its arguments, optional standard input, extra
/// environment, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The tool.
    pub tool: Tool,
    /// Its arguments (not including the program).
    pub args: Vec<String>,
    /// Written to its standard input, which is then closed.
    pub stdin: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The bound on the whole invocation.
    pub timeout: Duration,
}

impl Cmd {
    /// `tool args...`, bounded by `timeout`.
    pub fn new<I, S>(tool: Tool, args: I, timeout: Duration) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { tool, args: args.into_iter().map(Into::into).collect(), stdin: None, env: Vec::new(), timeout }
    }

    /// The same command, fed `input` on its standard input.
    pub fn with_stdin(mut self, input: impl Into<String>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The same command with `key=value` in its environment.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program followed by the arguments.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.tool.program().to_string()).chain(self.args.iter().cloned()).collect()
    }

    /// The command line as a shell would take it (arguments quoted where
    /// needed), with environment assignments first and `< stdin` noted.
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", shell_quote(v))).collect();
        parts.extend(self.argv().iter().map(|a| shell_quote(a)));
        let mut line = parts.join(" ");
        if self.stdin.is_some() {
            line.push_str(" <(stdin)");
        }
        line
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.command_line())
    }
}

/// `s` quoted for a POSIX shell when it needs to be.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if plain { s.to_string() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// What a successful command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// How many lines of stderr an error message keeps.
pub const STDERR_TAIL_LINES: usize = 20;
/// How many bytes of stderr an error message keeps at most.
pub const STDERR_TAIL_BYTES: usize = 4000;

/// The last [`STDERR_TAIL_LINES`] lines of `stderr` (at most
/// [`STDERR_TAIL_BYTES`]), trimmed; `(no stderr)` when empty.
pub fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let kept = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
    let kept = if kept.len() > STDERR_TAIL_BYTES {
        let mut start = kept.len() - STDERR_TAIL_BYTES;
        while !kept.is_char_boundary(start) {
            start += 1;
        }
        format!("...{}", &kept[start..])
    } else {
        kept
    };
    if kept.trim().is_empty() { "(no stderr)".into() } else { kept.trim().to_string() }
}

/// A command that could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// The tool is not installed (not on `PATH`).
    #[error("{tool} not found on PATH: {hint}")]
    NotFound {
        /// The missing tool.
        tool: Tool,
        /// How to install it.
        hint: &'static str,
    },
    /// The program exists but could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {}", tail(stderr))]
    Failed {
        /// The command line.
        command: String,
        /// The exit status as the OS reports it.
        status: String,
        /// The exit code, when it exited (not killed by a signal).
        code: Option<i32>,
        /// Its standard output (some tools print useful parts there even
        /// when they fail).
        stdout: String,
        /// Its standard error.
        stderr: String,
    },
    /// The program did not finish in time and was killed (with its children).
    #[error("`{command}` did not finish within {timeout:?} and was killed; stderr so far: {}", tail(stderr))]
    TimedOut {
        /// The command line.
        command: String,
        /// The bound.
        timeout: Duration,
        /// What it had written to stderr.
        stderr: String,
    },
}

impl CmdError {
    /// The standard error of a command that ran, if any.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Self::Failed { stderr, .. } | Self::TimedOut { stderr, .. } => Some(stderr),
            Self::NotFound { .. } | Self::Spawn { .. } => None,
        }
    }
}

/// Runs commands. The real one is [`SystemRunner`]; tests script answers.
pub trait Runner: Send + Sync {
    /// Run `cmd` to completion (or its timeout).
    fn run<'a>(&'a self, cmd: &'a Cmd) -> BoxFuture<'a, Result<Output, CmdError>>;
}

impl<R: Runner + ?Sized> Runner for Arc<R> {
    fn run<'a>(&'a self, cmd: &'a Cmd) -> BoxFuture<'a, Result<Output, CmdError>> {
        (**self).run(cmd)
    }
}

/// Where `program` is on `PATH` (or `program` itself when it is a path to
/// an executable file).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| executable(p))
}

/// Runs commands as child processes (each in its own process group, so a
/// timeout kills the tool and whatever it started).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

/// Collects a pipe into a buffer that stays readable after a timeout.
fn collect(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let task = tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock().expect("pipe buffer").extend_from_slice(&chunk[..n]);
        }
    });
    (buf, task)
}

fn text(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().expect("pipe buffer")).into_owned()
}

impl SystemRunner {
    async fn run_child(cmd: &Cmd) -> Result<Output, CmdError> {
        match find_on_path(cmd.tool.program()) {
            Some(program) => Self::run_child_at(&program, cmd).await,
            None => Err(CmdError::NotFound { tool: cmd.tool, hint: cmd.tool.install_hint() }),
        }
    }

    /// Run `cmd` with `program` as the executable.
    async fn run_child_at(program: &Path, cmd: &Cmd) -> Result<Output, CmdError> {
        let command = cmd.command_line();
        if !program.exists() {
            return Err(CmdError::NotFound { tool: cmd.tool, hint: cmd.tool.install_hint() });
        }
        let mut child = tokio::process::Command::new(program)
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| CmdError::Spawn { command: command.clone(), source })?;
        let (out, out_task) = collect(child.stdout.take());
        let (err, err_task) = collect(child.stderr.take());
        if let (Some(input), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
            // A tool that exits without reading all of its input is not an error here.
            tokio::spawn(async move {
                let _ = pipe.write_all(input.as_bytes()).await;
            });
        }
        let pid = child.id();
        match tokio::time::timeout(cmd.timeout, child.wait()).await {
            Ok(Ok(status)) => {
                let _ = tokio::join!(out_task, err_task);
                let (stdout, stderr) = (text(&out), text(&err));
                if status.success() {
                    Ok(Output { stdout, stderr })
                } else {
                    Err(CmdError::Failed { command, status: status.to_string(), code: status.code(), stdout, stderr })
                }
            }
            Ok(Err(source)) => Err(CmdError::Spawn { command, source }),
            Err(_) => {
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                }
                let _ = child.kill().await;
                out_task.abort();
                err_task.abort();
                Err(CmdError::TimedOut { command, timeout: cmd.timeout, stderr: text(&err) })
            }
        }
    }
}

impl Runner for SystemRunner {
    fn run<'a>(&'a self, cmd: &'a Cmd) -> BoxFuture<'a, Result<Output, CmdError>> {
        tracing::debug!(command = %cmd, "running");
        Box::pin(Self::run_child(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let cmd = Cmd::new(Tool::Kubectl, ["apply", "-f", "-", "--selector", "a b", "it's"], Duration::from_secs(1))
            .with_env("DOCKER_BUILDKIT", "1")
            .with_stdin("x");
        assert_eq!(cmd.command_line(), r"DOCKER_BUILDKIT=1 kubectl apply -f - --selector 'a b' 'it'\''s' <(stdin)");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("crd/zookeeperclusters.zk-chaos.io"), "crd/zookeeperclusters.zk-chaos.io");
    }

    #[test]
    fn the_tail_keeps_the_last_lines_only() {
        let long: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let t = tail(&long);
        assert!(t.starts_with("line 30") && t.ends_with("line 49"), "{t}");
        assert_eq!(tail("  \n"), "(no stderr)");
        let wide = "é".repeat(STDERR_TAIL_BYTES);
        assert!(tail(&wide).len() <= STDERR_TAIL_BYTES + 3);
    }

    #[test]
    fn errors_name_the_command_and_its_stderr() {
        let e = CmdError::Failed {
            command: "kind create cluster --name zk".into(),
            status: "exit status: 1".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: "Creating cluster...\nERROR: failed to create cluster: node(s) already exist".into(),
        };
        let msg = e.to_string();
        assert!(msg.contains("`kind create cluster --name zk` failed (exit status: 1)"), "{msg}");
        assert!(msg.contains("node(s) already exist"), "{msg}");
        let e = CmdError::NotFound { tool: Tool::Kind, hint: Tool::Kind.install_hint() };
        assert!(e.to_string().starts_with("kind not found on PATH: install kind"), "{e}");
    }

    #[tokio::test]
    async fn captures_output_and_reports_failures_and_timeouts() {
        let sh = Path::new("/bin/sh");
        let cmd = |script: &str, timeout| Cmd::new(Tool::Kubectl, ["-c", script], timeout);
        let echo = cmd("echo out; echo err >&2; cat", Duration::from_secs(5)).with_stdin("in\n");
        let out = SystemRunner::run_child_at(sh, &echo).await.unwrap();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\nin\n", "err\n"));
        match SystemRunner::run_child_at(sh, &cmd("echo half; echo boom >&2; exit 3", Duration::from_secs(5))).await {
            Err(CmdError::Failed { code: Some(3), stdout, stderr, .. }) => {
                assert_eq!((stdout.as_str(), stderr.as_str()), ("half\n", "boom\n"));
            }
            other => panic!("{other:?}"),
        }
        let started = std::time::Instant::now();
        let slow = cmd("echo waiting >&2; sleep 30 & sleep 30", Duration::from_millis(500));
        match SystemRunner::run_child_at(sh, &slow).await {
            Err(CmdError::TimedOut { stderr, .. }) => assert_eq!(stderr, "waiting\n"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_missing_tool_is_not_found_with_a_hint() {
        let cmd = Cmd::new(Tool::Kind, ["version"], Duration::from_secs(1));
        let err = SystemRunner::run_child_at(Path::new("/nonexistent/kind"), &cmd).await.unwrap_err();
        assert!(matches!(err, CmdError::NotFound { tool: Tool::Kind, .. }), "{err:?}");
    }
}
