//! How the executor reaches the members: probes (`crate::probe`: `srvr`,
//! `conf`, `mntr`, admin `leader`, by pod IP) and the two writes the
//! planner asks for (`reconfig` and the probe write, through
//! `crate::client` as the super user). Behind [`EnsembleAccess`] so tests
//! script the members instead of running servers.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::client::{self, ClientError, SessionOptions};
use crate::probe::{self, MemberStatus};
use crate::zkconfig::SuperCredential;

/// A membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconfig {
    /// `reconfig -add` this `server.N=...` line.
    Add(String),
    /// `reconfig -remove` this server id.
    Remove(u64),
}

/// Failures reaching the members.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No session.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Anything else (test doubles).
    #[error("{0}")]
    Other(String),
}

/// The members as the executor reaches them.
pub trait EnsembleAccess: Send + Sync {
    /// Probe every `(ordinal, address)`; never fails (failures are in the statuses).
    fn probe<'a>(&'a self, members: &'a [(u32, Ipv4Addr)], admin_port: u16) -> BoxFuture<'a, Vec<MemberStatus>>;

    /// Apply `change` through `servers` (a connect string), only if the
    /// committed config is still at `expected_version`. A config that moved
    /// meanwhile (`BadVersion`) counts as done: the planner re-plans from
    /// what it observes next.
    fn reconfig<'a>(
        &'a self,
        servers: &'a str,
        credential: &'a SuperCredential,
        change: Reconfig,
        expected_version: u64,
    ) -> BoxFuture<'a, Result<(), AccessError>>;

    /// Write the probe znode through `servers`; returns the write's zxid.
    fn probe_write<'a>(
        &'a self,
        servers: &'a str,
        credential: &'a SuperCredential,
    ) -> BoxFuture<'a, Result<i64, AccessError>>;
}

/// The real members: TCP probes and ZooKeeper sessions.
#[derive(Debug, Clone, Copy)]
pub struct LiveEnsemble {
    /// Bound on each probe.
    pub probe_timeout: Duration,
    /// Session settings for reconfig and the probe write.
    pub session: SessionOptions,
}

impl Default for LiveEnsemble {
    fn default() -> Self {
        Self {
            probe_timeout: Duration::from_secs(2),
            session: SessionOptions {
                session_timeout: Duration::from_secs(6),
                connect_timeout: Duration::from_secs(10),
            },
        }
    }
}

impl EnsembleAccess for LiveEnsemble {
    fn probe<'a>(&'a self, members: &'a [(u32, Ipv4Addr)], admin_port: u16) -> BoxFuture<'a, Vec<MemberStatus>> {
        Box::pin(probe::probe_all(members, admin_port, self.probe_timeout))
    }

    fn reconfig<'a>(
        &'a self,
        servers: &'a str,
        credential: &'a SuperCredential,
        change: Reconfig,
        expected_version: u64,
    ) -> BoxFuture<'a, Result<(), AccessError>> {
        Box::pin(async move {
            let c = client::connect_super(servers, self.session, credential).await?;
            match &change {
                Reconfig::Add(line) => client::reconfig(&c, &[line.as_str()], &[], expected_version).await?,
                Reconfig::Remove(id) => client::reconfig(&c, &[], &[id.to_string().as_str()], expected_version).await?,
            }
            Ok(())
        })
    }

    fn probe_write<'a>(
        &'a self,
        servers: &'a str,
        credential: &'a SuperCredential,
    ) -> BoxFuture<'a, Result<i64, AccessError>> {
        Box::pin(async move {
            let c = client::connect_super(servers, self.session, credential).await?;
            Ok(client::probe_write(&c).await?)
        })
    }
}
