//! `zk-chaos check` re-judges a bundle's status samples offline: the
//! status-truth checker over `status.jsonl` and `probes.jsonl`, beside the
//! history checkers.

use std::net::Ipv4Addr;

use zk_chaos::check::status_truth::StatusSample;
use zk_chaos::check::suite::{Bundle, RunFacts};
use zk_chaos::operator::crd::ZookeeperClusterSpec;
use zk_chaos::operator::status::{Phase, ZookeeperClusterStatus};
use zk_chaos::probe::parse::Srvr;
use zk_chaos::probe::{EnsembleStatus, MemberStatus, Mode};

const S: u64 = 1_000_000_000;

/// A round where the members in `up` serve (pod 0 leads when up).
fn round(up: &[u32]) -> EnsembleStatus {
    EnsembleStatus::judge(
        (0..3)
            .map(|o| {
                let mut m = MemberStatus::unprobed(o, Ipv4Addr::new(10, 0, 0, 10 + o as u8));
                if up.contains(&o) {
                    m.srvr = Some(Srvr {
                        version: "3.9.6".into(),
                        zxid: 7,
                        mode: if o == 0 { Mode::Leader } else { Mode::Follower },
                        node_count: 5,
                        connections: 1,
                    });
                } else {
                    m.not_serving = true;
                }
                m
            })
            .collect(),
    )
}

/// 20 s of rounds every 250 ms, pod 2 not serving from 5 s on; the status
/// read every second says `phase` with `ready` replicas ready.
fn bundle(phase: Phase, ready: u32) -> Bundle {
    let spec = ZookeeperClusterSpec::new(3, "3.9.6");
    let probes = (0..80u64).map(|i| (i * S / 4, if i < 20 { round(&[0, 1, 2]) } else { round(&[0, 1]) })).collect();
    let status =
        ZookeeperClusterStatus { phase: Some(phase), replicas: 3, ready_replicas: ready, ..Default::default() };
    let statuses =
        (0..20u64).map(|t| StatusSample { at_ns: t * S, status: Some(status.clone()), spec: spec.clone() }).collect();
    Bundle {
        probes: Some(probes),
        statuses: Some(statuses),
        facts: RunFacts { operator_down: Some(Vec::new()), ..RunFacts::default() },
        ..Bundle::default()
    }
}

fn check(b: &Bundle) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    b.save(dir.path()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zk-chaos")).arg("check").arg(dir.path()).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn check_re_judges_the_status_a_bundle_recorded() {
    let (code, out) = check(&bundle(Phase::Ready, 3));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("INVALID  status-truth"), "{out}");
    assert!(out.contains("at 5.0s the status said phase Ready while the probes had shown"), "{out}");
    let ready_lie =
        "at 10.0s the status said readyReplicas 3 while the probes had shown only 2 member(s) serving for 5.0s";
    assert!(out.contains(ready_lie), "{out}");
    let (_, out) = check(&bundle(Phase::Critical, 2));
    assert!(out.contains("VALID    status-truth"), "{out}");
}
