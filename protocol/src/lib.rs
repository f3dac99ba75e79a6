//! The wire format of rtt-tunnel, shared by the firmware's sender and the host's receiver.
//!
//! `no_std`, no allocation. Each frame is `COBS(varint dt ++ postcard(message)) ++ 0x00`:
//!
//! - **dt**: a zigzag varint of target ticks since the previous frame the target wrote (see
//!   [`frame`](FrameBuilder)); for a [`Hello`], ticks since boot.
//! - **message**: a [`Message`], encoded by postcard (varints everywhere, one tag byte), with
//!   the values of events and spans (or the field names of a call site) running raw to the end
//!   of the frame, so no count is sent. The most frequent messages fold their id into the tag
//!   varint: `16 + 4 * x + k` is a contextual event of call site `x` (k = 0), or the enter,
//!   exit or close of span `x` (k = 1, 2, 3), one byte while `x < 28`; tag 12 is a new span
//!   whose parent is the current span. The long forms (tags 2 to 6) decode too. A value is a varint header `field << 4 | kind`, then its
//!   payload: a `bool` is the header alone, integers are varints, strings are length-prefixed.
//! - **COBS + 0x00**: a host that attaches mid-stream, or loses bytes, resynchronises at the
//!   next delimiter ([`FrameSplitter`]).
//!
//! The host sends [`Request`]s the other way, framed the same way without a timestamp.
//!
//! # Bytes per message
//!
//! Whole frames on the wire, COBS byte and delimiter included, for contextual events and
//! spans with call-site and span ids under 28 (one more byte up to 4091), field indices under
//! 8 and a timestamp delta under 64 ticks (one byte; each further 7 bits of delta cost one
//! more byte). These figures are checked by the crate's tests.
//!
//! | message | bytes |
//! |---|---|
//! | event, no field | 4 |
//! | event, one `u32` field (value < 128) | 6 |
//! | event, one `u32` field (value ≥ 2²⁸) | 10 |
//! | event, `u32` + `bool` + `&str` of 5 bytes | 14 |
//! | new span, no field | 6 |
//! | enter, exit, close | 4 |
//! | dropped (count < 128) | 5 |
//!
//! # Example
//!
//! ```
//! use rtt_tunnel_protocol::{
//!     CallsiteId, Feed, Frame, FrameBuilder, FrameSplitter, Message, Parent, Value, Values,
//! };
//!
//! // Target: encode an event with one u32 field, then seal it with its timestamp delta.
//! let mut buf = [0u8; 64];
//! let mut builder = FrameBuilder::new(&mut buf);
//! let event = Message::Event { callsite: CallsiteId(3), parent: Parent::Current, values: Values::EMPTY };
//! builder.push_message(&event).unwrap();
//! builder.push_values(|w| w.push(0, Value::U64(42))).unwrap();
//! let wire = builder.seal(17).unwrap().to_vec();
//! assert_eq!(wire.len(), 6);
//!
//! // Host: split the stream and decode, borrowing from the frame.
//! let mut splitter = FrameSplitter::<256>::new();
//! let Feed::Frame { frame, .. } = splitter.feed(&wire) else { panic!() };
//! let frame = Frame::decode(frame).unwrap();
//! assert_eq!(frame.dt, 17);
//! let Message::Event { values, .. } = frame.message else { panic!() };
//! assert_eq!(values.iter().next().unwrap().value, Value::U64(42));
//! ```
//!
//! # Features
//!
//! - `defmt`: derive `defmt::Format` for the error and id types.
#![no_std]
#![warn(missing_docs)]

mod error;
mod frame;
mod message;
mod splitter;
mod value;

pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{Frame, FrameBuilder};
pub use message::{
    CallSite, CallsiteId, Hello, Kind, Level, LevelFilter, LiveSpan, Message, Parent, Request,
    SpanId,
};
pub use splitter::{Feed, FrameSplitter};
pub use value::{
    FieldNames, FieldNamesIter, FieldValue, Value, Values, ValuesIter, ValuesWriter,
    MAX_FIELD_INDEX,
};

/// The version of this wire format, sent in every [`Hello`].
pub const PROTOCOL_VERSION: u16 = 1;
