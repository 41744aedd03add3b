//! Hunting for failures: rerun scenarios with seeds derived from the run's
//! seed ([`seeds`]), count what failed ([`tally`]), and shrink a failing
//! random schedule to the fewest faults that still fail ([`shrink`]).
//! Everything here is pure; `zk-chaos run --repeat` drives it.

pub mod seeds;
pub mod shrink;
pub mod tally;

pub use seeds::attempt_seed;
pub use shrink::{ShrinkBound, Shrinker};
pub use tally::{Failure, Tally};

/// Bad hunting input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HuntError {
    /// A `--schedule-faults` list could not be read.
    #[error("bad fault list `{0}`: expected comma-separated positions such as `0,2`")]
    FaultList(String),
}

/// Parse `0,2,5` (positions in a random schedule), sorted and deduplicated.
pub fn parse_fault_list(text: &str) -> Result<Vec<usize>, HuntError> {
    let mut v = text
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| HuntError::FaultList(text.to_string()))?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// `0,2,5`.
pub fn show_fault_list(list: &[usize]) -> String {
    list.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_round_trip() {
        assert_eq!(parse_fault_list("3, 1,1").unwrap(), vec![1, 3]);
        assert_eq!(show_fault_list(&[0, 2]), "0,2");
        assert!(parse_fault_list("1,x").is_err());
        assert!(parse_fault_list("").is_err());
    }
}
