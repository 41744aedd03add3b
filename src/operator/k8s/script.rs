//! What runs inside a member pod: the startup script and the readiness
//! check. The startup script does on the pod's volume exactly what
//! `LocalEnsemble::add_pod`/`render_pod_config` do on the local backend
//! (via `Supervisor::sync_statefulset`):
//!
//! 1. derive the ordinal from the hostname (`<name>-<ordinal>`) and write
//!    `myid` (`ordinal + 1`, as [`crate::zkconfig::render_myid`]);
//! 2. a fresh volume (no `zoo.cfg` yet) gets its dynamic config seeded from
//!    the ConfigMap's committed config plus the pod itself (a joiner) —
//!    the first pods of a new ensemble find each other there already;
//! 3. a used volume keeps the `dynamicConfigFile` its `zoo.cfg` points at:
//!    ZooKeeper rewrites both on every reconfig, so a restarted member
//!    comes back with its latest membership, never the seed;
//! 4. `zoo.cfg` is rendered from the ConfigMap key of the pod's own
//!    revision, `zoo.cfg.$ZK_REVISION` (the downward API gives the pod its
//!    `zk-chaos.io/revision` label; the ConfigMap holds one `zoo.cfg` per
//!    live revision, see [`super::build::config_map`]), so a member that
//!    merely restarts keeps its revision's settings even while a rollout is
//!    under way. When that key is gone (a revision the rollout abandoned),
//!    it falls back to the update revision's key (named by the
//!    `update-revision` key) and says so on stderr. The text is taken with
//!    that `dynamicConfigFile` and written last and atomically (its
//!    presence marks the volume as used);
//! 5. `exec zkServer.sh start-foreground <zoo.cfg>`; `SERVER_JVMFLAGS`
//!    carries the heap and the super digest from the Secret.
//!
//! Paths and the server command can be overridden through `ZK_VOLUME`,
//! `ZK_SEED_DIR` and `ZK_SERVER_CMD` (and the readiness check's port through
//! `ZK_CLIENT_PORT`), which is how the tests run the scripts.

use super::{CONFIG_MOUNT, DATA_MOUNT, KEY_DYNAMIC, KEY_UPDATE_REVISION, KEY_ZOO_CFG};
use crate::zkconfig::{CLIENT_PORT, ELECTION_PORT, QUORUM_PORT};

/// `dataDir`, as the server in the pod sees it.
pub fn data_dir() -> String {
    format!("{DATA_MOUNT}/data")
}

/// The initial `dynamicConfigFile`, as the server in the pod sees it.
pub fn dynamic_file() -> String {
    format!("{DATA_MOUNT}/conf/{KEY_DYNAMIC}")
}

/// The environment variable holding `<headless service>.<namespace>.svc.cluster.local`.
pub const ENV_PEER_DOMAIN: &str = "ZK_PEER_DOMAIN";

/// The environment variable holding the pod's revision (its
/// `zk-chaos.io/revision` label, through the downward API).
pub const ENV_REVISION: &str = "ZK_REVISION";

/// The startup script (run by `bash -c`).
pub fn startup_script() -> String {
    format!(
        r#"set -euo pipefail
volume="${{ZK_VOLUME:-{DATA_MOUNT}}}"
seed="${{ZK_SEED_DIR:-{CONFIG_MOUNT}}}"
host="${{HOSTNAME:-$(hostname)}}"
host="${{host%%.*}}"
ordinal="${{host##*-}}"
case "$ordinal" in
  ''|*[!0-9]*) echo "zk-chaos: cannot derive an ordinal from hostname '$host'" >&2; exit 1 ;;
esac
myid=$((10#$ordinal + 1))
mkdir -p "$volume/data" "$volume/conf"
printf '%s\n' "$myid" > "$volume/data/myid"
cfg="$volume/conf/{KEY_ZOO_CFG}"
if [ -f "$cfg" ]; then
  # A used volume: keep the dynamic config the server itself last wrote.
  dynamic="$(sed -n 's/^dynamicConfigFile=//p' "$cfg" | tail -n 1)"
  if [ -z "$dynamic" ]; then dynamic="$volume/conf/{KEY_DYNAMIC}"; fi
  echo "zk-chaos: server.$myid restarts on its own dynamic config $dynamic"
else
  # A fresh volume: the committed members plus this server.
  dynamic="$volume/conf/{KEY_DYNAMIC}"
  cp "$seed/{KEY_DYNAMIC}" "$dynamic.tmp"
  if ! grep -q "^server\.$myid=" "$dynamic.tmp"; then
    echo "server.$myid=$host.${ENV_PEER_DOMAIN}:{QUORUM_PORT}:{ELECTION_PORT}:participant;0.0.0.0:{CLIENT_PORT}" >> "$dynamic.tmp"
  fi
  mv "$dynamic.tmp" "$dynamic"
  echo "zk-chaos: server.$myid starts on a fresh volume with $(grep -c '^server\.' "$dynamic") member(s)"
fi
revision="${{{ENV_REVISION}:-}}"
template="$seed/{KEY_ZOO_CFG}.$revision"
if [ -z "$revision" ] || [ ! -f "$template" ]; then
  update="$(tr -d '[:space:]' < "$seed/{KEY_UPDATE_REVISION}" 2>/dev/null || true)"
  echo "zk-chaos: server.$myid: the ConfigMap has no {KEY_ZOO_CFG} for revision '$revision'; falling back to the update revision $update" >&2
  revision="$update"
  template="$seed/{KEY_ZOO_CFG}.$revision"
fi
if [ ! -f "$template" ]; then
  echo "zk-chaos: the ConfigMap has no {KEY_ZOO_CFG} for revision '$revision'" >&2
  exit 1
fi
echo "zk-chaos: server.$myid renders {KEY_ZOO_CFG} of revision $revision"
{{ grep -v '^dynamicConfigFile=' "$template" || true; echo "dynamicConfigFile=$dynamic"; }} > "$cfg.tmp"
mv "$cfg.tmp" "$cfg"
exec "${{ZK_SERVER_CMD:-zkServer.sh}}" start-foreground "$cfg"
"#
    )
}

/// The readiness check: `srvr` over the client port must report a `Mode:`
/// line (a member that is up but not serving answers with a sentence
/// instead). Not `ruok`, which answers `imok` while not serving.
pub fn readiness_script() -> String {
    format!(
        r#"exec 3<>"/dev/tcp/127.0.0.1/${{ZK_CLIENT_PORT:-{CLIENT_PORT}}}" && printf srvr >&3 && grep -q '^Mode: ' <&3"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_use_the_shared_ports_and_paths() {
        let s = startup_script();
        assert!(s.contains(":2888:3888:participant;0.0.0.0:2181"));
        assert!(s.contains("\"${ZK_VOLUME:-/data}\""));
        assert!(s.contains("template=\"$seed/zoo.cfg.$revision\"") && s.contains("\"$seed/update-revision\""));
        assert!(readiness_script().contains("/dev/tcp/127.0.0.1/${ZK_CLIENT_PORT:-2181}"));
        assert_eq!(data_dir(), "/data/data");
        assert_eq!(dynamic_file(), "/data/conf/zoo.cfg.dynamic");
    }
}
