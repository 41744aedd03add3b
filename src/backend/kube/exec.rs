//! Running a command in a member's container (the `pods/exec` subresource
//! over a WebSocket, kube's `ws` feature), bounded, with stdout, stderr and
//! the exit code. Behind [`PodExec`] so the backend's logic is tested with
//! scripted answers; [`ApiExec`] itself is tested against a loopback
//! WebSocket server speaking the `v4.channel.k8s.io` protocol.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Client;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt as _;

use super::error::{Call, KubeError};

/// What a command printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code (0 on success).
    pub exit_code: i32,
}

/// Runs commands in containers.
pub trait PodExec: Send + Sync {
    /// Run `command` in `container` of `namespace/pod`, bounded by `timeout`.
    fn exec<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
        command: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ExecOutput, KubeError>>;
}

/// The exit code an exec's final `Status` reports: `Success` is 0; a
/// `NonZeroExitCode` failure carries it as the `ExitCode` cause.
pub fn exit_code(status: &Status) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let cause = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref()?.parse::<i32>().ok());
    match cause {
        Some(code) => Ok(code),
        None => Err(format!(
            "{} ({})",
            status.message.as_deref().unwrap_or("the command failed"),
            status.reason.as_deref().unwrap_or("no reason given")
        )),
    }
}

/// `pods/exec` through the API server.
#[derive(Clone)]
pub struct ApiExec {
    client: Client,
    server: String,
}

impl ApiExec {
    /// Exec through `client` (whose API server is `server`, for messages).
    pub fn new(client: Client, server: impl Into<String>) -> Self {
        Self { client, server: server.into() }
    }

    async fn run(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
    ) -> Result<ExecOutput, KubeError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
        let call = Call::new("create/get", "pods/exec", namespace, Some(pod));
        let mut proc =
            api.exec(pod, command.to_vec(), &params).await.map_err(|e| KubeError::from_kube(call, &self.server, e))?;
        let (mut out, mut err) = (proc.stdout(), proc.stderr());
        let status = proc.take_status();
        let read = |r: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf).await;
            }
            String::from_utf8_lossy(&buf).into_owned()
        };
        let (stdout, stderr) = tokio::join!(read(out.take()), read(err.take()));
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        let exit_code = match status {
            Some(s) => exit_code(&s).map_err(|detail| KubeError::Exec { pod: pod.into(), detail })?,
            None => {
                return Err(KubeError::Exec {
                    pod: pod.into(),
                    detail: format!("the stream closed without an exit status; stderr: {}", stderr.trim()),
                });
            }
        };
        Ok(ExecOutput { stdout, stderr, exit_code })
    }
}

impl PodExec for ApiExec {
    fn exec<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
        command: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ExecOutput, KubeError>> {
        Box::pin(async move {
            match tokio::time::timeout(timeout, self.run(namespace, pod, container, command)).await {
                Ok(r) => r,
                Err(_) => Err(KubeError::Exec {
                    pod: pod.into(),
                    detail: format!("`{}` did not finish within {timeout:?}", command.join(" ")),
                }),
            }
        })
    }
}
