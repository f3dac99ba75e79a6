//! Host requests served without [`Tunnel::poll`]: every [`Tunnel::REQUEST_CHECK`] new spans,
//! events and span clones, the sender looks at the down channel (two offsets on RTT) and, when
//! the host wrote something, polls. Enter and exit do not count: they come in pairs with the
//! span or event operations around them, and their budget is the tightest.
//!
//! The count sits outside the state's critical section, a word counted down: a load, a
//! subtraction, a branch and a store (4 instructions on a Cortex-M3); the check every
//! [`Tunnel::REQUEST_CHECK`] operations (a critical section, two offsets; about 35
//! instructions) adds about 1 per operation, amortised. `cargo xtask bench` on the M3, one
//! `u32` event: 599 without the check (before it was added), 607 with the first one (a byte
//! counted up every operation, a check every 16), 599 with this one and a parent kept across
//! the critical section as one value (`subscriber.rs`, `ParentOf`), 597 after this pass's
//! other trims; enter, exit and close 282, 292, 292 (no count). The check itself runs at the
//! start of an operation, in thread mode only: there nothing else of the sender's is half
//! done, and a level change may rebuild tracing's interest cache. An interrupt that reaches
//! the count leaves the check to the next operation in thread mode.

use core::sync::atomic::Ordering;

use crate::{Clock, Link, Tunnel};

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    /// The sender looks at the down channel once per this many new spans, events and span
    /// clones in thread mode, and serves the host's requests it finds there as
    /// [`poll`](Self::poll) does.
    pub const REQUEST_CHECK: u8 = 32;

    /// Counts one operation; every [`REQUEST_CHECK`](Self::REQUEST_CHECK)-th looks at the
    /// down channel. Call at the start of an operation, outside any critical section.
    #[inline(always)]
    pub(crate) fn count_operation(&self) {
        // Counts down below zero, then the check starts it again: a load, a subtraction that
        // sets the flags, a branch on its sign and a store. Not an atomic read-modify-write
        // (a loop on Cortex-M3): an interrupt between the load and the store costs a count,
        // nothing else.
        let left = self.since_check.load(Ordering::Relaxed).wrapping_sub(1);
        if (left as i32) < 0 {
            self.check_requests();
        } else {
            self.since_check.store(left, Ordering::Relaxed);
        }
    }

    /// Polls when the host wrote on the down channel (thread mode only).
    #[cold]
    #[inline(never)]
    fn check_requests(&self) {
        if crate::context::exception() != 0 {
            return; // leave it to thread mode
        }
        self.since_check
            .store(u32::from(Self::REQUEST_CHECK) - 1, Ordering::Relaxed);
        if self.with_link(|link| link.down_pending()) == Some(true) {
            self.poll();
        }
    }
}
