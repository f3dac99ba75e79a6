//! The span table: fixed slots, each with a generation, reference counts and what the host
//! was told about the span.
//!
//! A span's `tracing_core::span::Id` is `(generation << slot_bits | slot) + 1`: a freed
//! slot's generation goes up, so an id kept after its span closed never names the next span in
//! that slot (until the slot has been reused `2^(32 - slot_bits) - 1` times, when its
//! generation wraps). A new span takes the lowest free slot.
//!
//! On the wire a span is named by its slot alone, `slot + 1` ([`SpanTable::wire`]): one byte
//! for the first 127 slots however long the firmware runs. The generation stays on the target,
//! which resolves every id it sends (a stale one never reaches the wire), and a slot is only
//! reused after its span's `Close` went out (or was dropped and counted in a `Dropped`
//! report; the host then replaces the span it still had under that id).

use rtt_tunnel_protocol::{Parent, SpanId};
use tracing_core::Metadata;

use crate::maybe::Maybe;

/// The `tracing_core::span::Id` of a span that did not fit in the table. It is never a
/// wire id (those fit in 32 bits) and maps to [`SpanId::UNTRACKED`].
pub(crate) const UNTRACKED_ID: u64 = 1 << 63;

/// A `tracing_core` id kept as a [`SpanId`] inside the table (a stored parent): itself, or
/// [`SpanId::UNTRACKED`]. Never sent: [`SpanTable::host_id`] maps it to the wire.
pub(crate) fn local_ref(id: u64) -> SpanId {
    u32::try_from(id).map_or(SpanId::UNTRACKED, SpanId)
}

/// A live span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    pub(crate) meta: &'static Metadata<'static>,
    /// Its call site's id.
    pub(crate) callsite: u32,
    /// The parent the target resolved when the span was created (`Current` is never stored).
    pub(crate) parent: Parent,
    /// Handles to the span (`new_span` and `clone_span` add one, `try_close` takes one).
    pub(crate) refs: u32,
    /// How many times it is on the stack of entered spans.
    pub(crate) entered: u32,
    /// `enter`s refused because the stack was full, not exited yet: the next exits cancel
    /// these first, since they are the most recent entries.
    pub(crate) overflow: u32,
    /// Creation order, for re-sending parents before children.
    pub(crate) seq: u32,
    /// The host knows the span: its `NewSpan` (or a `LiveSpan`) was written.
    pub(crate) sent: bool,
    /// A `LiveSpan` is due (the host asked for a re-send, or its `NewSpan` was lost).
    pub(crate) resend: bool,
    /// Its `NewSpan` is being encoded: a `Resync` meanwhile must not revive it.
    pub(crate) pending: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u32,
    span: Maybe<Live>,
}

/// `N` span slots.
#[derive(Debug)]
pub(crate) struct SpanTable<const N: usize> {
    slots: [Slot; N],
    next_seq: u32,
}

impl<const N: usize> SpanTable<N> {
    /// Bits of an id that name the slot.
    const SLOT_BITS: u32 = {
        assert!(N >= 1, "the span table needs at least one slot");
        assert!(N <= 1 << 16, "at most 65536 span slots");
        usize::BITS - (N - 1).leading_zeros()
    };
    /// Generations of a slot before its generation wraps to 0 (ids stay below 2^32).
    const GENERATIONS: u64 = (1 << (32 - Self::SLOT_BITS)) - 1;

    pub(crate) const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    generation: 0,
                    span: Maybe::None,
                }
            }; N],
            next_seq: 0,
        }
    }

    fn pack(slot: usize, generation: u32) -> u32 {
        // At most (2^(32-b) - 2) << b | (2^b - 1), plus one: below 2^32.
        ((generation << Self::SLOT_BITS) | slot as u32) + 1
    }

    /// The wire id of a span id: its slot plus one, or [`SpanId::UNTRACKED`].
    pub(crate) fn wire(id: u64) -> SpanId {
        match u32::try_from(id).ok().and_then(|v| v.checked_sub(1)) {
            Some(v) => SpanId((v & ((1u32 << Self::SLOT_BITS) - 1)) + 1),
            None => SpanId::UNTRACKED,
        }
    }

    /// The slot index of a live span's id.
    fn slot_of(&self, id: u64) -> Option<usize> {
        let v = u32::try_from(id).ok()?.checked_sub(1)?;
        let mask = (1u32 << Self::SLOT_BITS) - 1;
        let slot = (v & mask) as usize;
        let generation = v.checked_shr(Self::SLOT_BITS).unwrap_or(0);
        let s = self.slots.get(slot)?;
        (s.generation == generation && s.span.is_some()).then_some(slot)
    }

    /// Takes a slot for a new span with one reference; `None` when the table is full.
    pub(crate) fn insert(
        &mut self,
        meta: &'static Metadata<'static>,
        callsite: u32,
        parent: Parent,
    ) -> Option<u32> {
        let seq = self.next_seq;
        let (i, slot) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.span.is_none())?;
        let id = Self::pack(i, slot.generation);
        self.next_seq = seq.wrapping_add(1);
        slot.span = Maybe::Some(Live {
            meta,
            callsite,
            parent,
            refs: 1,
            entered: 0,
            overflow: 0,
            seq,
            sent: false,
            resend: false,
            pending: true,
        });
        Some(id)
    }

    /// The live span with this id; `None` for a stale, untracked or foreign id.
    pub(crate) fn get(&self, id: u64) -> Option<&Live> {
        let slot = self.slots.get(self.slot_of(id)?)?;
        slot.span.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Live> {
        let i = self.slot_of(id)?;
        self.slots.get_mut(i)?.span.as_mut()
    }

    /// Frees a live span's slot; its id becomes stale.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Live> {
        let i = self.slot_of(id)?;
        let slot = self.slots.get_mut(i)?;
        let next = u64::from(slot.generation) + 1;
        slot.generation = if next >= Self::GENERATIONS {
            0
        } else {
            next as u32
        };
        slot.span.take()
    }

    /// The id the host knows a span by: its own if the host was told about it, else
    /// [`SpanId::UNTRACKED`].
    pub(crate) fn host_id(&self, id: u64) -> SpanId {
        match self.get(id) {
            Some(live) if live.sent => Self::wire(id),
            _ => SpanId::UNTRACKED,
        }
    }

    /// Marks every live span for a `LiveSpan` re-send.
    pub(crate) fn mark_all_for_resend(&mut self) {
        for live in self.slots.iter_mut().filter_map(|s| s.span.as_mut()) {
            live.resend = true;
        }
    }

    /// Marks every live span whose `NewSpan` was not written for a `LiveSpan` re-send.
    pub(crate) fn mark_unsent_for_resend(&mut self) {
        for live in self.slots.iter_mut().filter_map(|s| s.span.as_mut()) {
            live.resend |= !live.sent && !live.pending;
        }
    }

    /// The ids of the live spans the host knows (their `NewSpan` or `LiveSpan` was written).
    pub(crate) fn sent_ids(&self) -> impl Iterator<Item = u64> + Clone + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let live = s.span.as_ref()?;
            live.sent.then(|| u64::from(Self::pack(i, s.generation)))
        })
    }

    /// The oldest span marked for re-send (parents before children), by its id.
    pub(crate) fn next_resend(&self) -> Option<u32> {
        let now = self.next_seq;
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.generation, s.span.as_ref()?)))
            .filter(|(_, _, live)| live.resend)
            .max_by_key(|(_, _, live)| now.wrapping_sub(live.seq))
            .map(|(i, generation, _)| Self::pack(i, generation))
    }

    /// How many spans are live.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.span.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_core::{callsite::Identifier, field::FieldSet, Kind, Level};

    struct Cs;
    impl tracing_core::Callsite for Cs {
        fn set_interest(&self, _: tracing_core::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &META
        }
    }
    static CS: Cs = Cs;
    static META: Metadata<'static> = Metadata::new(
        "span",
        "t",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(&[], Identifier(&CS)),
        Kind::SPAN,
    );

    #[test]
    fn first_ids_are_small_and_a_freed_slot_gets_a_new_generation() {
        let mut t = SpanTable::<4>::new();
        assert_eq!(SpanTable::<4>::SLOT_BITS, 2);
        let a = t.insert(&META, 0, Parent::Root).unwrap();
        let b = t.insert(&META, 0, Parent::Root).unwrap();
        assert_eq!((a, b), (1, 2));
        assert!(t.remove(u64::from(a)).is_some());
        assert!(t.get(u64::from(a)).is_none(), "stale id");
        assert!(
            t.remove(u64::from(a)).is_none(),
            "closing twice does nothing"
        );
        // The lowest free slot first: slot 0 in its next generation (id 5, wire id 1).
        assert_eq!(t.insert(&META, 0, Parent::Root), Some(5));
        assert_eq!(SpanTable::<4>::wire(5), SpanId(1));
        assert_eq!(t.insert(&META, 0, Parent::Root), Some(3));
        assert_eq!(t.insert(&META, 0, Parent::Root), Some(4));
        assert_eq!(t.insert(&META, 0, Parent::Root), None, "full");
        assert!(t.get(1).is_none() && t.get(5).is_some());
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn generations_wrap_below_2_pow_32() {
        let mut t = SpanTable::<2>::new();
        assert_eq!(SpanTable::<2>::SLOT_BITS, 1);
        t.slots[0].span = Maybe::Some(Live {
            meta: &META,
            callsite: 0,
            parent: Parent::Root,
            refs: 1,
            entered: 0,
            overflow: 0,
            seq: 0,
            sent: false,
            resend: false,
            pending: false,
        });
        t.slots[1].generation = (SpanTable::<2>::GENERATIONS - 1) as u32;
        // The largest id: 2^32 - 2^slot_bits.
        let id = t.insert(&META, 0, Parent::Root).unwrap();
        assert_eq!(id, u32::MAX - 1);
        assert!(t.get(u64::from(id)).is_some());
        t.remove(u64::from(id));
        assert_eq!(
            t.insert(&META, 0, Parent::Root),
            Some(2),
            "generation 0 again"
        );
    }

    #[test]
    fn a_single_slot_table_uses_the_whole_id_for_the_generation() {
        let mut t = SpanTable::<1>::new();
        for expected in 1..5 {
            let id = t.insert(&META, 0, Parent::Root).unwrap();
            assert_eq!(id, expected);
            t.remove(u64::from(id));
        }
    }

    #[test]
    fn foreign_ids_are_not_spans() {
        let t = SpanTable::<4>::new();
        assert!(t.get(UNTRACKED_ID).is_none());
        assert!(t.get(0).is_none());
        assert!(t.get(u64::from(u32::MAX) + 1).is_none());
        assert_eq!(local_ref(UNTRACKED_ID), SpanId::UNTRACKED);
        assert_eq!(local_ref(7), SpanId(7));
        assert_eq!(SpanTable::<4>::wire(UNTRACKED_ID), SpanId::UNTRACKED);
    }

    #[test]
    fn resend_goes_oldest_first_and_host_ids_hide_unsent_spans() {
        let mut t = SpanTable::<4>::new();
        let a = t.insert(&META, 0, Parent::Root).unwrap();
        let b = t.insert(&META, 0, Parent::Root).unwrap();
        t.remove(u64::from(a));
        let c = t.insert(&META, 0, Parent::Root).unwrap(); // slot 2, newer than b
        assert_eq!(t.host_id(u64::from(b)), SpanId::UNTRACKED);
        t.get_mut(u64::from(b)).unwrap().sent = true;
        assert_eq!(t.host_id(u64::from(b)), SpanId(b));
        t.mark_all_for_resend();
        assert_eq!(t.next_resend(), Some(b));
        t.get_mut(u64::from(b)).unwrap().resend = false;
        assert_eq!(t.next_resend(), Some(c));
        t.get_mut(u64::from(c)).unwrap().resend = false;
        assert_eq!(t.next_resend(), None);
    }
}
