//! Pause and resume a member: `SIGSTOP`/`SIGCONT` to its ZooKeeper JVM, and
//! a check that the process really is stopped (or running again).
//!
//! The JVM is PID 1 of its container (the pod's command `exec`s
//! `zkServer.sh start-foreground`, which `exec`s java). The kernel drops
//! any signal sent to a PID namespace's init from inside that namespace
//! unless init handles it, and `SIGSTOP` cannot be handled: `kill -STOP 1`
//! through `kubectl exec` "succeeds" and does nothing. So:
//!
//! - with a [`NodeShell`](super::NodeShell) (kind), the signal is sent
//!   from the node, an ancestor PID namespace, where it is delivered: the
//!   container's host PID comes from `crictl inspect`;
//! - without one, the backend tries inside the container and refuses with
//!   "unsupported on this backend" when the JVM is PID 1 there (it is not
//!   with `shareProcessNamespace: true`, or an image whose init is a shell).
//!
//! Either way the process state is read back from `/proc/<pid>/status`; a
//! signal that did not take is an error, never a silent success.

use super::KubeCluster;
use super::error::KubeError;
use crate::backend::kind::parse::process_state;
use crate::operator::k8s::build::CONTAINER;

/// `STOP` or `CONT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `SIGSTOP`: pause.
    Stop,
    /// `SIGCONT`: resume.
    Cont,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Stop => "STOP",
            Self::Cont => "CONT",
        }
    }

    fn fault(self) -> &'static str {
        match self {
            Self::Stop => "pause",
            Self::Cont => "resume",
        }
    }

    /// Whether the `State:` letter is what this signal should leave.
    fn took(self, state: char) -> bool {
        match self {
            Self::Stop => state == 'T',
            Self::Cont => state != 'T',
        }
    }
}

/// Exit code of the scripts when no matching process or container is found.
const NOT_FOUND: i32 = 3;
/// Exit code of the in-container script when the JVM is PID 1.
const IS_INIT: i32 = 4;

/// The script run on a kind node: find the running `zookeeper` container of
/// `namespace/pod`, its host PID, signal it, print its `/proc` state line.
pub fn node_script(namespace: &str, pod: &str, signal: Signal) -> String {
    format!(
        r#"set -eu
id=$(crictl ps -q --name '^{CONTAINER}$' --label io.kubernetes.pod.name={pod} --label io.kubernetes.pod.namespace={namespace} --state running | head -n 1)
[ -n "$id" ] || {{ echo "no running {CONTAINER} container of pod {namespace}/{pod} on this node" >&2; exit {NOT_FOUND}; }}
pid=$(crictl inspect --output go-template --template '{{{{.info.pid}}}}' "$id")
kill -{sig} "$pid"
sleep 0.2
grep '^State:' "/proc/$pid/status"
"#,
        sig = signal.name()
    )
}

/// The main class on the ZooKeeper server's command line.
pub const SERVER_MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The script run inside the member's container: find the process whose
/// command line contains `pattern` (the ZooKeeper JVM: [`SERVER_MAIN_CLASS`]),
/// refuse when it is PID 1, else signal it and print its state line.
pub fn container_script(signal: Signal, pattern: &str) -> String {
    format!(
        r#"pid=""
for d in /proc/[0-9]*; do
  case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in
    *{pattern}*) [ "${{d#/proc/}}" = "$$" ] || {{ pid="${{d#/proc/}}"; break; }} ;;
  esac
done
[ -n "$pid" ] || {{ echo "no ZooKeeper server process in the container" >&2; exit {NOT_FOUND}; }}
[ "$pid" != 1 ] || {{ echo "the ZooKeeper JVM is PID 1" >&2; exit {IS_INIT}; }}
kill -{sig} "$pid" || exit 1
sleep 0.2
grep '^State:' "/proc/$pid/status"
"#,
        sig = signal.name()
    )
}

/// Why pausing from inside a container cannot work when the JVM is its init.
pub const PID1_REASON: &str = "the ZooKeeper JVM is PID 1 of its container and the kernel drops SIGSTOP sent to a PID \
namespace's init from inside it (kubectl exec ... kill -STOP 1 would 'succeed' and do nothing); on kind the backend \
signals from the node instead; elsewhere run the pods with shareProcessNamespace: true";

impl KubeCluster {
    /// Pause member `ordinal` (SIGSTOP to its JVM), verified.
    pub async fn pause(&self, ordinal: u32) -> Result<(), KubeError> {
        self.signal(ordinal, Signal::Stop).await
    }

    /// Resume member `ordinal` (SIGCONT), verified.
    pub async fn resume(&self, ordinal: u32) -> Result<(), KubeError> {
        self.signal(ordinal, Signal::Cont).await
    }

    async fn signal(&self, ordinal: u32, signal: Signal) -> Result<(), KubeError> {
        let pod = self.pod(ordinal).await?;
        let state_line = match &self.nodes {
            Some(nodes) => {
                let node = pod.node.clone().ok_or_else(|| KubeError::Exec {
                    pod: pod.name.clone(),
                    detail: "the pod is not scheduled on a node".into(),
                })?;
                nodes.run(&node, &node_script(self.namespace(), &pod.name, signal), self.timeouts.exec).await?
            }
            None => {
                let command =
                    vec!["/bin/sh".to_string(), "-c".to_string(), container_script(signal, SERVER_MAIN_CLASS)];
                let out = self.exec.exec(self.namespace(), &pod.name, CONTAINER, &command, self.timeouts.exec).await?;
                match out.exit_code {
                    0 => out.stdout,
                    IS_INIT => {
                        return Err(KubeError::Unsupported { fault: signal.fault(), reason: PID1_REASON.into() });
                    }
                    126 | 127 => {
                        return Err(KubeError::Unsupported {
                            fault: signal.fault(),
                            reason: format!("the image has no usable /bin/sh, tr or kill: {}", out.stderr.trim()),
                        });
                    }
                    code => {
                        return Err(KubeError::Exec {
                            pod: pod.name,
                            detail: format!("kill -{} failed ({code}): {}", signal.name(), out.stderr.trim()),
                        });
                    }
                }
            }
        };
        match process_state(&state_line) {
            Some(s) if signal.took(s) => Ok(()),
            other => Err(KubeError::Exec {
                pod: pod.name,
                detail: format!(
                    "sent SIG{} but the process state is {}; the signal did not take",
                    signal.name(),
                    other.map(String::from).unwrap_or_else(|| format!("unknown ({})", state_line.trim()))
                ),
            }),
        }
    }
}
