//! What a fault needs from a backend: probes and a handful of primitive
//! actions on members. The local backend does them with signals, blackhole
//! routes and `tc`; a Kubernetes backend with pod deletes, `exec` and
//! NetworkPolicies. Faults only ever go through this trait.

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::FaultError;
use crate::backend::local::LocalEnsemble;
use crate::probe::EnsembleStatus;
use crate::sys::{self, SysError};

/// The primitive actions faults are made of. Every action has an inverse,
/// and every inverse is idempotent (undoing twice is harmless).
#[async_trait]
pub trait FaultTarget: Send + Sync {
    /// Whether faults of kind `fault` (a [`Fault::name`](super::Fault::name))
    /// can be injected here; the reason when they cannot.
    /// [`Fault::start`](super::Fault::start) asks before acting, so a refused
    /// fault changes nothing and fails its step instead of passing
    /// silently. The default accepts every fault.
    fn check_supported(&self, _fault: &'static str) -> Result<(), FaultError> {
        Ok(())
    }
    /// Probe every member now.
    async fn status(&self) -> EnsembleStatus;
    /// The members' ordinals, sorted.
    async fn members(&self) -> Vec<u32>;
    /// SIGKILL the member's server (the platform brings it back).
    async fn kill_pod(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Stop the member's server gracefully.
    async fn stop_pod(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Start a killed or stopped member again (no-op when it runs).
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError>;
    /// SIGSTOP the member's server.
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError>;
    /// SIGCONT the member's server (no-op when it is not paused or gone).
    async fn resume_pod(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Drop everything `from` sends to `to`.
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError>;
    /// Undo [`FaultTarget::block`].
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError>;
    /// Cut the harness's clients (and probes) off from the member: it keeps
    /// talking to its peers but cannot answer clients.
    async fn block_clients(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Undo [`FaultTarget::block_clients`].
    async fn unblock_clients(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Fill the member's data disk (a size-limited one only, never the
    /// host's); returns the bytes written.
    async fn fill_disk(&self, ordinal: u32) -> Result<u64, FaultError>;
    /// Undo [`FaultTarget::fill_disk`].
    async fn free_disk(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Apply `tc ... netem <args>` to the member's egress.
    async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), FaultError>;
    /// Remove the netem qdisc.
    async fn clear_netem(&self, ordinal: u32) -> Result<(), FaultError>;
    /// Limit the member's server to `percent` of one CPU (a noisy
    /// neighbour, a throttled container). The default: unsupported.
    async fn limit_cpu(&self, _ordinal: u32, _percent: u32) -> Result<(), FaultError> {
        Err(FaultError::Unsupported("CPU limits are not implemented for this backend".into()))
    }
    /// Undo [`FaultTarget::limit_cpu`] (no-op when there is none).
    async fn unlimit_cpu(&self, _ordinal: u32) -> Result<(), FaultError> {
        Ok(())
    }
}

/// Local primitives that need no mutable access to the ensemble.
pub mod local {
    use super::*;

    /// In `from`'s namespace, blackhole `to`'s address.
    pub fn block(ens: &LocalEnsemble, from: u32, to: u32) -> Result<(), FaultError> {
        let ns = ens.state().run.netns(from);
        let dst = ens.addr(to)?;
        sys::ip(["-n", &ns, "route", "replace", "blackhole", &format!("{dst}/32")])?;
        Ok(())
    }

    /// The pid of pod `ordinal`'s server, checked to be ours (a server of
    /// the run, see [`crate::backend::local::naming::server_run`]).
    pub fn our_pid(state: &crate::backend::local::state::RunState, ordinal: u32) -> Result<u32, FaultError> {
        let pid = state
            .pods
            .get(&ordinal)
            .and_then(|p| p.pid)
            .ok_or_else(|| FaultError::Invalid(format!("pod {ordinal} has no running server")))?;
        if crate::backend::local::cleanup::is_server_of(pid, &state.run) {
            Ok(pid)
        } else {
            Err(FaultError::Invalid(format!("pod {ordinal}'s recorded pid {pid} is not its server any more")))
        }
    }

    /// Limit pod `ordinal`'s server to `percent` of one CPU.
    pub fn limit_cpu(ens: &LocalEnsemble, ordinal: u32, percent: u32) -> Result<(), FaultError> {
        let pid = our_pid(ens.state(), ordinal)?;
        crate::backend::local::cpu::limit(&ens.state().run, ordinal, pid, percent)
            .map_err(|e| FaultError::Unsupported(e.to_string()))
    }

    /// Undo [`limit_cpu`].
    pub fn unlimit_cpu(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        crate::backend::local::cpu::unlimit(&ens.state().run, ordinal);
        Ok(())
    }

    /// Delete the blackhole route [`block`] added (gone already is fine).
    pub fn unblock(ens: &LocalEnsemble, from: u32, to: u32) -> Result<(), FaultError> {
        unroute(ens, from, ens.addr(to)?)
    }

    /// In the pod's namespace, blackhole the host's address on the bridge:
    /// the harness's clients (and probes) get no answers from it.
    pub fn block_clients(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        let ns = ens.state().run.netns(ordinal);
        let host = ens.state().subnet.gateway();
        sys::ip(["-n", &ns, "route", "replace", "blackhole", &format!("{host}/32")])?;
        Ok(())
    }

    /// Undo [`block_clients`].
    pub fn unblock_clients(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        unroute(ens, ordinal, ens.state().subnet.gateway())
    }

    fn unroute(ens: &LocalEnsemble, from: u32, dst: std::net::Ipv4Addr) -> Result<(), FaultError> {
        let ns = ens.state().run.netns(from);
        match sys::ip(["-n", &ns, "route", "del", "blackhole", &format!("{dst}/32")]) {
            Err(SysError::Failed { stderr, .. })
                if stderr.contains("No such process") || stderr.contains("Cannot open network namespace") =>
            {
                Ok(())
            }
            r => r.map(drop).map_err(Into::into),
        }
    }

    /// `tc qdisc replace dev eth0 root netem <args>` in the pod's namespace.
    pub fn netem(ens: &LocalEnsemble, ordinal: u32, args: &[String]) -> Result<(), FaultError> {
        let ns = ens.state().run.netns(ordinal);
        let mut cmd = vec!["-n".to_string(), ns];
        cmd.extend(["qdisc", "replace", "dev", "eth0", "root", "netem"].map(String::from));
        cmd.extend(args.iter().cloned());
        match sys::run("tc", &cmd) {
            Ok(_) => Ok(()),
            Err(SysError::Failed { stderr, .. }) if stderr.contains("qdisc kind is unknown") => {
                Err(FaultError::Unsupported(format!("the kernel has no netem qdisc (sch_netem): {stderr}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Delete the root qdisc (gone already is fine).
    pub fn clear_netem(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        let ns = ens.state().run.netns(ordinal);
        match sys::run("tc", ["-n", &ns, "qdisc", "del", "dev", "eth0", "root"]) {
            Err(SysError::Failed { stderr, .. })
                if stderr.contains("No such file") || stderr.contains("Cannot open network namespace") =>
            {
                Ok(())
            }
            r => r.map(drop).map_err(Into::into),
        }
    }

    /// Fill the pod's data disk with the ballast (refused unless it is one
    /// of our size-limited disks).
    pub fn fill_disk(ens: &LocalEnsemble, ordinal: u32) -> Result<u64, FaultError> {
        let data =
            ens.state().pods.get(&ordinal).ok_or(crate::backend::local::EnsembleError::NoSuchPod(ordinal))?.dirs.data();
        crate::backend::local::disk::fill(&data).map_err(FaultError::Unsupported)
    }

    /// Remove the ballast.
    pub fn free_disk(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        let Some(pod) = ens.state().pods.get(&ordinal) else { return Ok(()) };
        crate::backend::local::disk::free(&pod.dirs.data()).map_err(FaultError::Invalid)
    }

    /// SIGCONT, where "not running" is fine (it was killed meanwhile).
    pub fn resume(ens: &LocalEnsemble, ordinal: u32) -> Result<(), FaultError> {
        match ens.resume_pod(ordinal) {
            Ok(()) | Err(crate::backend::local::EnsembleError::Invalid(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A bare local ensemble (no operator) as a fault target: heals restart
/// what faults stopped, since nothing else would.
#[async_trait]
impl FaultTarget for Mutex<LocalEnsemble> {
    async fn status(&self) -> EnsembleStatus {
        let state = self.lock().await.state().clone();
        crate::backend::local::ensemble::probe_run(&state).await
    }
    async fn members(&self) -> Vec<u32> {
        self.lock().await.ordinals()
    }
    async fn kill_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.lock().await.kill_pod(ordinal).await?)
    }
    async fn stop_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.lock().await.stop_pod(ordinal).await?)
    }
    async fn start_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.lock().await.start_pod(ordinal).await?)
    }
    async fn pause_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        Ok(self.lock().await.pause_pod(ordinal)?)
    }
    async fn resume_pod(&self, ordinal: u32) -> Result<(), FaultError> {
        local::resume(&*self.lock().await, ordinal)
    }
    async fn block(&self, from: u32, to: u32) -> Result<(), FaultError> {
        local::block(&*self.lock().await, from, to)
    }
    async fn unblock(&self, from: u32, to: u32) -> Result<(), FaultError> {
        local::unblock(&*self.lock().await, from, to)
    }
    async fn block_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        local::block_clients(&*self.lock().await, ordinal)
    }
    async fn unblock_clients(&self, ordinal: u32) -> Result<(), FaultError> {
        local::unblock_clients(&*self.lock().await, ordinal)
    }
    async fn fill_disk(&self, ordinal: u32) -> Result<u64, FaultError> {
        local::fill_disk(&*self.lock().await, ordinal)
    }
    async fn free_disk(&self, ordinal: u32) -> Result<(), FaultError> {
        local::free_disk(&*self.lock().await, ordinal)
    }
    async fn netem(&self, ordinal: u32, args: &[String]) -> Result<(), FaultError> {
        local::netem(&*self.lock().await, ordinal, args)
    }
    async fn clear_netem(&self, ordinal: u32) -> Result<(), FaultError> {
        local::clear_netem(&*self.lock().await, ordinal)
    }
    async fn limit_cpu(&self, ordinal: u32, percent: u32) -> Result<(), FaultError> {
        local::limit_cpu(&*self.lock().await, ordinal, percent)
    }
    async fn unlimit_cpu(&self, ordinal: u32) -> Result<(), FaultError> {
        local::unlimit_cpu(&*self.lock().await, ordinal)
    }
}
