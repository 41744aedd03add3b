//! Client traffic: one local TCP port per member, each accepted connection
//! port-forwarded (the `pods/portforward` subresource, through the API
//! server) to that member's client port. The workload connects to
//! `127.0.0.1:<p0>,127.0.0.1:<p1>,...` like to any connect string.
//!
//! Why port-forward: it works with any kubeconfig (kind, a cloud cluster
//! behind a bastion) and needs only `pods/portforward`; NodePorts need one
//! Service per member and node addresses reachable from the harness (kind
//! maps them only with `extraPortMappings` fixed at cluster creation), and
//! a workload inside the cluster would need an image of the harness. Each
//! connection opens its own forward to the pod *name*, so a member whose
//! pod was killed and re-created is reachable again as soon as it serves.
//! Note: the forward ends inside the pod's network namespace on loopback,
//! so a partitioned member stays reachable by clients (as a client on its
//! side of the cut would be); it refuses them itself once it lost quorum.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::KubeCluster;
use super::error::KubeError;
use crate::zkconfig::CLIENT_PORT;

/// Local ports forwarding to the members. Dropping it stops accepting new
/// connections (those in flight run until either end closes).
pub struct ClientForwards {
    ports: BTreeMap<u32, SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClientForwards {
    /// `127.0.0.1:<port>,...` in ordinal order.
    pub fn connect_string(&self) -> String {
        self.ports.values().map(SocketAddr::to_string).collect::<Vec<_>>().join(",")
    }

    /// The local address forwarding to member `ordinal`.
    pub fn addr(&self, ordinal: u32) -> Option<SocketAddr> {
        self.ports.get(&ordinal).copied()
    }

    /// Every `(ordinal, local address)`.
    pub fn addrs(&self) -> &BTreeMap<u32, SocketAddr> {
        &self.ports
    }
}

impl Drop for ClientForwards {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn forward_one(client: Client, namespace: String, pod: String, mut local: TcpStream) {
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let mut pf = match api.portforward(&pod, &[CLIENT_PORT]).await {
        Ok(pf) => pf,
        Err(e) => {
            tracing::warn!(%pod, error = %e, "port-forward failed; closing the client connection");
            return;
        }
    };
    let Some(mut remote) = pf.take_stream(CLIENT_PORT) else { return };
    if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut remote).await {
        tracing::debug!(%pod, error = %e, "port-forwarded connection ended");
    }
    drop(remote);
    let _ = pf.join().await;
}

impl KubeCluster {
    /// Forward a local port to each of `ordinals`' client port.
    pub async fn forward_clients(&self, ordinals: &[u32]) -> Result<ClientForwards, KubeError> {
        let mut ports = BTreeMap::new();
        let mut tasks = Vec::new();
        for &o in ordinals {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(|e| KubeError::Forward(format!("cannot listen on 127.0.0.1: {e}")))?;
            let addr = listener.local_addr().map_err(|e| KubeError::Forward(e.to_string()))?;
            ports.insert(o, addr);
            let (client, namespace, pod) = (self.client.clone(), self.namespace().to_string(), self.names.pod(o));
            tasks.push(tokio::spawn(async move {
                while let Ok((conn, _)) = listener.accept().await {
                    tokio::spawn(forward_one(client.clone(), namespace.clone(), pod.clone(), conn));
                }
            }));
        }
        Ok(ClientForwards { ports, tasks })
    }
}
