//! Periodic probe rounds during a run, for the quorum and convergence
//! checker: `(time since the history started, ensemble status)` pairs.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::EnsembleStatus;

/// Probe every `interval` until `stop` flips to true; each sample is
/// stamped with nanoseconds since `start` (the history's clock).
pub async fn sample<F, Fut>(
    start: Instant,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    probe: F,
) -> Vec<(u64, EnsembleStatus)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = EnsembleStatus>,
{
    let mut out = Vec::new();
    loop {
        let status = probe().await;
        out.push((start.elapsed().as_nanos() as u64, status));
        if *stop.borrow() {
            return out;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_until_stopped_and_stamps_monotonically() {
        let (tx, rx) = watch::channel(false);
        let start = Instant::now();
        let h = tokio::spawn(sample(start, Duration::from_millis(5), rx, || async { EnsembleStatus::judge(vec![]) }));
        tokio::time::sleep(Duration::from_millis(40)).await;
        tx.send(true).unwrap();
        let samples = h.await.unwrap();
        assert!(samples.len() >= 3, "{}", samples.len());
        assert!(samples.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(!samples[0].1.quorum, "an empty round has no quorum");
    }
}
