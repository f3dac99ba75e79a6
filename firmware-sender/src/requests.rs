//! Host requests served without [`Tunnel::poll`]: every [`Tunnel::REQUEST_CHECK`] span and
//! event operations, the sender looks at the down channel (two offsets on RTT) and, when the
//! host wrote something, polls.
//!
//! The count sits outside the state's critical section, so the hot path pays a load, a
//! compare and a store of one byte (5 instructions on a Cortex-M3); the check every
//! [`Tunnel::REQUEST_CHECK`] operations (a critical section, two offsets) adds about 3 more
//! per operation, amortised (`cargo xtask bench`: 498 → 506 for an event with no field). The check itself runs at the start of an operation, in
//! thread mode only: there nothing else of the sender's is half done, and a level change may
//! rebuild tracing's interest cache. An interrupt that reaches the count leaves the check to
//! the next operation in thread mode.

use core::sync::atomic::Ordering;

use crate::{Clock, Link, Tunnel};

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    /// The sender looks at the down channel once per this many span and event operations
    /// (new span, enter, exit, clone, event) in thread mode, and serves the host's requests it finds
    /// there as [`poll`](Self::poll) does.
    pub const REQUEST_CHECK: u8 = 16;

    /// Counts one operation; every [`REQUEST_CHECK`](Self::REQUEST_CHECK)-th looks at the
    /// down channel. Call at the start of an operation, outside any critical section.
    #[inline(always)]
    pub(crate) fn count_operation(&self) {
        // Not an atomic read-modify-write (Cortex-M3 has none for bytes without a loop): an
        // interrupt between the load and the store costs a count, nothing else.
        let n = self.since_check.load(Ordering::Relaxed);
        if n < Self::REQUEST_CHECK - 1 {
            self.since_check.store(n + 1, Ordering::Relaxed);
        } else {
            self.check_requests();
        }
    }

    /// Polls when the host wrote on the down channel (thread mode only).
    #[cold]
    #[inline(never)]
    fn check_requests(&self) {
        if crate::context::exception() != 0 {
            return; // leave it to thread mode
        }
        self.since_check.store(0, Ordering::Relaxed);
        if self.with_link(|link| link.down_pending()) == Some(true) {
            self.poll();
        }
    }
}
