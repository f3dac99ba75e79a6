//! The messages from target to host and from host to target.

use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, EncodeError};
use crate::value::{FieldNames, Values};
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
    /// A live span, re-sent on request.
    LiveSpan(LiveSpan),
}

/// The head of a message: everything but the values or field-name tail. This is what postcard
/// encodes; the tail follows it raw.
#[derive(Serialize, Deserialize)]
enum Head<'a> {
    #[serde(borrow)]
    Hello(Hello<'a>),
    CallSite(CallSiteHead<'a>),
    Event(CallsiteId, Parent),
    NewSpan(SpanId, CallsiteId, Parent),
    Enter(SpanId),
    Exit(SpanId),
    Close(SpanId),
    Clone(SpanId),
    Record(SpanId),
    FollowsFrom(SpanId, SpanId),
    Dropped(u32),
    LiveSpan(LiveSpan),
}

#[derive(Serialize, Deserialize)]
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

enum Tail<'a> {
    None,
    Values(Values<'a>),
    Names(FieldNames<'a>),
}

impl<'a> Message<'a> {
    fn split(&self) -> (Head<'a>, Tail<'a>) {
        match *self {
            Message::Hello(h) => (Head::Hello(h), Tail::None),
            Message::CallSite(c) => (
                Head::CallSite(CallSiteHead {
                    id: c.id,
                    kind: c.kind,
                    level: c.level,
                    name: c.name,
                    target: c.target,
                    module_path: c.module_path,
                    file: c.file,
                    line: c.line,
                }),
                Tail::Names(c.fields),
            ),
            Message::Event {
                callsite,
                parent,
                values,
            } => (Head::Event(callsite, parent), Tail::Values(values)),
            Message::NewSpan {
                id,
                callsite,
                parent,
                values,
            } => (Head::NewSpan(id, callsite, parent), Tail::Values(values)),
            Message::Enter(id) => (Head::Enter(id), Tail::None),
            Message::Exit(id) => (Head::Exit(id), Tail::None),
            Message::Close(id) => (Head::Close(id), Tail::None),
            Message::Clone(id) => (Head::Clone(id), Tail::None),
            Message::Record { span, values } => (Head::Record(span), Tail::Values(values)),
            Message::FollowsFrom { span, follows } => {
                (Head::FollowsFrom(span, follows), Tail::None)
            }
            Message::Dropped { frames } => (Head::Dropped(frames), Tail::None),
            Message::LiveSpan(s) => (Head::LiveSpan(s), Tail::None),
        }
    }

    /// Encodes the message (without timestamp or framing) at the start of `out`, returning
    /// the number of bytes written. Values or field names go last, so a sender may encode a
    /// message with [`Values::EMPTY`] and append values after it with a
    /// [`ValuesWriter`](crate::ValuesWriter).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let (head, tail) = self.split();
        let n = match (self.compact_tag(), self) {
            (Some(tag), _) => postcard::to_slice(&tag, out),
            (
                None,
                Message::NewSpan {
                    id,
                    callsite,
                    parent: Parent::Current,
                    ..
                },
            ) => postcard::to_slice(&(TAG_NEW_SPAN_CURRENT, *id, *callsite), out),
            (None, _) => postcard::to_slice(&head, out),
        }
        .map_err(|_| EncodeError::BufferFull)?
        .len();
        let rest = &mut out[n..];
        let t = match tail {
            Tail::None => 0,
            Tail::Values(v) => {
                let bytes = v.as_bytes();
                rest.get_mut(..bytes.len())
                    .ok_or(EncodeError::BufferFull)?
                    .copy_from_slice(bytes);
                bytes.len()
            }
            Tail::Names(names) => names.encode(rest)?,
        };
        Ok(n + t)
    }

    /// Decodes a message from the whole of `bytes`, borrowing strings from it.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if let Some(message) = Self::decode_compact(bytes)? {
            return Ok(message);
        }
        let (head, rest): (Head<'a>, &'a [u8]) =
            postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)?;
        let no_tail = |m: Message<'a>| {
            if rest.is_empty() {
                Ok(m)
            } else {
                Err(DecodeError::TrailingBytes { count: rest.len() })
            }
        };
        match head {
            Head::Hello(h) => no_tail(Message::Hello(h)),
            Head::CallSite(c) => Ok(Message::CallSite(CallSite {
                id: c.id,
                kind: c.kind,
                level: c.level,
                name: c.name,
                target: c.target,
                module_path: c.module_path,
                file: c.file,
                line: c.line,
                fields: FieldNames::decode(rest)?,
            })),
            Head::Event(callsite, parent) => Ok(Message::Event {
                callsite,
                parent,
                values: Values::decode(rest)?,
            }),
            Head::NewSpan(id, callsite, parent) => Ok(Message::NewSpan {
                id,
                callsite,
                parent,
                values: Values::decode(rest)?,
            }),
            Head::Enter(id) => no_tail(Message::Enter(id)),
            Head::Exit(id) => no_tail(Message::Exit(id)),
            Head::Close(id) => no_tail(Message::Close(id)),
            Head::Clone(id) => no_tail(Message::Clone(id)),
            Head::Record(span) => Ok(Message::Record {
                span,
                values: Values::decode(rest)?,
            }),
            Head::FollowsFrom(span, follows) => no_tail(Message::FollowsFrom { span, follows }),
            Head::Dropped(frames) => no_tail(Message::Dropped { frames }),
            Head::LiveSpan(s) => no_tail(Message::LiveSpan(s)),
        }
    }
}

/// The tag of a `Hello`.
const HELLO_TAG: u32 = 0;
/// The tag of a `NewSpan` whose parent is [`Parent::Current`]: `(id, callsite)` follow.
const TAG_NEW_SPAN_CURRENT: u32 = 12;
/// The first compact tag: `16 + 4 * x + k` is a contextual `Event` of call site `x` (k = 0),
/// or `Enter`, `Exit`, `Close` of span `x` (k = 1, 2, 3). One byte while `x < 28`.
const TAG_COMPACT: u32 = 16;

impl<'a> Message<'a> {
    /// The one-varint form of the most frequent messages, if this message has one.
    fn compact_tag(&self) -> Option<u32> {
        let (x, k) = match *self {
            Message::Event {
                callsite,
                parent: Parent::Current,
                ..
            } => (callsite.0, 0),
            Message::Enter(id) => (id.0, 1),
            Message::Exit(id) => (id.0, 2),
            Message::Close(id) => (id.0, 3),
            _ => return None,
        };
        x.checked_mul(4)?.checked_add(TAG_COMPACT + k)
    }

    /// Decodes the forms outside postcard's enum: tags 12 and up. `None` for tags 0 to 11,
    /// which postcard decodes; but a `Hello` of another protocol version (which may have
    /// another layout) is recognised here by its first field.
    fn decode_compact(bytes: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let Ok((tag, rest)) = postcard::take_from_bytes::<u32>(bytes) else {
            return Ok(None); // postcard reports it
        };
        let no_tail = |m: Message<'a>| {
            if rest.is_empty() {
                Ok(Some(m))
            } else {
                Err(DecodeError::TrailingBytes { count: rest.len() })
            }
        };
        match tag {
            HELLO_TAG => match postcard::take_from_bytes::<u16>(rest) {
                Ok((found, _)) if found != PROTOCOL_VERSION => {
                    Err(DecodeError::UnsupportedVersion { found })
                }
                _ => Ok(None),
            },
            1..TAG_NEW_SPAN_CURRENT => Ok(None),
            TAG_NEW_SPAN_CURRENT => {
                let ((id, callsite), rest): ((SpanId, CallsiteId), _) =
                    postcard::take_from_bytes(rest).map_err(DecodeError::from_postcard)?;
                Ok(Some(Message::NewSpan {
                    id,
                    callsite,
                    parent: Parent::Current,
                    values: Values::decode(rest)?,
                }))
            }
            TAG_COMPACT.. => {
                let x = (tag - TAG_COMPACT) / 4;
                match (tag - TAG_COMPACT) % 4 {
                    0 => Ok(Some(Message::Event {
                        callsite: CallsiteId(x),
                        parent: Parent::Current,
                        values: Values::decode(rest)?,
                    })),
                    1 => no_tail(Message::Enter(SpanId(x))),
                    2 => no_tail(Message::Exit(SpanId(x))),
                    _ => no_tail(Message::Close(SpanId(x))),
                }
            }
            _ => Err(DecodeError::BadTag {
                what: "message",
                tag,
            }),
        }
    }
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

    /// Decodes a request from the bytes of one frame (after COBS decoding).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (req, rest) = postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)?;
        if rest.is_empty() {
            Ok(req)
        } else {
            Err(DecodeError::TrailingBytes { count: rest.len() })
        }
    }
}
