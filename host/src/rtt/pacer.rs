//! When to poll next: no fixed sleep in the hot path.

use std::time::Duration;

/// The first pause once the target goes quiet.
const IDLE_START: Duration = Duration::from_micros(200);
/// How much a halting link's pause grows per poll while the ring comes back nearly empty.
const STEP: Duration = Duration::from_micros(20);

/// Paces the polls of an [`RttReader`](super::RttReader) from what each poll brought.
///
/// * Idle (a poll brought nothing, or the reader is waiting for the block): back off,
///   doubling the pause up to [`idle_max`](Self::idle_max) (10 ms by default), so an idle
///   target costs little.
/// * A link that does not halt the target (a probe): while data comes, poll again at once.
/// * A link that halts the target for each poll (GDB, QEMU): every halt steals time from
///   the target, so polling as fast as possible starves it (measured in QEMU: polls of 70
///   bytes at 400 KiB/s instead of 800 bytes at 1 MiB/s). The pause grows while polls find
///   the ring less than a quarter full and halves when they find it three quarters full, so
///   each poll drains a good part of the ring.
///
/// ```
/// use rtt_tunnel_host::rtt::Pacer;
/// use std::time::Duration;
///
/// let mut pacer = Pacer::new(true);
/// assert_eq!(pacer.next(0, 1024), Duration::from_micros(200)); // idle: back off
/// assert!(pacer.next(100, 1024) > Duration::from_micros(200)); // trickle: let it run
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacer {
    halting: bool,
    delay: Duration,
    idle_max: Duration,
}

impl Pacer {
    /// A pacer for a link that halts the target for each poll (`halting`: see
    /// [`TargetMemory::halts_in_batch`](crate::memory::TargetMemory::halts_in_batch)) or not.
    pub fn new(halting: bool) -> Self {
        Pacer {
            halting,
            delay: Duration::ZERO,
            idle_max: Duration::from_millis(10),
        }
    }

    /// The longest pause (also the latency of the first bytes after a quiet spell).
    pub fn idle_max(mut self, max: Duration) -> Self {
        self.idle_max = max;
        self.delay = self.delay.min(max);
        self
    }

    /// The pause before the next poll, after one that brought `bytes` from a ring of
    /// `ring_size` bytes (0 bytes for a poll that attached, reset or waited).
    pub fn next(&mut self, bytes: usize, ring_size: usize) -> Duration {
        self.delay = if bytes == 0 {
            (self.delay * 2).max(IDLE_START).min(self.idle_max)
        } else if !self.halting {
            Duration::ZERO
        } else if bytes * 4 >= ring_size * 3 {
            self.delay / 2
        } else if bytes * 4 < ring_size {
            (self.delay + self.delay / 4 + STEP).min(self.idle_max)
        } else {
            self.delay
        };
        self.delay
    }

    /// The current pause.
    pub fn delay(&self) -> Duration {
        self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_backs_off_to_the_maximum() {
        let mut pacer = Pacer::new(false).idle_max(Duration::from_millis(1));
        let pauses: Vec<Duration> = (0..5).map(|_| pacer.next(0, 1024)).collect();
        assert_eq!(
            pauses,
            [200, 400, 800, 1000, 1000].map(Duration::from_micros)
        );
    }

    #[test]
    fn a_probe_polls_again_at_once_while_data_comes() {
        let mut pacer = Pacer::new(false);
        pacer.next(0, 1024);
        pacer.next(0, 1024);
        assert_eq!(pacer.next(1, 1024), Duration::ZERO);
        assert_eq!(pacer.next(1000, 1024), Duration::ZERO);
    }

    #[test]
    fn a_halting_link_aims_for_a_well_filled_ring() {
        let mut pacer = Pacer::new(true);
        // A trickle: the pause grows.
        let first = pacer.next(10, 1024);
        let second = pacer.next(10, 1024);
        assert!(
            Duration::ZERO < first && first < second,
            "{first:?} {second:?}"
        );
        // Half full: keep the pace.
        assert_eq!(pacer.next(512, 1024), second);
        // Nearly full: poll sooner.
        assert_eq!(pacer.next(1000, 1024), second / 2);
        // It never exceeds the maximum.
        let mut pacer = Pacer::new(true).idle_max(Duration::from_micros(100));
        for _ in 0..50 {
            assert!(pacer.next(1, 1024) <= Duration::from_micros(100));
        }
    }
}
