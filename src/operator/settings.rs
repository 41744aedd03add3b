//! What a spec means for one server process: the `zoo.cfg` settings (fed
//! to the shared [`crate::zkconfig::render_zoo_cfg`]), JVM flags and image.

use super::crd::ZookeeperClusterSpec;
use crate::zkconfig::{ServerSettings, SuperCredential};

/// `tickTime` when the spec sets none.
pub const DEFAULT_TICK_TIME_MS: u32 = 2000;
/// Image repository used when the spec sets no image.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "zookeeper";

/// The `zoo.cfg` settings for `spec` (validate the spec first; rendering
/// rejects owned keys again).
pub fn server_settings(spec: &ZookeeperClusterSpec) -> ServerSettings {
    ServerSettings {
        tick_time_ms: spec.tick_time_ms.unwrap_or(DEFAULT_TICK_TIME_MS),
        admin_port: spec.admin_server_port,
        overrides: spec.config.clone(),
        ..ServerSettings::default()
    }
}

/// JVM flags: the heap size, when set, and the super-user digest.
pub fn jvm_flags(spec: &ZookeeperClusterSpec, credential: &SuperCredential) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(heap) = spec.jvm.as_ref().and_then(|j| j.heap_mb) {
        flags.push(format!("-Xms{heap}m"));
        flags.push(format!("-Xmx{heap}m"));
    }
    flags.push(credential.jvm_flag());
    flags
}

/// The container image: the override, or `zookeeper:<version>`.
pub fn image(spec: &ZookeeperClusterSpec) -> String {
    spec.image.clone().unwrap_or_else(|| format!("{DEFAULT_IMAGE_REPOSITORY}:{}", spec.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::JvmSpec;
    use crate::zkconfig::render_zoo_cfg;

    #[test]
    fn spec_settings_render_through_the_shared_renderer() {
        let mut spec = ZookeeperClusterSpec::new(3, "3.8.0");
        spec.tick_time_ms = Some(500);
        spec.admin_server_port = 9090;
        spec.config.insert("maxClientCnxns".into(), "7".into());
        let cfg = render_zoo_cfg(&server_settings(&spec), "/data", "/conf/zoo.cfg.dynamic").unwrap();
        assert!(cfg.contains("tickTime=500\n"));
        assert!(cfg.contains("admin.serverPort=9090\n"));
        assert!(cfg.contains("maxClientCnxns=7\n"));
    }

    #[test]
    fn jvm_flags_and_image() {
        let mut spec = ZookeeperClusterSpec::new(3, "3.9.3");
        let cred = SuperCredential { user: "super".into(), password: "secret".into() };
        assert_eq!(jvm_flags(&spec, &cred), vec![cred.jvm_flag()]);
        spec.jvm = Some(JvmSpec { heap_mb: Some(256) });
        assert_eq!(jvm_flags(&spec, &cred)[..2], ["-Xms256m".to_string(), "-Xmx256m".to_string()]);
        assert_eq!(image(&spec), "zookeeper:3.9.3");
        spec.image = Some("registry.local/zk:custom".into());
        assert_eq!(image(&spec), "registry.local/zk:custom");
    }
}
