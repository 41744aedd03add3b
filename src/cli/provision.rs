//! `zk-chaos provision`: fill the distribution cache ahead of time.

use std::process::ExitCode;

use clap::Args;
use zk_chaos::dist::{self, DistConfig, Progress as _};

use super::progress::Spinner;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Versions to provision (repeatable); default: every supported version.
    #[arg(long = "version")]
    versions: Vec<String>,
}

pub async fn provision(args: ProvisionArgs) -> anyhow::Result<ExitCode> {
    let cfg = DistConfig::from_env();
    let versions: Vec<String> = if args.versions.is_empty() {
        dist::supported_versions().iter().map(|v| v.to_string()).collect()
    } else {
        args.versions
    };
    let spinner = Spinner::new();
    for v in versions {
        spinner.stage(&format!("resolving ZooKeeper {v}"));
        let d = dist::resolve(&v, &cfg, &spinner).await?;
        spinner.println(format!(
            "ZooKeeper {v}: {} jars from {:?} in {}",
            d.classpath.len(),
            d.source,
            d.home.display()
        ));
    }
    spinner.finish();
    Ok(ExitCode::SUCCESS)
}
