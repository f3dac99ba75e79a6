//! The `tracing_core::Subscriber`: a handle of one pointer to a static [`Tunnel`].
//!
//! Each operation takes its timestamp first. A span or event with values is encoded into a
//! frame buffer on the stack outside any critical section (formatting `Debug` values may take
//! a while); only the table look-ups and the sealing into the ring run inside one. Lifecycle
//! frames of a few bytes (enter, exit, close, follows-from) are encoded inside, where their
//! ids are checked.

use core::mem::MaybeUninit;
use core::num::NonZeroU64;

use rtt_tunnel_protocol::{CallsiteId, FrameBuilder, Message, Parent, Values};
use tracing_core::span::{Attributes, Current, Id, Record};
use tracing_core::{Event, Interest, LevelFilter, Metadata, Subscriber};

use crate::callsites::Announce;
use crate::spans::{local_ref, SpanTable, UNTRACKED_ID};
use crate::visit::{Constants, Cut, ValueVisitor};
use crate::{Clock, Link, Tunnel};

/// The `tracing` subscriber of a [`Tunnel`]; get it with [`Tunnel::sender`] or, wrapped in a
/// `Dispatch`, [`Tunnel::dispatch`].
///
/// Spans that could not be tracked (table full) get an id the host knows as untracked; their
/// own frames are not sent, events inside them are. The sender counts references itself and
/// sends only the final `Close` of a span.
pub struct Sender<
    L: 'static,
    C: 'static,
    const SPANS: usize = 32,
    const CALLSITES: usize = 64,
    const DEPTH: usize = 16,
    const FRAME: usize = 256,
> {
    pub(crate) tunnel: &'static Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>,
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize> Clone
    for Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize> Copy
    for Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME>
{
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    core::fmt::Debug for Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The parent a span or event names, kept across the critical section in which it becomes
/// the one on the wire. Its variants are in the order of [`Parent`]'s, which spares the
/// compiler a translation.
#[derive(Clone, Copy)]
enum ParentOf {
    Current,
    Root,
    Explicit(u64),
}

impl ParentOf {
    #[inline(always)]
    fn of(contextual: bool, explicit: Option<&Id>) -> Self {
        match explicit {
            _ if contextual => Self::Current,
            Some(p) => Self::Explicit(p.into_u64()),
            None => Self::Root,
        }
    }

    /// The parent on the wire: an explicit parent the host does not know is sent as
    /// untracked.
    #[inline(always)]
    fn on_wire<const SPANS: usize>(self, spans: &SpanTable<SPANS>) -> Parent {
        match self {
            Self::Current => Parent::Current,
            Self::Root => Parent::Root,
            Self::Explicit(p) => Parent::Explicit(spans.host_id(p)),
        }
    }
}

/// The `tracing` id of a span of the table (never 0), without `Id::from_u64`'s panic path.
#[inline(always)]
fn span_id(id: u64) -> Id {
    NonZeroU64::new(id).map_or(Id::from_u64(UNTRACKED_ID), Id::from_non_zero_u64)
}

/// Encodes `message` and the values `record` visits into `frame`; `None` if the message
/// itself does not fit (it always does in a frame of 64 bytes or more).
#[inline(always)]
fn encode(
    frame: &mut FrameBuilder<'_>,
    message: &Message<'_>,
    text_limit: usize,
    constants: &mut Constants,
    record: impl FnOnce(&mut ValueVisitor<'_, '_>),
) -> Option<Cut> {
    frame.push_message(message).ok()?;
    Some(frame.push_values(|writer| {
        let mut visitor = ValueVisitor::new(writer, text_limit, constants);
        record(&mut visitor);
        visitor.cut
    }))
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    /// Delivers a frame with values encoded outside the critical section. A frame that
    /// sent the marker of a constant the host no longer keeps (it asked for a re-send in the
    /// meantime) is dropped; a new constant is remembered once its frame is written.
    #[inline(always)]
    fn deliver(
        &self,
        now: u64,
        callsite: u32,
        frame: FrameBuilder<'_>,
        cut: Option<Cut>,
        span: Option<u64>,
        constants: &Constants,
    ) {
        self.tunnel.with_state(|st| {
            let Some(cut) = cut else {
                st.count_drop();
                st.new_span_done(span, false);
                return;
            };
            cut.add_to(&mut st.stats);
            if constants.same
                && st.callsites.get(callsite).map(|e| e.constant) != Some(constants.known)
            {
                st.count_drop();
                st.new_span_done(span, false);
                return;
            }
            let written = st.deliver::<C>(now, Some(callsite), frame);
            st.new_span_done(span, written);
            if written {
                if let (Some(new), Some(entry)) = (constants.new, st.callsites.get_mut(callsite)) {
                    entry.constant = Some(new);
                }
            }
        });
    }
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Subscriber for Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Cached by tracing until `set_level` rebuilds the cache.
        if self.tunnel.level.allows(metadata.level()) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.tunnel.level.allows(metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.tunnel.level.get())
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        self.tunnel.count_operation();
        let now = C::now();
        let meta = attrs.metadata();
        let explicit = attrs.parent().map(Id::into_u64);
        let contextual = attrs.is_contextual();
        let reserved = self.tunnel.with_state(|st| {
            let parent_id = if contextual {
                st.entered.current()
            } else {
                explicit
            };
            let stored = parent_id.map_or(Parent::Root, |p| Parent::Explicit(local_ref(p)));
            let on_wire = match explicit {
                _ if contextual => Parent::Current,
                Some(p) => Parent::Explicit(st.spans.host_id(p)),
                None => Parent::Root,
            };
            let callsite = st
                .callsites
                .id_of(meta)
                .filter(|(_, entry)| entry.announce != Announce::TooLarge)
                .map(|(cs, _)| cs);
            let reserved =
                callsite.and_then(|cs| Some((st.spans.insert(meta, cs, stored)?, cs, on_wire)));
            if reserved.is_none() {
                st.stats.spans_untracked = st.stats.spans_untracked.saturating_add(1);
            }
            reserved
        });
        let Some(Some((id, callsite, parent))) = reserved else {
            return Id::from_u64(UNTRACKED_ID);
        };
        let mut buf = [MaybeUninit::uninit(); FRAME];
        let mut frame = FrameBuilder::new_uninit(&mut buf);
        let message = Message::NewSpan {
            id: SpanTable::<SPANS>::wire(u64::from(id)),
            callsite: CallsiteId(callsite),
            parent,
            values: Values::EMPTY,
        };
        let mut constants = Constants::default();
        let cut = encode(&mut frame, &message, FRAME / 2, &mut constants, |v| {
            attrs.record(v)
        });
        self.deliver(now, callsite, frame, cut, Some(u64::from(id)), &constants);
        span_id(u64::from(id))
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let now = C::now();
        let id = span.into_u64();
        if u32::try_from(id).is_err() {
            return; // untracked
        }
        let mut buf = [MaybeUninit::uninit(); FRAME];
        let mut frame = FrameBuilder::new_uninit(&mut buf);
        let message = Message::Record {
            span: SpanTable::<SPANS>::wire(id),
            values: Values::EMPTY,
        };
        let cut = encode(
            &mut frame,
            &message,
            FRAME / 2,
            &mut Constants::default(),
            |v| values.record(v),
        );
        self.tunnel.with_state(|st| {
            // Only for a span the host knows (its `NewSpan` went out).
            if !st.spans.get(id).is_some_and(|live| live.sent) {
                return;
            }
            let Some(cut) = cut else {
                st.count_drop();
                return;
            };
            cut.add_to(&mut st.stats);
            st.deliver_rare::<C>(now, frame);
        });
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        let now = C::now();
        let (id, follows) = (span.into_u64(), follows.into_u64());
        self.tunnel.with_state(|st| {
            if !st.spans.get(id).is_some_and(|live| live.sent) {
                return;
            }
            let message = Message::FollowsFrom {
                span: SpanTable::<SPANS>::wire(id),
                follows: st.spans.host_id(follows),
            };
            let mut buf = [MaybeUninit::uninit(); 32];
            let mut frame = FrameBuilder::new_uninit(&mut buf);
            if frame.push_message(&message).is_ok() {
                st.deliver_rare::<C>(now, frame);
            } else {
                st.count_drop();
            }
        });
    }

    fn event(&self, event: &Event<'_>) {
        self.tunnel.count_operation();
        let now = C::now();
        let meta = event.metadata();
        let parent = ParentOf::of(event.is_contextual(), event.parent());
        let resolved = self.tunnel.with_state(|st| {
            let Some((callsite, entry)) = st.callsites.id_of(meta) else {
                st.stats.events_untracked = st.stats.events_untracked.saturating_add(1);
                return None;
            };
            if entry.announce == Announce::TooLarge {
                st.stats.events_untracked = st.stats.events_untracked.saturating_add(1);
                return None;
            }
            let constants = Constants {
                flash: st.flash,
                known: entry.constant,
                ..Constants::default()
            };
            Some((callsite, parent.on_wire(&st.spans), constants))
        });
        let Some(Some((callsite, parent, mut constants))) = resolved else {
            return;
        };
        let mut buf = [MaybeUninit::uninit(); FRAME];
        let mut frame = FrameBuilder::new_uninit(&mut buf);
        let message = Message::Event {
            callsite: CallsiteId(callsite),
            parent,
            values: Values::EMPTY,
        };
        let cut = encode(&mut frame, &message, FRAME / 2, &mut constants, |v| {
            event.record(v)
        });
        self.deliver(now, callsite, frame, cut, None, &constants);
    }

    fn enter(&self, span: &Id) {
        let now = C::now();
        let id = span.into_u64();
        self.tunnel.with_state(|st| {
            let ready = st.ready::<C>(now);
            let Some(live) = st.spans.get_mut(id) else {
                return; // untracked or stale
            };
            let Some(at) = st.entered.push(id) else {
                live.overflow += 1;
                st.stats.enters_untracked = st.stats.enters_untracked.saturating_add(1);
                return;
            };
            live.entered += 1;
            if live.sent
                && st.deliver_ready::<C>(ready, now, &Message::Enter(SpanTable::<SPANS>::wire(id)))
            {
                st.entered.mark_sent_at(at);
            }
        });
    }

    fn exit(&self, span: &Id) {
        let now = C::now();
        let id = span.into_u64();
        self.tunnel.with_state(|st| {
            let ready = st.ready::<C>(now);
            // A span that is not in the table is not on the stack either (closing a span
            // takes it off): untracked or stale.
            let Some(live) = st.spans.get_mut(id) else {
                return;
            };
            if live.overflow > 0 {
                // The most recent enter was not pushed: the stack was full.
                live.overflow -= 1;
                return;
            }
            let Some(entry) = st.entered.remove_last(id) else {
                return; // never pushed
            };
            live.entered = live.entered.saturating_sub(1);
            if entry.sent {
                st.deliver_ready::<C>(ready, now, &Message::Exit(SpanTable::<SPANS>::wire(id)));
            }
        });
    }

    fn clone_span(&self, span: &Id) -> Id {
        self.tunnel.count_operation();
        self.tunnel.with_state(|st| {
            if let Some(live) = st.spans.get_mut(span.into_u64()) {
                live.refs = live.refs.saturating_add(1);
            }
        });
        span.clone()
    }

    fn try_close(&self, span: Id) -> bool {
        let now = C::now();
        let id = span.into_u64();
        self.tunnel
            .with_state(|st| {
                let ready = st.ready::<C>(now);
                let Some(live) = st.spans.get_mut(id) else {
                    return false;
                };
                live.refs = live.refs.saturating_sub(1);
                if live.refs > 0 {
                    return false;
                }
                let (sent, entered) = (live.sent, live.entered);
                if entered > 0 {
                    st.entered.remove_all(id);
                }
                st.spans.remove(id);
                if sent {
                    st.deliver_ready::<C>(
                        ready,
                        now,
                        &Message::Close(SpanTable::<SPANS>::wire(id)),
                    );
                }
                true
            })
            .unwrap_or(false)
    }

    fn current_span(&self) -> Current {
        self.tunnel
            .with_state(|st| {
                let id = st.entered.current()?;
                let meta = st.spans.get(id)?.meta;
                Some(Current::new(span_id(id), meta))
            })
            .flatten()
            .unwrap_or_else(Current::none)
    }
}
