//! After the target lost frames: the `Resync` that makes the receiver's spans and entered
//! stack equal the target's, and the target's `Status` of what its tables could not hold.
//!
//! **The guarantee** (with the sender's, see `rtt_tunnel_sender`'s docs on lost frames): the
//! target writes its live spans and its stack of entered spans after any loss, before the
//! next frame that fits (then a `LiveSpan` for each span whose `NewSpan` was lost, and a
//! second `Resync` with their entries). The receiver then closes the spans the target no longer has, exits the entries
//! it no longer has and enters those the host missed, so that from that frame on its live
//! spans and entered stack equal the target's, and every later span and event has the parent
//! it has on the target. These exits, closes and enters are late: the span ended (or was
//! entered) at or before the time of the `Resync`. A `WARN` event (target `rtt_tunnel`) says
//! how many, and [`Reconciled`] counts them.
//!
//! Entries entered by a `Resync` count as thread-mode entries (the target does not say where
//! they were entered).

use std::collections::HashSet;

use rtt_tunnel_protocol::{Capacity, Resync, SpanId};

use super::{Receiver, RECEIVER_TARGET};

/// What the receiver did to keep the target's spans right: made good after lost frames, and
/// forced at resets. Counted since the receiver was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciled {
    /// `Resync` frames relayed.
    pub resyncs: u64,
    /// Entries exited late by a `Resync` (their `Exit` was lost).
    pub late_exits: u64,
    /// Spans closed late by a `Resync` (their `Close` was lost).
    pub late_closes: u64,
    /// Entries entered late by a `Resync` (their `Enter` was lost).
    pub late_enters: u64,
    /// Entered spans force-exited because the target reset.
    pub reset_exits: u64,
    /// Spans force-closed because the target reset.
    pub reset_closes: u64,
}

/// The target's capacity counters: those of the boots before, and the current boot's.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TargetCapacity {
    before: Capacity,
    boot: Capacity,
    /// The kinds warned about, by bit.
    warned: u8,
}

impl TargetCapacity {
    /// Every boot's counters, summed.
    pub(super) fn total(&self) -> Capacity {
        let (a, b) = (self.before, self.boot);
        Capacity {
            spans_untracked: a.spans_untracked.saturating_add(b.spans_untracked),
            enters_untracked: a.enters_untracked.saturating_add(b.enters_untracked),
            events_untracked: a.events_untracked.saturating_add(b.events_untracked),
            values_dropped: a.values_dropped.saturating_add(b.values_dropped),
            values_truncated: a.values_truncated.saturating_add(b.values_truncated),
        }
    }

    /// A new boot: its counters start at 0.
    pub(super) fn new_boot(&mut self) {
        self.before = self.total();
        self.boot = Capacity::default();
    }
}

/// The fix for each kind of capacity overflow, with its count.
fn overflows(c: &Capacity) -> [(u32, String); 5] {
    [
        (
            c.spans_untracked,
            format!(
                "raise SPANS in `Tunnel<…>`: {} spans were not tracked (the target's span table \
                 was full, or their call site found no room); their events went to the nearest \
                 tracked span",
                c.spans_untracked
            ),
        ),
        (
            c.enters_untracked,
            format!(
                "raise DEPTH in `Tunnel<…>`: {} enters were not tracked (the target's stack of \
                 entered spans was full); events inside them have an outer span as parent",
                c.enters_untracked
            ),
        ),
        (
            c.events_untracked,
            format!(
                "raise CALLSITES in `Tunnel<…>`: {} events were not sent (their call site found \
                 no room in the target's call-site table)",
                c.events_untracked
            ),
        ),
        (
            c.values_dropped,
            format!(
                "raise FRAME in `Tunnel<…>`: {} values were left out (no room in the frame)",
                c.values_dropped
            ),
        ),
        (
            c.values_truncated,
            format!(
                "raise FRAME in `Tunnel<…>`: {} text values were cut at FRAME / 2 bytes",
                c.values_truncated
            ),
        ),
    ]
}

impl Receiver {
    pub(super) fn on_resync(&mut self, resync: Resync<'_>) {
        self.reconciled.resyncs += 1;
        let live: HashSet<SpanId> = resync.live.iter().collect();
        let mut target: Vec<SpanId> = resync
            .entered
            .iter()
            .filter(|id| self.spans.contains_key(id) && live.contains(id))
            .collect();
        if target.len() > self.limits.entered {
            let refused = target.len() - self.limits.entered;
            self.limit_stats.entries_refused += refused as u64;
            target.truncate(self.limits.entered);
        }
        let common = self
            .entered
            .iter()
            .zip(&target)
            .take_while(|(a, b)| a == b)
            .count();
        let mut exits = 0u64;
        while self.entered.len() > common {
            let Some(&top) = self.entered.last() else {
                break;
            };
            self.exit(top);
            exits += 1;
        }
        let exception = std::mem::replace(&mut self.exception, 0);
        let enters = (target.len() - common) as u64;
        for &id in &target[common..] {
            self.enter(id);
        }
        self.exception = exception;
        let gone: Vec<SpanId> = self.spans.keys().filter(|id| !live.contains(id)).collect();
        let closes = gone.len() as u64;
        for id in gone {
            self.remove_span(id);
        }
        self.reconciled.late_exits += exits;
        self.reconciled.late_enters += enters;
        self.reconciled.late_closes += closes;
        if exits + closes + enters > 0 {
            tracing::warn!(
                target: RECEIVER_TARGET,
                parent: None,
                exited = exits,
                closed = closes,
                entered = enters,
                "the target lost frames: {exits} entries exited, {closes} spans closed and \
                 {enters} entries entered late, at or before this time, to match the target",
            );
        }
    }

    pub(super) fn on_status(&mut self, status: Capacity) {
        self.capacity.boot = status;
        let total = self.capacity.total();
        for (bit, (count, text)) in overflows(&total).into_iter().enumerate() {
            let mask = 1u8 << bit;
            if count == 0 || self.capacity.warned & mask != 0 {
                continue;
            }
            self.capacity.warned |= mask;
            tracing::warn!(target: RECEIVER_TARGET, parent: None, count, "{text}");
        }
    }

    /// What the receiver made good after lost frames and forced at resets.
    pub fn reconciled(&self) -> Reconciled {
        self.reconciled
    }

    /// What the target said its tables and frames could not hold (its `Status` frames), all
    /// boots together.
    pub fn target_capacity(&self) -> Capacity {
        self.capacity.total()
    }
}
