//! CPU starvation of a docker member: its container's CFS quota, set
//! through the engine's container update (`cpu_period`, `cpu_quota`), the
//! same share of one CPU as the local backend's cgroup
//! ([`crate::backend::local::cpu`]). The quota is part of the container's
//! `HostConfig`, so it survives a kill and restart of that container; a
//! recreated container gets it from the ensemble again.

use crate::backend::local::cpu::{self, CpuError, PERIOD_US};

/// The `CpuQuota` that lifts a container's quota. The engine reads 0 in
/// an update as "leave it as it is" (the limit would stay), and -1 as no
/// quota (`cpu.cfs_quota_us` -1), which it keeps in `HostConfig`.
pub const NO_QUOTA: i64 = -1;

/// `(cpu_period, cpu_quota)` for the engine: `Some(percent)` of one CPU
/// (1..=100, checked as on the local backend), `None` for no limit.
pub fn update(percent: Option<u32>) -> Result<(i64, i64), CpuError> {
    let period = PERIOD_US as i64;
    match percent {
        Some(p) => Ok((period, cpu::quota_us(p)? as i64)),
        None => Ok((period, NO_QUOTA)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_quotas_of_the_local_period_and_heal_lifts_the_quota() {
        assert_eq!(update(Some(10)).unwrap(), (100_000, 10_000));
        assert_eq!(update(Some(100)).unwrap(), (100_000, 100_000));
        // 0 would leave the limit in place: the engine ignores it.
        assert_eq!(update(None).unwrap(), (100_000, -1));
        let e = update(Some(0)).unwrap_err();
        assert!(matches!(e, CpuError::Percent(0)));
        assert_eq!(e.to_string(), cpu::quota(0).unwrap_err().to_string());
        assert!(matches!(update(Some(101)), Err(CpuError::Percent(101))));
    }
}
