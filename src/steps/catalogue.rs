//! The step catalogue: every step's cucumber expression, an example, what it
//! does, and the function that runs it. `zk-chaos steps` prints this table,
//! the matcher compiles it, so documentation and behaviour cannot drift.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::LocalBoxFuture;

use super::args::Args;
use crate::faults::{Fault, Selector};
use crate::scenario::world::OPERATOR_RESTART;
use crate::scenario::{Expect, ScenarioWorld, StepResult};

/// Given, When or Then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Set-up.
    Given,
    /// Something happens.
    When,
    /// An expectation.
    Then,
}

impl Kind {
    /// The Gherkin keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Given => "Given",
            Self::When => "When",
            Self::Then => "Then",
        }
    }
}

/// The function a step runs.
pub type StepFn = for<'a> fn(&'a mut ScenarioWorld, Args) -> LocalBoxFuture<'a, StepResult>;

/// One step of the catalogue.
pub struct StepDef {
    /// Given, When or Then.
    pub kind: Kind,
    /// The cucumber expression (with `{int}`, `{string}`, `{duration}`,
    /// `{version}`, `{selector}`).
    pub expr: &'static str,
    /// An example line, as written in a feature (a table follows on the
    /// next lines when the step takes one).
    pub example: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The code.
    pub run: StepFn,
}

/// Build a [`StepFn`] from a body over `w` (the world) and `a` (the args).
macro_rules! step {
    (|$w:ident, $a:ident| $body:expr) => {{
        fn f<'a>($w: &'a mut ScenarioWorld, $a: Args) -> LocalBoxFuture<'a, StepResult> {
            #[allow(unused_variables)]
            let $a = $a;
            Box::pin(async move { $body })
        }
        f as StepFn
    }};
}

impl StepDef {
    /// Whether the step is an action whose effects later steps wait for
    /// in the members' logs: a When step that is not itself a wait for a
    /// server event (a triggered step marks its own action).
    pub fn is_action(&self) -> bool {
        self.kind == Kind::When && !self.expr.contains("{action}")
    }
}

fn def(kind: Kind, expr: &'static str, example: &'static str, doc: &'static str, run: StepFn) -> StepDef {
    StepDef { kind, expr, example, doc, run }
}

/// A fault held for `hold` when given, else left in effect.
async fn fault(w: &mut ScenarioWorld, f: Fault, hold: Option<Duration>) -> StepResult {
    w.inject(f, hold).await
}

/// How long a triggered action waits for its server event.
pub const TRIGGER_TIMEOUT: Duration = Duration::from_secs(60);

/// Wait for `awaited` on `sel`, then run `action` (a When step) at once.
async fn triggered(
    w: &mut ScenarioWorld,
    sel: Selector,
    awaited: crate::diagnose::trigger::Awaited,
    action: &str,
) -> StepResult {
    let (found, args) = super::matcher::find(Kind::When, action)
        .map_err(|e| crate::scenario::ScenarioError::Input(format!("the action after the event: {e}")))?;
    let seen = w.await_log(sel, &awaited, TRIGGER_TIMEOUT).await?;
    w.mark_action();
    let done = (found.def.run)(w, args).await?;
    Ok(format!("{seen}; then: {done}"))
}

/// The faults a random schedule draws from.
pub fn schedule_faults() -> Vec<Fault> {
    vec![
        Fault::Kill(Selector::RandomMember),
        Fault::Kill(Selector::Leader),
        Fault::Pause(Selector::RandomFollower),
        Fault::Isolate(Selector::Leader),
        Fault::Split { minority: Selector::Minority },
        Fault::Bridge,
        Fault::RandomHalves,
    ]
}

/// Every step, in catalogue order.
pub fn all() -> Vec<StepDef> {
    use Kind::{Given, Then, When};
    vec![
        // ----- Given -----
        def(
            Given,
            "a {int}-member ensemble {string} running ZooKeeper {version}",
            r#"Given a 3-member ensemble "zk" running ZooKeeper 3.9.6"#,
            "The operator creates the ensemble (a ZookeeperCluster with update strategy OnDelete); waits until it is Ready and every member serves.",
            step!(|w, a| w.given_ensemble(&a.string(1)?, a.u32(0)?, &a.version(2)?, BTreeMap::new()).await),
        ),
        def(
            Given,
            "a {int}-member ensemble {string} running ZooKeeper {version} with config:",
            "Given a 3-member ensemble \"zk\" running ZooKeeper 3.9.6 with config:\n  | maxClientCnxns | 100 |",
            "The same, with zoo.cfg settings from a two-column table (key | value).",
            step!(|w, a| w.given_ensemble(&a.string(1)?, a.u32(0)?, &a.version(2)?, a.table_map()?).await),
        ),
        def(
            Given,
            "a {int}-member ensemble {string} running ZooKeeper {version} with {int} MiB data disks",
            r#"Given a 3-member ensemble "zk" running ZooKeeper 3.9.6 with 64 MiB data disks"#,
            "The same, each member's data dir its own size-limited tmpfs (what `I fill the data disk of ...` fills).",
            step!(|w, a| {
                w.given_ensemble_with_disks(&a.string(1)?, a.u32(0)?, &a.version(2)?, BTreeMap::new(), Some(a.u32(3)?))
                    .await
            }),
        ),
        def(
            Given,
            "the operator manages it with update strategy OnDelete",
            "Given the operator manages it with update strategy OnDelete",
            "States the update strategy (OnDelete, partition 0): the operator deletes pods one at a time to roll changes.",
            step!(|w, a| w.set_partition(0).await),
        ),
        def(
            Given,
            "the operator manages it with update strategy OnDelete and partition {int}",
            "Given the operator manages it with update strategy OnDelete and partition 2",
            "Sets the update strategy's partition: only pods with ordinal >= partition are rolled.",
            step!(|w, a| w.set_partition(a.u32(0)?).await),
        ),
        def(
            Given,
            "{int} znodes under {string}",
            r#"Given 1000 znodes under "/integrity""#,
            "Creates that many znodes whose contents derive from their paths (checked by `all ... read back intact`).",
            step!(|w, a| w.populate(&a.string(1)?, a.u32(0)?).await),
        ),
        def(
            Given,
            "a workload of {int} clients at {int} ops\\/s on {int} keys",
            "Given a workload of 8 clients at 500 ops/s on 100 keys",
            "Starts recorded clients in the background (creates, sets, CAS, deletes, reads, multi, appends); the history feeds the checkers.",
            step!(|w, a| w.start_workload(a.u32(0)?, Some(f64::from(a.u32(1)?)), a.u32(2)?).await),
        ),
        def(
            Given,
            "a workload of {int} clients on {int} keys",
            "Given a workload of 4 clients on 20 keys",
            "The same, closed loop: each client sends its next operation when the last completes.",
            step!(|w, a| w.start_workload(a.u32(0)?, None, a.u32(1)?).await),
        ),
        // ----- When: faults -----
        def(
            When,
            "I kill {selector}",
            "When I kill the leader",
            "SIGKILL the selected members (`the leader`, `pod 2`, `a random follower`, `a random member`, `a majority`, `a minority`, `every member`); kubelet restarts them.",
            step!(|w, a| fault(w, Fault::Kill(a.selector(0)?), None).await),
        ),
        def(
            When,
            "I kill {selector} {int} times, {duration} apart",
            "When I kill a random member 3 times, 5s apart",
            "Repeated kills; before each, waits (up to 60s) for quorum.",
            step!(|w, a| w.kill_repeatedly(a.selector(0)?, a.u32(1)?, a.duration(2)?).await),
        ),
        def(
            When,
            "I delete pod {int}",
            "When I delete pod 1",
            "Graceful delete, like `kubectl delete pod`: the StatefulSet recreates it at the revision its ordinal gets.",
            step!(|w, a| w.delete_pod(a.u32(0)?).await),
        ),
        def(
            When,
            "I pause {selector} for {duration}",
            "When I pause pod 1 for 5s",
            "SIGSTOP (a GC pause, a frozen VM), SIGCONT after the duration.",
            step!(|w, a| fault(w, Fault::Pause(a.selector(0)?), Some(a.duration(1)?)).await),
        ),
        def(
            When,
            "I pause {selector}",
            "When I pause a random follower",
            "SIGSTOP until `I heal all faults` (or the scenario ends).",
            step!(|w, a| fault(w, Fault::Pause(a.selector(0)?), None).await),
        ),
        def(
            When,
            "I partition {selector} from the rest for {duration}",
            "When I partition the leader from the rest for 10s",
            "Cuts the selected members off from all others (both directions), heals after the duration.",
            step!(|w, a| fault(w, Fault::Isolate(a.selector(0)?), Some(a.duration(1)?)).await),
        ),
        def(
            When,
            "I partition {selector} from the rest",
            "When I partition pod 2 from the rest",
            "The same, until healed.",
            step!(|w, a| fault(w, Fault::Isolate(a.selector(0)?), None).await),
        ),
        def(
            When,
            "I split the ensemble into a majority and a minority for {duration}",
            "When I split the ensemble into a majority and a minority for 10s",
            "A minority (never the leader) is cut off from the majority.",
            step!(|w, a| fault(w, Fault::Split { minority: Selector::Minority }, Some(a.duration(0)?)).await),
        ),
        def(
            When,
            "I split the ensemble so that the leader is in the minority for {duration}",
            "When I split the ensemble so that the leader is in the minority for 10s",
            "The leader alone on one side: the majority must elect a new leader.",
            step!(|w, a| fault(w, Fault::Split { minority: Selector::Leader }, Some(a.duration(0)?)).await),
        ),
        def(
            When,
            "I split the ensemble into random halves for {duration}",
            "When I split the ensemble into random halves for 8s",
            "Two random halves (sizes n/2 and n - n/2, the leader anywhere) cut off from each other.",
            step!(|w, a| fault(w, Fault::RandomHalves, Some(a.duration(0)?)).await),
        ),
        def(
            When,
            "I cut the clients off from {selector} for {duration}",
            "When I cut the clients off from the leader for 8s",
            "Clients (and the harness's probes) get no answers from the members; the members keep their peers.",
            step!(|w, a| fault(w, Fault::IsolateClients(a.selector(0)?), Some(a.duration(1)?)).await),
        ),
        def(
            When,
            "I cut the clients off from {selector}",
            "When I cut the clients off from the leader",
            "The same, until healed.",
            step!(|w, a| fault(w, Fault::IsolateClients(a.selector(0)?), None).await),
        ),
        def(
            When,
            "I bridge the ensemble for {duration}",
            "When I bridge the ensemble for 10s",
            "Two sides that share one member (Jepsen's bridge); sides chosen by the scenario's seed.",
            step!(|w, a| fault(w, Fault::Bridge, Some(a.duration(0)?)).await),
        ),
        def(
            When,
            "I cut the traffic from {selector} to the others for {duration}",
            "When I cut the traffic from a random follower to the others for 10s",
            "Asymmetric partition: what the selected members send is dropped, what they receive is not.",
            step!(|w, a| fault(w, Fault::OneWay { from: a.selector(0)? }, Some(a.duration(1)?)).await),
        ),
        def(
            When,
            "I delay the network of {selector} by {duration} for {duration}",
            "When I delay the network of a random follower by 200ms for 10s",
            "netem delay (with 10% jitter) on the members' egress. Fails as unsupported where the kernel has no netem.",
            step!(|w, a| {
                let d = a.duration(1)?.as_millis() as u32;
                let f = Fault::Netem {
                    target: a.selector(0)?,
                    delay_ms: d,
                    jitter_ms: d / 10,
                    loss_pct: 0.0,
                    duplicate_pct: 0.0,
                    reorder_pct: 0.0,
                };
                fault(w, f, Some(a.duration(2)?)).await
            }),
        ),
        def(
            When,
            "I drop {int} percent of the packets of {selector} for {duration}",
            "When I drop 20 percent of the packets of the leader for 10s",
            "netem loss on the members' egress. Fails as unsupported where the kernel has no netem.",
            step!(|w, a| {
                let f = Fault::Netem {
                    target: a.selector(1)?,
                    delay_ms: 0,
                    jitter_ms: 0,
                    loss_pct: f64::from(a.u32(0)?),
                    duplicate_pct: 0.0,
                    reorder_pct: 0.0,
                };
                fault(w, f, Some(a.duration(2)?)).await
            }),
        ),
        def(
            When,
            "I fill the data disk of {selector} for {duration}",
            "When I fill the data disk of a random follower for 5s",
            "Writes a ballast file until the member's data disk is full (only a size-limited data disk, never the host's), removes it after the duration.",
            step!(|w, a| fault(w, Fault::FillDisk(a.selector(0)?), Some(a.duration(1)?)).await),
        ),
        def(
            When,
            "I limit the CPU of {selector} to {int} percent for {duration}",
            "When I limit the CPU of the leader to 10 percent for 10s",
            "A starved member (a noisy neighbour, a throttled container): its server gets that share of one CPU (a cgroup CFS quota; on docker its container's quota), lifted after the duration. On the local backend a server restarted meanwhile runs unlimited; a docker container keeps its limit across restarts until healed.",
            step!(|w, a| {
                let f = Fault::CpuLimit { target: a.selector(0)?, percent: a.u32(1)? };
                fault(w, f, Some(a.duration(2)?)).await
            }),
        ),
        def(
            When,
            "I limit the CPU of {selector} to {int} percent",
            "When I limit the CPU of member B to 10 percent",
            "The same, until healed.",
            step!(|w, a| fault(w, Fault::CpuLimit { target: a.selector(0)?, percent: a.u32(1)? }, None).await),
        ),
        def(
            When,
            "I heal all faults",
            "When I heal all faults",
            "Undo every fault still in effect (processes resumed, routes removed, qdiscs deleted).",
            step!(|w, a| w.heal_all().await),
        ),
        def(
            When,
            "I heal {selector}",
            "When I heal member C",
            "Heal every fault in effect that hit the selected member (others stay in effect).",
            step!(|w, a| w.heal_member(a.selector(0)?).await),
        ),
        def(
            When,
            "I name the leader {word} and its followers {word} and {word}",
            "When I name the leader A and its followers B and C",
            "Names the members of a 3-member ensemble by their role now (followers in ordinal order), so later steps say `member B` and hit the same server whatever role it has by then.",
            step!(|w, a| w.name_members(a.name(0)?, &[a.name(1)?, a.name(2)?]).await),
        ),
        def(
            When,
            "I name {selector} {word}",
            "When I name a random follower F",
            "Names one member (a capital letter) for later steps: `member F`.",
            step!(|w, a| w.name_member(a.selector(0)?, a.name(1)?).await),
        ),
        def(
            When,
            "{selector} {event}, {action}",
            "When member C starts syncing with the leader, I kill the leader",
            "A fault triggered by a server event: waits (up to 60s) until the member logs the event after the last action, then runs the action (another When step) at once. The event is read from the member's own server log.",
            step!(|w, a| {
                let awaited = crate::diagnose::trigger::Awaited::Event(a.event(1)?);
                triggered(w, a.selector(0)?, awaited, &a.string(2)?).await
            }),
        ),
        def(
            When,
            "{selector} logs {string}, {action}",
            "When pod 1 logs \"Getting a diff from the leader\", I kill pod 1",
            "The same, on a line of the member's server log that contains the text.",
            step!(|w, a| {
                let awaited = crate::diagnose::trigger::Awaited::Text(a.string(1)?);
                triggered(w, a.selector(0)?, awaited, &a.string(2)?).await
            }),
        ),
        def(
            When,
            "I run a random schedule of {int} faults, one every {duration}, each for {duration}",
            "When I run a random schedule of 4 faults, one every 8s, each for 3s",
            "Seeded (the scenario's seed, printed) choice among: kill a random member, kill the leader, pause a follower, isolate the leader, split off a minority, bridge, random halves.",
            step!(|w, a| w
                .random_schedule(a.u32(0)? as usize, a.duration(1)?, a.duration(2)?, schedule_faults())
                .await),
        ),
        // ----- When: operations -----
        def(
            When,
            "I upgrade to {version}",
            "When I upgrade to 3.9.6",
            "Changes the resource's version; the operator rolls pods one at a time, leader last. Returns at once; wait with a Then.",
            step!(|w, a| {
                let v = a.version(0)?;
                w.change_spec(&format!("upgrade to {v}"), |s| s.version = v.clone()).await
            }),
        ),
        def(
            When,
            "I upgrade to {version} with partition {int}",
            "When I upgrade to 3.9.6 with partition 1",
            "The same, only pods with ordinal >= partition are rolled.",
            step!(|w, a| {
                let (v, p) = (a.version(0)?, a.u32(1)?);
                w.change_spec(&format!("upgrade to {v} with partition {p}"), |s| {
                    s.version = v.clone();
                    s.update_strategy.partition = p;
                })
                .await
            }),
        ),
        def(
            When,
            "I set the partition to {int}",
            "When I set the partition to 0",
            "Moves the update strategy's partition (lowering it continues a staged rollout).",
            step!(|w, a| {
                let p = a.u32(0)?;
                w.change_spec(&format!("partition {p}"), |s| s.update_strategy.partition = p).await
            }),
        ),
        def(
            When,
            "I scale to {int} members",
            "When I scale to 5 members",
            "Changes replicas; the operator adds or removes members one at a time through dynamic reconfig.",
            step!(|w, a| {
                let n = a.u32(0)?;
                w.change_spec(&format!("scale to {n} members"), |s| s.replicas = n).await
            }),
        ),
        def(
            When,
            "I set {string} to {string} in the config",
            r#"When I set "maxClientCnxns" to "100" in the config"#,
            "Changes a zoo.cfg setting; the operator rolls it out (leader last).",
            step!(|w, a| {
                let (k, v) = (a.string(0)?, a.string(1)?);
                w.change_spec(&format!("set {k}={v}"), |s| {
                    s.config.insert(k.clone(), v.clone());
                })
                .await
            }),
        ),
        def(
            When,
            "I kill the operator",
            "When I kill the operator",
            "Aborts the operator wherever it is (mid-action); like its Deployment, it is back 2s later and resumes from what it persisted.",
            step!(|w, a| w.kill_operator(OPERATOR_RESTART).await),
        ),
        def(
            When,
            "I kill the operator for {duration}",
            "When I kill the operator for 10s",
            "The same, with the operator down for that long.",
            step!(|w, a| w.kill_operator(a.duration(0)?).await),
        ),
        def(When, "I wait {duration}", "When I wait 20s", "Sleeps.", step!(|w, a| w.wait(a.duration(0)?).await)),
        def(
            When,
            "I wait up to {duration} until {int} pod(s) run(s) {version}",
            "When I wait up to 60s until 1 pod runs 3.9.6",
            "Waits for a rollout to get that far (to strike in the middle of it).",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::AtLeastRun(a.u32(1)?, a.version(2)?)).await),
        ),
        def(
            When,
            "the timeline starts",
            "When the timeline starts",
            "Marks time zero for `I wait until ... into the timeline` (plans' `at:`).",
            step!(|w, a| w.start_timeline()),
        ),
        def(
            When,
            "I wait until {duration} into the timeline",
            "When I wait until 10s into the timeline",
            "Sleeps until that long after the timeline started (at once if that is past).",
            step!(|w, a| w.wait_until_into_timeline(a.duration(0)?).await),
        ),
        def(
            When,
            "I run the plan {string}",
            r#"When I run the plan "scenarios/leader-flapping.yaml""#,
            "Runs a YAML plan's timeline and checks against this scenario's ensemble (see scenarios/README.md).",
            step!(|w, a| crate::plan::run_in(w, &a.string(0)?).await),
        ),
        // ----- Then -----
        def(
            Then,
            "every member answers ruok with imok",
            "Then every member answers ruok with imok",
            "Sends the `ruok` four-letter word to each member.",
            step!(|w, a| w.every_member_ruok().await),
        ),
        def(
            Then,
            "I can create {string} with {string} through pod {int} and read it back through every other member",
            r#"Then I can create "/product" with "kubedb" through pod 0 and read it back through every other member"#,
            "A write through one member, then `sync` + `get` through each other member must return it.",
            step!(|w, a| w.write_then_read_everywhere(&a.string(0)?, &a.string(1)?, a.u32(2)?).await),
        ),
        def(
            Then,
            "within {duration} the clients get no answer from the members the last fault hit",
            "Then within 10s the clients get no answer from the members the last fault hit",
            "Each member the last fault resolved to fails a `ruok` from the harness (proves a client-side cut took effect).",
            step!(|w, a| w.last_fault_targets_unreachable(a.duration(0)?).await),
        ),
        def(
            Then,
            "within {duration} the ensemble has exactly one leader",
            "Then within 30s the ensemble has exactly one leader",
            "Polls the members until exactly one leads.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::OneLeader).await),
        ),
        def(
            Then,
            "within {duration} the ensemble has quorum",
            "Then within 30s the ensemble has quorum",
            "One leader, a majority of the committed voters following it, one config version.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::Quorum).await),
        ),
        def(
            Then,
            "within {duration} every member serves in quorum",
            "Then within 60s every member serves in quorum",
            "Quorum, and every member serving and following the leader.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::AllHealthy).await),
        ),
        def(
            Then,
            "within {duration} {selector} leads",
            "Then within 30s member C leads",
            "The selected member leads a quorum.",
            step!(|w, a| w.wait_for_member(a.duration(0)?, a.selector(1)?, true).await),
        ),
        def(
            Then,
            "within {duration} {selector} follows the leader",
            "Then within 30s member C follows the leader",
            "The selected member follows the leader, in quorum.",
            step!(|w, a| w.wait_for_member(a.duration(0)?, a.selector(1)?, false).await),
        ),
        def(
            Then,
            "within {duration} {selector} {event}",
            "Then within 30s member C syncs with the leader by DIFF",
            "The member logs the server event after the last action (read from its own server log).",
            step!(|w, a| {
                let awaited = crate::diagnose::trigger::Awaited::Event(a.event(2)?);
                w.await_log(a.selector(1)?, &awaited, a.duration(0)?).await
            }),
        ),
        def(
            Then,
            "within {duration} {selector} logs {string}",
            "Then within 30s pod 1 logs \"Truncating log\"",
            "A line of the member's server log, logged after the last action, contains the text.",
            step!(|w, a| {
                let awaited = crate::diagnose::trigger::Awaited::Text(a.string(2)?);
                w.await_log(a.selector(1)?, &awaited, a.duration(0)?).await
            }),
        ),
        def(
            Then,
            "within {duration} a new leader is elected",
            "Then within 30s a new leader is elected",
            "Quorum under a leader other than the one the last fault hit (or the one before the last fault).",
            step!(|w, a| w.new_leader(a.duration(0)?).await),
        ),
        def(
            Then,
            "within {duration} the ensemble has {int} voting members",
            "Then within 60s the ensemble has 5 voting members",
            "The committed dynamic config has that many participants, with quorum.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::VotingMembers(a.u32(1)?)).await),
        ),
        def(
            Then,
            "within {duration} all members run {version}",
            "Then within 90s all members run 3.9.6",
            "Every member (as many as the spec's replicas) reports that version in `srvr`.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::AllRun(a.version(1)?)).await),
        ),
        def(
            Then,
            "within {duration} pod {int} runs {version}",
            "Then within 60s pod 0 runs 3.8.0",
            "That member reports that version in `srvr`.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::PodRuns(a.u32(1)?, a.version(2)?)).await),
        ),
        def(
            Then,
            "within {duration} all members agree on the config version",
            "Then within 30s all members agree on the config version",
            "Every member serves and reports the same dynamic config version.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::AgreeOnConfig).await),
        ),
        def(
            Then,
            "within {duration} the cluster reports Ready",
            "Then within 60s the cluster reports Ready",
            "The operator's published status has phase Ready.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::Ready).await),
        ),
        def(
            Then,
            "within {duration} the rollout is complete",
            "Then within 120s the rollout is complete",
            "The operator reports the desired spec rolled out: Ready, every pod at or above the partition at the new revision.",
            step!(|w, a| w.wait_for(a.duration(0)?, Expect::RolloutComplete).await),
        ),
        def(
            Then,
            "the known bug {word} is reproduced",
            "Then the known bug ZOOKEEPER-4643 is reproduced",
            "Judges the history (as the history checks do) and expects a violation that the server-log diagnosis attributes to that catalogued upstream bug on the version run. For scenarios that reproduce a bug on purpose.",
            step!(|w, a| w.known_bug_reproduced(&a.string(0)?).await),
        ),
        def(
            Then,
            "the history is linearizable",
            "Then the history is linearizable",
            "Stops the workload and checks writes per znode for linearizability (Wing-Gong/Lowe search).",
            step!(|w, a| w.checker_valid("linearizable-writes").await),
        ),
        def(
            Then,
            "the session guarantees held",
            "Then the session guarantees held",
            "Per session: read-your-writes, monotonic reads, FIFO client order; and sync-then-read sees every prior write.",
            step!(|w, a| w.checker_valid("session-guarantees").await),
        ),
        def(
            Then,
            "no acknowledged write was lost",
            "Then no acknowledged write was lost",
            "Every acknowledged create/set/append is in the final state read after the faults (durability and integrity).",
            step!(|w, a| w.checker_valid("durability-and-integrity").await),
        ),
        def(
            Then,
            "every member runs with {string} = {string}, restarted once, the leader last",
            r#"Then every member runs with "maxClientCnxns" = "100", restarted once, the leader last"#,
            "After the last config change: each member's own `conf` shows the setting; each restarted exactly once since the change (a new server process per its log, not an election), the leader last; and the status never said the rollout was complete while a member still ran its old instance.",
            step!(|w, a| w.config_reached_every_member(&a.string(0)?, &a.string(1)?).await),
        ),
        def(
            Then,
            "the status told the truth throughout",
            "Then the status told the truth throughout",
            "The resource's status, read every 250 ms since the ensemble was Ready, against the probes: never phase Ready without quorum or with a member not serving, readyReplicas never above the members serving, the rollout never complete while a member runs another version; a claim is a lie when every probe round of the 5 s before it contradicted it and a round started after the reading still does. Not judged while the operator is down. With a workload, the verdict of the bundle's `status-truth` checker (judged with the history; `zk-chaos check` re-judges it).",
            step!(|w, a| w.status_told_the_truth().await),
        ),
        def(
            Then,
            "every restarted member came back with its own data",
            "Then every restarted member came back with its own data",
            "Every member a kill, stop or delete restarted loaded, from its own volume, a log not behind the zxid it served 1s before the fault, under the same myid (its server log's `Snapshot loaded ... highest zxid`).",
            step!(|w, a| w.restarted_with_own_data().await),
        ),
        def(
            Then,
            "the ensemble converged after the faults",
            "Then the ensemble converged after the faults",
            "From the probe timeline: after the last fault healed, one leader, agreed config, every member serving.",
            step!(|w, a| w.checker_valid("quorum-and-convergence").await),
        ),
        def(
            Then,
            "at least {int} operations were acknowledged",
            "Then at least 1000 operations were acknowledged",
            "The workload made progress (a workload that did nothing proves nothing).",
            step!(|w, a| w.at_least_ok_ops(u64::from(a.u32(0)?)).await),
        ),
        def(
            Then,
            "all {int} znodes under {string} read back intact",
            r#"Then all 1000 znodes under "/integrity" read back intact"#,
            "After `sync`, every znode from `Given N znodes under ...` exists with its content.",
            step!(|w, a| w.integrity_intact(&a.string(1)?, a.u32(0)?).await),
        ),
        def(
            Then,
            "writes were unavailable for at most {duration}",
            "Then writes were unavailable for at most 5s",
            "The longest span without an acknowledged write.",
            step!(|w, a| w.unavailable_at_most(a.duration(0)?).await),
        ),
        def(
            Then,
            "at most {int} member(s) was/were down at the same time",
            "Then at most 1 member was down at the same time",
            "From the 250 ms probes since the ensemble was Ready: never more members not serving at once (a rolling restart takes one at a time).",
            step!(|w, a| w.at_most_down_at_once(a.u32(0)? as usize).await),
        ),
        def(
            Then,
            "the leader was restarted last",
            "Then the leader was restarted last",
            "Since the last spec change, from the 250 ms probes' server processes: no member was restarted while it led and another member still ran its old process.",
            step!(|w, _a| w.leader_restarted_last().await),
        ),
        def(
            Then,
            "the leader changed at most {int} time(s)",
            "Then the leader changed at most 1 time",
            "Leader changes (by member) seen by the 250 ms probes since the ensemble came up.",
            step!(|w, a| w.leader_changed_at_most(a.u32(0)? as usize).await),
        ),
    ]
}
