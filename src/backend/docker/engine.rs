//! The connection to the Docker engine. bollard defaults to the newest API
//! version it knows (1.53 in bollard 0.21), newer than many engines speak
//! (Debian's docker.io 20.10 speaks 1.41): we negotiate with the engine
//! and refuse engines older than [`MIN_API`].

use testcontainers::bollard::{self, Docker};

use super::error::DockerError;

/// The oldest engine API the backend uses (Docker 20.10).
pub const MIN_API: (usize, usize) = (1, 41);

/// Where the engine is looked for: `$DOCKER_HOST`, else the local socket.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connect to the engine at [`engine_host`], negotiate the API version
/// and check that it answers. Fails at once, naming what is missing and
/// how to install and start it, when no engine answers.
pub async fn connect() -> Result<Docker, DockerError> {
    connect_to(&engine_host()).await
}

/// [`connect`] to the engine at `host` (`unix:///path`, `tcp://...`).
pub async fn connect_to(host: &str) -> Result<Docker, DockerError> {
    let no_engine = |why: String| DockerError::NoEngine { host: host.to_string(), why };
    if let Some(path) = host.strip_prefix("unix://")
        && !std::path::Path::new(path).exists()
    {
        let why = if which("dockerd") || which("docker") {
            format!("{path} does not exist: Docker is installed but the engine is not running")
        } else {
            format!("{path} does not exist: Docker is not installed")
        };
        return Err(no_engine(why));
    }
    let docker = Docker::connect_with_host(host).map_err(|e| no_engine(e.to_string()))?;
    let docker = tokio::time::timeout(std::time::Duration::from_secs(10), docker.negotiate_version())
        .await
        .map_err(|_| no_engine("no answer within 10 s".into()))?
        .map_err(|e| no_engine(e.to_string()))?;
    let v = docker.client_version();
    if (v.major_version, v.minor_version) < MIN_API {
        return Err(no_engine(format!(
            "the engine speaks API {}.{}, the docker backend needs {}.{} (Docker 20.10) or newer",
            v.major_version, v.minor_version, MIN_API.0, MIN_API.1
        )));
    }
    docker.ping().await.map_err(|e| no_engine(e.to_string()))?;
    Ok(docker)
}

/// Whether `tool` is on `PATH`.
pub fn which(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// The engine's address of a container on `network`.
pub fn address_on(inspect: &bollard::models::ContainerInspectResponse, network: &str) -> Option<std::net::Ipv4Addr> {
    inspect
        .network_settings
        .as_ref()?
        .networks
        .as_ref()?
        .get(network)?
        .ip_address
        .as_deref()
        .filter(|a| !a.is_empty())?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_an_engine_the_error_says_what_is_missing_and_how_to_get_it() {
        let e = connect_to("unix:///nonexistent/docker.sock").await.unwrap_err().to_string();
        assert!(e.contains("/nonexistent/docker.sock does not exist"), "{e}");
        assert!(e.contains("apt-get install docker.io") && e.contains("dockerd &"), "{e}");
    }
}
