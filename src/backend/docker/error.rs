//! Failures of the docker backend.

use std::path::PathBuf;

use testcontainers::bollard;

use super::spec::SpecError;
use crate::dist::DistError;

/// Why something on the docker backend failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answers.
    #[error(
        "the docker backend needs a running Docker engine, and none answers at {host}: {why}\n  \
         install it: `apt-get install docker.io` (Debian, Ubuntu) or Docker Desktop\n  \
         start it: `dockerd &` (or `systemctl start docker`); set DOCKER_HOST for an engine elsewhere"
    )]
    NoEngine {
        /// Where we looked.
        host: String,
        /// What went wrong.
        why: String,
    },
    /// An engine API call failed.
    #[error("docker: {what}: {source}")]
    Api {
        /// What was asked.
        what: String,
        /// The engine's answer.
        #[source]
        source: bollard::errors::Error,
    },
    /// testcontainers could not create or start a container.
    #[error("cannot start container {container}: {source}")]
    Start {
        /// The container.
        container: String,
        /// Why.
        #[source]
        source: testcontainers::TestcontainersError,
    },
    /// Another ensemble of that name runs on this engine.
    #[error(
        "a cluster named `{name}` already runs on docker (container {container}); use another name or `zk-chaos down --all`"
    )]
    NameInUse {
        /// The cluster name.
        name: String,
        /// The container holding it.
        container: String,
    },
    /// The image is not on this engine and cannot be built here.
    #[error("image {image}: {why}")]
    Image {
        /// The image.
        image: String,
        /// Why.
        why: String,
    },
    /// A host tool the image build needs is missing or failed.
    #[error("{tool}: {why}")]
    Tool {
        /// The tool.
        tool: String,
        /// Why.
        why: String,
    },
    /// The container spec could not be rendered.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A distribution could not be resolved.
    #[error(transparent)]
    Dist(#[from] DistError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The request is invalid (a bad name); nothing was created.
    #[error("{0}")]
    Invalid(String),
    /// Teardown could not remove everything of the run.
    #[error("teardown left behind: {}", .0.join(", "))]
    Leftovers(Vec<String>),
    /// No pod with that ordinal.
    #[error("no pod with ordinal {0}")]
    NoSuchPod(u32),
    /// The pod is not running (no network namespace to act in).
    #[error("pod {0} is not running")]
    NotRunning(String),
    /// A signal to a member's server process failed.
    #[error("{what}: {source}")]
    Signal {
        /// Which signal to which process.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl DockerError {
    /// A closure wrapping an engine error with what was asked.
    pub fn api(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let what = what.into();
        move |source| Self::Api { what, source }
    }

    /// Whether the engine answered 404 (no such object).
    pub fn is_not_found(e: &bollard::errors::Error) -> bool {
        status_of(e) == Some(404)
    }

    /// Whether the engine answered 409 (conflict: not running, in use, exists).
    pub fn is_conflict(e: &bollard::errors::Error) -> bool {
        status_of(e) == Some(409)
    }

    /// Whether a removal found the object gone, or already being removed by
    /// someone else (409 "removal ... is already in progress": a run's own
    /// teardown racing `down --all`): either way it goes.
    pub fn is_gone_or_going(e: &bollard::errors::Error) -> bool {
        Self::is_not_found(e)
            || matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
                if message.contains("already in progress"))
    }
}

fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError { status_code, message: message.into() }
    }

    #[test]
    fn a_removal_someone_else_has_started_counts_as_gone_and_a_volume_in_use_does_not() {
        let racing = engine(409, "removal of container 8ce38397 is already in progress");
        assert!(DockerError::is_gone_or_going(&racing));
        assert!(DockerError::is_gone_or_going(&engine(404, "No such container: x")));
        assert!(!DockerError::is_gone_or_going(&engine(409, "remove zkd-x: volume is in use")));
        assert!(!DockerError::is_gone_or_going(&engine(500, "already in progress")));
    }
}
