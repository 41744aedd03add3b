//! The on-disk record of a local run: what it created, where, and which
//! processes it started. Written at every change, so `status`, `down` and
//! `down --all` work from another process, and after a crash.
//!
//! Layout: a registry entry `/run/zk-chaos/<run>.json` (tmpfs: it goes away
//! with the namespaces on reboot) points at the run dir
//! `<work>/runs/<run>/` that holds `state.json`, `volumes/` and `logs/`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::naming::{RunId, Subnet};
use super::pod::PodDirs;
use crate::zkconfig::{EnsembleNames, ServerSettings, SuperCredential};

/// Errors reading or writing run state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A state file could not be parsed.
    #[error("{path}: not a zk-chaos state file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// The directory of the registry of live runs.
pub fn registry_dir() -> PathBuf {
    std::env::var_os("ZK_CHAOS_REGISTRY").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/zk-chaos"))
}

/// The default work dir: `$ZK_CHAOS_WORK_DIR`, else
/// `$XDG_STATE_HOME/zk-chaos`, else `~/.local/state/zk-chaos`.
pub fn default_work_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ZK_CHAOS_WORK_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("zk-chaos");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".local/state/zk-chaos")
}

/// What a pod is started from: the StatefulSet's pod template, as far as
/// a server process needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodTemplate {
    /// The template's revision (empty outside operator-managed runs).
    pub revision: String,
    /// The ZooKeeper version.
    pub version: String,
    /// zoo.cfg settings.
    pub settings: ServerSettings,
    /// JVM heap in MiB.
    pub heap_mb: u32,
}

/// What is recorded of one pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodRecord {
    /// Its address on the run's bridge.
    pub addr: Ipv4Addr,
    /// The template it runs (or last ran).
    pub template: PodTemplate,
    /// Its files.
    pub dirs: PodDirs,
    /// The pid of its JVM while it runs.
    pub pid: Option<u32>,
    /// Whether its namespace and veth exist.
    pub wired: bool,
}

/// The whole record of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    /// The run id.
    pub run: RunId,
    /// Cluster names.
    pub names: EnsembleNames,
    /// The run's subnet.
    pub subnet: Subnet,
    /// Whether the fence route was installed.
    pub fenced: bool,
    /// Whether the bridge was created.
    pub bridged: bool,
    /// The run dir.
    pub run_dir: PathBuf,
    /// The admin server port every pod listens on.
    pub admin_port: u16,
    /// The super-user credential for reconfig. Never in `state.json`
    /// (which outlives the ensemble, with its logs): it lives in the
    /// registry beside the run's entry, readable by its owner only, and is
    /// removed with the ensemble; after that it is empty.
    #[serde(skip)]
    pub credential: SuperCredential,
    /// Pods by ordinal.
    pub pods: BTreeMap<u32, PodRecord>,
    /// Whether the processes were started detached from the CLI.
    pub detached: bool,
    /// Seconds since the epoch when the run started.
    pub created_unix: u64,
    /// What the embedded operator keeps in the world (its StatefulSet
    /// equivalent and the resource); `None` for runs without it.
    #[serde(default)]
    pub operator: Option<serde_json::Value>,
    /// Each pod's data dir is a tmpfs of this many MiB (see `local::disk`).
    #[serde(default)]
    pub data_disk_mb: Option<u32>,
}

impl RunState {
    /// `state.json` of a run dir.
    pub fn file(run_dir: &Path) -> PathBuf {
        run_dir.join("state.json")
    }
    /// The registry entry of a run.
    pub fn registry_entry(run: &RunId) -> PathBuf {
        registry_dir().join(format!("{run}.json"))
    }
    /// The file holding a run's super-user credential (in the registry:
    /// tmpfs, owner-only, removed with the ensemble).
    pub fn secret_file(run: &RunId) -> PathBuf {
        secret_in(&registry_dir(), run)
    }
    /// Write `state.json` atomically (in a run dir only its owner can
    /// enter), the registry entry and the credential (mode 0600).
    pub fn save(&self) -> Result<(), StateError> {
        self.save_in(&registry_dir())
    }
    fn save_in(&self, registry: &Path) -> Result<(), StateError> {
        private_dir(&self.run_dir)?;
        let path = Self::file(&self.run_dir);
        let json = serde_json::to_vec_pretty(self).expect("state serialises");
        write_atomic(&path, &json, 0o600)?;
        let entry = registry.join(format!("{}.json", self.run));
        let pointer =
            serde_json::to_vec(&RegistryEntry { name: self.names.name.clone(), run_dir: self.run_dir.clone() })
                .expect("registry entry serialises");
        write_atomic(&entry, &pointer, 0o644)?;
        if !self.credential.password.is_empty() {
            let secret = serde_json::to_vec(&self.credential).expect("credential serialises");
            write_atomic(&secret_in(registry, &self.run), &secret, 0o600)?;
        }
        Ok(())
    }
    /// Load a run's state from its run dir, with its credential while the
    /// ensemble exists.
    pub fn load(run_dir: &Path) -> Result<Self, StateError> {
        Self::load_in(run_dir, &registry_dir())
    }
    fn load_in(run_dir: &Path, registry: &Path) -> Result<Self, StateError> {
        let path = Self::file(run_dir);
        let mut bytes = std::fs::read(&path).map_err(|source| StateError::Io { path: path.clone(), source })?;
        // An older version wrote the password here: scrub it on sight.
        if bytes.windows(OLD_CREDENTIAL_KEY.len()).any(|w| w == OLD_CREDENTIAL_KEY)
            && scrub_in(run_dir, registry).unwrap_or(false)
        {
            bytes = std::fs::read(&path).map_err(|source| StateError::Io { path: path.clone(), source })?;
        }
        let mut st: Self = serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path, source })?;
        let secret = secret_in(registry, &st.run);
        if let Ok(bytes) = std::fs::read(&secret) {
            st.credential =
                serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path: secret, source })?;
        }
        Ok(st)
    }
    /// Remove the registry entry, the credential and the name claim (the
    /// run dir keeps its logs).
    pub fn unregister(&self) {
        let _ = std::fs::remove_file(Self::registry_entry(&self.run));
        let _ = std::fs::remove_file(Self::secret_file(&self.run));
        release_name(&self.names.name, &self.run);
    }
    /// `ip:2181,...` over the pods.
    pub fn connect_string(&self) -> String {
        self.pods.values().map(|p| format!("{}:{}", p.addr, crate::zkconfig::CLIENT_PORT)).collect::<Vec<_>>().join(",")
    }
}

/// How an older version's `state.json` held the super user's credential.
const OLD_CREDENTIAL_KEY: &[u8] = b"\"credential\"";

/// Remove the clear-text credential that an older version wrote into
/// `run_dir`'s `state.json` (kept after `down`, often readable by anyone):
/// the file is rewritten without it, mode 0600. While the run is still
/// registered (an ensemble an older version started) and has no secret
/// yet, the credential moves to the registry's owner-only secret first,
/// so `reconfig` keeps working. `Ok(true)` when it scrubbed one; a file
/// that is not a state file of ours is an error and left alone.
pub fn scrub_old_credential(run_dir: &Path) -> Result<bool, StateError> {
    scrub_in(run_dir, &registry_dir())
}

fn scrub_in(run_dir: &Path, registry: &Path) -> Result<bool, StateError> {
    let path = RunState::file(run_dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(StateError::Io { path, source }),
    };
    let parse = |source| StateError::Parse { path: path.clone(), source };
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(parse)?;
    let Some(old) = v.as_object_mut().and_then(|o| o.remove("credential")) else { return Ok(false) };
    // Only a state file of ours is rewritten.
    let st: RunState = serde_json::from_value(v.clone()).map_err(parse)?;
    let secret = secret_in(registry, &st.run);
    let registered = registry.join(format!("{}.json", st.run)).is_file();
    if registered
        && !secret.exists()
        && let Ok(cred) = serde_json::from_value::<SuperCredential>(old)
        && !cred.password.is_empty()
    {
        let json = serde_json::to_vec(&cred).expect("credential serialises");
        write_atomic(&secret, &json, 0o600)?;
    }
    write_atomic(&path, &serde_json::to_vec_pretty(&v).expect("state serialises"), 0o600)?;
    Ok(true)
}

/// Scrub ([`scrub_old_credential`]) every `state.json` under
/// `<work_dir>/runs/*/` and in every registered run's dir; returns how
/// many held a clear-text credential.
pub fn scrub_old_state_files(work_dir: &Path) -> usize {
    scrub_all_in(work_dir, &registry_dir())
}

fn scrub_all_in(work_dir: &Path, registry: &Path) -> usize {
    let mut dirs: std::collections::BTreeSet<PathBuf> = std::fs::read_dir(work_dir.join("runs"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir(registry) {
        for e in entries.filter_map(Result::ok) {
            if e.file_name().to_str().is_some_and(|n| n.ends_with(".json"))
                && let Ok(entry) = serde_json::from_slice::<RegistryEntry>(&std::fs::read(e.path()).unwrap_or_default())
            {
                dirs.insert(entry.run_dir);
            }
        }
    }
    dirs.iter().filter(|d| scrub_in(d, registry).unwrap_or(false)).count()
}

/// A registry entry: which cluster name a run serves and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistryEntry {
    /// The cluster name.
    pub name: String,
    /// The run dir.
    pub run_dir: PathBuf,
}

/// Every registered run: `(run id, entry)`; unreadable entries are skipped.
pub fn registered_runs() -> Vec<(RunId, RegistryEntry)> {
    let Ok(dir) = std::fs::read_dir(registry_dir()) else { return Vec::new() };
    let mut out: Vec<_> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".json")?.to_string();
            let run = RunId::try_from(name).ok()?;
            let entry = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some((run, entry))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn name_claim_in(registry: &Path, name: &str) -> PathBuf {
    registry.join("names").join(name)
}

/// Claim cluster name `name` for `run`. Claims are made under an exclusive
/// lock on the names directory, so two racing runs (threads or processes)
/// can never both win, and a claim is never seen half written. A claim whose
/// run `is_live` says is gone (a crash) is taken over. `false` when a live
/// run holds it.
pub fn claim_name(name: &str, run: &RunId, is_live: impl Fn(&RunId) -> bool) -> Result<bool, StateError> {
    claim_name_in(&registry_dir(), name, run, is_live)
}

fn claim_name_in(
    registry: &Path,
    name: &str,
    run: &RunId,
    is_live: impl Fn(&RunId) -> bool,
) -> Result<bool, StateError> {
    let path = name_claim_in(registry, name);
    let dir = path.parent().expect("has a parent").to_path_buf();
    let io = |source| StateError::Io { path: path.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let _lock = names_lock(&dir)?;
    let holder = std::fs::read_to_string(&path).ok().and_then(|h| RunId::try_from(h.trim().to_string()).ok());
    match holder {
        Some(h) if h == *run => Ok(true),
        Some(h) if is_live(&h) => Ok(false),
        _ => {
            write_atomic(&path, run.as_str().as_bytes(), 0o644)?;
            Ok(true)
        }
    }
}

/// Hold the names directory's exclusive lock until the returned file is
/// dropped (closed).
fn names_lock(dir: &Path) -> Result<std::fs::File, StateError> {
    let path = dir.join(".lock");
    let io = |source| StateError::Io { path: path.clone(), source };
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    lock.lock().map_err(io)?;
    Ok(lock)
}

/// Give up `run`'s claim on `name` (a claim of another run is left alone).
pub fn release_name(name: &str, run: &RunId) {
    let path = name_claim_in(&registry_dir(), name);
    let _lock = path.parent().and_then(|dir| names_lock(dir).ok());
    if std::fs::read_to_string(&path).is_ok_and(|h| h.trim() == run.as_str()) {
        let _ = std::fs::remove_file(&path);
    }
}

fn secret_in(registry: &Path, run: &RunId) -> PathBuf {
    registry.join(format!("{run}.secret"))
}

/// Create `dir` (and its parents) and make it enterable by its owner only.
fn private_dir(dir: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::PermissionsExt as _;
    let io = |source| StateError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Write `bytes` to `path` atomically, the file created with `mode` (never
/// readable by others for an instant when `mode` says so).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StateError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| StateError::Io { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn state(run_dir: &Path) -> RunState {
        RunState {
            run: RunId::try_from("abc123".to_string()).unwrap(),
            names: EnsembleNames::new("zk", "default"),
            subnet: Subnet::try_from("10.213.7.0/24".to_string()).unwrap(),
            fenced: false,
            bridged: false,
            run_dir: run_dir.to_path_buf(),
            admin_port: 8080,
            credential: SuperCredential::generate(),
            pods: BTreeMap::new(),
            detached: false,
            created_unix: 0,
            operator: None,
            data_disk_mb: None,
        }
    }

    #[test]
    fn the_password_is_never_in_the_state_file_and_only_its_owner_reads_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (run_dir, registry) = (tmp.path().join("runs").join("abc123"), tmp.path().join("registry"));
        let st = state(&run_dir);
        st.save_in(&registry).unwrap();
        let state_file = std::fs::read_to_string(RunState::file(&run_dir)).unwrap();
        assert!(!state_file.contains(&st.credential.password), "{state_file}");
        assert_eq!(mode(&run_dir), 0o700, "the run dir");
        assert_eq!(mode(&RunState::file(&run_dir)), 0o600, "state.json");
        let secret = secret_in(&registry, &st.run);
        assert_eq!(mode(&secret), 0o600, "the secret");
        // While the ensemble exists, the state comes back with its credential.
        assert_eq!(RunState::load_in(&run_dir, &registry).unwrap().credential, st.credential);
        // Once the secret is removed (down), what is left on disk has none.
        std::fs::remove_file(&secret).unwrap();
        assert_eq!(RunState::load_in(&run_dir, &registry).unwrap().credential, SuperCredential::default());
    }

    #[test]
    fn a_state_file_of_an_older_version_with_a_credential_still_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let run_dir = tmp.path().join("r");
        let st = state(&run_dir);
        let mut v = serde_json::to_value(&st).unwrap();
        v["credential"] = serde_json::json!({"user": "super", "password": "old"});
        std::fs::create_dir_all(&run_dir).unwrap();
        std::fs::write(RunState::file(&run_dir), v.to_string()).unwrap();
        std::fs::set_permissions(RunState::file(&run_dir), std::fs::Permissions::from_mode(0o644)).unwrap();
        let back = RunState::load_in(&run_dir, &tmp.path().join("registry")).unwrap();
        assert_eq!(back.run, st.run);
        // Loading it scrubbed the password: rewritten without it, 0600.
        let text = std::fs::read_to_string(RunState::file(&run_dir)).unwrap();
        assert!(!text.contains("credential") && !text.contains("\"old\""), "{text}");
        assert_eq!(mode(&RunState::file(&run_dir)), 0o600);
        assert_eq!(RunState::load_in(&run_dir, &tmp.path().join("registry")).unwrap(), back, "nothing else changed");
    }

    /// An old state file as an older version wrote it: the credential in
    /// clear text, readable by everyone.
    fn old_state_file(run_dir: &Path, run: &str, password: &str) -> RunState {
        let mut st = state(run_dir);
        st.run = RunId::try_from(run.to_string()).unwrap();
        st.credential = SuperCredential::default();
        let mut v = serde_json::to_value(&st).unwrap();
        v["credential"] = serde_json::json!({"user": "super", "password": password});
        std::fs::create_dir_all(run_dir).unwrap();
        std::fs::write(RunState::file(run_dir), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        std::fs::set_permissions(RunState::file(run_dir), std::fs::Permissions::from_mode(0o644)).unwrap();
        st
    }

    #[test]
    fn old_state_files_are_scrubbed_of_their_passwords_and_a_live_runs_moves_to_its_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let (work, registry) = (tmp.path().join("work"), tmp.path().join("registry"));
        let runs = work.join("runs");
        // Two old runs long gone, one new, and a file that is not ours.
        old_state_file(&runs.join("aaa001"), "aaa001", "hunter2");
        old_state_file(&runs.join("aaa002"), "aaa002", "hunter3");
        state(&runs.join("abc123")).save_in(&registry).unwrap();
        std::fs::create_dir_all(runs.join("other")).unwrap();
        let foreign = r#"{"credential": {"password": "theirs"}, "what": "not ours"}"#;
        std::fs::write(RunState::file(&runs.join("other")), foreign).unwrap();
        // An old run still registered (an ensemble an older version
        // started), its run dir elsewhere.
        let live_dir = tmp.path().join("elsewhere").join("aaa003");
        let live = old_state_file(&live_dir, "aaa003", "live-pw");
        let pointer = RegistryEntry { name: "old".into(), run_dir: live_dir.clone() };
        std::fs::write(registry.join("aaa003.json"), serde_json::to_vec(&pointer).unwrap()).unwrap();

        assert_eq!(scrub_all_in(&work, &registry), 3, "the two old gone runs and the live one");
        for dir in [runs.join("aaa001"), runs.join("aaa002"), live_dir.clone()] {
            let text = std::fs::read_to_string(RunState::file(&dir)).unwrap();
            assert!(!text.contains("password") && !text.contains("credential"), "{}: {text}", dir.display());
            assert_eq!(mode(&RunState::file(&dir)), 0o600, "{}", dir.display());
        }
        assert_eq!(std::fs::read_to_string(RunState::file(&runs.join("other"))).unwrap(), foreign, "not ours");
        // The live run keeps its credential, now in its owner-only secret.
        let secret = secret_in(&registry, &live.run);
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(RunState::load_in(&live_dir, &registry).unwrap().credential.password, "live-pw");
        assert!(
            !secret_in(&registry, &RunId::try_from("aaa001".to_string()).unwrap()).exists(),
            "a gone run gets none"
        );
        assert_eq!(scrub_all_in(&work, &registry), 0, "nothing left to scrub");
    }

    #[test]
    fn racing_claims_of_one_name_have_exactly_one_winner_and_a_dead_holder_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let runs: Vec<RunId> = (0..8).map(|i| RunId::try_from(format!("aaaa0{i}")).unwrap()).collect();
        for round in 0..20 {
            let name = format!("n{round}");
            // Every racer is live (its bridge exists before it claims).
            let won: usize = std::thread::scope(|s| {
                let handles: Vec<_> =
                    runs.iter().map(|r| s.spawn(|| claim_name_in(tmp.path(), &name, r, |_| true).unwrap())).collect();
                handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
            });
            assert_eq!(won, 1, "round {round}: exactly one racer holds the name");
        }
        // A claim held by a run that is gone is taken over, and kept.
        let (dead, next) = (&runs[0], &runs[1]);
        assert!(claim_name_in(tmp.path(), "crashed", dead, |_| true).unwrap());
        assert!(claim_name_in(tmp.path(), "crashed", next, |r| r != dead).unwrap());
        assert!(!claim_name_in(tmp.path(), "crashed", dead, |_| true).unwrap());
    }
}
