//! "A restarted member came back with its own data": after a kill (or a
//! delete) the member's server loads its snapshot and transaction log
//! from its volume and logs what it loaded (`Snapshot loaded in N ms,
//! highest zxid is 0x...`, with its `[myid:N]`). A member whose data
//! survived loads a log that is not behind what it had served before the
//! fault, under the same server id. A member whose volume did not persist
//! (an `emptyDir`, a data dir wiped at start, `dataLogDir` on scratch
//! space) loads `0x0`, or less than it had, and then quietly resyncs from
//! the leader: no other check sees it until every member loses its data
//! at once. Pure: the caller reads the probes and the log lines.

use crate::diagnose::logline::{self, EventKind};

/// How long before a fault the zxid a member served is taken as the
/// reference: a follower applies a committed transaction possibly before
/// its own copy is flushed (the quorum that acknowledged it has it), so
/// its last zxid at the very moment of a kill may be a few transactions
/// ahead of its disk. Everything it served this long before it was on its
/// disk (a flush takes milliseconds).
pub const FLUSH_MARGIN_NS: u64 = 1_000_000_000;

/// One member restarted by one fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    /// The member's ordinal.
    pub ordinal: u32,
    /// The fault, as recorded (e.g. `SIGKILL every member = pods 0,1,2`).
    pub fault: String,
    /// When the fault started, Unix ms (the log lines' clock).
    pub at_ms: i64,
    /// The last zxid the member served at least [`FLUSH_MARGIN_NS`]
    /// before the fault, from the probes (`None`: never seen serving).
    pub zxid_before: Option<u64>,
    /// Its server id before the fault.
    pub myid_before: u64,
}

/// What the member logged when it loaded its data after the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// The highest zxid it loaded from its volume.
    pub last_zxid: i64,
    /// The server id it came back with.
    pub myid: Option<u64>,
}

/// The first load member logged at or after `after_ms`, from its log
/// text (several files in order are fine: pass them concatenated).
pub fn first_load_after(log: &str, after_ms: i64) -> Option<Loaded> {
    log.lines().filter_map(logline::parse_line).filter(|l| l.at_ms >= after_ms).find_map(|l| {
        match logline::classify(&l) {
            Some(EventKind::Loaded { last_zxid }) => Some(Loaded { last_zxid, myid: l.myid }),
            _ => None,
        }
    })
}

/// The server id of the last line logged before `before_ms` that names one.
pub fn last_myid_before(log: &str, before_ms: i64) -> Option<u64> {
    log.lines().filter_map(logline::parse_line).filter(|l| l.at_ms < before_ms).filter_map(|l| l.myid).next_back()
}

/// How many members were down in each probe round (rounds in time order):
/// a member is down when no server answers, or when its server process
/// changed (a restart) and it has not served since. A member that answers
/// "not serving" with the process it served with (electing a leader after
/// the leader's restart) is not down: a rolling restart that waits for
/// each member to serve again has one down at a time, one that does not
/// wait has two restarted members not serving yet at once, however fast
/// their ports come back. Members whose process is unknown
/// ([`crate::probe::MemberStatus::instance`] `None`) count by the answer
/// alone.
pub fn down_per_round<'a>(rounds: impl IntoIterator<Item = &'a crate::probe::EnsembleStatus>) -> Vec<usize> {
    use std::collections::BTreeMap;
    // Per member: the process it last served with, and whether it has
    // restarted since without serving.
    let mut served_by: BTreeMap<u32, String> = BTreeMap::new();
    let mut restarting: BTreeMap<u32, bool> = BTreeMap::new();
    rounds
        .into_iter()
        .map(|st| {
            st.members
                .iter()
                .filter(|m| {
                    let silent = m.srvr.is_none() && !m.not_serving;
                    if let Some(now) = &m.instance {
                        if m.srvr.is_some() {
                            served_by.insert(m.ordinal, now.clone());
                            restarting.insert(m.ordinal, false);
                        } else if served_by.get(&m.ordinal).is_some_and(|was| was != now) {
                            restarting.insert(m.ordinal, true);
                        }
                    } else if m.srvr.is_some() {
                        restarting.insert(m.ordinal, false);
                    }
                    silent || restarting.get(&m.ordinal).copied().unwrap_or(false)
                })
                .count()
        })
        .collect()
}

/// The order a rolling restart restarted the members in, from the probe
/// rounds since it began (time in ns, in time order): a member restarted
/// when the server process answering for it changed. The leader must be
/// restarted last: restarting the member that leads while others still
/// run their old process forces an election per leader restart. `Ok(the
/// order)`, or `Err(why)`: the leader was restarted before another member,
/// or the probes do not say which process answered (nothing to judge by).
pub fn leader_restarted_last<'a>(
    rounds: impl IntoIterator<Item = &'a crate::probe::EnsembleStatus>,
) -> Result<String, String> {
    use std::collections::BTreeMap;
    let mut first: BTreeMap<u32, String> = BTreeMap::new();
    let mut order: Vec<u32> = Vec::new();
    let mut leader: Option<u32> = None;
    let mut early = Vec::new();
    for st in rounds {
        for m in &st.members {
            let Some(now) = &m.instance else { continue };
            let was = first.entry(m.ordinal).or_insert_with(|| now.clone());
            if was != now && !order.contains(&m.ordinal) {
                let others: Vec<u32> =
                    first.keys().copied().filter(|o| *o != m.ordinal && !order.contains(o)).collect();
                if leader == Some(m.ordinal) && !others.is_empty() {
                    early.push(format!(
                        "pod {} was restarted while it led, before pod(s) {}",
                        m.ordinal,
                        others.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    ));
                }
                order.push(m.ordinal);
            }
        }
        leader = st.leader().or(leader);
    }
    if first.is_empty() {
        return Err("the probes do not say which server process answered (this backend does not report it): \
                    the restart order cannot be told"
            .into());
    }
    let shown = order.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    if early.is_empty() {
        Ok(format!("members restarted in the order {shown}, the leader last"))
    } else {
        Err(format!("{} (restart order {shown})", early.join("; ")))
    }
}

/// Judge one restart: `Ok(what it loaded)` or `Err(why it did not come
/// back with its own data)`. `loaded` is `None` when the member logged no
/// load after the fault (it has not restarted, or its log is missing).
pub fn judge(r: &Restarted, loaded: Option<Loaded>) -> Result<String, String> {
    let who = format!("pod {} (after `{}`)", r.ordinal, r.fault);
    let Some(l) = loaded else {
        return Err(format!("{who} logged no load of its data after the fault: it has not restarted"));
    };
    if l.myid != Some(r.myid_before) {
        let got = l.myid.map_or("none".to_string(), |m| m.to_string());
        return Err(format!("{who} came back as myid {got}, it was myid {}", r.myid_before));
    }
    match r.zxid_before {
        Some(before) if (l.last_zxid as u64) < before || l.last_zxid < 0 => Err(format!(
            "{who} came back with its log ending at 0x{:x}, behind 0x{before:x} it had served before the fault: \
             its data did not survive the restart",
            l.last_zxid
        )),
        Some(before) => Ok(format!(
            "pod {} loaded 0x{:x} (had served 0x{before:x}), myid {}",
            r.ordinal, l.last_zxid, r.myid_before
        )),
        None => Ok(format!("pod {} loaded 0x{:x}, myid {}", r.ordinal, l.last_zxid, r.myid_before)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-11-29 17:07:24,352 [myid:3] - INFO  [main:ZKDatabase@294] - Snapshot loaded in 31 ms, highest zxid is 0x0, digest is 1371985504
2026-11-29 17:07:29,000 [myid:3] - WARN  [QuorumPeer[myid=3]:Follower@127] - Exception when following the leader
2026-11-29 17:07:30,826 [myid:3] - INFO  [main:ZKDatabase@294] - Snapshot loaded in 253 ms, highest zxid is 0x10000026e, digest is 661131096856
";

    fn at(hms: &str) -> i64 {
        logline::parse_line(&format!("2026-11-29 {hms},000 [myid:3] - INFO  [main:X@1] - x")).unwrap().at_ms
    }

    fn restarted(zxid_before: Option<u64>) -> Restarted {
        Restarted {
            ordinal: 2,
            fault: "SIGKILL every member = pods 0,1,2".into(),
            at_ms: at("17:07:29"),
            zxid_before,
            myid_before: 3,
        }
    }

    #[test]
    fn the_load_after_the_fault_is_the_one_judged() {
        assert_eq!(first_load_after(LOG, at("17:07:29")), Some(Loaded { last_zxid: 0x1_0000_026e, myid: Some(3) }));
        assert_eq!(first_load_after(LOG, at("17:07:20")).unwrap().last_zxid, 0, "the first start");
        assert_eq!(first_load_after(LOG, at("17:07:31")), None);
        assert_eq!(last_myid_before(LOG, at("17:07:29")), Some(3));
        assert_eq!(last_myid_before(LOG, at("17:07:00")), None);
    }

    #[test]
    fn a_member_that_kept_its_data_passes() {
        let ok = judge(&restarted(Some(0x1_0000_0200)), first_load_after(LOG, at("17:07:29"))).unwrap();
        assert_eq!(ok, "pod 2 loaded 0x10000026e (had served 0x100000200), myid 3");
        assert!(judge(&restarted(Some(0x1_0000_026e)), first_load_after(LOG, at("17:07:29"))).is_ok(), "equal");
        assert!(judge(&restarted(None), first_load_after(LOG, at("17:07:29"))).is_ok());
    }

    #[test]
    fn a_member_that_came_back_empty_or_behind_or_as_another_server_fails() {
        let empty = Loaded { last_zxid: 0, myid: Some(3) };
        let e = judge(&restarted(Some(0x1_0000_0200)), Some(empty)).unwrap_err();
        assert_eq!(
            e,
            "pod 2 (after `SIGKILL every member = pods 0,1,2`) came back with its log ending at 0x0, behind \
             0x100000200 it had served before the fault: its data did not survive the restart"
        );
        let behind = Loaded { last_zxid: 0x1_0000_01ff, myid: Some(3) };
        assert!(judge(&restarted(Some(0x1_0000_0200)), Some(behind)).is_err());
        let other = Loaded { last_zxid: 0x1_0000_0300, myid: Some(1) };
        let e = judge(&restarted(Some(0x1_0000_0200)), Some(other)).unwrap_err();
        assert!(e.ends_with("came back as myid 1, it was myid 3"), "{e}");
        let e = judge(&restarted(Some(1)), None).unwrap_err();
        assert!(e.contains("logged no load of its data after the fault"), "{e}");
    }

    /// A member in a round: `serving`, answering "not serving", or silent
    /// (`None`), with its process.
    fn member(ordinal: u32, answer: Option<bool>, process: &str) -> crate::probe::MemberStatus {
        use crate::probe::parse::Srvr;
        let mut m = crate::probe::MemberStatus::unprobed(ordinal, std::net::Ipv4Addr::new(10, 0, 0, 10));
        m.instance = Some(process.to_string());
        match answer {
            Some(true) => {
                m.srvr = Some(Srvr {
                    version: "3.9.6".into(),
                    zxid: 1,
                    mode: crate::probe::Mode::Follower,
                    node_count: 5,
                    connections: 1,
                })
            }
            Some(false) => m.not_serving = true,
            None => {}
        }
        m
    }

    fn round(members: Vec<crate::probe::MemberStatus>) -> crate::probe::EnsembleStatus {
        crate::probe::EnsembleStatus::judge(members)
    }

    #[test]
    fn a_restarted_member_is_down_until_it_serves_and_an_election_is_not_a_restart() {
        let (up, not, silent) = (Some(true), Some(false), None);
        let rounds = [
            round(vec![member(0, up, "a0"), member(1, up, "a1"), member(2, up, "a2")]),
            // Pod 2 restarted: silent, then answering but not serving yet.
            round(vec![member(0, up, "a0"), member(1, up, "a1"), member(2, silent, "b2")]),
            round(vec![member(0, up, "a0"), member(1, up, "a1"), member(2, not, "b2")]),
            round(vec![member(0, up, "a0"), member(1, up, "a1"), member(2, up, "b2")]),
            // The leader (pod 0) restarted last: the others elect, same process.
            round(vec![member(0, not, "b0"), member(1, not, "a1"), member(2, not, "b2")]),
            round(vec![member(0, up, "b0"), member(1, up, "a1"), member(2, up, "b2")]),
        ];
        assert_eq!(down_per_round(&rounds), vec![0, 1, 1, 0, 1, 0]);
        // A rollout that does not wait: pod 1 restarts while pod 2 is not
        // serving yet, both answer quickly; two down at once.
        let rushed = [
            round(vec![member(0, up, "a0"), member(1, up, "a1"), member(2, up, "a2")]),
            round(vec![member(0, up, "a0"), member(1, not, "b1"), member(2, not, "b2")]),
            round(vec![member(0, up, "a0"), member(1, up, "b1"), member(2, up, "b2")]),
        ];
        assert_eq!(down_per_round(&rushed), vec![0, 2, 0]);
    }

    fn led_by(leader: u32, members: Vec<crate::probe::MemberStatus>) -> crate::probe::EnsembleStatus {
        let members = members
            .into_iter()
            .map(|mut m| {
                if let Some(s) = m.srvr.as_mut()
                    && m.ordinal == leader
                {
                    s.mode = crate::probe::Mode::Leader;
                }
                m
            })
            .collect();
        round(members)
    }

    #[test]
    fn the_leader_must_be_restarted_last() {
        let (up, not) = (Some(true), Some(false));
        // Followers 1 and 2 first, then the leader 0: good.
        let good = [
            led_by(0, vec![member(0, up, "a0"), member(1, up, "a1"), member(2, up, "a2")]),
            led_by(0, vec![member(0, up, "a0"), member(1, up, "a1"), member(2, not, "b2")]),
            led_by(0, vec![member(0, up, "a0"), member(1, up, "b1"), member(2, up, "b2")]),
            led_by(2, vec![member(0, not, "b0"), member(1, up, "b1"), member(2, up, "b2")]),
        ];
        assert_eq!(leader_restarted_last(&good).unwrap(), "members restarted in the order 2, 1, 0, the leader last");
        // The leader first: caught, however the elections went after it.
        let bad = [
            led_by(0, vec![member(0, up, "a0"), member(1, up, "a1"), member(2, up, "a2")]),
            led_by(2, vec![member(0, not, "b0"), member(1, up, "a1"), member(2, up, "a2")]),
            led_by(2, vec![member(0, up, "b0"), member(1, up, "b1"), member(2, up, "a2")]),
            led_by(0, vec![member(0, up, "b0"), member(1, up, "b1"), member(2, not, "b2")]),
        ];
        let e = leader_restarted_last(&bad).unwrap_err();
        assert!(e.starts_with("pod 0 was restarted while it led, before pod(s) 1, 2"), "{e}");
        assert!(
            e.contains("pod 2 was restarted while it led, before pod(s) 1") || e.contains("restart order 0, 1, 2"),
            "{e}"
        );
        // Without process identities there is nothing to judge by.
        let mut blind = good.clone();
        for st in &mut blind {
            for m in &mut st.members {
                m.instance = None;
            }
        }
        assert!(leader_restarted_last(&blind).unwrap_err().contains("cannot be told"));
    }
}
