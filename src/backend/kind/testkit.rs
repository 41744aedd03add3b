//! A scripted [`Runner`] for tests: answers commands from rules instead of
//! running tools, and records every command it was asked to run.

use std::sync::Mutex;

use futures::future::BoxFuture;

use super::runner::{Cmd, CmdError, Output, Runner, Tool};

/// The scripted answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Exit 0 with this stdout and stderr.
    Ok {
        /// Standard output.
        stdout: String,
        /// Standard error.
        stderr: String,
    },
    /// Exit `code` with this stdout and stderr.
    Fail {
        /// Exit code.
        code: i32,
        /// Standard output.
        stdout: String,
        /// Standard error.
        stderr: String,
    },
    /// The command's bound ran out.
    TimedOut {
        /// Standard error so far.
        stderr: String,
    },
}

impl Reply {
    /// Success printing `stdout`.
    pub fn stdout(stdout: impl Into<String>) -> Self {
        Self::Ok { stdout: stdout.into(), stderr: String::new() }
    }
    /// Failure with exit code 1 printing `stderr`.
    pub fn fail(stderr: impl Into<String>) -> Self {
        Self::Fail { code: 1, stdout: String::new(), stderr: stderr.into() }
    }
}

struct Rule {
    needle: String,
    reply: Reply,
    once: bool,
}

/// Answers commands from rules: the first rule whose needle occurs in the
/// command line (argv joined by spaces) answers. A tool marked missing is
/// `NotFound`; a command no rule matches fails with `unscripted command`.
#[derive(Default)]
pub struct ScriptedRunner {
    rules: Mutex<Vec<Rule>>,
    missing: Mutex<Vec<Tool>>,
    calls: Mutex<Vec<Cmd>>,
}

impl ScriptedRunner {
    /// No rules, no calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer every command containing `needle` with `reply`.
    pub fn on(&self, needle: &str, reply: Reply) -> &Self {
        self.rules.lock().unwrap().push(Rule { needle: needle.into(), reply, once: false });
        self
    }

    /// Answer the next command containing `needle` with `reply`, once.
    pub fn once(&self, needle: &str, reply: Reply) -> &Self {
        self.rules.lock().unwrap().push(Rule { needle: needle.into(), reply, once: true });
        self
    }

    /// Treat `tool` as not installed.
    pub fn missing(&self, tool: Tool) -> &Self {
        self.missing.lock().unwrap().push(tool);
        self
    }

    /// Every command run so far.
    pub fn commands(&self) -> Vec<Cmd> {
        self.calls.lock().unwrap().clone()
    }

    /// Every command run so far, as argv joined by spaces.
    pub fn calls(&self) -> Vec<String> {
        self.commands().iter().map(|c| c.argv().join(" ")).collect()
    }

    fn answer(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        self.calls.lock().unwrap().push(cmd.clone());
        if self.missing.lock().unwrap().contains(&cmd.tool) {
            return Err(CmdError::NotFound { tool: cmd.tool, hint: cmd.tool.install_hint() });
        }
        let line = cmd.argv().join(" ");
        let reply = {
            let mut rules = self.rules.lock().unwrap();
            let Some(i) = rules.iter().position(|r| line.contains(&r.needle)) else {
                return Err(CmdError::Failed {
                    command: cmd.command_line(),
                    status: "exit status: 99".into(),
                    code: Some(99),
                    stdout: String::new(),
                    stderr: format!("unscripted command: {line}"),
                });
            };
            if rules[i].once { rules.remove(i).reply } else { rules[i].reply.clone() }
        };
        match reply {
            Reply::Ok { stdout, stderr } => Ok(Output { stdout, stderr }),
            Reply::Fail { code, stdout, stderr } => Err(CmdError::Failed {
                command: cmd.command_line(),
                status: format!("exit status: {code}"),
                code: Some(code),
                stdout,
                stderr,
            }),
            Reply::TimedOut { stderr } => {
                Err(CmdError::TimedOut { command: cmd.command_line(), timeout: cmd.timeout, stderr })
            }
        }
    }
}

impl Runner for ScriptedRunner {
    fn run<'a>(&'a self, cmd: &'a Cmd) -> BoxFuture<'a, Result<Output, CmdError>> {
        let answer = self.answer(cmd);
        Box::pin(async move { answer })
    }
}
