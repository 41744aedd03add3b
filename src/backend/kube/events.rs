//! What the operator did, as it told the API server: the Kubernetes Events
//! it publishes on the `ZookeeperCluster` (kube's event `Recorder`, one
//! Event per reason and a series count for repeats). Read through the core
//! `v1` Events API with a field selector on the involved object, which
//! shows Events written through `events.k8s.io` as well; needs `events`
//! list in the ensemble's namespace.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};

use super::KubeCluster;
use super::error::{Call, KubeError};

/// One observation of an Event: a repeated Event (a series) is observed
/// again with each new count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEvent {
    /// The Event's uid and the count observed: the same key means the same
    /// observation.
    pub key: (String, i32),
    /// When it (last) happened.
    pub at: Option<Timestamp>,
    /// `<reason>: <message>`, e.g. `DeletePod: deleted zk-2 (upgrade to rev-ab12)`.
    pub text: String,
}

/// What an Event says, with when and how often.
pub fn observe(ev: &Event) -> ObservedEvent {
    let count = ev.series.as_ref().and_then(|s| s.count).or(ev.count).unwrap_or(1);
    let at = ev
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        .or_else(|| ev.event_time.as_ref().map(|t| t.0))
        .or_else(|| ev.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| ev.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| ev.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let reason = ev.reason.as_deref().unwrap_or("Event");
    let message = ev.message.as_deref().unwrap_or("").trim();
    let mut text = if message.is_empty() { reason.to_string() } else { format!("{reason}: {message}") };
    if ev.type_.as_deref() == Some("Warning") {
        text = format!("warning: {text}");
    }
    ObservedEvent { key: (ev.metadata.uid.clone().unwrap_or_default(), count), at, text }
}

impl KubeCluster {
    /// The field selector of the Events about the ensemble's resource.
    pub fn events_selector(&self) -> String {
        format!("involvedObject.kind=ZookeeperCluster,involvedObject.name={}", self.name())
    }

    /// The Events about the ensemble's `ZookeeperCluster`, oldest first.
    pub async fn events(&self) -> Result<Vec<ObservedEvent>, KubeError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), self.namespace());
        let lp = ListParams::default().fields(&self.events_selector());
        let list = self.api(Call::new("list", "events", self.namespace(), None), api.list(&lp)).await?;
        let mut out: Vec<ObservedEvent> = list.items.iter().map(observe).collect();
        out.sort_by_key(|e| e.at);
        Ok(out)
    }
}
