//! What can go wrong driving kind, docker and kubectl, each with what to do
//! about it.

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{ParseError, Version};
use super::runner::CmdError;

/// Failures of the kind backend's tool side.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// A command could not run or failed (the message has the command line
    /// and its stderr; a missing tool says how to install it).
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// Something the backend needs is missing; every problem found is listed.
    #[error("the kind backend cannot run here:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Prerequisites {
        /// One line per missing piece, each with how to fix it.
        problems: Vec<String>,
    },
    /// The docker CLI is there but its engine does not answer.
    #[error(
        "docker is installed but its engine does not answer ({detail}); start it (`sudo systemctl start docker`) \
         or point DOCKER_HOST at a running engine"
    )]
    DockerEngineDown {
        /// What `docker info` said.
        detail: String,
    },
    /// kind is too old for NetworkPolicy partitions.
    #[error(
        "kind {found} is older than {needed}: its default CNI does not enforce NetworkPolicy, so partitions would \
         silently do nothing; install kind {needed} or newer"
    )]
    KindTooOld {
        /// The installed version.
        found: Version,
        /// The first version that works.
        needed: Version,
    },
    /// `kind up` without `--reuse` found the cluster already there.
    #[error(
        "kind cluster `{name}` already exists; pass --reuse to use it as it is, or delete it first with \
         `zk-chaos kind down --name {name}`"
    )]
    ClusterExists {
        /// The cluster.
        name: String,
    },
    /// The cluster asked for does not exist.
    #[error("no kind cluster named `{name}`; create it with `zk-chaos kind up --name {name}`")]
    NoSuchCluster {
        /// The cluster.
        name: String,
    },
    /// A tool printed something unexpected.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Something did not become ready in time.
    #[error("{what} not ready after {waited:?}: {detail}")]
    NotReady {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// What was seen last, and what to look at.
        detail: String,
    },
    /// An image the run needs is neither local nor loadable.
    #[error("image {image}: {detail}")]
    Image {
        /// The image.
        image: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// A file of ours could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl KindError {
    /// Wrap an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
