//! One member's container, rendered from the operator's StatefulSet pod
//! template ([`crate::operator::k8s::build::statefulset`]): the same image
//! rule, command (the startup script), environment (downward API and
//! Secret references resolved as the kubelet would), user, mounts and
//! readiness probe. The ConfigMap the template mounts becomes a per-member
//! seed directory ([`seed_files`]) bind-mounted at the same path. Pure: no
//! Docker here, so all of it is unit-tested.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, EnvVar, Probe};
use kube::ResourceExt as _;

use crate::backend::local::state::PodTemplate;
use crate::operator::crd::{JvmSpec, ZookeeperCluster, ZookeeperClusterSpec};
use crate::operator::k8s::build::{self, BuildContext};
use crate::operator::k8s::script::{data_dir, dynamic_file};
use crate::operator::k8s::{
    CONFIG_MOUNT, DATA_MOUNT, KEY_DYNAMIC, KEY_UPDATE_REVISION, KEY_ZOO_CFG, LABEL_REVISION, LABEL_VERSION,
};
use crate::zkconfig::{ConfigError, DynamicConfig, SuperCredential, render_zoo_cfg};

/// Why a container spec could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The operator's builders rejected the spec.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pod template lacks something a container needs.
    #[error("the operator's pod template has no {0}")]
    Template(&'static str),
    /// An environment variable refers to something we cannot resolve.
    #[error("cannot resolve environment variable {name}: {why}")]
    Env {
        /// The variable.
        name: String,
        /// Why not.
        why: String,
    },
}

/// The readiness rule as a Docker health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The command (`exec` form).
    pub command: Vec<String>,
    /// How often it runs.
    pub every: Duration,
    /// How long one run may take.
    pub timeout: Duration,
    /// Failures in a row before unhealthy.
    pub retries: u32,
    /// The grace period after start.
    pub start_period: Duration,
}

/// Everything a member's container is created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image.
    pub image: String,
    /// The pod's hostname (`<name>-<ordinal>`); the startup script derives
    /// the ordinal from it.
    pub hostname: String,
    /// The command.
    pub command: Vec<String>,
    /// The environment, resolved, in the template's order.
    pub env: Vec<(String, String)>,
    /// `uid:gid` from the pod's security context.
    pub user: Option<String>,
    /// The pod's labels (the operator's, with the pod's own revision).
    pub labels: BTreeMap<String, String>,
    /// Where the data volume is mounted.
    pub data_mount: String,
    /// Where the seed (ConfigMap) directory is mounted.
    pub config_mount: String,
    /// The readiness probe.
    pub readiness: Option<Readiness>,
}

/// The resource a member of `template` is created from: the ensemble's
/// resource at the member's version and heap, with `image` as its image.
pub fn member_resource(base: &ZookeeperCluster, template: &PodTemplate, image: &str) -> ZookeeperCluster {
    let mut spec: ZookeeperClusterSpec = base.spec.clone();
    spec.version = template.version.clone();
    spec.jvm = Some(JvmSpec { heap_mb: Some(template.heap_mb) });
    spec.image = Some(image.to_string());
    let mut zk = ZookeeperCluster::new(&base.name_any(), spec);
    zk.metadata.namespace = base.metadata.namespace.clone();
    zk
}

/// The container of member `ordinal` of `zk` at revision `revision`, from
/// the operator's StatefulSet pod template.
pub fn container_spec(
    zk: &ZookeeperCluster,
    ordinal: u32,
    revision: &str,
    credential: &SuperCredential,
) -> Result<ContainerSpec, SpecError> {
    let ctx = BuildContext::initial(zk, credential.clone());
    let sts = build::statefulset(zk, &ctx)?;
    let pod = sts.spec.map(|s| s.template).ok_or(SpecError::Template("spec"))?;
    let mut labels = pod.metadata.and_then(|m| m.labels).unwrap_or_default();
    // The StatefulSet controller stamps each pod with its own revision.
    labels.insert(LABEL_REVISION.into(), revision.to_string());
    labels.insert(LABEL_VERSION.into(), zk.spec.version.clone());
    let pod_spec = pod.spec.ok_or(SpecError::Template("pod spec"))?;
    let user = pod_spec.security_context.as_ref().and_then(|s| match (s.run_as_user, s.run_as_group) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        _ => None,
    });
    let c: Container = pod_spec.containers.into_iter().next().ok_or(SpecError::Template("container"))?;
    let secrets = secret_data(zk, &ctx);
    let env = resolve_env(c.env.as_deref().unwrap_or_default(), &labels, &secrets)?;
    let names = build::names(zk);
    Ok(ContainerSpec {
        image: c.image.ok_or(SpecError::Template("image"))?,
        hostname: names.pod(ordinal),
        command: c.command.ok_or(SpecError::Template("command"))?,
        env,
        user,
        labels,
        data_mount: DATA_MOUNT.to_string(),
        config_mount: CONFIG_MOUNT.to_string(),
        readiness: c.readiness_probe.as_ref().and_then(readiness),
    })
}

/// The Secrets the template refers to, by name and key.
fn secret_data(zk: &ZookeeperCluster, ctx: &BuildContext) -> BTreeMap<String, BTreeMap<String, String>> {
    let s = build::secret(zk, ctx);
    let data =
        s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned())).collect();
    BTreeMap::from([(s.metadata.name.unwrap_or_default(), data)])
}

/// Resolve a container's environment as the kubelet does: literal values
/// with `$(VAR)` expanded from the variables defined before, the downward
/// API's `metadata.labels['x']` from `labels`, Secret keys from `secrets`.
pub fn resolve_env(
    vars: &[EnvVar],
    labels: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for v in vars {
        let err = |why: String| SpecError::Env { name: v.name.clone(), why };
        let value = if let Some(text) = &v.value {
            expand(text, &out)
        } else if let Some(from) = &v.value_from {
            if let Some(f) = &from.field_ref {
                let key = f
                    .field_path
                    .strip_prefix("metadata.labels['")
                    .and_then(|k| k.strip_suffix("']"))
                    .ok_or_else(|| err(format!("field {} is not a label", f.field_path)))?;
                labels.get(key).cloned().ok_or_else(|| err(format!("the pod has no label {key}")))?
            } else if let Some(s) = &from.secret_key_ref {
                secrets
                    .get(&s.name)
                    .and_then(|d| d.get(&s.key))
                    .cloned()
                    .ok_or_else(|| err(format!("no key {} in Secret {}", s.key, s.name)))?
            } else {
                return Err(err("only labels and Secret keys are supported".into()));
            }
        } else {
            String::new()
        };
        out.push((v.name.clone(), value));
    }
    Ok(out)
}

/// Kubernetes' `$(VAR)` expansion against the variables defined so far
/// (an unknown reference stays as it is; `$$` escapes).
fn expand(text: &str, defined: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
            && let Some((_, value)) = defined.iter().rev().find(|(k, _)| *k == inner[..end])
        {
            out.push_str(value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn readiness(p: &Probe) -> Option<Readiness> {
    let command = p.exec.as_ref()?.command.clone()?;
    let secs = |v: Option<i32>, d: u64| Duration::from_secs(v.map_or(d, |s| s.max(0) as u64));
    Some(Readiness {
        command,
        every: secs(p.period_seconds, 10),
        timeout: secs(p.timeout_seconds, 1),
        retries: p.failure_threshold.map_or(3, |f| f.max(1) as u32),
        start_period: secs(p.initial_delay_seconds, 0),
    })
}

/// The files of the seed directory (the ConfigMap's keys a pod reads):
/// the `zoo.cfg` of the pod's revision, the update revision, and the
/// dynamic config a fresh volume starts from.
pub fn seed_files(template: &PodTemplate, initial: &DynamicConfig) -> Result<Vec<(String, String)>, ConfigError> {
    let cfg = render_zoo_cfg(&template.settings, &data_dir(), &dynamic_file())?;
    Ok(vec![
        (format!("{KEY_ZOO_CFG}.{}", template.revision), cfg),
        (KEY_UPDATE_REVISION.to_string(), format!("{}\n", template.revision)),
        (KEY_DYNAMIC.to_string(), initial.render()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::k8s::script::{readiness_script, startup_script};
    use crate::zkconfig::{EnsembleNames, ServerSettings};

    fn base() -> ZookeeperCluster {
        let mut zk = ZookeeperCluster::new("zk", ZookeeperClusterSpec::new(3, "3.8.0"));
        zk.metadata.namespace = Some("default".into());
        zk
    }

    fn template(rev: &str) -> PodTemplate {
        PodTemplate { revision: rev.into(), version: "3.9.3".into(), settings: ServerSettings::default(), heap_mb: 128 }
    }

    fn cred() -> SuperCredential {
        SuperCredential { user: "super".into(), password: "pw".into() }
    }

    #[test]
    fn the_container_runs_the_operators_startup_script_and_readiness_rule() {
        let zk = member_resource(&base(), &template("rev-1"), "zk-chaos/zookeeper:3.9.3");
        let c = container_spec(&zk, 2, "rev-1", &cred()).unwrap();
        assert_eq!(c.image, "zk-chaos/zookeeper:3.9.3");
        assert_eq!(c.hostname, "zk-2");
        assert_eq!(c.command, vec!["/bin/bash".to_string(), "-c".into(), startup_script()]);
        let r = c.readiness.unwrap();
        assert_eq!(r.command, vec!["/bin/bash".to_string(), "-c".into(), readiness_script()]);
        assert_eq!((r.every, r.timeout, r.retries), (Duration::from_secs(5), Duration::from_secs(3), 3));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!((c.data_mount.as_str(), c.config_mount.as_str()), ("/data", "/config"));
        assert_eq!(c.labels[LABEL_REVISION], "rev-1");
        assert_eq!(c.labels[LABEL_VERSION], "3.9.3");
    }

    #[test]
    fn the_environment_is_resolved_as_the_kubelet_would() {
        let zk = member_resource(&base(), &template("rev-9"), "img:1");
        let c = container_spec(&zk, 0, "rev-9", &cred()).unwrap();
        let env: BTreeMap<_, _> = c.env.iter().cloned().collect();
        assert_eq!(env["ZK_PEER_DOMAIN"], "zk-pods.default.svc.cluster.local");
        assert_eq!(env["ZK_REVISION"], "rev-9");
        assert_eq!(env["ZK_SUPER_DIGEST"], cred().digest());
        let flags = &env["SERVER_JVMFLAGS"];
        assert!(flags.contains("-Xms128m") && flags.contains("-Xmx128m"), "{flags}");
        assert!(flags.contains(&cred().jvm_flag()), "the digest reference is expanded: {flags}");
        assert!(!flags.contains("$("), "{flags}");
    }

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let defined = vec![("A".to_string(), "1".to_string())];
        assert_eq!(expand("x=$(A) y=$(B) $$(A) $", &defined), "x=1 y=$(B) $(A) $");
    }

    #[test]
    fn unresolvable_references_are_errors() {
        let v = EnvVar {
            name: "X".into(),
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                    api_version: None,
                    field_path: "metadata.labels['missing']".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = resolve_env(&[v], &BTreeMap::new(), &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("no label missing"), "{e}");
    }

    #[test]
    fn the_seed_holds_the_pods_revision_and_its_initial_members() {
        let names = EnsembleNames::new("zk", "default");
        let files: BTreeMap<_, _> =
            seed_files(&template("rev-3"), &DynamicConfig::for_replicas(&names, 3)).unwrap().into_iter().collect();
        assert!(files["zoo.cfg.rev-3"].contains("dataDir=/data/data"));
        assert!(files["zoo.cfg.rev-3"].contains("dynamicConfigFile=/data/conf/zoo.cfg.dynamic"));
        assert_eq!(files["update-revision"], "rev-3\n");
        assert_eq!(files["zoo.cfg.dynamic"].lines().filter(|l| l.starts_with("server.")).count(), 3);
    }
}
