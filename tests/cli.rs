//! The `zk-chaos` binary end to end: bad flags, `up --detach`, `status`,
//! `down`, and cleaning up after an `up` that was killed outright.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use zk_chaos::backend::local::ensemble;
use zk_chaos::backend::local::state::{self, RunState};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zk-chaos"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn registered(name: &str) -> Option<RunState> {
    state::registered_runs()
        .into_iter()
        .find(|(_, e)| e.name == name)
        .and_then(|(_, e)| RunState::load(&e.run_dir).ok())
}

#[test]
fn bad_flags_name_what_was_expected() {
    let o = run(bin().args(["up", "--replicas", "0", "--name", "cli-zero"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("must be between 1 and 99"), "{}", text(&o));
    let o = run(bin().args(["up", "--subnet", "10.1.2.3/24"]));
    assert!(!o.status.success());
    assert!(text(&o).contains("host bits are set"), "{}", text(&o));
    let o = run(bin().args(["up", "--version", "9.9.9", "--name", "cli-ver"]));
    assert!(text(&o).contains("9.9.9"), "{}", text(&o));
    let o = run(bin().args(["down"]));
    assert!(!o.status.success() && text(&o).contains("--name"), "{}", text(&o));
    for cmd in ["up", "down", "status", "run", "steps", "provision", "apply", "operator", "manifests", "check"] {
        let o = run(bin().args([cmd, "--help"]));
        assert!(o.status.success() && text(&o).contains("Examples:"), "{cmd} --help has examples");
    }
    // `smoke` is retired: the bundled features (smoke, pod kills, leader
    // loss, rolling upgrade, scaling) check all it did.
    let o = run(bin().args(["smoke"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unrecognized subcommand 'smoke'"), "{}", text(&o));
}

#[test]
fn detached_up_status_and_down() {
    let work = tempfile::tempdir().unwrap();
    let o = run(bin()
        .args(["up", "--detach", "--name", "cli-detach", "--replicas", "3"])
        .env("ZK_CHAOS_WORK_DIR", work.path()));
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("connect string:") && out.contains("leader"), "{out}");
    let st = registered("cli-detach").expect("registered");
    let o = run(bin().args(["status", "--name", "cli-detach"]));
    assert!(o.status.success(), "{}", text(&o));
    let table = text(&o);
    assert_eq!(table.matches("leader").count(), 1, "{table}");
    assert_eq!(table.matches("follower").count(), 2, "{table}");
    let o = run(bin().args(["status", "--name", "cli-detach", "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["status"]["quorum"], true);
    let o = run(bin().args(["down", "--name", "cli-detach"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ensemble::leftovers_of(&st.run, st.subnet), Vec::<String>::new());
    assert!(registered("cli-detach").is_none());
    assert!(!st.run_dir.join("volumes").exists(), "data released");
}

#[test]
fn a_killed_up_leaves_no_server_and_down_cleans_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["up", "--name", "cli-crash", "--replicas", "1", "--data-disk-mb", "32"])
        .env("ZK_CHAOS_WORK_DIR", work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let st = loop {
        if let Some(st) =
            registered("cli-crash").filter(|s| s.pods.values().all(|p| p.pid.is_some()) && !s.pods.is_empty())
        {
            break st;
        }
        assert!(Instant::now() < deadline, "up never started its server");
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let pid = st.pods[&0].pid.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while zk_chaos::sys::pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!zk_chaos::sys::pid_alive(pid), "the server died with its parent");
    let left = ensemble::leftovers_of(&st.run, st.subnet);
    assert!(left.iter().any(|l| l.starts_with("namespace")), "namespaces outlive a SIGKILL: {left:?}");
    assert!(left.iter().any(|l| l.starts_with("data disk")), "so does the tmpfs data disk: {left:?}");
    let o = run(bin().args(["down", "--name", "cli-crash"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ensemble::leftovers_of(&st.run, st.subnet), Vec::<String>::new());
}

#[test]
fn run_rejects_bad_features_plans_and_tags_before_standing_anything_up() {
    let dir = tempfile::tempdir().unwrap();
    let feature = dir.path().join("typo.feature");
    std::fs::write(&feature, "Feature: t\n  Scenario: s\n    Given a 3-member ensemble \"zk\" running ZooKeeper 3.8.0\n    When I kil the leader\n").unwrap();
    let o = run(bin().arg("run").arg(&feature));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{}:4: no step matches `When I kil the leader`", feature.display())),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("When I kill the leader"), "suggests the closest step: {}", text(&o));
    let plan = dir.path().join("bad.yaml");
    std::fs::write(&plan, "name: p\nensemble:\n  members: 3\n  version: 3.8\n").unwrap();
    let o = run(bin().arg("run").arg(&plan));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{}:2: ensemble.version: `3.8` is not a ZooKeeper version", plan.display())),
        "{}",
        text(&o)
    );
    let o = run(bin().args(["run", "features", "--tags", "@smoke and"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad tag expression"), "{}", text(&o));
    let o = run(bin().args(["run", "features", "--tags", "@no-such-tag"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(bin().arg("steps"));
    assert!(o.status.success() && text(&o).contains("When I kill {selector}"), "{}", text(&o));
}

/// A run interrupted by SIGTERM (a CI timeout) exits 143 and keeps the
/// scenario that finished; the one running is `interrupted` (its own
/// outcome, not `failed`) in the record, the page and JUnit (skipped, with
/// why), and the run itself is the error CI sees.
#[test]
fn a_run_interrupted_by_sigterm_keeps_finished_scenarios_and_marks_the_rest_interrupted() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use zk_chaos::report::{Outcome, RunRecord};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("intr.feature"),
        "Feature: interrupt\n\n  Scenario: quick\n    When I wait 1s\n\n  Scenario: slow\n    When I wait 300s\n",
    )
    .unwrap();
    let log = dir.path().join("out.log");
    let out = dir.path().join("reports");
    let mut child = bin()
        .args(["run", "--concurrency", "1", "--out"])
        .arg(&out)
        .arg("intr.feature")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let said = || {
        std::fs::read_to_string(&log).unwrap_or_default()
            + &std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default()
    };
    while !said().contains("interrupt: slow") {
        assert!(Instant::now() < deadline, "the second scenario never started: {}", said());
        assert!(child.try_wait().unwrap().is_none(), "the run ended early: {}", said());
        std::thread::sleep(Duration::from_millis(200));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "SIGTERM's conventional status: {}", said());
    let run_dir =
        std::fs::read_dir(&out).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    let record = RunRecord::load(&run_dir).unwrap();
    let outcomes: Vec<Outcome> = record.scenarios().map(|(_, s)| s.outcome).collect();
    assert_eq!(outcomes, [Outcome::Passed, Outcome::Interrupted], "{}", said());
    let c = record.counts();
    assert_eq!((c.passed, c.failed, c.interrupted), (1, 0, 1));
    assert!(record.error.as_deref().unwrap_or("").contains("interrupted (SIGTERM)"), "{:?}", record.error);
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<skipped message="interrupted: SIGTERM"/>"#), "{junit}");
    assert!(said().contains("INTR  interrupt: slow"), "{}", said());
}

/// `down` scrubs the clear-text password that an older version wrote into
/// `state.json` (mode 0644, kept after the ensemble): the file is rewritten
/// without it, 0600, and `down` says so. A run of its own, in a registry and
/// a work dir of its own: nothing of anyone else's is touched.
#[test]
fn down_scrubs_an_old_state_file_of_its_clear_text_password() {
    use std::os::unix::fs::PermissionsExt as _;
    use zk_chaos::backend::local::naming::{RunId, Subnet};
    use zk_chaos::zkconfig::{EnsembleNames, SuperCredential};
    let tmp = tempfile::tempdir().unwrap();
    let registry = tmp.path().join("registry");
    let run = RunId::try_from(format!("{:06x}", std::process::id() & 0xff_ffff)).unwrap();
    let name = format!("scrub-{run}");
    let run_dir = tmp.path().join("work").join("runs").join(run.as_str());
    let st = RunState {
        run: run.clone(),
        names: EnsembleNames::new(name.as_str(), "default"),
        subnet: Subnet::try_from("10.254.253.0/24".to_string()).unwrap(),
        fenced: false,
        bridged: false,
        run_dir: run_dir.clone(),
        admin_port: 8080,
        credential: SuperCredential::default(),
        pods: Default::default(),
        detached: true,
        created_unix: 0,
        operator: None,
        data_disk_mb: None,
    };
    // As an older version wrote it: the credential inside, readable by all.
    let mut v = serde_json::to_value(&st).unwrap();
    v["credential"] = serde_json::json!({"user": "super", "password": "clear-text-secret"});
    std::fs::create_dir_all(&run_dir).unwrap();
    let file = RunState::file(&run_dir);
    std::fs::write(&file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir_all(&registry).unwrap();
    let entry = serde_json::json!({"name": name, "run_dir": run_dir});
    std::fs::write(registry.join(format!("{run}.json")), entry.to_string()).unwrap();

    let o = run_cmd_in_registry(&registry, &["down", "--name", &name]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("scrubbed the clear-text password an older version left in"), "{}", text(&o));
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(!after.contains("clear-text-secret") && !after.contains("credential"), "{after}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!registry.join(format!("{run}.json")).exists(), "unregistered");
    assert!(!registry.join(format!("{run}.secret")).exists(), "a removed run keeps no secret");
}

fn run_cmd_in_registry(registry: &std::path::Path, args: &[&str]) -> Output {
    run(bin().args(args).env("ZK_CHAOS_REGISTRY", registry))
}
