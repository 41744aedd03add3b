//! Partitions through NetworkPolicy. A partition is a list of sides; each
//! member named in a side may reach only the members it shares a side with
//! (so a member in two sides bridges them), while every member keeps its
//! traffic with everything that is not a member (DNS, the operator, other
//! namespaces). Per cut-off member, one policy selects its pod (by the
//! `statefulset.kubernetes.io/pod-name` label the StatefulSet controller
//! sets) for both Ingress and Egress and allows only those peers: both
//! directions are cut even where the other side has no policy.
//!
//! Policies carry `zk-chaos.io/fault=partition` and the ensemble's
//! instance label; heal deletes exactly those. NetworkPolicy is stateful
//! and most implementations judge only new connections, so established
//! peer connections survive a new policy: where a node shell is available
//! (kind), the backend deletes the conntrack entries of the cut members'
//! addresses on every node, so their next packet is judged as new.
//!
//! Needs a CNI that enforces NetworkPolicy: kind's default (kindnetd) does
//! since kind v0.24.0 (kube-network-policies; the kernel needs nfqueue).
//! One-way cuts (drop only what one side sends) cannot be expressed with
//! stateful policies and are unsupported on this backend.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

use super::KubeCluster;
use super::error::{Call, KubeError};
use crate::backend::kind::commands::FIELD_MANAGER;
use crate::operator::k8s::{APP_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME};
use crate::zkconfig::EnsembleNames;

/// The label marking objects a fault created, with its kind as value.
pub const LABEL_FAULT: &str = "zk-chaos.io/fault";
/// [`LABEL_FAULT`]'s value on partition policies.
pub const FAULT_PARTITION: &str = "partition";
/// The label the StatefulSet controller puts on each of its pods.
pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// The label every namespace carries with its own name.
pub const LABEL_NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

/// For each member named in `sides`, the members it may still reach
/// (itself included): the union of the sides it is in.
pub fn reachability(sides: &[Vec<u32>]) -> BTreeMap<u32, BTreeSet<u32>> {
    let mut out: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for side in sides {
        for &m in side {
            out.entry(m).or_default().extend(side.iter().copied());
        }
    }
    out
}

/// For each member in some pair of `cuts` (unordered), the members of
/// `members` it may still reach: all but its cut partners.
pub fn peers_from_cuts(members: &[u32], cuts: &BTreeSet<(u32, u32)>) -> BTreeMap<u32, BTreeSet<u32>> {
    let mut out = BTreeMap::new();
    for &(a, b) in cuts {
        for (me, other) in [(a, b), (b, a)] {
            out.entry(me).or_insert_with(|| members.iter().copied().collect::<BTreeSet<u32>>()).remove(&other);
        }
    }
    for (me, peers) in out.iter_mut() {
        peers.insert(*me);
    }
    out
}

/// `isolate` as sides: every listed member on its own.
pub fn isolated(ordinals: &[u32]) -> Vec<Vec<u32>> {
    ordinals.iter().map(|&o| vec![o]).collect()
}

/// The name of the policy cutting member `ordinal` of `names`.
pub fn policy_name(names: &EnsembleNames, ordinal: u32) -> String {
    format!("zk-chaos-partition-{}", names.pod(ordinal))
}

/// The label selector of every partition policy of the ensemble.
pub fn policy_selector(names: &EnsembleNames) -> String {
    format!("{LABEL_FAULT}={FAULT_PARTITION},{LABEL_INSTANCE}={}", names.name)
}

fn requirement(key: &str, operator: &str, values: Vec<String>) -> LabelSelectorRequirement {
    LabelSelectorRequirement { key: key.into(), operator: operator.into(), values: Some(values) }
}

fn members(names: &EnsembleNames) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_NAME.into(), APP_NAME.into()), (LABEL_INSTANCE.into(), names.name.clone())])
}

/// Who member pods may talk to: the `peers` (by pod name), any pod of the
/// namespace that is not a member, and any pod of another namespace.
fn allowed(names: &EnsembleNames, peers: &BTreeSet<u32>) -> Vec<NetworkPolicyPeer> {
    let peer_pods: Vec<String> = peers.iter().map(|&o| names.pod(o)).collect();
    vec![
        NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(members(names)),
                match_expressions: Some(vec![requirement(LABEL_POD_NAME, "In", peer_pods)]),
            }),
            ..NetworkPolicyPeer::default()
        },
        NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![requirement(LABEL_INSTANCE, "NotIn", vec![names.name.clone()])]),
            }),
            ..NetworkPolicyPeer::default()
        },
        NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![requirement(
                    LABEL_NAMESPACE_NAME,
                    "NotIn",
                    vec![names.namespace.clone()],
                )]),
            }),
            ..NetworkPolicyPeer::default()
        },
    ]
}

/// The policy that lets member `ordinal` reach only `peers` among the members.
pub fn policy(names: &EnsembleNames, ordinal: u32, peers: &BTreeSet<u32>) -> NetworkPolicy {
    let labels = BTreeMap::from([
        (LABEL_FAULT.to_string(), FAULT_PARTITION.to_string()),
        (LABEL_INSTANCE.to_string(), names.name.clone()),
        (LABEL_MANAGED_BY.to_string(), "zk-chaos".to_string()),
    ]);
    let mut target = members(names);
    target.insert(LABEL_POD_NAME.into(), names.pod(ordinal));
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(policy_name(names, ordinal)),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(target), match_expressions: None }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule { from: Some(allowed(names, peers)), ports: None }]),
            egress: Some(vec![NetworkPolicyEgressRule { to: Some(allowed(names, peers)), ports: None }]),
        }),
    }
}

/// Every policy a partition into `sides` needs, by member.
pub fn policies(names: &EnsembleNames, sides: &[Vec<u32>]) -> Vec<NetworkPolicy> {
    reachability(sides).iter().map(|(&o, peers)| policy(names, o, peers)).collect()
}

/// The node script dropping the conntrack entries of `addresses` (both
/// directions), so established connections are judged again.
pub fn conntrack_script(addresses: &[String]) -> String {
    format!(
        "command -v conntrack >/dev/null 2>&1 || {{ echo 'conntrack not found on the node' >&2; exit 3; }}\n\
         for ip in {}; do conntrack -D -s \"$ip\" >/dev/null 2>&1 || true; conntrack -D -d \"$ip\" >/dev/null 2>&1 || true; done\n",
        addresses.join(" ")
    )
}

impl KubeCluster {
    fn policy_api(&self) -> Api<NetworkPolicy> {
        Api::namespaced(self.client.clone(), self.namespace())
    }

    /// Cut `ordinals` off, each from every other member.
    pub async fn isolate(&self, ordinals: &[u32]) -> Result<(), KubeError> {
        self.partition(&isolated(ordinals)).await
    }

    /// Partition the ensemble into `sides` (see the module docs): apply one
    /// policy per member named, then, with a node shell, drop the
    /// established connections of those members.
    pub async fn partition(&self, sides: &[Vec<u32>]) -> Result<(), KubeError> {
        let wanted = reachability(sides);
        self.apply_policies(&wanted).await?;
        self.drop_connections(&wanted.into_keys().collect()).await
    }

    /// Make the cut pairs exactly `cuts` (unordered: `(a, b)` cuts both
    /// directions): each member in a pair reaches every other member except
    /// its cut partners; members in no pair get their policy removed. This
    /// is the primitive a pairwise `block`/`unblock` maps onto; a one-way
    /// block is not expressible (see [`KubeCluster::check_supported`]).
    pub async fn set_cuts(&self, cuts: &BTreeSet<(u32, u32)>) -> Result<(), KubeError> {
        let members: Vec<u32> = self.pods().await?.iter().map(|p| p.ordinal).collect();
        let wanted = peers_from_cuts(&members, cuts);
        self.apply_policies(&wanted).await?;
        let api = self.policy_api();
        for name in self.partitions().await? {
            let keep = wanted.keys().any(|&o| policy_name(&self.names, o) == name);
            if !keep {
                let call = Call::new("delete", "networkpolicies.networking.k8s.io", self.namespace(), Some(&name));
                match self.api(call, api.delete(&name, &DeleteParams::default())).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
        }
        self.drop_connections(&wanted.into_keys().collect()).await
    }

    async fn apply_policies(&self, wanted: &BTreeMap<u32, BTreeSet<u32>>) -> Result<(), KubeError> {
        let api = self.policy_api();
        let params = PatchParams::apply(FIELD_MANAGER).force();
        for (&o, peers) in wanted {
            let p = policy(&self.names, o, peers);
            let name = policy_name(&self.names, o);
            let call = Call::new("patch", "networkpolicies.networking.k8s.io", self.namespace(), Some(&name));
            self.api(call, api.patch(&name, &params, &Patch::Apply(&p))).await?;
        }
        Ok(())
    }

    /// With a node shell, drop the conntrack entries of `cut` members'
    /// addresses on every node hosting a member.
    async fn drop_connections(&self, cut: &BTreeSet<u32>) -> Result<(), KubeError> {
        let Some(nodes) = &self.nodes else { return Ok(()) };
        if cut.is_empty() {
            return Ok(());
        }
        let pods = self.pods().await?;
        let addresses: Vec<String> =
            pods.iter().filter(|p| cut.contains(&p.ordinal)).filter_map(|p| p.ip.map(|ip| ip.to_string())).collect();
        let hosts: BTreeSet<String> = pods.iter().filter_map(|p| p.node.clone()).collect();
        if !addresses.is_empty() {
            let script = conntrack_script(&addresses);
            for node in &hosts {
                nodes.run(node, &script, self.timeouts.exec).await?;
            }
        }
        Ok(())
    }

    /// Remove every partition policy of the ensemble. Returns how many there were.
    pub async fn heal(&self) -> Result<usize, KubeError> {
        let api = self.policy_api();
        let lp = ListParams::default().labels(&policy_selector(&self.names));
        let call = Call::new("deletecollection", "networkpolicies.networking.k8s.io", self.namespace(), None);
        let deleted = self.api(call, api.delete_collection(&DeleteParams::default(), &lp)).await?;
        Ok(deleted.left().map(|list| list.items.len()).unwrap_or(0))
    }

    /// The names of the ensemble's partition policies in force.
    pub async fn partitions(&self) -> Result<Vec<String>, KubeError> {
        let lp = ListParams::default().labels(&policy_selector(&self.names));
        let call = Call::new("list", "networkpolicies.networking.k8s.io", self.namespace(), None);
        let list = self.api(call, self.policy_api().list(&lp)).await?;
        Ok(list.items.into_iter().filter_map(|p| p.metadata.name).collect())
    }
}
