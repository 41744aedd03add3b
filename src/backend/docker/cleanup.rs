//! Removing what the docker backend created, by label only: one run's
//! objects (teardown, a dropped ensemble, Ctrl-C) or every object we ever
//! made on this engine (`zk-chaos down --all`, after a SIGKILLed harness).
//! Images are a cache and stay; `down --all` never touches an object
//! without our [`LABEL_MANAGED_BY`](super::naming::LABEL_MANAGED_BY) label.

use std::collections::HashMap;

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions,
};

use super::naming::{managed_filter, run_filter};
use crate::backend::local::naming::RunId;

fn label_filter(value: String) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([("label".to_string(), vec![value])]))
}

/// What carries the label `filter` (`key=value`): containers, networks and
/// volumes, as `kind name` lines.
pub async fn list(docker: &Docker, filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let copts = ListContainersOptions { all: true, filters: label_filter(filter.into()), ..Default::default() };
    for c in docker.list_containers(Some(copts)).await.unwrap_or_default() {
        let name = c.names.unwrap_or_default().first().cloned().unwrap_or_default();
        out.push(format!("container {}", name.trim_start_matches('/')));
    }
    let nopts = ListNetworksOptions { filters: label_filter(filter.into()) };
    for n in docker.list_networks(Some(nopts)).await.unwrap_or_default() {
        out.push(format!("network {}", n.name.unwrap_or_default()));
    }
    let vopts = ListVolumesOptions { filters: label_filter(filter.into()) };
    if let Ok(v) = docker.list_volumes(Some(vopts)).await {
        for v in v.volumes.unwrap_or_default() {
            out.push(format!("volume {}", v.name));
        }
    }
    out
}

/// Remove everything carrying the label `filter`: containers (forced),
/// then networks, then volumes. Returns what could not be removed.
pub async fn remove_labelled(docker: &Docker, filter: &str) -> Vec<String> {
    let mut failed = Vec::new();
    let copts = ListContainersOptions { all: true, filters: label_filter(filter.into()), ..Default::default() };
    for c in docker.list_containers(Some(copts)).await.unwrap_or_default() {
        let Some(id) = c.id else { continue };
        let rm = RemoveContainerOptions { force: true, v: true, link: false };
        if let Err(e) = docker.remove_container(&id, Some(rm)).await
            && !super::error::DockerError::is_gone_or_going(&e)
        {
            failed.push(format!("container {id}: {e}"));
        }
    }
    let nopts = ListNetworksOptions { filters: label_filter(filter.into()) };
    for n in docker.list_networks(Some(nopts)).await.unwrap_or_default() {
        let Some(id) = n.id else { continue };
        if let Err(e) = docker.remove_network(&id).await
            && !super::error::DockerError::is_not_found(&e)
        {
            failed.push(format!("network {}: {e}", n.name.unwrap_or_default()));
        }
    }
    let vopts = ListVolumesOptions { filters: label_filter(filter.into()) };
    if let Ok(v) = docker.list_volumes(Some(vopts)).await {
        for v in v.volumes.unwrap_or_default() {
            if let Err(e) = docker.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true })).await
                && !super::error::DockerError::is_not_found(&e)
            {
                failed.push(format!("volume {}: {e}", v.name));
            }
        }
    }
    failed
}

/// Remove one run's objects.
pub async fn remove_run(docker: &Docker, run: &RunId) -> Vec<String> {
    remove_labelled(docker, &run_filter(run)).await
}

/// Remove every object the docker backend ever created on this engine.
pub async fn remove_all(docker: &Docker) -> Vec<String> {
    remove_labelled(docker, &managed_filter()).await
}

/// [`remove_run`] from synchronous code (`Drop`).
pub fn remove_run_blocking(run: RunId) {
    let done = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let docker = super::engine::connect().await.ok()?;
            Some(remove_run(&docker, &run).await)
        })
    })
    .join();
    if let Ok(Some(failed)) = done
        && !failed.is_empty()
    {
        tracing::warn!(?failed, "could not remove everything of a docker run");
    }
}

/// One run's objects that still exist, from synchronous code.
pub fn leftovers_blocking(run: RunId) -> Vec<String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let docker = super::engine::connect().await.ok()?;
            Some(list(&docker, &run_filter(&run)).await)
        })
    })
    .join()
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// [`remove_all`] from synchronous code: what there was, and what could
/// not be removed; `None` when no engine answers.
pub fn remove_all_blocking() -> Option<(Vec<String>, Vec<String>)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let docker = super::engine::connect().await.ok()?;
            let there = list(&docker, &managed_filter()).await;
            Some((there, remove_all(&docker).await))
        })
    })
    .join()
    .ok()
    .flatten()
}
