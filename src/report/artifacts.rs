//! A scenario's files next to its report: the recorded bundle (history,
//! final state, probes, faults) and each pod's logs, under
//! `<run-dir>/scenarios/<nn>-<name>/`, with links for the record and the
//! last warnings and errors of each server log for the page. A passing
//! scenario's bulky files are kept gzip-compressed (`<file>.gz`, see
//! [`crate::textfile`]); a failing one's stay plain.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use super::ReportError;
use super::format::slug;
use super::record::{Link, LogExcerpt};
use crate::backend::local::state::RunState;
use crate::check::suite::Bundle;
use crate::textfile::{self, Storage};

/// The most of one log file copied (its end), bytes.
pub const MAX_LOG_BYTES: u64 = 4 << 20;
/// Warning and error lines kept per pod in the excerpt.
pub const EXCERPT_LINES: usize = 15;
/// Longest excerpt line kept, characters.
pub const EXCERPT_LINE_CHARS: usize = 400;

/// Where one pod's logs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLog {
    /// The pod's name, e.g. `zk-1`.
    pub pod: String,
    /// The directory holding `console.log` and `zookeeper.log`.
    pub dir: PathBuf,
}

/// The pods' log directories of a local-backend run.
pub fn local_pod_logs(state: &RunState) -> Vec<PodLog> {
    state.pods.iter().map(|(o, p)| PodLog { pod: state.names.pod(*o), dir: p.dirs.logs.clone() }).collect()
}

/// What [`save_scenario_artifacts`] saved: links for
/// [`super::ScenarioRecord::links`], excerpts for [`super::ScenarioRecord::logs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// Links relative to the run directory.
    pub links: Vec<Link>,
    /// Per pod, the last warning and error lines of its server log.
    pub logs: Vec<LogExcerpt>,
}

/// The directory of scenario `number` (1-based) named `name`, relative to the run directory.
pub fn scenario_dir(number: usize, name: &str) -> PathBuf {
    PathBuf::from("scenarios").join(format!("{number:02}-{}", slug(name)))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.to_path_buf(), source }
}

fn rel(p: &Path) -> String {
    p.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The last `max` bytes of `from` (starting at a line boundary when cut).
fn read_tail(from: &Path, max: u64) -> Result<Vec<u8>, ReportError> {
    let mut f = std::fs::File::open(from).map_err(io(from))?;
    let len = f.metadata().map_err(io(from))?.len();
    let mut buf = Vec::new();
    if len > max {
        f.seek(SeekFrom::Start(len - max)).map_err(io(from))?;
    }
    f.read_to_end(&mut buf).map_err(io(from))?;
    let start = if len > max { buf.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1) } else { 0 };
    buf.drain(..start);
    Ok(buf)
}

/// The last warning and error lines of a ZooKeeper log.
pub fn excerpt(log_text: &str) -> Vec<String> {
    let mut lines: Vec<String> = log_text
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains(" FATAL "))
        .map(|l| {
            if l.chars().count() > EXCERPT_LINE_CHARS {
                let mut s: String = l.chars().take(EXCERPT_LINE_CHARS).collect();
                s.push('…');
                s
            } else {
                l.to_string()
            }
        })
        .collect();
    let cut = lines.len().saturating_sub(EXCERPT_LINES);
    lines.drain(..cut);
    lines
}

/// Save a scenario's bundle (when it has one, with the server-log
/// `diagnosis.json` at `diagnosis` beside it) and its pods' logs under
/// `run_dir/scenarios/<nn>-<name>/`. With [`Storage::Gzip`] (a passing
/// scenario) the bulky files, [`Bundle::BULKY_FILES`] and the pods' logs,
/// are written compressed as `<file>.gz` and linked as such; the log
/// excerpts are taken from the logs as read, before compressing.
pub fn save_scenario_artifacts(
    run_dir: &Path,
    number: usize,
    name: &str,
    bundle: Option<&Bundle>,
    diagnosis: Option<&Path>,
    pod_logs: &[PodLog],
    storage: Storage,
) -> Result<Artifacts, ReportError> {
    let rel_dir = scenario_dir(number, name);
    let dir = run_dir.join(&rel_dir);
    let mut out = Artifacts::default();
    if let Some(b) = bundle {
        let bdir = dir.join("bundle");
        b.save_as(&bdir, storage)?;
        if let Some(diag) = diagnosis {
            let to = bdir.join("diagnosis.json");
            std::fs::copy(diag, &to).map_err(io(&to))?;
            out.links.push(Link {
                label: "diagnosis.json".into(),
                href: rel(&rel_dir.join("bundle").join("diagnosis.json")),
            });
        }
        for file in ["history.jsonl", "final.json", "probes.jsonl", "status.jsonl", "run.json"] {
            if let Some(kept) = textfile::stored(&bdir.join(file)) {
                out.links.push(link(&rel_dir.join("bundle"), &kept, ""));
            }
        }
    }
    for p in pod_logs {
        let pod = slug(&p.pod);
        let to_dir = dir.join("logs").join(&pod);
        for file in ["zookeeper.log", "console.log"] {
            let from = p.dir.join(file);
            if !from.is_file() {
                continue;
            }
            std::fs::create_dir_all(&to_dir).map_err(io(&to_dir))?;
            let tail = read_tail(&from, MAX_LOG_BYTES)?;
            let kept = textfile::write_text(&to_dir.join(file), &tail, storage)?;
            out.links.push(link(&rel_dir.join("logs").join(&pod), &kept, &format!("{} ", p.pod)));
            if file == "zookeeper.log" {
                let lines = excerpt(&String::from_utf8_lossy(&tail));
                if !lines.is_empty() {
                    out.logs.push(LogExcerpt { pod: p.pod.clone(), lines });
                }
            }
        }
    }
    Ok(out)
}

/// A link to `file` (kept in `rel_dir`, relative to the run directory),
/// labelled `prefix` and the file's name as kept (`history.jsonl.gz` when compressed).
fn link(rel_dir: &Path, file: &Path, prefix: &str) -> Link {
    let name = file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Link { label: format!("{prefix}{name}"), href: rel(&rel_dir.join(&name)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Call, Event};

    /// A pod log with 20 warnings among 40 lines, a console log, and a
    /// one-event bundle: (run dir, logs dir, pods, bundle, the server log).
    fn sample() -> (tempfile::TempDir, tempfile::TempDir, Vec<PodLog>, Bundle, String) {
        let run = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let pod_dir = logs.path().join("zk-0");
        std::fs::create_dir_all(&pod_dir).unwrap();
        let mut log = String::new();
        for i in 0..40 {
            log.push_str(&format!("2025-01-01 00:00:{i:02},000 [myid:1] - INFO  [main] - line {i}\n"));
            if i % 2 == 0 {
                log.push_str(&format!("2025-01-01 00:00:{i:02},500 [myid:1] - WARN  [q] - lost {i} <script>\n"));
            }
        }
        std::fs::write(pod_dir.join("zookeeper.log"), &log).unwrap();
        std::fs::write(pod_dir.join("console.log"), "started\n").unwrap();
        let bundle = Bundle {
            events: vec![Event::Invoke {
                id: 1,
                client: 0,
                session: 0,
                time_ns: 1,
                call: Call::Get { path: "/a".into() },
                intended_ns: None,
            }],
            final_state: Some(Default::default()),
            probes: Some(Vec::new()),
            ..Bundle::default()
        };
        let pods = vec![
            PodLog { pod: "zk-0".into(), dir: pod_dir },
            PodLog { pod: "zk-1".into(), dir: logs.path().join("none") },
        ];
        (run, logs, pods, bundle, log)
    }

    fn check_excerpt(a: &Artifacts) {
        assert_eq!(a.logs.len(), 1);
        assert_eq!(a.logs[0].lines.len(), EXCERPT_LINES);
        assert!(a.logs[0].lines.last().unwrap().ends_with("lost 38 <script>"), "{:?}", a.logs[0].lines.last());
    }

    #[test]
    fn bundle_and_logs_are_saved_with_relative_links_and_excerpts() {
        let (run, _logs, pods, bundle, log) = sample();
        let a = save_scenario_artifacts(run.path(), 3, "Kill <the> leader", Some(&bundle), None, &pods, Storage::Plain)
            .unwrap();
        let hrefs: Vec<&str> = a.links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(
            hrefs,
            vec![
                "scenarios/03-kill-the-leader/bundle/history.jsonl",
                "scenarios/03-kill-the-leader/bundle/final.json",
                "scenarios/03-kill-the-leader/bundle/probes.jsonl",
                "scenarios/03-kill-the-leader/bundle/run.json",
                "scenarios/03-kill-the-leader/logs/zk-0/zookeeper.log",
                "scenarios/03-kill-the-leader/logs/zk-0/console.log",
            ]
        );
        assert_eq!(a.links[4].label, "zk-0 zookeeper.log");
        for h in &hrefs {
            assert!(run.path().join(h).is_file(), "{h}");
            assert!(!textfile::gz_path(&run.path().join(h)).exists(), "{h}");
        }
        assert_eq!(std::fs::read_to_string(run.path().join(hrefs[4])).unwrap(), log);
        check_excerpt(&a);
    }

    #[test]
    fn a_passing_scenarios_bulky_files_are_kept_compressed_and_linked_so() {
        let (run, _logs, pods, bundle, log) = sample();
        let a = save_scenario_artifacts(run.path(), 3, "Kill <the> leader", Some(&bundle), None, &pods, Storage::Gzip)
            .unwrap();
        let hrefs: Vec<&str> = a.links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(
            hrefs,
            vec![
                "scenarios/03-kill-the-leader/bundle/history.jsonl.gz",
                "scenarios/03-kill-the-leader/bundle/final.json",
                "scenarios/03-kill-the-leader/bundle/probes.jsonl.gz",
                "scenarios/03-kill-the-leader/bundle/run.json",
                "scenarios/03-kill-the-leader/logs/zk-0/zookeeper.log.gz",
                "scenarios/03-kill-the-leader/logs/zk-0/console.log.gz",
            ]
        );
        assert_eq!(a.links[0].label, "history.jsonl.gz");
        assert_eq!(a.links[4].label, "zk-0 zookeeper.log.gz");
        for h in &hrefs {
            let kept = run.path().join(h);
            assert!(kept.is_file(), "{h}");
            if let Some(plain) = h.strip_suffix(".gz") {
                assert!(!run.path().join(plain).exists(), "the plain {plain} is not kept");
            }
        }
        // What was compressed reads back whole, under its plain name.
        let zk_log = run.path().join("scenarios/03-kill-the-leader/logs/zk-0/zookeeper.log");
        assert_eq!(textfile::read_text(&zk_log).unwrap(), log.as_bytes());
        let loaded = Bundle::load(&run.path().join("scenarios/03-kill-the-leader/bundle")).unwrap();
        assert_eq!(loaded.events, bundle.events);
        assert_eq!(loaded.probes, Some(Vec::new()));
        // The excerpts come from the data, as for a plain save.
        check_excerpt(&a);
    }

    #[test]
    fn long_logs_keep_their_end_from_a_line_boundary() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("a.log");
        std::fs::write(&from, "first line\nsecond line\nthird\n").unwrap();
        assert_eq!(read_tail(&from, 10).unwrap(), b"third\n");
        assert_eq!(read_tail(&from, 100).unwrap(), std::fs::read(&from).unwrap());
    }
}
