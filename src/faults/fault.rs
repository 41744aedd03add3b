//! Faults: each acts on a [`FaultTarget`] and returns an [`ActiveFault`]
//! that undoes exactly what it did.

use std::fmt;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::FaultError;
use super::effect::Effect;
use super::selector::{Resolution, Selector};
use super::target::FaultTarget;

/// One kind of fault, with its targets named by [`Selector`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SIGKILL the selected servers; heal restarts them.
    Kill(Selector),
    /// Graceful stop (SIGTERM, SIGKILL after the grace); heal restarts them.
    Stop(Selector),
    /// SIGSTOP the selected servers; heal sends SIGCONT.
    Pause(Selector),
    /// Cut the selected members off from every other member.
    Isolate(Selector),
    /// Cut `minority` off from the rest (the majority).
    Split {
        /// The side cut off.
        minority: Selector,
    },
    /// Two sides that both include one shared member (for 5 members e.g.
    /// {0,1,2} and {2,3,4}); members are shuffled by the RNG first.
    Bridge,
    /// Two random halves (sizes `n/2` and `n - n/2`), leader or not.
    RandomHalves,
    /// The harness's clients cut off from the selected members (they keep
    /// their peers).
    IsolateClients(Selector),
    /// Fill the selected members' (size-limited) data disks.
    FillDisk(Selector),
    /// Limit the selected members' servers to `percent` of one CPU.
    CpuLimit {
        /// The members.
        target: Selector,
        /// Percent of one CPU (1 to 100).
        percent: u32,
    },
    /// Drop only what `from` sends to the other members.
    OneWay {
        /// The members whose outgoing traffic is dropped.
        from: Selector,
    },
    /// netem on the `eth0` of the selected members (their egress).
    Netem {
        /// The members.
        target: Selector,
        /// Added delay.
        delay_ms: u32,
        /// Delay jitter.
        jitter_ms: u32,
        /// Packet loss in percent.
        loss_pct: f64,
        /// Packet duplication in percent.
        duplicate_pct: f64,
        /// Reordering in percent (needs a delay).
        reorder_pct: f64,
    },
}

impl Fault {
    /// A short name: `kill`, `stop`, `pause`, `isolate`, `split`, `bridge`,
    /// `one-way` or `netem`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Kill(_) => "kill",
            Self::Stop(_) => "stop",
            Self::Pause(_) => "pause",
            Self::Isolate(_) => "isolate",
            Self::Split { .. } => "split",
            Self::Bridge => "bridge",
            Self::RandomHalves => "halves",
            Self::IsolateClients(_) => "clients",
            Self::FillDisk(_) => "disk",
            Self::CpuLimit { .. } => "cpu",
            Self::OneWay { .. } => "one-way",
            Self::Netem { .. } => "netem",
        }
    }

    /// The `tc ... netem` arguments after `netem` (pure).
    pub fn netem_args(&self) -> Result<Vec<String>, FaultError> {
        let Self::Netem { delay_ms, jitter_ms, loss_pct, duplicate_pct, reorder_pct, .. } = *self else {
            return Err(FaultError::Invalid(format!("{} is not a netem fault", self.name())));
        };
        for (what, v) in [("loss", loss_pct), ("duplicate", duplicate_pct), ("reorder", reorder_pct)] {
            if !(0.0..=100.0).contains(&v) {
                return Err(FaultError::Invalid(format!("netem {what} must be within 0..=100 percent (got {v})")));
            }
        }
        if reorder_pct > 0.0 && delay_ms == 0 {
            return Err(FaultError::Invalid("netem reorder needs a delay".into()));
        }
        if jitter_ms > 0 && delay_ms == 0 {
            return Err(FaultError::Invalid("netem jitter needs a delay".into()));
        }
        let mut args = Vec::new();
        if delay_ms > 0 {
            args.extend(["delay".to_string(), format!("{delay_ms}ms")]);
            if jitter_ms > 0 {
                args.push(format!("{jitter_ms}ms"));
            }
        }
        for (what, v) in [("loss", loss_pct), ("duplicate", duplicate_pct), ("reorder", reorder_pct)] {
            if v > 0.0 {
                args.extend([what.to_string(), format!("{v}%")]);
            }
        }
        if args.is_empty() {
            return Err(FaultError::Invalid(
                "netem with no delay, loss, duplication or reordering does nothing".into(),
            ));
        }
        Ok(args)
    }

    /// The selectors the fault names.
    pub fn selectors(&self) -> Vec<Selector> {
        match self {
            Self::Kill(s)
            | Self::Stop(s)
            | Self::Pause(s)
            | Self::Isolate(s)
            | Self::IsolateClients(s)
            | Self::FillDisk(s) => {
                vec![*s]
            }
            Self::Split { minority } => vec![*minority],
            Self::CpuLimit { target, .. } => vec![*target],
            Self::OneWay { from } => vec![*from],
            Self::Netem { target, .. } => vec![*target],
            Self::Bridge | Self::RandomHalves => vec![Selector::RandomMember],
        }
    }

    /// The same fault with named members (`member C`) replaced by the pods
    /// they name.
    pub fn bind(&self, names: &std::collections::BTreeMap<char, u32>) -> Result<Fault, FaultError> {
        let b = |s: &Selector| s.bind(names);
        Ok(match self {
            Self::Kill(s) => Self::Kill(b(s)?),
            Self::Stop(s) => Self::Stop(b(s)?),
            Self::Pause(s) => Self::Pause(b(s)?),
            Self::Isolate(s) => Self::Isolate(b(s)?),
            Self::Split { minority } => Self::Split { minority: b(minority)? },
            Self::IsolateClients(s) => Self::IsolateClients(b(s)?),
            Self::FillDisk(s) => Self::FillDisk(b(s)?),
            Self::OneWay { from } => Self::OneWay { from: b(from)? },
            Self::CpuLimit { target, percent } => Self::CpuLimit { target: b(target)?, percent: *percent },
            Self::Netem { target, delay_ms, jitter_ms, loss_pct, duplicate_pct, reorder_pct } => Self::Netem {
                target: b(target)?,
                delay_ms: *delay_ms,
                jitter_ms: *jitter_ms,
                loss_pct: *loss_pct,
                duplicate_pct: *duplicate_pct,
                reorder_pct: *reorder_pct,
            },
            Self::Bridge | Self::RandomHalves => self.clone(),
        })
    }

    /// Inject the fault now: resolve selectors against a fresh status, act,
    /// and return what was done. A fault the target cannot do (see
    /// [`FaultTarget::check_supported`]) is refused before anything is
    /// done. When a step fails, the steps already done are undone before
    /// the error is returned.
    pub async fn start(&self, target: &dyn FaultTarget, rng: &mut StdRng) -> Result<ActiveFault, FaultError> {
        target.check_supported(self.name())?;
        let members: Vec<u32> = target.members().await;
        // Pods named by ordinal need no probe round: a fault triggered by a
        // server event must land within milliseconds.
        // A kill or stop still probes first: its effect (a new server
        // process) is judged against each target's process (or, where the
        // backend does not know it, its uptime) before it.
        let by_ordinal = self.selectors().iter().all(|s| matches!(s, Selector::Ordinal(_)))
            && !matches!(self, Self::Kill(_) | Self::Stop(_));
        let status = if by_ordinal { None } else { Some(target.status().await) };
        let resolve = |sel: &Selector, rng: &mut StdRng| match (sel, &status) {
            (Selector::Ordinal(o), None) => {
                if members.contains(o) {
                    Ok(Resolution { ordinals: vec![*o], description: format!("pod {o}") })
                } else {
                    Err(FaultError::Resolve {
                        selector: sel.to_string(),
                        reason: format!("no such member (members: {members:?})"),
                    })
                }
            }
            (_, Some(st)) => sel.resolve(st, rng),
            (_, None) => unreachable!("a status is probed whenever a selector is not an ordinal"),
        };
        let mut undo = Vec::new();
        let mut targets = Vec::new();
        let description = match self.act(target, rng, &members, resolve, &mut undo, &mut targets).await {
            Ok(d) => d,
            Err(e) => {
                let _ = run_undo(target, undo).await;
                return Err(e);
            }
        };
        targets.sort_unstable();
        targets.dedup();
        let effects = match self {
            Self::Kill(_) | Self::Stop(_) => targets.iter().map(|o| Effect::gone(*o, status.as_ref())).collect(),
            Self::Pause(_) | Self::IsolateClients(_) => {
                targets.iter().map(|o| Effect::Silent { ordinal: *o }).collect()
            }
            _ => Vec::new(),
        };
        Ok(ActiveFault { name: self.name(), description, targets, undo, effects })
    }

    async fn act(
        &self,
        t: &dyn FaultTarget,
        rng: &mut StdRng,
        members: &[u32],
        resolve: impl Fn(&Selector, &mut StdRng) -> Result<Resolution, FaultError>,
        undo: &mut Vec<Undo>,
        targets: &mut Vec<u32>,
    ) -> Result<String, FaultError> {
        let rest = |side: &[u32]| -> Vec<u32> { members.iter().copied().filter(|m| !side.contains(m)).collect() };
        Ok(match self {
            Self::Kill(sel) | Self::Stop(sel) => {
                let r = resolve(sel, rng)?;
                targets.extend(&r.ordinals);
                for o in &r.ordinals {
                    undo.push(Undo::Start(*o));
                    if matches!(self, Self::Kill(_)) {
                        t.kill_pod(*o).await?;
                    } else {
                        t.stop_pod(*o).await?;
                    }
                }
                let verb = if matches!(self, Self::Kill(_)) { "SIGKILL" } else { "graceful stop of" };
                format!("{verb} {}", r.description)
            }
            Self::Pause(sel) => {
                let r = resolve(sel, rng)?;
                targets.extend(&r.ordinals);
                for o in &r.ordinals {
                    t.pause_pod(*o).await?;
                    undo.push(Undo::Resume(*o));
                }
                format!("SIGSTOP {}", r.description)
            }
            Self::Isolate(sel) => {
                let r = resolve(sel, rng)?;
                targets.extend(&r.ordinals);
                let others = rest(&r.ordinals);
                cut(t, &r.ordinals, &others, true, undo).await?;
                format!("isolate {}", r.description)
            }
            Self::Split { minority } => {
                let r = resolve(minority, rng)?;
                let majority = rest(&r.ordinals);
                if r.ordinals.is_empty() || majority.is_empty() {
                    return Err(FaultError::Invalid(format!("split needs two non-empty sides ({})", r.description)));
                }
                targets.extend(&r.ordinals);
                cut(t, &r.ordinals, &majority, true, undo).await?;
                format!("split {} from pods {}", r.description, list(&majority))
            }
            Self::Bridge => {
                if members.len() < 3 {
                    return Err(FaultError::Invalid(format!("a bridge needs 3 members (have {})", members.len())));
                }
                let mut shuffled = members.to_vec();
                shuffled.shuffle(rng);
                let mid = shuffled.len() / 2;
                let shared = shuffled[mid];
                let (mut left, mut right) = (shuffled[..mid].to_vec(), shuffled[mid + 1..].to_vec());
                left.sort_unstable();
                right.sort_unstable();
                targets.extend(members);
                cut(t, &left, &right, true, undo).await?;
                format!("bridge: pods {} | pods {} joined only through pod {shared}", list(&left), list(&right))
            }
            Self::RandomHalves => {
                if members.len() < 2 {
                    return Err(FaultError::Invalid("random halves need 2 members".into()));
                }
                let mut shuffled = members.to_vec();
                shuffled.shuffle(rng);
                let (mut a, mut b) = (shuffled[..members.len() / 2].to_vec(), shuffled[members.len() / 2..].to_vec());
                a.sort_unstable();
                b.sort_unstable();
                targets.extend(&a);
                cut(t, &a, &b, true, undo).await?;
                format!("random halves: pods {} | pods {}", list(&a), list(&b))
            }
            Self::IsolateClients(sel) => {
                let r = resolve(sel, rng)?;
                targets.extend(&r.ordinals);
                for o in &r.ordinals {
                    t.block_clients(*o).await?;
                    undo.push(Undo::UnblockClients(*o));
                }
                format!("clients cut off from {}", r.description)
            }
            Self::FillDisk(sel) => {
                let r = resolve(sel, rng)?;
                targets.extend(&r.ordinals);
                let mut bytes = 0;
                for o in &r.ordinals {
                    undo.push(Undo::FreeDisk(*o));
                    bytes += t.fill_disk(*o).await?;
                }
                format!("fill the data disk of {} ({} MiB written)", r.description, bytes >> 20)
            }
            Self::CpuLimit { target, percent } => {
                let r = resolve(target, rng)?;
                targets.extend(&r.ordinals);
                for o in &r.ordinals {
                    undo.push(Undo::UnlimitCpu(*o));
                    t.limit_cpu(*o, *percent).await?;
                }
                format!("limit {} to {percent}% of one CPU", r.description)
            }
            Self::OneWay { from } => {
                let r = resolve(from, rng)?;
                targets.extend(&r.ordinals);
                let others = rest(&r.ordinals);
                cut(t, &r.ordinals, &others, false, undo).await?;
                format!("drop traffic from {} to pods {}", r.description, list(&others))
            }
            Self::Netem { target, .. } => {
                let args = self.netem_args()?;
                let r = resolve(target, rng)?;
                targets.extend(&r.ordinals);
                for o in &r.ordinals {
                    t.netem(*o, &args).await?;
                    undo.push(Undo::ClearNetem(*o));
                }
                format!("netem {} on {}", args.join(" "), r.description)
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kill(s) | Self::Stop(s) | Self::Pause(s) | Self::Isolate(s) => write!(f, "{} {s}", self.name()),
            Self::Split { minority } => write!(f, "split {minority} from the rest"),
            Self::Bridge => f.write_str("bridge"),
            Self::RandomHalves => f.write_str("split into random halves"),
            Self::IsolateClients(s) => write!(f, "cut the clients off from {s}"),
            Self::FillDisk(s) => write!(f, "fill the data disk of {s}"),
            Self::CpuLimit { target, percent } => write!(f, "limit {target} to {percent}% of one CPU"),
            Self::OneWay { from } => write!(f, "one-way from {from}"),
            Self::Netem { target, .. } => {
                write!(f, "netem {} on {target}", self.netem_args().map(|a| a.join(" ")).unwrap_or_default())
            }
        }
    }
}

fn list(ordinals: &[u32]) -> String {
    ordinals.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(",")
}

/// Drop what `side_a` sends to `side_b` and, when `both`, the reverse.
async fn cut(
    t: &dyn FaultTarget,
    side_a: &[u32],
    side_b: &[u32],
    both: bool,
    undo: &mut Vec<Undo>,
) -> Result<(), FaultError> {
    for a in side_a {
        for b in side_b.iter().filter(|b| *b != a) {
            t.block(*a, *b).await?;
            undo.push(Undo::Unblock { from: *a, to: *b });
            if both {
                t.block(*b, *a).await?;
                undo.push(Undo::Unblock { from: *b, to: *a });
            }
        }
    }
    Ok(())
}

/// One step to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    /// Start a killed or stopped pod.
    Start(u32),
    /// SIGCONT a paused pod.
    Resume(u32),
    /// Let traffic through again.
    Unblock { from: u32, to: u32 },
    /// Delete the netem qdisc.
    ClearNetem(u32),
    /// Let clients reach the member again.
    UnblockClients(u32),
    /// Remove the ballast from the member's data disk.
    FreeDisk(u32),
    /// Lift the member's CPU limit.
    UnlimitCpu(u32),
}

/// Undo `steps` in reverse order, all of them even when some fail; the first
/// failure is returned.
async fn run_undo(t: &dyn FaultTarget, steps: Vec<Undo>) -> Result<(), FaultError> {
    let mut first = None;
    for step in steps.into_iter().rev() {
        let r = match step {
            Undo::Start(o) => t.start_pod(o).await,
            Undo::Resume(o) => t.resume_pod(o).await,
            Undo::Unblock { from, to } => t.unblock(from, to).await,
            Undo::ClearNetem(o) => t.clear_netem(o).await,
            Undo::UnblockClients(o) => t.unblock_clients(o).await,
            Undo::FreeDisk(o) => t.free_disk(o).await,
            Undo::UnlimitCpu(o) => t.unlimit_cpu(o).await,
        };
        if let Err(e) = r {
            tracing::warn!(?step, error = %e, "heal step failed");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// A fault in effect.
#[derive(Debug)]
#[must_use = "an active fault must be healed"]
pub struct ActiveFault {
    name: &'static str,
    description: String,
    targets: Vec<u32>,
    undo: Vec<Undo>,
    effects: Vec<Effect>,
}

impl ActiveFault {
    /// The fault's short name (see [`Fault::name`]).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What was done, with how the selectors resolved (the name of a
    /// `FaultRecord`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Undo exactly what the start did: restart killed/stopped pods, SIGCONT
    /// paused ones, delete the routes and qdiscs it added. Every step runs
    /// even when an earlier one fails; the first failure is returned.
    pub async fn heal(self, target: &dyn FaultTarget) -> Result<(), FaultError> {
        run_undo(target, self.undo).await
    }

    /// [`ActiveFault::heal`], but leave in place what faults still in
    /// effect (`others`) need too: two isolations share the routes between
    /// their members, and healing one must not heal the other.
    pub async fn heal_keeping(self, target: &dyn FaultTarget, others: &[&ActiveFault]) -> Result<(), FaultError> {
        let steps = self.steps_to_undo(others);
        run_undo(target, steps).await
    }

    /// The undo steps no other fault in `others` still needs (a kill's
    /// restart always runs).
    fn steps_to_undo(&self, others: &[&ActiveFault]) -> Vec<Undo> {
        self.undo
            .iter()
            .copied()
            .filter(|u| matches!(u, Undo::Start(_)) || !others.iter().any(|o| o.undo.contains(u)))
            .collect()
    }

    /// The members it hit (resolved from the selectors), sorted.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// What probe rounds must show before the fault counts as in effect
    /// (see [`super::effect`]); empty when the action itself is the effect.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netem(delay_ms: u32, jitter_ms: u32, loss: f64, dup: f64, reorder: f64) -> Fault {
        Fault::Netem {
            target: Selector::RandomFollower,
            delay_ms,
            jitter_ms,
            loss_pct: loss,
            duplicate_pct: dup,
            reorder_pct: reorder,
        }
    }

    fn active(undo: Vec<Undo>) -> ActiveFault {
        ActiveFault { name: "isolate", description: String::new(), targets: vec![], undo, effects: vec![] }
    }

    #[test]
    fn healing_one_isolation_keeps_the_routes_another_still_needs() {
        // Isolate pod 2, then pod 0: both cut the pair 0-2.
        let two = active(vec![
            Undo::Unblock { from: 2, to: 0 },
            Undo::Unblock { from: 0, to: 2 },
            Undo::Unblock { from: 2, to: 1 },
            Undo::Unblock { from: 1, to: 2 },
        ]);
        let zero = active(vec![
            Undo::Unblock { from: 0, to: 1 },
            Undo::Unblock { from: 1, to: 0 },
            Undo::Unblock { from: 0, to: 2 },
            Undo::Unblock { from: 2, to: 0 },
        ]);
        assert_eq!(
            two.steps_to_undo(&[&zero]),
            vec![Undo::Unblock { from: 2, to: 1 }, Undo::Unblock { from: 1, to: 2 }],
            "pod 2 rejoins pod 1 only: pod 0 stays cut off"
        );
        assert_eq!(two.steps_to_undo(&[]).len(), 4);
        let kill = active(vec![Undo::Start(1)]);
        assert_eq!(kill.steps_to_undo(&[&active(vec![Undo::Start(1)])]), vec![Undo::Start(1)]);
    }

    #[test]
    fn netem_arguments() {
        assert_eq!(netem(300, 0, 0.0, 0.0, 0.0).netem_args().unwrap(), ["delay", "300ms"]);
        assert_eq!(
            netem(100, 20, 1.5, 2.0, 25.0).netem_args().unwrap(),
            ["delay", "100ms", "20ms", "loss", "1.5%", "duplicate", "2%", "reorder", "25%"]
        );
        assert_eq!(netem(0, 0, 10.0, 0.0, 0.0).netem_args().unwrap(), ["loss", "10%"]);
        for bad in [
            netem(0, 0, 0.0, 0.0, 0.0),
            netem(0, 0, 0.0, 0.0, 5.0),
            netem(0, 5, 0.0, 0.0, 0.0),
            netem(1, 0, 101.0, 0.0, 0.0),
        ] {
            assert!(matches!(bad.netem_args(), Err(FaultError::Invalid(_))), "{bad:?}");
        }
        assert!(Fault::Bridge.netem_args().is_err());
    }

    #[test]
    fn names_and_display() {
        assert_eq!(Fault::Kill(Selector::Leader).to_string(), "kill the leader");
        assert_eq!(Fault::Split { minority: Selector::Minority }.to_string(), "split a minority from the rest");
        assert_eq!(Fault::OneWay { from: Selector::Ordinal(1) }.name(), "one-way");
        assert_eq!(netem(300, 0, 0.0, 0.0, 0.0).to_string(), "netem delay 300ms on a random follower");
    }
}
