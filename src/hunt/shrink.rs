//! Shrinking a failing random schedule: delta debugging (Zeller's ddmin)
//! over the positions of its faults, as a state machine so that each test
//! (a real scenario run) can be awaited by the caller.
//!
//! Starting from the full schedule (known to fail), each round splits the
//! current set into `n` chunks and tries, in order, each chunk alone, then
//! each complement (the set without that chunk). The first candidate that
//! still fails becomes the current set (and `n` drops back); when none
//! fails, `n` doubles, until chunks are single faults. The order is fixed,
//! so the same answers give the same candidates. A bound on the number of
//! tests stops it early; the caller also bounds it by time. The result is
//! the smallest failing set found so far.

/// How far a shrink may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkBound {
    /// At most this many test runs.
    pub max_tests: u32,
}

/// The ddmin state machine.
#[derive(Debug, Clone)]
pub struct Shrinker {
    current: Vec<usize>,
    n: usize,
    candidates: Vec<Vec<usize>>,
    next: usize,
    tests: u32,
    bound: ShrinkBound,
    done: bool,
}

impl Shrinker {
    /// Shrink `failing` (positions of the faults of a schedule that failed).
    pub fn new(mut failing: Vec<usize>, bound: ShrinkBound) -> Self {
        failing.sort_unstable();
        failing.dedup();
        let mut s = Self { current: failing, n: 2, candidates: Vec::new(), next: 0, tests: 0, bound, done: false };
        s.new_round();
        s
    }

    fn new_round(&mut self) {
        self.next = 0;
        self.candidates.clear();
        let len = self.current.len();
        if len < 2 {
            self.done = true;
            return;
        }
        self.n = self.n.clamp(2, len);
        let chunks: Vec<Vec<usize>> = (0..self.n)
            .map(|i| self.current[i * len / self.n..(i + 1) * len / self.n].to_vec())
            .filter(|c| !c.is_empty())
            .collect();
        for c in &chunks {
            self.candidates.push(c.clone());
        }
        for c in &chunks {
            let complement: Vec<usize> = self.current.iter().copied().filter(|x| !c.contains(x)).collect();
            if !complement.is_empty() && !self.candidates.contains(&complement) {
                self.candidates.push(complement);
            }
        }
    }

    /// The next schedule subset to test, or `None` when the shrink is over
    /// (minimal at this granularity, or the bound is reached).
    pub fn next_candidate(&mut self) -> Option<Vec<usize>> {
        loop {
            if self.done || self.tests >= self.bound.max_tests {
                return None;
            }
            if let Some(c) = self.candidates.get(self.next) {
                return Some(c.clone());
            }
            // No candidate of this round failed: finer chunks, or done.
            if self.n >= self.current.len() {
                self.done = true;
                return None;
            }
            self.n = (self.n * 2).min(self.current.len());
            self.new_round();
        }
    }

    /// Report whether the candidate last handed out still failed.
    pub fn record(&mut self, still_fails: bool) {
        self.tests += 1;
        if still_fails {
            let c = self.candidates[self.next].clone();
            // A failing chunk restarts at two halves; a failing complement
            // keeps the granularity one coarser.
            self.n = if c.len() * 2 <= self.current.len() { 2 } else { self.n.saturating_sub(1).max(2) };
            self.current = c;
            self.new_round();
        } else {
            self.next += 1;
        }
    }

    /// The smallest failing subset found so far.
    pub fn smallest(&self) -> &[usize] {
        &self.current
    }

    /// Tests run so far.
    pub fn tests(&self) -> u32 {
        self.tests
    }

    /// Whether it finished on its own (no smaller failing subset at single
    /// fault granularity), as opposed to being stopped by its bound.
    pub fn is_minimal(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Run the shrinker against a pure "fails" predicate.
    fn run(n: usize, max_tests: u32, fails: impl Fn(&[usize]) -> bool) -> (Vec<usize>, Vec<Vec<usize>>, bool) {
        let mut s = Shrinker::new((0..n).collect(), ShrinkBound { max_tests });
        let mut tried = Vec::new();
        while let Some(c) = s.next_candidate() {
            let f = fails(&c);
            tried.push(c);
            s.record(f);
        }
        (s.smallest().to_vec(), tried, s.is_minimal())
    }

    #[test]
    fn one_culprit_among_ten_is_found_halving() {
        let (small, tried, minimal) = run(10, 100, |c| c.contains(&7));
        assert_eq!(small, vec![7]);
        assert!(minimal);
        // Halves first.
        assert_eq!(tried[0], vec![0, 1, 2, 3, 4]);
        assert_eq!(tried[1], vec![5, 6, 7, 8, 9]);
        assert!(tried.len() <= 12, "{tried:?}");
    }

    #[test]
    fn two_interacting_faults_are_both_kept() {
        let (small, _, minimal) = run(8, 100, |c| c.contains(&1) && c.contains(&6));
        assert_eq!(small, vec![1, 6]);
        assert!(minimal);
    }

    #[test]
    fn the_same_answers_give_the_same_candidates() {
        let f = |c: &[usize]| c.contains(&2) && c.contains(&3);
        assert_eq!(run(6, 100, f), run(6, 100, f));
    }

    #[test]
    fn the_bound_stops_it_with_the_smallest_so_far() {
        let (small, tried, minimal) = run(10, 2, |c| c.contains(&7));
        assert_eq!(tried.len(), 2);
        assert_eq!(small, vec![5, 6, 7, 8, 9]);
        assert!(!minimal);
        // Nothing to shrink: a single fault.
        let (small, tried, minimal) = run(1, 10, |_| true);
        assert_eq!((small, tried.len(), minimal), (vec![0], 0, true));
    }

    #[test]
    fn a_failure_that_never_reproduces_keeps_the_full_schedule() {
        let (small, tried, minimal) = run(3, 100, |_| false);
        assert_eq!(small, vec![0, 1, 2]);
        assert!(minimal);
        assert!(tried.iter().all(|c| c.len() < 3));
    }

    proptest! {
        /// Whatever the (monotone) failure condition, the result still
        /// fails, and removing any single fault from it makes it pass.
        #[test]
        fn the_result_is_one_minimal(n in 1usize..12, culprits in proptest::collection::btree_set(0usize..12, 1..4)) {
            let culprits: Vec<usize> = culprits.into_iter().filter(|c| *c < n).collect();
            prop_assume!(!culprits.is_empty());
            let fails = |c: &[usize]| culprits.iter().all(|x| c.contains(x));
            let (small, _, minimal) = run(n, 1000, fails);
            prop_assert!(minimal);
            prop_assert!(fails(&small));
            for i in 0..small.len() {
                let mut less = small.clone();
                less.remove(i);
                prop_assert!(!fails(&less));
            }
        }
    }
}
