//! `zk-chaos image build <version>...`: ZooKeeper images for the docker
//! backend, built offline from Debian packages and the provisioned jars.

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Build `zk-chaos/zookeeper:<version>` (and its Debian base image when missing).
    Build {
        /// Versions to build; default: every supported version.
        versions: Vec<String>,
        /// Build again even when the image is current.
        #[arg(long)]
        rebuild: bool,
    },
}

#[cfg(feature = "docker")]
pub async fn image(args: ImageArgs) -> anyhow::Result<ExitCode> {
    use zk_chaos::dist::{self, DistConfig};

    use super::progress::Spinner;
    let ImageCommand::Build { versions, rebuild } = args.command;
    let versions: Vec<String> =
        if versions.is_empty() { dist::supported_versions().iter().map(|v| v.to_string()).collect() } else { versions };
    let docker = zk_chaos::backend::docker::engine::connect().await?;
    let cfg = DistConfig::from_env();
    for v in versions {
        let started = std::time::Instant::now();
        let spinner = Spinner::new();
        let built = zk_chaos::backend::docker::image::build(&docker, &v, &cfg, rebuild, &spinner).await?;
        spinner.finish();
        let size = docker.inspect_image(&built.image).await.ok().and_then(|i| i.size).unwrap_or_default();
        println!(
            "{}: {} in {:.1}s ({} MB{})",
            built.image,
            if built.built { "built" } else { "current" },
            started.elapsed().as_secs_f64(),
            size / 1_000_000,
            if built.built_base { ", base image built too" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "docker"))]
pub async fn image(_args: ImageArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this zk-chaos was built without the docker backend; rebuild with `cargo build --features docker`")
}
