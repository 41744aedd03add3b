//! The server-log diagnosis on real captured logs: three members of
//! ZooKeeper 3.8.0 driven through the ZOOKEEPER-4643 choreography of
//! `features/known_bugs.feature` (a truncation of acknowledged writes to
//! follow a leader elected with an older log), and 3.9.3 through the same
//! choreography (a truncation below the new leader's own log: the hole in
//! its committed log of ZOOKEEPER-4925), and 3.9.6, where the same
//! choreography truncates only what was never acknowledged.

use std::path::PathBuf;

use zk_chaos::diagnose::known_bugs::{Attribution, attribute};
use zk_chaos::diagnose::logline::{EventKind, SyncMode};
use zk_chaos::diagnose::{AckedWrite, diagnose, read_logs};

fn logs(dir: &str) -> Vec<(String, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zklog").join(dir);
    (0..3).map(|o| (format!("zk-{o}"), root.join(format!("zk-{o}.log")))).collect()
}

fn acked(zxids: &[i64]) -> Vec<AckedWrite> {
    zxids.iter().enumerate().map(|(i, z)| AckedWrite { id: i as u64, zxid: *z, what: format!("set /k{i}") }).collect()
}

#[test]
fn every_member_log_yields_elections_roles_and_syncs() {
    for dir in ["3.8.0-zookeeper-4643", "3.9.3-zookeeper-4925", "3.9.6-same-choreography"] {
        let events = read_logs(&logs(dir));
        for o in 0..3 {
            let mine: Vec<&EventKind> = events.iter().filter(|e| e.ordinal == o).map(|e| &e.kind).collect();
            assert!(mine.iter().any(|k| matches!(k, EventKind::ElectionStarted { .. })), "{dir} pod {o}: no election");
            assert!(mine.iter().any(|k| matches!(k, EventKind::Role { .. })), "{dir} pod {o}: no role");
            assert!(mine.iter().any(|k| matches!(k, EventKind::Loaded { .. })), "{dir} pod {o}: no load");
        }
        assert!(events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "{dir}: events in time order");
        assert!(
            events.iter().any(|e| matches!(e.kind, EventKind::Sync { mode: SyncMode::Diff, .. })),
            "{dir}: a DIFF sync"
        );
    }
}

#[test]
fn the_captured_3_8_0_truncation_is_found_and_named() {
    let events = read_logs(&logs("3.8.0-zookeeper-4643"));
    // Acknowledged writes before, inside and after the dropped range.
    let d = diagnose(&events, &acked(&[0x1_0000_0010, 0x1_0000_0050, 0x1_0000_00b4, 0x2_0000_0003]));
    let lossy: Vec<_> = d.lossy().collect();
    assert_eq!(lossy.len(), 1, "{:#?}", d.truncations);
    let t = lossy[0];
    assert_eq!(t.member, 2, "pod 2 (A, the old leader) truncated");
    assert_eq!(t.leader, Some(1), "to follow pod 1 (C)");
    assert_eq!(t.to_zxid, 0x1_0000_001c);
    assert_eq!(t.had_until, Some(0x1_0000_00b4));
    assert_eq!(t.leader_log_end, Some(0x1_0000_001c), "the leader's vote ended where it truncated the others");
    assert_eq!(t.acked_lost.iter().map(|w| w.zxid).collect::<Vec<_>>(), vec![0x1_0000_0050, 0x1_0000_00b4]);
    assert!(t.explain().contains("pod 2 truncated its log to 0x10000001c to follow leader pod 1"), "{}", t.explain());
    assert_eq!(
        attribute(&d, true, &["3.8.0".into()]),
        Attribution::Known { id: "ZOOKEEPER-4643", version: "3.8.0".into() }
    );
    assert!(matches!(attribute(&d, true, &["3.9.6".into()]), Attribution::Regression { .. }));
}

#[test]
fn the_same_choreography_on_3_9_3_truncates_below_the_leaders_own_log() {
    let events = read_logs(&logs("3.9.3-zookeeper-4925"));
    let d = diagnose(&events, &acked(&[0x1_0000_0005, 0x1_0000_0050, 0x3_0000_0001]));
    let lossy: Vec<_> = d.lossy().collect();
    assert_eq!(lossy.len(), 1, "{:#?}", d.truncations);
    let t = lossy[0];
    assert_eq!((t.member, t.leader, t.to_zxid), (1, Some(2), 0x1_0000_000c));
    assert_eq!(t.leader_log_end, Some(0x1_0000_00df), "the leader had the transactions it truncated the learner below");
    assert_eq!(t.acked_lost.iter().map(|w| w.zxid).collect::<Vec<_>>(), vec![0x1_0000_0050]);
    assert_eq!(
        attribute(&d, true, &["3.9.3".into()]),
        Attribution::Known { id: "ZOOKEEPER-4925", version: "3.9.3".into() }
    );
    assert!(matches!(attribute(&d, true, &["3.9.6".into()]), Attribution::Regression { id: "ZOOKEEPER-4925", .. }));
}

/// The acknowledged writes of a captured run (`acked.txt`: `0x<zxid> <op id>`
/// per line, from its history).
fn captured_acked(dir: &str) -> Vec<AckedWrite> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zklog").join(dir).join("acked.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (zxid, id) = l.split_once(' ').unwrap();
            AckedWrite {
                id: id.parse().unwrap(),
                zxid: i64::from_str_radix(zxid.trim_start_matches("0x"), 16).unwrap(),
                what: format!("op {id}"),
            }
        })
        .collect()
}

#[test]
fn on_3_9_6_the_same_choreography_truncates_only_what_was_never_acknowledged() {
    let events = read_logs(&logs("3.9.6-same-choreography"));
    let acked = captured_acked("3.9.6-same-choreography");
    assert_eq!(acked.len(), 573);
    let d = diagnose(&events, &acked);
    // A (pod 2), the old leader, cut off with three proposals no quorum
    // had, drops them to follow C (pod 1), whose log ends where B's DIFF
    // left it: nothing acknowledged is in the range.
    assert_eq!(d.truncations.len(), 1, "{:#?}", d.truncations);
    let t = &d.truncations[0];
    assert_eq!((t.member, t.leader, t.to_zxid, t.had_until), (2, Some(1), 0x1_0000_0269, Some(0x1_0000_026c)));
    assert_eq!(t.leader_log_end, Some(0x1_0000_0269));
    assert!(t.acked_lost.is_empty(), "{:?}", t.acked_lost);
    assert_eq!(d.lossy().count(), 0);
    // Had an acknowledged write fallen in the range, it would be found.
    let mut with_one_more = acked.clone();
    with_one_more.push(AckedWrite { id: 99_999, zxid: 0x1_0000_026b, what: "set /k".into() });
    let d = diagnose(&events, &with_one_more);
    assert_eq!(d.lossy().count(), 1);
    assert_eq!(
        attribute(&d, true, &["3.9.6".into()]),
        Attribution::Regression { id: "ZOOKEEPER-4643", version: "3.9.6".into() }
    );
}
