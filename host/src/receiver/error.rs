//! What can go wrong relaying one frame.

use rtt_tunnel_protocol::{CallsiteId, DecodeError, Kind, SpanId};

/// A frame the [`Receiver`](super::Receiver) could not relay.
///
/// A frame that fails is not relayed at all and leaves the receiver as it was (its time still
/// counts); the receiver keeps working for the next frame. Most errors mean the host missed
/// frames (it attached late: ask the target to re-send its call sites and live spans), or that
/// the persisted state given to [`Receiver::new`](super::Receiver::new) does not belong to this
/// stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The target speaks another protocol version.
    #[error(
        "the target speaks protocol version {found}, this host speaks {expected}: \
         build the firmware and the host from the same rtt-tunnel release"
    )]
    VersionMismatch {
        /// The version in the target's `Hello`.
        found: u16,
        /// The version this host speaks.
        expected: u16,
    },
    /// A message referred to a call site that was never announced for this firmware.
    #[error(
        "unknown call site {} in {message}: the target never announced it \
         (attached late? request a resend of call sites)",
        callsite.0
    )]
    UnknownCallsite {
        /// The call site.
        callsite: CallsiteId,
        /// The message that referred to it.
        message: &'static str,
    },
    /// A span call site was used for an event, or an event call site for a span.
    #[error(
        "call site {} ({name:?}) is {} call site, but {message} needs {} call site",
        callsite.0,
        a_kind(.actual),
        a_kind(.expected)
    )]
    CallsiteKind {
        /// The call site.
        callsite: CallsiteId,
        /// Its name.
        name: &'static str,
        /// What it is.
        actual: Kind,
        /// What the message needs.
        expected: Kind,
        /// The message.
        message: &'static str,
    },
    /// A message referred to a span that is not alive (never created, or already closed).
    #[error(
        "unknown span {} in {message}: it was never created or is already closed \
         (attached late? request a resend of live spans)",
        span.0
    )]
    UnknownSpan {
        /// The span.
        span: SpanId,
        /// The message that referred to it.
        message: &'static str,
    },
    /// A `NewSpan` named its own id as its explicit parent. (A `NewSpan` that reuses the id of
    /// a live span otherwise replaces it: see [`Receiver::replaced_spans`](super::Receiver::replaced_spans).)
    #[error("span {} in {message} names itself as its parent", span.0)]
    SpanExists {
        /// The span.
        span: SpanId,
        /// The message.
        message: &'static str,
    },
    /// An `Exit` for a span that is not entered.
    #[error("span {} exited, but it is not entered", span.0)]
    NotEntered {
        /// The span.
        span: SpanId,
    },
    /// A `LiveSpan` claimed an implausible number of entries.
    #[error("live span {} is entered {entered} times, more than the {max} this receiver accepts", span.0)]
    TooManyEntries {
        /// The span.
        span: SpanId,
        /// How many times the target said it is entered.
        entered: u32,
        /// The limit.
        max: u32,
    },
    /// More values than `tracing` can relay in one event, span or record.
    #[error(
        "{count} values for call site {} ({name:?}) in {message}: tracing relays at most {max}",
        callsite.0
    )]
    TooManyValues {
        /// The call site.
        callsite: CallsiteId,
        /// Its name.
        name: &'static str,
        /// How many values came.
        count: usize,
        /// The most that can be relayed.
        max: usize,
        /// The message.
        message: &'static str,
    },
    /// A value's field index is not a field of the call site.
    #[error(
        "value for field {field} of call site {} ({name:?}) in {message}, \
         but the call site has {fields} fields",
        callsite.0
    )]
    UnknownField {
        /// The call site.
        callsite: CallsiteId,
        /// Its name.
        name: &'static str,
        /// The field index that came.
        field: u8,
        /// How many fields the call site has.
        fields: usize,
        /// The message.
        message: &'static str,
    },
    /// A value did not decode. The receiver reads a message's values once, checking each as
    /// it relays it, so this is the [`DecodeError`] of a frame decoded with
    /// [`Frame::decode_deferred`](rtt_tunnel_protocol::Frame::decode_deferred) (as the
    /// [`Pipeline`](crate::pipeline::Pipeline) does, which counts it as a decode error).
    #[error("a value of call site {} ({name:?}) in {message} did not decode: {error}", callsite.0)]
    BadValue {
        /// The call site.
        callsite: CallsiteId,
        /// Its name.
        name: &'static str,
        /// What was wrong.
        error: DecodeError,
        /// The message.
        message: &'static str,
    },
    /// Making the call site's `&'static Metadata` would leak more than the leak limit allows
    /// ([`set_leak_limit`](super::set_leak_limit)).
    #[error(
        "call site {} needs {needed} more leaked bytes, but {leaked} of the {limit} allowed \
         for call sites are leaked already",
        callsite.0
    )]
    ArenaFull {
        /// The call site.
        callsite: CallsiteId,
        /// Bytes the call site would add.
        needed: usize,
        /// Bytes leaked so far in this process.
        leaked: usize,
        /// The limit.
        limit: usize,
    },
    /// A new span, while [`Limits::spans`](super::Limits::spans) spans are alive.
    #[error("span {} in {message} refused: {limit} spans are alive, the most this receiver keeps", span.0)]
    SpanLimit {
        /// The span.
        span: SpanId,
        /// The bound.
        limit: usize,
        /// The message.
        message: &'static str,
    },
    /// An entry of a span, while the stack of entered spans is
    /// [`Limits::entered`](super::Limits::entered) deep.
    #[error(
        "span {} not entered: {depth} spans are entered, and the most this receiver keeps is \
         {limit}",
        span.0
    )]
    EnteredLimit {
        /// The span.
        span: SpanId,
        /// The depth of the stack.
        depth: usize,
        /// The bound.
        limit: usize,
    },
    /// A new call site, while [`Limits::call_sites`](super::Limits::call_sites) are known.
    #[error("call site {} refused: {limit} call sites are known, the most this receiver keeps", callsite.0)]
    CallSiteLimit {
        /// The call site.
        callsite: CallsiteId,
        /// The bound.
        limit: usize,
    },
}

impl ReceiveError {
    /// A short name of the error's kind (`"unknown span"`, `"span limit"`), the same for all
    /// errors of one kind: what reports that count errors by kind key on.
    pub fn kind(&self) -> &'static str {
        match self {
            ReceiveError::VersionMismatch { .. } => "version mismatch",
            ReceiveError::UnknownCallsite { .. } => "unknown call site",
            ReceiveError::CallsiteKind { .. } => "call site kind",
            ReceiveError::UnknownSpan { .. } => "unknown span",
            ReceiveError::SpanExists { .. } => "span exists",
            ReceiveError::NotEntered { .. } => "not entered",
            ReceiveError::TooManyEntries { .. } => "live span entries",
            ReceiveError::TooManyValues { .. } => "too many values",
            ReceiveError::UnknownField { .. } => "unknown field",
            ReceiveError::BadValue { .. } => "bad value",
            ReceiveError::ArenaFull { .. } => "arena full",
            ReceiveError::SpanLimit { .. } => "span limit",
            ReceiveError::EnteredLimit { .. } => "entered limit",
            ReceiveError::CallSiteLimit { .. } => "call site limit",
        }
    }
}

fn a_kind(kind: &Kind) -> &'static str {
    match kind {
        Kind::Span => "a span",
        Kind::Event => "an event",
    }
}
