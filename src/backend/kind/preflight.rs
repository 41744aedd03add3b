//! Is everything the kind backend needs here? docker with a running
//! engine, kind new enough to enforce NetworkPolicy, kubectl. Every problem
//! is found in one pass (three bounded queries, concurrently) and reported
//! together, each with how to fix it.

use super::commands;
use super::error::KindError;
use super::parse::{self, KIND_NETWORK_POLICY_SINCE, Version};
use super::runner::{CmdError, Runner};

/// What the preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The docker engine's version.
    pub docker_engine: String,
    /// kind's version.
    pub kind: Version,
    /// kubectl's client version.
    pub kubectl: String,
}

fn docker_problem(result: Result<String, CmdError>) -> Result<String, String> {
    match result {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Ok(_) => {
            Err(KindError::DockerEngineDown { detail: "`docker info` printed no server version".into() }.to_string())
        }
        Err(CmdError::Failed { stderr, .. }) if parse::docker_engine_unreachable(&stderr) => {
            Err(KindError::DockerEngineDown { detail: stderr.trim().to_string() }.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn kind_problem(result: Result<String, CmdError>) -> Result<Version, String> {
    let out = result.map_err(|e| e.to_string())?;
    let v = parse::kind_version(&out).map_err(|e| e.to_string())?;
    if v < KIND_NETWORK_POLICY_SINCE {
        return Err(KindError::KindTooOld { found: v, needed: KIND_NETWORK_POLICY_SINCE }.to_string());
    }
    Ok(v)
}

fn kubectl_problem(result: Result<String, CmdError>) -> Result<String, String> {
    let out = result.map_err(|e| e.to_string())?;
    parse::kubectl_version(&out).map(|v| v.client).map_err(|e| e.to_string())
}

/// Check docker (engine included), kind and kubectl.
pub async fn preflight(runner: &dyn Runner) -> Result<Preflight, KindError> {
    let (docker, kind, kubectl) =
        (commands::docker_info(), commands::kind_version(), commands::kubectl_client_version());
    let (d, k, c) = tokio::join!(runner.run(&docker), runner.run(&kind), runner.run(&kubectl));
    let d = docker_problem(d.map(|o| o.stdout));
    let k = kind_problem(k.map(|o| o.stdout));
    let c = kubectl_problem(c.map(|o| o.stdout));
    match (d, k, c) {
        (Ok(docker_engine), Ok(kind), Ok(kubectl)) => Ok(Preflight { docker_engine, kind, kubectl }),
        (d, k, c) => {
            Err(KindError::Prerequisites { problems: [d.err(), k.err(), c.err()].into_iter().flatten().collect() })
        }
    }
}
