//! The messages from target to host and from host to target.

use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, EncodeError};
use crate::value::{FieldNames, Values};
use crate::wire::{self, Cold, Out};
use crate::PROTOCOL_VERSION;

/// A span as the target names it on the wire. `0` is [`SpanId::UNTRACKED`].
///
/// The sender names a span by its slot in its span table, so ids stay small; it reuses an id
/// only after the span's `Close` was written or dropped (and counted in a `Dropped` report).
/// A `NewSpan` with the id of a span the host still has means that `Close` was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(transparent)]
pub struct SpanId(pub u32);

impl SpanId {
    /// A span the target could not track (its span table was full). Its lifecycle messages
    /// are not sent; events inside it are.
    pub const UNTRACKED: SpanId = SpanId(0);
}

/// A call site as the target names it on the wire: an index in the sender's table, so the
/// first 128 call sites cost one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(transparent)]
pub struct CallsiteId(pub u32);

/// Verbosity of a call site, as `tracing_core::Level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Level {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
}

/// A level filter, as `tracing_core::LevelFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LevelFilter {
    /// Nothing is enabled.
    Off,
    /// `ERROR` only.
    Error,
    /// `WARN` and above.
    Warn,
    /// `INFO` and above.
    Info,
    /// `DEBUG` and above.
    Debug,
    /// Everything.
    Trace,
}

/// Whether a call site is a span or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// An event call site.
    Event,
    /// A span call site.
    Span,
}

/// The parent of a new span or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Parent {
    /// Contextual: the span the target has entered most recently and not exited, as the
    /// `Enter` and `Exit` messages before this one tell.
    Current,
    /// Explicitly no parent.
    Root,
    /// An explicit parent.
    Explicit(SpanId),
}

/// The first frame of every boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello<'a> {
    /// [`PROTOCOL_VERSION`] of the sender. Always the first field, so that a host can
    /// recognise a sender it does not speak.
    pub version: u16,
    /// A value that differs from one boot to the next (a counter kept across resets, or a
    /// nonce). A new value tells the host the target reset.
    pub boot: u32,
    /// Timestamp ticks per second.
    pub tick_hz: u64,
    /// Identity of the firmware build (name, version, build id): persisted metadata is keyed
    /// by it.
    #[serde(borrow)]
    pub firmware: &'a str,
    /// Where the firmware's flash starts, as the target addresses it: a
    /// [`Value::FlashText`](crate::Value::FlashText) is an offset from here. 0 when the
    /// sender knows no flash range (it then sends no references).
    pub flash_base: u32,
    /// How many bytes of flash from `flash_base` references point into (0: none): a host
    /// without the ELF may read them all at once from target memory.
    pub flash_len: u32,
}

/// The announcement of a call site, sent once before the first message that refers to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallSite<'a> {
    /// The id that later messages carry.
    pub id: CallsiteId,
    /// Span or event.
    pub kind: Kind,
    /// Level.
    pub level: Level,
    /// Name (`event file:line` for events made by the macros).
    pub name: &'a str,
    /// Target.
    pub target: &'a str,
    /// Module path.
    pub module_path: Option<&'a str>,
    /// Source file.
    pub file: Option<&'a str>,
    /// Source line.
    pub line: Option<u32>,
    /// Field names, in index order.
    pub fields: FieldNames<'a>,
}

/// A span that is alive on the target, re-sent after the host asked ([`Request::ResendAll`]).
/// Its recorded values are not kept on the target and are not re-sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSpan {
    /// The span.
    pub id: SpanId,
    /// Its call site.
    pub callsite: CallsiteId,
    /// Its parent, as the target resolved it when the span was created.
    pub parent: Parent,
    /// How many times it is on the target's stack of entered spans.
    pub entered: u32,
}

/// A list of span ids on the wire: their count, then each id as a varint. Borrowed from a
/// decoded frame, or from bytes written by [`SpanIds::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds<'a> {
    count: u32,
    /// The ids' varints, `count` of them, nothing else.
    bytes: &'a [u8],
}

impl<'a> SpanIds<'a> {
    /// No span.
    pub const EMPTY: SpanIds<'static> = SpanIds {
        count: 0,
        bytes: &[],
    };

    /// Writes `ids` into `buf` and returns the list borrowing from it.
    pub fn write(ids: &[SpanId], buf: &'a mut [u8]) -> Result<Self, EncodeError> {
        let count = wire::len32(ids.len())?;
        let mut out = Out::new(wire::as_uninit(buf));
        for id in ids {
            out.varint(id.0)?;
        }
        let len = out.len();
        let bytes = buf.get(..len).ok_or(EncodeError::BufferFull)?;
        Ok(Self { count, bytes })
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// No id.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ids, in order.
    pub fn iter(&self) -> impl Iterator<Item = SpanId> + 'a {
        let mut rest = self.bytes;
        core::iter::from_fn(move || {
            let (id, r): (u32, _) = postcard::take_from_bytes(rest).ok()?;
            rest = r;
            Some(SpanId(id))
        })
    }

    /// Reads a list; checks every id's varint.
    fn take(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let (count, mut rest): (u32, _) = take(bytes)?;
        let start = rest;
        for _ in 0..count {
            let (_, r): (u32, _) = take(rest)?;
            rest = r;
        }
        let bytes = start.get(..start.len() - rest.len()).unwrap_or_default();
        Ok((Self { count, bytes }, rest))
    }
}

/// The target's state after it lost frames: what the host must hold so that its spans equal
/// the target's. Written, after the loss, before the next frame that fits (the `Dropped`
/// report follows it).
///
/// The host closes every span it holds that `live` does not list (its `Close` was lost), and
/// makes its stack of entered spans equal to `entered` (exits and enters what lost `Exit` and
/// `Enter` frames would have). Spans whose `NewSpan` was lost come as `LiveSpan`s just after,
/// then a second `Resync` puts their entries in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resync<'a> {
    /// Every span alive on the target that the host knows, by id, in any order.
    pub live: SpanIds<'a>,
    /// The target's stack of entered spans, outermost first (entries of spans the host
    /// cannot know are left out).
    pub entered: SpanIds<'a>,
}

/// What the sender could not keep for lack of capacity since it booted: counters that only
/// grow, as its [`Stats`](../rtt_tunnel_sender/struct.Stats.html) count them. Sent when one of
/// them changed, by the sender's `poll`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Spans not tracked: the span table (`SPANS`) was full, or their call site could not be.
    pub spans_untracked: u32,
    /// `enter`s not tracked: the stack of entered spans (`DEPTH`) was full.
    pub enters_untracked: u32,
    /// Events not sent: their call site found no room in the call-site table (`CALLSITES`).
    pub events_untracked: u32,
    /// Values left out for lack of room in the frame (`FRAME`).
    pub values_dropped: u32,
    /// Text values cut at the text limit (`FRAME / 2`).
    pub values_truncated: u32,
}

/// One message from the target. Frames carry one message each, after a timestamp delta.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message<'a> {
    /// The first frame of a boot.
    Hello(Hello<'a>),
    /// A call site announcement.
    CallSite(CallSite<'a>),
    /// An event.
    Event {
        /// Its call site.
        callsite: CallsiteId,
        /// Its parent.
        parent: Parent,
        /// Its values.
        values: Values<'a>,
    },
    /// A new span (`Subscriber::new_span`), holding one reference.
    NewSpan {
        /// The id the target gave it.
        id: SpanId,
        /// Its call site.
        callsite: CallsiteId,
        /// Its parent.
        parent: Parent,
        /// Its values.
        values: Values<'a>,
    },
    /// `Subscriber::enter`.
    Enter(SpanId),
    /// `Subscriber::exit`.
    Exit(SpanId),
    /// A reference to the span was dropped (`Subscriber::try_close`). A sender that counts
    /// references itself sends only the last one, and no `Clone`.
    Close(SpanId),
    /// A new reference to the span (`Subscriber::clone_span`).
    Clone(SpanId),
    /// `Subscriber::record`.
    Record {
        /// The span.
        span: SpanId,
        /// The new values.
        values: Values<'a>,
    },
    /// `Subscriber::record_follows_from`.
    FollowsFrom {
        /// The span that follows.
        span: SpanId,
        /// The span it follows from.
        follows: SpanId,
    },
    /// The target dropped this many frames since its last report (the ring was full).
    Dropped {
        /// Frames dropped.
        frames: u32,
    },
    /// A live span, re-sent on request or after its `NewSpan` was lost.
    LiveSpan(LiveSpan),
    /// The target's live spans and entered stack, after it lost frames.
    Resync(Resync<'a>),
    /// What the sender could not keep for lack of capacity (counters since boot).
    Status(Capacity),
}

/// The tag space: the first varint of every message body, as the table in the crate docs
/// gives it. Each message's tag is written down here, never derived from a declaration order;
/// `tests::tag_table` lists them all.
pub(crate) mod tag {
    pub(crate) const HELLO: u32 = 0;
    pub(crate) const CALLSITE: u32 = 1;
    pub(crate) const EVENT: u32 = 2;
    pub(crate) const NEW_SPAN: u32 = 3;
    pub(crate) const ENTER: u32 = 4;
    pub(crate) const EXIT: u32 = 5;
    pub(crate) const CLOSE: u32 = 6;
    pub(crate) const CLONE: u32 = 7;
    pub(crate) const RECORD: u32 = 8;
    pub(crate) const FOLLOWS_FROM: u32 = 9;
    pub(crate) const DROPPED: u32 = 10;
    pub(crate) const LIVE_SPAN: u32 = 11;
    /// Not a message: the prefix of a frame written in an exception handler, the exception
    /// number (a varint) next, then the message (see [`Frame`](crate::Frame)).
    pub(crate) const HANDLER: u32 = 12;
    pub(crate) const RESYNC: u32 = 13;
    pub(crate) const STATUS: u32 = 14;
    /// Reserved for an extension: a second varint would select the message.
    pub(crate) const EXTENSION: u32 = 15;
    /// The first compact tag.
    pub(crate) const COMPACT: u32 = 16;
    /// Compact forms per id: `COMPACT + KINDS * x + k`.
    pub(crate) const KINDS: u32 = 5;
    pub(crate) const K_EVENT: u32 = 0;
    pub(crate) const K_NEW_SPAN: u32 = 1;
    pub(crate) const K_ENTER: u32 = 2;
    pub(crate) const K_EXIT: u32 = 3;
    pub(crate) const K_CLOSE: u32 = 4;

    /// The compact tag of kind `k` for id `x`, if it fits a `u32`.
    #[inline(always)]
    pub(crate) fn compact(x: u32, k: u32) -> Option<u32> {
        x.checked_mul(KINDS)?.checked_add(COMPACT + k)
    }
}

/// The fields of a `CallSite` before its field names, as postcard decodes them.
#[derive(Deserialize)]
struct CallSiteHead<'a> {
    id: CallsiteId,
    kind: Kind,
    level: Level,
    name: &'a str,
    target: &'a str,
    module_path: Option<&'a str>,
    file: Option<&'a str>,
    line: Option<u32>,
}

impl Kind {
    const fn wire(self) -> u8 {
        match self {
            Kind::Event => 0,
            Kind::Span => 1,
        }
    }
}

impl Level {
    const fn wire(self) -> u8 {
        match self {
            Level::Trace => 0,
            Level::Debug => 1,
            Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
        }
    }
}

impl Parent {
    #[inline(always)]
    fn write(self, out: &mut Out<'_>) -> Result<(), EncodeError> {
        match self {
            Parent::Current => out.byte(0),
            Parent::Root => out.byte(1),
            Parent::Explicit(id) => {
                out.byte(2)?;
                out.varint(id.0)
            }
        }
    }

    /// [`write`](Self::write) for the rare messages.
    #[inline(never)]
    fn write_cold(self, w: &mut Cold<'_, '_>) {
        match self {
            Parent::Current => w.int(0),
            Parent::Root => w.int(1),
            Parent::Explicit(id) => {
                w.int(2);
                w.int(id.0);
            }
        }
    }
}

impl<'a> Message<'a> {
    /// Encodes the message (without timestamp or framing) at the start of `out`, returning
    /// the number of bytes written. Values or field names go last, so a sender may encode a
    /// message with [`Values::EMPTY`] and append values after it with a
    /// [`ValuesWriter`](crate::ValuesWriter).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut out = Out::new(wire::as_uninit(out));
        self.write(&mut out)?;
        Ok(out.len())
    }

    /// The hand-written encoder: the bytes postcard would write for the message's tag and
    /// fields (checked by the property tests), without serde. Inlined: where the message's
    /// kind is known at the call (a sender's spans and events), only its own arm remains; the
    /// rare messages go to [`write_cold`](Self::write_cold).
    #[inline(always)]
    pub(crate) fn write(&self, out: &mut Out<'_>) -> Result<(), EncodeError> {
        match *self {
            Message::Event {
                callsite,
                parent,
                values,
            } => {
                match (parent, tag::compact(callsite.0, tag::K_EVENT)) {
                    (Parent::Current, Some(t)) => out.varint(t)?,
                    _ => {
                        out.byte(tag::EVENT as u8)?;
                        out.varint(callsite.0)?;
                        parent.write(out)?;
                    }
                }
                out.bytes(values.as_bytes())
            }
            Message::NewSpan {
                id,
                callsite,
                parent,
                values,
            } => {
                match (parent, tag::compact(callsite.0, tag::K_NEW_SPAN)) {
                    (Parent::Current, Some(t)) => {
                        out.varint(t)?;
                        out.varint(id.0)?;
                    }
                    _ => {
                        out.byte(tag::NEW_SPAN as u8)?;
                        out.varint(id.0)?;
                        out.varint(callsite.0)?;
                        parent.write(out)?;
                    }
                }
                out.bytes(values.as_bytes())
            }
            Message::Enter(id) => span_message(out, id, tag::K_ENTER, tag::ENTER),
            Message::Exit(id) => span_message(out, id, tag::K_EXIT, tag::EXIT),
            Message::Close(id) => span_message(out, id, tag::K_CLOSE, tag::CLOSE),
            Message::Clone(id) => {
                out.byte(tag::CLONE as u8)?;
                out.varint(id.0)
            }
            Message::Record { span, values } => {
                out.byte(tag::RECORD as u8)?;
                out.varint(span.0)?;
                out.bytes(values.as_bytes())
            }
            Message::FollowsFrom { span, follows } => {
                out.byte(tag::FOLLOWS_FROM as u8)?;
                out.varint(span.0)?;
                out.varint(follows.0)
            }
            // The rare messages (`Hello`, `Dropped`, announcements, re-sent spans, `Resync`,
            // `Status`) have one encoder, the out-of-line one.
            Message::Dropped { .. }
            | Message::Hello(_)
            | Message::CallSite(_)
            | Message::LiveSpan(_)
            | Message::Resync(_)
            | Message::Status(_) => self.write_cold(out),
        }
    }

    /// The same bytes as [`write`](Self::write), from one out-of-line copy for a sender's
    /// rare messages (`Hello`, `Dropped`, announcements, re-sent spans, `Status`), small
    /// rather than fast: every field is one call to the out-of-line writer of its shape
    /// ([`Cold`]: varint, string, optional string, raw bytes), and the room is checked once,
    /// at the end.
    ///
    /// Its span and event arms repeat [`write`](Self::write)'s in the cold writer's form, for
    /// [`FrameBuilder::push_message_cold`](crate::FrameBuilder::push_message_cold) of any
    /// message: handing them to `write` instead inlines `write`'s arms here, 1,452 bytes more
    /// flash in the benchmark's size build (measured).
    #[inline(never)]
    pub(crate) fn write_cold(&self, out: &mut Out<'_>) -> Result<(), EncodeError> {
        let mut w = Cold::new(out);
        match *self {
            Message::Event {
                callsite,
                parent,
                values,
            } => {
                match (parent, tag::compact(callsite.0, tag::K_EVENT)) {
                    (Parent::Current, Some(t)) => w.int(t),
                    _ => {
                        w.int(tag::EVENT);
                        w.int(callsite.0);
                        parent.write_cold(&mut w);
                    }
                }
                w.raw(values.as_bytes());
            }
            Message::NewSpan {
                id,
                callsite,
                parent,
                values,
            } => {
                match (parent, tag::compact(callsite.0, tag::K_NEW_SPAN)) {
                    (Parent::Current, Some(t)) => {
                        w.int(t);
                        w.int(id.0);
                    }
                    _ => {
                        w.int(tag::NEW_SPAN);
                        w.int(id.0);
                        w.int(callsite.0);
                        parent.write_cold(&mut w);
                    }
                }
                w.raw(values.as_bytes());
            }
            Message::Enter(id) => span_message_cold(&mut w, id, tag::K_ENTER, tag::ENTER),
            Message::Exit(id) => span_message_cold(&mut w, id, tag::K_EXIT, tag::EXIT),
            Message::Close(id) => span_message_cold(&mut w, id, tag::K_CLOSE, tag::CLOSE),
            Message::Clone(id) => {
                w.int(tag::CLONE);
                w.int(id.0);
            }
            Message::Record { span, values } => {
                w.int(tag::RECORD);
                w.int(span.0);
                w.raw(values.as_bytes());
            }
            Message::FollowsFrom { span, follows } => {
                w.int(tag::FOLLOWS_FROM);
                w.int(span.0);
                w.int(follows.0);
            }
            Message::Dropped { frames } => {
                w.int(tag::DROPPED);
                w.int(frames);
            }
            Message::Hello(h) => {
                w.int(tag::HELLO);
                w.int(u32::from(h.version));
                w.int(h.boot);
                w.int64(h.tick_hz);
                w.str(h.firmware);
                w.int(h.flash_base);
                w.int(h.flash_len);
            }
            Message::CallSite(c) => {
                w.int(tag::CALLSITE);
                w.int(c.id.0);
                w.int(u32::from(c.kind.wire()));
                w.int(u32::from(c.level.wire()));
                w.str(c.name);
                w.str(c.target);
                w.opt_str(c.module_path);
                w.opt_str(c.file);
                match c.line {
                    None => w.int(0),
                    Some(line) => {
                        w.int(1);
                        w.int(line);
                    }
                }
                c.fields.write_cold(&mut w);
            }
            Message::LiveSpan(s) => {
                w.int(tag::LIVE_SPAN);
                w.int(s.id.0);
                w.int(s.callsite.0);
                s.parent.write_cold(&mut w);
                w.int(s.entered);
            }
            Message::Resync(r) => {
                w.int(tag::RESYNC);
                w.int(r.live.count);
                w.raw(r.live.bytes);
                w.int(r.entered.count);
                w.raw(r.entered.bytes);
            }
            Message::Status(c) => {
                w.int(tag::STATUS);
                w.int(c.spans_untracked);
                w.int(c.enters_untracked);
                w.int(c.events_untracked);
                w.int(c.values_dropped);
                w.int(c.values_truncated);
            }
        }
        w.finish()
    }

    /// Decodes a message from the whole of `bytes`, borrowing strings from it.
    ///
    /// A `Hello` of another [`PROTOCOL_VERSION`] (an old capture, a firmware built from
    /// another release) is [`DecodeError::UnsupportedVersion`]: its version is read before
    /// anything else, whatever the rest of its layout.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, Values::decode)
    }

    /// [`decode`](Self::decode), with `values` making the [`Values`] of an `Event`, `NewSpan`
    /// or `Record` from its bytes (checked, or deferred: see `deferred.rs`).
    #[inline(always)]
    pub(crate) fn decode_with(
        bytes: &'a [u8],
        values: impl Fn(&'a [u8]) -> Result<Values<'a>, DecodeError>,
    ) -> Result<Self, DecodeError> {
        let (t, rest): (u32, _) = take(bytes)?;
        let no_tail = |m: Message<'a>, rest: &[u8]| {
            if rest.is_empty() {
                Ok(m)
            } else {
                Err(DecodeError::TrailingBytes { count: rest.len() })
            }
        };
        let span = |rest: &'a [u8]| take::<SpanId>(rest);
        match t {
            tag::HELLO => {
                let (found, _): (u16, _) = take(rest)?;
                if found != PROTOCOL_VERSION {
                    return Err(DecodeError::UnsupportedVersion { found });
                }
                let (hello, rest) = take(rest)?;
                no_tail(Message::Hello(hello), rest)
            }
            tag::CALLSITE => {
                let (c, rest): (CallSiteHead<'a>, _) = take(rest)?;
                Ok(Message::CallSite(CallSite {
                    id: c.id,
                    kind: c.kind,
                    level: c.level,
                    name: c.name,
                    target: c.target,
                    module_path: c.module_path,
                    file: c.file,
                    line: c.line,
                    fields: FieldNames::decode(rest)?,
                }))
            }
            tag::EVENT => {
                let ((callsite, parent), rest) = take(rest)?;
                Ok(Message::Event {
                    callsite,
                    parent,
                    values: values(rest)?,
                })
            }
            tag::NEW_SPAN => {
                let ((id, callsite, parent), rest) = take(rest)?;
                Ok(Message::NewSpan {
                    id,
                    callsite,
                    parent,
                    values: values(rest)?,
                })
            }
            tag::ENTER => span(rest).and_then(|(id, r)| no_tail(Message::Enter(id), r)),
            tag::EXIT => span(rest).and_then(|(id, r)| no_tail(Message::Exit(id), r)),
            tag::CLOSE => span(rest).and_then(|(id, r)| no_tail(Message::Close(id), r)),
            tag::CLONE => span(rest).and_then(|(id, r)| no_tail(Message::Clone(id), r)),
            tag::RECORD => {
                let (span, rest) = span(rest)?;
                Ok(Message::Record {
                    span,
                    values: values(rest)?,
                })
            }
            tag::FOLLOWS_FROM => {
                let ((span, follows), rest) = take(rest)?;
                no_tail(Message::FollowsFrom { span, follows }, rest)
            }
            tag::DROPPED => {
                let (frames, rest) = take(rest)?;
                no_tail(Message::Dropped { frames }, rest)
            }
            tag::LIVE_SPAN => {
                let (live, rest) = take(rest)?;
                no_tail(Message::LiveSpan(live), rest)
            }
            tag::RESYNC => {
                let (live, rest) = SpanIds::take(rest)?;
                let (entered, rest) = SpanIds::take(rest)?;
                no_tail(Message::Resync(Resync { live, entered }), rest)
            }
            tag::STATUS => {
                let (status, rest) = take(rest)?;
                no_tail(Message::Status(status), rest)
            }
            tag::COMPACT.. => {
                let x = (t - tag::COMPACT) / tag::KINDS;
                match (t - tag::COMPACT) % tag::KINDS {
                    tag::K_EVENT => Ok(Message::Event {
                        callsite: CallsiteId(x),
                        parent: Parent::Current,
                        values: values(rest)?,
                    }),
                    tag::K_NEW_SPAN => {
                        let (id, rest) = span(rest)?;
                        Ok(Message::NewSpan {
                            id,
                            callsite: CallsiteId(x),
                            parent: Parent::Current,
                            values: values(rest)?,
                        })
                    }
                    tag::K_ENTER => no_tail(Message::Enter(SpanId(x)), rest),
                    tag::K_EXIT => no_tail(Message::Exit(SpanId(x)), rest),
                    _ => no_tail(Message::Close(SpanId(x)), rest),
                }
            }
            tag::EXTENSION => Err(DecodeError::BadTag {
                what: "message (a tag this version leaves free)",
                tag: t,
            }),
            _ => Err(DecodeError::BadTag {
                what: "message",
                tag: t,
            }),
        }
    }
}

/// `Enter`, `Exit` or `Close`: the compact tag of kind `k`, or the long form `long`.
#[inline(always)]
fn span_message(out: &mut Out<'_>, id: SpanId, k: u32, long: u32) -> Result<(), EncodeError> {
    match tag::compact(id.0, k) {
        Some(t) => out.varint(t),
        None => {
            out.byte(long as u8)?;
            out.varint(id.0)
        }
    }
}

/// [`span_message`] for [`Message::write_cold`].
fn span_message_cold(w: &mut Cold<'_, '_>, id: SpanId, k: u32, long: u32) {
    match tag::compact(id.0, k) {
        Some(t) => w.int(t),
        None => {
            w.int(long);
            w.int(id.0);
        }
    }
}

fn take<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)
}

/// A request from the host to the target, on the RTT down channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request {
    /// Send every known call site and every live span again (a host that attached late).
    ResendAll,
    /// Change the runtime level filter.
    SetLevel(LevelFilter),
}

impl Request {
    /// Encodes the request as one COBS frame with its `0x00` delimiter, returning the number
    /// of bytes written.
    pub fn encode_frame(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        postcard::to_slice_cobs(self, out)
            .map(|s| s.len())
            .map_err(|_| EncodeError::BufferFull)
    }

    /// Decodes a request from the bytes of one frame (after COBS decoding). Hand-written
    /// (the target decodes requests): `0` is `ResendAll`, `1, level` is `SetLevel`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (req, rest) = match *bytes {
            [0, ref rest @ ..] => (Request::ResendAll, rest),
            [1, level, ref rest @ ..] => {
                let level = match level {
                    0 => LevelFilter::Off,
                    1 => LevelFilter::Error,
                    2 => LevelFilter::Warn,
                    3 => LevelFilter::Info,
                    4 => LevelFilter::Debug,
                    5 => LevelFilter::Trace,
                    tag => {
                        return Err(DecodeError::BadTag {
                            what: "level filter",
                            tag: u32::from(tag),
                        })
                    }
                };
                (Request::SetLevel(level), rest)
            }
            [] | [1] => return Err(DecodeError::Truncated),
            [tag, ..] => {
                return Err(DecodeError::BadTag {
                    what: "request",
                    tag: u32::from(tag),
                })
            }
        };
        if rest.is_empty() {
            Ok(req)
        } else {
            Err(DecodeError::TrailingBytes { count: rest.len() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tag of the table in the docs of [`tag`], with the message that uses it; the free
    /// and reserved ones decode to an error. A new message adds its line here.
    #[test]
    fn tag_table() {
        let values = Values::EMPTY;
        let names = FieldNames::new(&[]);
        let long = 1000; // an id too large for a one-byte compact tag, still compact
        let mut list = [0u8; 8];
        let live = SpanIds::write(&[SpanId(1), SpanId(300)], &mut list).unwrap();
        let table: [(u32, Message<'_>); 23] = [
            (
                tag::HELLO,
                Message::Hello(Hello {
                    version: PROTOCOL_VERSION,
                    boot: 1,
                    tick_hz: 2,
                    firmware: "f",
                    flash_base: 0,
                    flash_len: 0,
                }),
            ),
            (
                tag::CALLSITE,
                Message::CallSite(CallSite {
                    id: CallsiteId(0),
                    kind: Kind::Event,
                    level: Level::Info,
                    name: "n",
                    target: "t",
                    module_path: None,
                    file: None,
                    line: None,
                    fields: names,
                }),
            ),
            (
                tag::EVENT,
                Message::Event {
                    callsite: CallsiteId(0),
                    parent: Parent::Root,
                    values,
                },
            ),
            (
                tag::NEW_SPAN,
                Message::NewSpan {
                    id: SpanId(1),
                    callsite: CallsiteId(0),
                    parent: Parent::Root,
                    values,
                },
            ),
            (tag::ENTER, Message::Enter(SpanId(u32::MAX))),
            (tag::EXIT, Message::Exit(SpanId(u32::MAX))),
            (tag::CLOSE, Message::Close(SpanId(u32::MAX))),
            (tag::CLONE, Message::Clone(SpanId(1))),
            (
                tag::RECORD,
                Message::Record {
                    span: SpanId(1),
                    values,
                },
            ),
            (
                tag::FOLLOWS_FROM,
                Message::FollowsFrom {
                    span: SpanId(1),
                    follows: SpanId(2),
                },
            ),
            (tag::DROPPED, Message::Dropped { frames: 3 }),
            (
                tag::LIVE_SPAN,
                Message::LiveSpan(LiveSpan {
                    id: SpanId(1),
                    callsite: CallsiteId(0),
                    parent: Parent::Current,
                    entered: 0,
                }),
            ),
            (
                tag::RESYNC,
                Message::Resync(Resync {
                    live,
                    entered: SpanIds::EMPTY,
                }),
            ),
            (
                tag::RESYNC,
                Message::Resync(Resync {
                    live: SpanIds::EMPTY,
                    entered: live,
                }),
            ),
            (
                tag::STATUS,
                Message::Status(Capacity {
                    spans_untracked: 44,
                    enters_untracked: 24,
                    events_untracked: 1,
                    values_dropped: 2,
                    values_truncated: 300,
                }),
            ),
            (
                16,
                Message::Event {
                    callsite: CallsiteId(0),
                    parent: Parent::Current,
                    values,
                },
            ),
            (
                17,
                Message::NewSpan {
                    id: SpanId(1),
                    callsite: CallsiteId(0),
                    parent: Parent::Current,
                    values,
                },
            ),
            (18, Message::Enter(SpanId(0))),
            (19, Message::Exit(SpanId(0))),
            (20, Message::Close(SpanId(0))),
            (16 + 5 * 21 + 4, Message::Close(SpanId(21))),
            (
                16 + 5 * long,
                Message::Event {
                    callsite: CallsiteId(long),
                    parent: Parent::Current,
                    values,
                },
            ),
            (
                16 + 5 * long + 1,
                Message::NewSpan {
                    id: SpanId(2),
                    callsite: CallsiteId(long),
                    parent: Parent::Current,
                    values,
                },
            ),
        ];
        for (t, message) in table {
            let mut buf = [0u8; 32];
            let n = message.encode(&mut buf).unwrap();
            let (found, _) = postcard::take_from_bytes::<u32>(&buf[..n]).unwrap();
            assert_eq!(found, t, "{message:?}");
            assert_eq!(Message::decode(&buf[..n]), Ok(message));
        }
        // The long forms are the ids a compact tag cannot hold.
        assert_eq!(tag::compact(u32::MAX, tag::K_ENTER), None);
        // One byte up to id 21.
        assert!(tag::compact(21, tag::K_CLOSE).unwrap() < 128);
        assert!(tag::compact(22, tag::K_ENTER).unwrap() >= 128);
        // A resync's lists read back as written; a list cut short is an error.
        let mut ids = live.iter();
        assert_eq!(
            (ids.next(), ids.next(), ids.next()),
            (Some(SpanId(1)), Some(SpanId(300)), None)
        );
        assert!(Message::decode(&[tag::RESYNC as u8, 2, 1]).is_err());
        // The reserved tag.
        assert!(matches!(
            Message::decode(&[tag::EXTENSION as u8]),
            Err(DecodeError::BadTag { tag, .. }) if tag == tag::EXTENSION
        ));
    }

    /// An old capture's `Hello` names its version, whatever follows it.
    #[test]
    fn other_versions_are_named() {
        let err = Message::decode(&[0, 1, 7, 0xc0, 0x84, 0x3d, 4, b'd', b'e', b'm', b'o']);
        assert_eq!(err, Err(DecodeError::UnsupportedVersion { found: 1 }));
        extern crate std;
        let text = std::format!("{}", err.unwrap_err());
        assert!(
            text.contains("version 1") && text.contains(&std::format!("speaks {PROTOCOL_VERSION}")),
            "{text}"
        );
    }
}
