//! One pod: a ZooKeeper server JVM running inside its network namespace,
//! with its volume (data + config, outlives the process) and its logs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::sys;

/// Where one pod keeps its files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodDirs {
    /// The volume (the PersistentVolume analogue): `data/` and `conf/`.
    pub volume: PathBuf,
    /// Logs, kept with the run after teardown.
    pub logs: PathBuf,
}

impl PodDirs {
    /// The ZooKeeper data dir.
    pub fn data(&self) -> PathBuf {
        self.volume.join("data")
    }
    /// The config dir (the server rewrites files here on reconfig).
    pub fn conf(&self) -> PathBuf {
        self.volume.join("conf")
    }
    /// `zoo.cfg`.
    pub fn zoo_cfg(&self) -> PathBuf {
        self.conf().join("zoo.cfg")
    }
    /// The initial dynamic config file.
    pub fn dynamic_cfg(&self) -> PathBuf {
        self.conf().join("zoo.cfg.dynamic")
    }
    /// `data/myid`.
    pub fn myid(&self) -> PathBuf {
        self.data().join("myid")
    }
    /// Captured stdout and stderr of the JVM.
    pub fn console_log(&self) -> PathBuf {
        self.logs.join("console.log")
    }
    /// The server's own log.
    pub fn server_log(&self) -> PathBuf {
        self.logs.join("zookeeper.log")
    }
}

/// Failures starting or signalling a pod process.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// The JVM could not be spawned.
    #[error("cannot start pod {pod}: {source}")]
    Spawn {
        /// Pod name.
        pod: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file of the pod could not be written.
    #[error("cannot prepare {path}: {source}")]
    Files {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Signalling failed.
    #[error("cannot signal pod {pod} (pid {pid}): {source}")]
    Signal {
        /// Pod name.
        pod: String,
        /// Its pid.
        pid: u32,
        /// The error.
        source: std::io::Error,
    },
}

/// A running (or exited) server process of one pod.
#[derive(Debug)]
pub struct PodProcess {
    /// Pod name, for messages.
    pub pod: String,
    /// The JVM's pid (`ip netns exec` execs in place, so this is the JVM).
    pub pid: u32,
    /// When it was started.
    pub started: Instant,
    child: Option<tokio::process::Child>,
}

/// Write `contents` to `path`, creating parent directories.
pub fn write_file(path: &Path, contents: &str) -> Result<(), PodError> {
    let err = |source| PodError::Files { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::write(path, contents).map_err(err)
}

impl PodProcess {
    /// Start `java args...` inside namespace `netns`, output appended to the
    /// pod's console log. Unless `detach`, the JVM gets SIGKILL when the
    /// thread that started it dies, so a crashed harness leaves no server.
    pub fn spawn(
        pod: &str,
        netns: &str,
        java: &Path,
        args: &[OsString],
        dirs: &PodDirs,
        detach: bool,
    ) -> Result<Self, PodError> {
        let files = |path: &Path| {
            let p = path.to_path_buf();
            move |source| PodError::Files { path: p, source }
        };
        std::fs::create_dir_all(&dirs.logs).map_err(files(&dirs.logs))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dirs.console_log())
            .map_err(files(&dirs.console_log()))?;
        let log2 = log.try_clone().map_err(files(&dirs.console_log()))?;
        let mut cmd = tokio::process::Command::new("ip");
        cmd.arg("netns").arg("exec").arg(netns).arg(java).args(args);
        cmd.current_dir(&dirs.volume).stdin(Stdio::null()).stdout(log).stderr(log2).kill_on_drop(false);
        // SAFETY: only async-signal-safe calls (setsid, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Own session: a Ctrl-C in the terminal reaches the harness,
                // which then stops the pods in order.
                libc::setsid();
                if !detach && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| PodError::Spawn { pod: pod.to_string(), source })?;
        let pid = child.id().unwrap_or_default();
        Ok(Self { pod: pod.to_string(), pid, started: Instant::now(), child: Some(child) })
    }

    /// A process this harness did not start (found through a state file).
    pub fn adopt(pod: &str, pid: u32) -> Self {
        Self { pod: pod.to_string(), pid, started: Instant::now(), child: None }
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => sys::pid_alive(self.pid),
        }
    }

    /// How the process ended (`None` while it runs).
    pub fn exit_status(&mut self) -> Option<String> {
        match &mut self.child {
            Some(c) => c.try_wait().ok().flatten().map(|s| s.to_string()),
            None => (!sys::pid_alive(self.pid)).then(|| "exited (status unknown: started by another process)".into()),
        }
    }

    /// Send `signal`.
    pub fn signal(&self, signal: Signal) -> Result<(), PodError> {
        sys::signal(self.pid, signal).map_err(|source| PodError::Signal {
            pod: self.pod.clone(),
            pid: self.pid,
            source,
        })
    }

    /// Wait up to `bound` for the process to exit; true when it did.
    pub async fn wait_exit(&mut self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        loop {
            if !self.alive() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Graceful stop: SIGTERM (after SIGCONT, in case it is paused), then
    /// SIGKILL when it has not exited within `grace`.
    pub async fn stop(&mut self, grace: Duration) -> Result<(), PodError> {
        self.signal(Signal::SIGCONT)?;
        self.signal(Signal::SIGTERM)?;
        if !self.wait_exit(grace).await {
            self.kill().await?;
        }
        Ok(())
    }

    /// SIGKILL and wait until it is gone.
    pub async fn kill(&mut self) -> Result<(), PodError> {
        self.signal(Signal::SIGKILL)?;
        self.wait_exit(Duration::from_secs(10)).await;
        Ok(())
    }

    /// SIGKILL without waiting, for `Drop` paths.
    pub fn kill_now(&mut self) {
        let _ = self.signal(Signal::SIGKILL);
        if let Some(c) = &mut self.child {
            let _ = c.start_kill();
            // Reap synchronously for a bounded time so no zombie is left.
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        } else {
            let deadline = Instant::now() + Duration::from_secs(5);
            while sys::pid_alive(self.pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
