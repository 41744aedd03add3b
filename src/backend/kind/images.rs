//! Images a kind run needs: the operator's (built here from
//! `kind/Dockerfile` and `kind load`ed, since kind nodes cannot see the
//! host's images), and ZooKeeper's, one per version (the official
//! `zookeeper:<version>` by default, or `<repository>:<version>`), loaded
//! into kind when present locally, else pulled by the nodes themselves.

use std::path::Path;

use super::commands;
use super::error::KindError;
use super::parse::{self, ImageInfo};
use super::runner::{CmdError, Runner};
use crate::operator::settings::DEFAULT_IMAGE_REPOSITORY;

/// The operator image tag the manifests reference.
pub use crate::operator::k8s::OPERATOR_IMAGE;

/// The ZooKeeper image for `version`: `<repository>:<version>`, the
/// repository defaulting to the official `zookeeper`.
pub fn zookeeper_image(version: &str, repository: Option<&str>) -> String {
    format!("{}:{version}", repository.unwrap_or(DEFAULT_IMAGE_REPOSITORY))
}

/// Build the operator image `tag` from the repository at `source`
/// (`docker build -f <source>/kind/Dockerfile -t <tag> <source>`).
pub async fn build_operator_image(runner: &dyn Runner, source: &Path, tag: &str) -> Result<(), KindError> {
    let dockerfile = source.join("kind").join("Dockerfile");
    if !dockerfile.is_file() || !source.join("Cargo.toml").is_file() {
        return Err(KindError::Image {
            image: tag.into(),
            detail: format!(
                "{} is not a zk-chaos checkout (no kind/Dockerfile and Cargo.toml); pass --source <checkout> \
                 or --operator-image <an image you built>",
                source.display()
            ),
        });
    }
    runner.run(&commands::docker_build(&dockerfile, tag, source)).await?;
    Ok(())
}

/// The local image `image`, or `None` when the engine has no such image.
pub async fn local_image(runner: &dyn Runner, image: &str) -> Result<Option<ImageInfo>, KindError> {
    match runner.run(&commands::docker_image_inspect(image)).await {
        Ok(out) => Ok(parse::image_inspect(&out.stdout)?.into_iter().next()),
        Err(CmdError::Failed { stderr, .. }) if parse::image_missing(&stderr) => Ok(None),
        Err(CmdError::Failed { stderr, .. }) if parse::docker_engine_unreachable(&stderr) => {
            Err(KindError::DockerEngineDown { detail: stderr.trim().to_string() })
        }
        Err(e) => Err(e.into()),
    }
}

/// Copy the local image `image` into every node of kind cluster `cluster`.
pub async fn load(runner: &dyn Runner, cluster: &str, image: &str) -> Result<(), KindError> {
    runner.run(&commands::kind_load(image, cluster)).await?;
    Ok(())
}

/// What [`load_if_local`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The image was local and is now in every node.
    Loaded,
    /// Not local: the nodes pull it themselves when a pod needs it.
    NotLocal,
}

/// Load `image` into `cluster` when the local engine has it.
pub async fn load_if_local(runner: &dyn Runner, cluster: &str, image: &str) -> Result<Loaded, KindError> {
    match local_image(runner, image).await? {
        Some(_) => {
            load(runner, cluster, image).await?;
            Ok(Loaded::Loaded)
        }
        None => Ok(Loaded::NotLocal),
    }
}
