//! Warnings about what the target sent, throttled: the first of each kind, then one at 10,
//! 100, 1,000… of that kind, each with the count so far. The totals are in
//! [`SessionStats`](super::SessionStats).

/// Counts per kind of warning.
#[derive(Debug, Default)]
pub(crate) struct Kinds {
    counts: Vec<(&'static str, u64)>,
}

impl Kinds {
    /// Counts one warning of `kind`; returns the count so far.
    pub fn count(&mut self, kind: &'static str) -> u64 {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.counts.push((kind, 1));
                1
            }
        }
    }

    /// Warnings counted by kind, in the order the kinds first came.
    pub fn counts(&self) -> &[(&'static str, u64)] {
        &self.counts
    }
}

/// Whether the `count`th warning of a kind is shown: the first, then each power of ten.
pub(crate) fn shown(count: u64) -> bool {
    let mut n = count;
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_then_powers_of_ten() {
        let shown: Vec<u64> = (1..=100_000).filter(|&n| shown(n)).collect();
        assert_eq!(shown, [1, 10, 100, 1_000, 10_000, 100_000]);
    }

    #[test]
    fn kinds_count_apart() {
        let mut kinds = Kinds::default();
        assert_eq!(kinds.count("a"), 1);
        assert_eq!(kinds.count("b"), 1);
        assert_eq!(kinds.count("a"), 2);
        assert_eq!(kinds.counts(), [("a", 2), ("b", 1)]);
    }
}
