//! ZooKeeper client sessions for the harness, on the `zookeeper-client`
//! crate: bounded connects, the super-user session for reconfig, and the
//! few znode helpers the checks need.

use std::time::Duration;

pub use zookeeper_client as zk;

use crate::zkconfig::SuperCredential;

/// Client failures, with the server set they concern.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No session could be established in time.
    #[error("cannot connect to {servers}: {source}")]
    Connect {
        /// The connect string.
        servers: String,
        /// The client error.
        source: zk::Error,
    },
    /// The connect did not finish within the bound.
    #[error("cannot connect to {servers} within {timeout:?}")]
    ConnectTimeout {
        /// The connect string.
        servers: String,
        /// The bound.
        timeout: Duration,
    },
    /// An operation failed.
    #[error("{op} {path}: {source}")]
    Op {
        /// The operation.
        op: &'static str,
        /// The znode.
        path: String,
        /// The client error.
        source: zk::Error,
    },
}

/// Session settings.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Requested session timeout.
    pub session_timeout: Duration,
    /// Bound on establishing the session.
    pub connect_timeout: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { session_timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(10) }
    }
}

/// Open a session against `servers` (`host:port,...`).
pub async fn connect(servers: &str, opts: SessionOptions) -> Result<zk::Client, ClientError> {
    connect_with(servers, opts, None).await
}

/// Open a session authenticated as the super user (needed for `reconfig`).
pub async fn connect_super(
    servers: &str,
    opts: SessionOptions,
    cred: &SuperCredential,
) -> Result<zk::Client, ClientError> {
    connect_with(servers, opts, Some(cred)).await
}

async fn connect_with(
    servers: &str,
    opts: SessionOptions,
    cred: Option<&SuperCredential>,
) -> Result<zk::Client, ClientError> {
    let mut c = zk::Client::connector()
        .with_session_timeout(opts.session_timeout)
        .with_connection_timeout(opts.connect_timeout.min(opts.session_timeout))
        .with_server_version(3, 8, 0);
    if let Some(cred) = cred {
        c = c.with_auth("digest", &cred.auth_bytes());
    }
    match tokio::time::timeout(opts.connect_timeout, c.connect(servers)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(ClientError::Connect { servers: servers.to_string(), source }),
        Err(_) => Err(ClientError::ConnectTimeout { servers: servers.to_string(), timeout: opts.connect_timeout }),
    }
}

/// Create a persistent, world-writable znode with `data`.
pub async fn create(client: &zk::Client, path: &str, data: &[u8]) -> Result<zk::Stat, ClientError> {
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create(path, data, &opts).await.map(|(stat, _)| stat).map_err(|source| ClientError::Op {
        op: "create",
        path: path.to_string(),
        source,
    })
}

/// `sync` then read `path` (a linearizable read).
pub async fn sync_read(client: &zk::Client, path: &str) -> Result<(Vec<u8>, zk::Stat), ClientError> {
    client.sync(path).await.map_err(|source| ClientError::Op { op: "sync", path: path.to_string(), source })?;
    client.get_data(path).await.map_err(|source| ClientError::Op { op: "get", path: path.to_string(), source })
}

/// The znode the operators' probe write uses.
pub const PROBE_PATH: &str = "/zk-chaos-operator-probe";

/// `reconfig -add`/`-remove` (`joining` are `server.N=...` lines, `leaving`
/// server ids), conditional on the committed config still being at
/// `expected_version`. A version mismatch means an earlier attempt (or
/// someone else) changed the config first: the caller re-plans from what it
/// observes next, so that is not an error here.
pub async fn reconfig(
    client: &zk::Client,
    joining: &[&str],
    leaving: &[&str],
    expected_version: u64,
) -> Result<(), ClientError> {
    let update =
        zk::EnsembleUpdate::Incremental { joinings: joining.iter().copied(), leavings: leaving.iter().copied() };
    match client.update_ensemble(update, Some(expected_version as i64)).await {
        Ok(_) | Err(zk::Error::BadVersion) => Ok(()),
        Err(source) => Err(ClientError::Op { op: "reconfig", path: "/zookeeper/config".into(), source }),
    }
}

/// Write the probe znode ([`PROBE_PATH`]) and return the write's zxid.
pub async fn probe_write(client: &zk::Client) -> Result<i64, ClientError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let data = now.as_millis().to_string();
    let stat = match client.set_data(PROBE_PATH, data.as_bytes(), None).await {
        Ok(stat) => stat,
        Err(zk::Error::NoNode) => create(client, PROBE_PATH, data.as_bytes()).await?,
        Err(source) => return Err(ClientError::Op { op: "set", path: PROBE_PATH.into(), source }),
    };
    Ok(stat.mzxid)
}
