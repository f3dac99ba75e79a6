//! What the sender owes the host after it lost frames, and the report of its capacity.
//!
//! **The guarantee.** A lost frame may have been an `Enter`, an `Exit`, a `NewSpan` or a
//! `Close`, each of which changes the host's view of the spans. So after any loss, before the
//! next frame that fits (and before its `Dropped` report), the sender writes:
//!
//! 1. a `Resync`: the ids of every live span the host knows, and the stack of entered spans
//!    (their entries). The host closes the spans it holds that are not listed (so an id the
//!    target reused no longer names an old span) and makes its entered stack equal;
//! 2. a `LiveSpan` for every live span whose `NewSpan` was lost (parents first), after its
//!    call site's announcement if that is pending too;
//! 3. if there were any, a second `Resync` that puts their entries in place.
//!
//! From there on the host's live spans and entered stack equal the target's, and every later
//! span and event gets the parent it has on the target. The exits and closes the host makes
//! there are late: the span ended at or before the `Resync`'s time. If any of these frames
//! does not fit, the frame that was to follow is dropped and counted too, and what is left is
//! tried again before the next one (a new loss starts over). An `enter`, `exit` or `close`
//! writes what is due before it changes the tables (`State::ready`), so the `Resync`
//! describes the state its own frame then changes.
//!
//! Not recovered: the values of a lost `NewSpan` or `Record` (a `LiveSpan` has none), a lost
//! `FollowsFrom`, lost events (they are counted in the `Dropped` report). Entries of spans
//! whose call site cannot be announced (too large for a frame) are left out of the `Resync`,
//! and a `Resync` longer than `FRAME` (about `FRAME - 24` spans and entries with ids under
//! 128) cannot be written: the host then stays as the frames left it.
//!
//! The hot path pays nothing for this: a loss goes through
//! [`count_drop`](super::State::count_drop), which raises [`Owed::resync`], and the
//! `Dropped` report it also makes due is the one check every frame already makes.
//!
//! **Capacity.** The counters of what the sender could not keep for lack of room (spans and
//! enters untracked, events of refused call sites, values dropped or cut) go to the host in a
//! `Status` frame whenever they changed, from [`poll`](crate::Tunnel::poll).

use core::mem::MaybeUninit;

use rtt_tunnel_protocol::{Capacity, FrameBuilder, Message};

use super::{Sent, Stamp, State};
use crate::callsites::Announce;
use crate::clock::Clock;
use crate::spans::SpanTable;
use crate::{Link, Stats};

/// What the sender owes the host.
#[derive(Debug)]
pub(crate) struct Owed {
    /// A frame was lost since the last `Resync` was written.
    pub(crate) resync: bool,
    /// The first `Resync` of the loss is written (the host closed what is gone, so ids of
    /// spans it revives no longer name old spans).
    closed: bool,
    /// A `LiveSpan` was written since: a second `Resync` puts its entries in place.
    revived: bool,
    /// The capacity counters of the last `Status` written.
    reported: Capacity,
}

impl Owed {
    /// A frame was lost: the host's view may be wrong from here.
    #[inline(always)]
    pub(crate) fn lost(&mut self) {
        self.resync = true;
        self.closed = false;
    }

    pub(crate) const fn new() -> Self {
        Self {
            resync: false,
            closed: false,
            revived: false,
            reported: Capacity {
                spans_untracked: 0,
                enters_untracked: 0,
                events_untracked: 0,
                values_dropped: 0,
                values_truncated: 0,
            },
        }
    }
}

/// The capacity counters of `stats`.
pub(crate) fn capacity(stats: &Stats) -> Capacity {
    Capacity {
        spans_untracked: stats.spans_untracked,
        enters_untracked: stats.enters_untracked,
        events_untracked: stats.events_untracked,
        values_dropped: stats.values_dropped,
        values_truncated: stats.values_truncated,
    }
}

impl<
        L: Link,
        const SPANS: usize,
        const CALLSITES: usize,
        const DEPTH: usize,
        const FRAME: usize,
    > State<L, SPANS, CALLSITES, DEPTH, FRAME>
{
    /// Writes a lifecycle frame (`Enter`, `Exit`, `Close`) after [`ready`](State::ready) said
    /// whether what was due went out: if it did, the frame goes straight to the ring (nothing
    /// is due any more); if not, it is dropped and counted. `false` if it was not written.
    #[inline(always)]
    pub(crate) fn deliver_ready<C: Clock>(
        &mut self,
        ready: bool,
        now: u64,
        message: &Message<'_>,
    ) -> bool {
        let mut buf = [MaybeUninit::uninit(); 32];
        let mut frame = FrameBuilder::new_uninit(&mut buf);
        let written = ready
            && frame.push_message(message).is_ok()
            && self
                .out
                .write::<C>(&mut self.stats, now, Stamp::SincePrevious, frame);
        if !written {
            self.count_drop();
        }
        written
    }

    /// After the `NewSpan` of `span` (`None` for an event) was `written` or not: the span is
    /// no longer in flight; a lost one is revived by the next `Resync`.
    #[inline(always)]
    pub(crate) fn new_span_done(&mut self, span: Option<u64>, written: bool) {
        if let Some(live) = span.and_then(|id| self.spans.get_mut(id)) {
            live.pending = false;
            live.sent |= written;
        }
    }

    /// A `Status` is due: a capacity counter changed since the last one.
    pub(super) fn status_due(&self) -> bool {
        capacity(&self.stats) != self.owed.reported
    }

    /// Writes the `Status` frame.
    pub(super) fn send_status<C: Clock>(&mut self, now: u64) -> Sent {
        let status = capacity(&self.stats);
        let sent = self.out.send::<C>(
            &mut self.stats,
            &mut self.scratch,
            now,
            Stamp::SincePrevious,
            &Message::Status(status),
        );
        if sent != Sent::RingFull {
            self.owed.reported = status;
        }
        sent
    }

    /// Writes what a loss made due: a `Resync` of the spans the host knows (it closes the
    /// others, so a reused id names no old span), the `LiveSpan`s of spans whose `NewSpan` was
    /// lost (and the announcements they need), then, if there were any, a second `Resync` that
    /// puts their entries in place. [`Sent::RingFull`] if one of them did not fit; the rest
    /// stays due.
    #[cold]
    #[inline(never)]
    pub(super) fn resync<C: Clock>(&mut self, now: u64) -> Sent {
        if !self.owed.closed {
            match self.send_resync::<C>(now) {
                Sent::RingFull => return Sent::RingFull,
                // Written, or too long for a frame (nothing better can be sent).
                Sent::Written | Sent::TooLarge => self.owed.closed = true,
            }
        }
        self.spans.mark_unsent_for_resend();
        // Each step writes a frame or retires one item.
        for _ in 0..2 * SPANS {
            let Some(id) = self.spans.next_resend() else {
                break;
            };
            let callsite = self.spans.get(u64::from(id)).map(|live| live.callsite);
            let pending = callsite.filter(|&cs| {
                self.callsites.get(cs).map(|e| e.announce) == Some(Announce::Pending)
            });
            if let Some(cs) = pending {
                if self.announce::<C>(now, cs) == Sent::RingFull {
                    return Sent::RingFull;
                }
                continue;
            }
            if !self.resend_placeable(id) {
                continue;
            }
            match self.send_live_span::<C>(now, id) {
                Sent::RingFull => return Sent::RingFull,
                Sent::Written => self.owed.revived = true,
                Sent::TooLarge => {}
            }
        }
        if self.owed.revived {
            let sent = self.send_resync::<C>(now);
            if sent == Sent::RingFull {
                return sent;
            }
        }
        self.owed.resync = false;
        self.owed.closed = false;
        self.owed.revived = false;
        Sent::Written
    }

    /// Writes a `Resync` of the spans the host knows and of their entries; marks those
    /// entries as known to the host.
    fn send_resync<C: Clock>(&mut self, now: u64) -> Sent {
        let mut frame = FrameBuilder::new(&mut self.scratch);
        let (spans, entered) = (&self.spans, &self.entered);
        let live = spans.sent_ids().map(SpanTable::<SPANS>::wire);
        let stack = entered
            .ids()
            .filter(|&id| spans.get(id).is_some_and(|l| l.sent))
            .map(SpanTable::<SPANS>::wire);
        if frame.push_resync(live, stack).is_err() {
            // Too many spans for one frame: nothing better can be sent.
            return Sent::TooLarge;
        }
        if !self
            .out
            .write::<C>(&mut self.stats, now, Stamp::SincePrevious, frame)
        {
            return Sent::RingFull;
        }
        let spans = &self.spans;
        self.entered
            .mark_sent_where(|id| spans.get(id).is_some_and(|l| l.sent));
        Sent::Written
    }

    /// Whether the span `id` marked for re-send can be placed by the host (its call site is
    /// announced); unmarks it if not.
    pub(super) fn resend_placeable(&mut self, id: u32) -> bool {
        let key = u64::from(id);
        let announced = self
            .spans
            .get(key)
            .and_then(|live| self.callsites.get(live.callsite))
            .is_some_and(|e| e.announce == Announce::Done);
        if !announced {
            if let Some(live) = self.spans.get_mut(key) {
                live.resend = false;
            }
        }
        announced
    }
}
