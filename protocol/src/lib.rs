//! The wire format of rtt-tunnel, shared by the firmware's sender and the host's receiver.
//!
//! `no_std`, no allocation. Each frame is `COBS(varint dt ++ postcard(message)) ++ 0x00`:
//!
//! - **dt**: a zigzag varint of target ticks since the previous frame the target wrote (see
//!   [`frame`](FrameBuilder)); for a [`Hello`], ticks since boot.
//! - **message**: a [`Message`] with postcard's encoding (varints everywhere, a tag varint
//!   first), with the values of events and spans (or the field names of a call site) running
//!   raw to the end of the frame, so no count is sent. The most frequent messages fold their id
//!   into the tag (see [the tag space](#the-tag-space)). A value is a varint header
//!   `field << 4 | kind`, then its payload: a `bool` is the header alone, integers are
//!   varints, an `f64` its 8 bytes, strings are length-prefixed.
//! - **COBS + 0x00**: a host that attaches mid-stream, or loses bytes, resynchronises at the
//!   next delimiter ([`FrameSplitter`]).
//!
//! The host sends [`Request`]s the other way, framed the same way without a timestamp.
//!
//! # Encoding without serde
//!
//! The target encodes by hand ([`Message::encode`], [`FrameBuilder`], [`ValuesWriter`]): the
//! bytes are exactly postcard's (property tests check the hand encoder against postcard's
//! serde encoder for every message and value kind), but no serde code runs on the target, no
//! frame buffer is zeroed ([`FrameBuilder::new_uninit`]), and nothing on that path panics. The
//! host decodes with postcard.
//!
//! # The tag space
//!
//! Every message body starts with a tag varint. Each message's tag is written down here and in
//! a test that lists them all (`message::tests::tag_table`); none comes from a declaration
//! order.
//!
//! | tag | message |
//! |---|---|
//! | 0 | `Hello`: 0 in every version, and its first field is the version |
//! | 1 | `CallSite` |
//! | 2 | `Event`, long form: call site, parent |
//! | 3 | `NewSpan`, long form: span, call site, parent |
//! | 4, 5, 6 | `Enter`, `Exit`, `Close`, long form: span |
//! | 7 | `Clone` |
//! | 8 | `Record` |
//! | 9 | `FollowsFrom` |
//! | 10 | `Dropped` |
//! | 11 | `LiveSpan` |
//! | 12 | not a message: the handler prefix (below) |
//! | 13 | `Resync`: the target's live spans and entered stack after it lost frames |
//! | 14 | `Status`: what the sender could not keep for lack of capacity |
//! | 15 | reserved: an extension tag (a second varint would select the message) |
//! | 16 + 5x + k | compact forms |
//!
//! Compact forms fold an id `x` into the tag, one byte while `x < 22`: k = 0 is a contextual
//! `Event` of call site `x`; k = 1 a `NewSpan` of call site `x` whose parent is the current
//! span, its span id next; k = 2, 3, 4 the `Enter`, `Exit`, `Close` of span `x`. Other parents,
//! and ids whose compact tag would not fit a `u32`, take the long forms.
//!
//! # Execution context
//!
//! A frame the target wrote while it handled an exception (an interrupt, SysTick, a fault)
//! says which: between the timestamp delta and the message, the handler prefix, tag 12 then
//! the exception number as a varint (the Cortex-M IPSR: 15 for SysTick, 16 + n for device
//! interrupt n), 2 bytes for the core's exceptions. Frames written in thread mode have no
//! prefix: their bytes are the same as without this feature. [`Frame::exception`] is 0 for
//! them.
//!
//! # Constants
//!
//! A text that is the same at every event of a call site (a constant message such as
//! `info!("ready")`, a static `&str` value) is sent once; the host keeps it for the call site
//! and field, and later events send [`Value::SameConstant`], one byte. The sender decides
//! which texts qualify (text in the firmware's flash, written in one piece) and sends them by
//! reference, [`Value::FlashText`] (value kind 12): the text's offset from the start of flash
//! and its length, two varints. The [`Hello`] says where flash starts and how long it is
//! ([`Hello::flash_base`], [`Hello::flash_len`]); the host reads the text from the firmware's
//! ELF, from the target's memory, or from a capture that recorded it. [`Value::Constant`]
//! (kind 10) carries a constant's text in full, for a sender that knows no flash. A host
//! forgets a call site's constants when the call site is announced again, and the sender
//! sends them again after that.
//!
//! | value kind | value |
//! |---|---|
//! | 0, 1 | `bool` false, true |
//! | 2, 3, 4, 5 | `i64`, `u64`, `i128`, `u128` |
//! | 6 | `f64` |
//! | 7 | `&str` |
//! | 8, 9 | `Debug` text, whole or cut |
//! | 10 | a constant, in full |
//! | 11 | the same constant again |
//! | 12 | a constant by reference to flash |
//! | 13 to 15 | free |
//!
//! # Adding a message
//!
//! 1. Take a free tag (none is left: the extension tag 15 is next). Write it in
//!    `message::tag`, in the table above and in the `tag_table` test.
//! 2. Encode it by hand in `Message::write`, decode it in `Message::decode`; add it to the
//!    property tests' strategy and to their postcard reference encoder, and pin its bytes in
//!    `tests/wire_bytes.rs`.
//! 3. Bump [`PROTOCOL_VERSION`] for any change an older host or sender would read otherwise:
//!    a new message or value kind, a new field, a changed tag or layout (a change that leaves
//!    every byte as it was needs none). One bump per release, however many changes it brings.
//! 4. Re-record the QEMU tests' captures and snapshots with `cargo xtask bless` and review
//!    `git diff tests/`. A capture of an older version no longer decodes: the host stops at its
//!    `Hello` with an error naming both versions.
//!
//! # Bytes per message
//!
//! Whole frames on the wire, COBS byte and delimiter included, for contextual events and
//! spans with call-site and span ids under 22 (one more byte up to 3272), field indices under
//! 8 and a timestamp delta under 64 ticks (one byte; each further 7 bits of delta cost one
//! more byte). These figures are checked by the crate's tests.
//!
//! | message | bytes |
//! |---|---|
//! | event, no field | 4 |
//! | event, one `u32` field (value < 128) | 6 |
//! | event, one `u32` field (value ≥ 2²⁸) | 10 |
//! | event, `u32` + `bool` + `&str` of 5 bytes | 14 |
//! | event, a constant message, its first event (flash offset < 16384, text < 128 bytes) | 8 |
//! | event, a constant message, after its first event | 5 |
//! | new span, no field | 5 |
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

mod deferred;
mod error;
mod frame;
mod message;
mod splitter;
mod value;
mod wire;

pub use deferred::TryValuesIter;
pub use error::{DecodeError, EncodeError, FrameError};
pub use frame::{Frame, FrameBuilder};
pub use message::{
    CallSite, CallsiteId, Capacity, Hello, Kind, Level, LevelFilter, LiveSpan, Message, Parent,
    Request, Resync, SpanId, SpanIds,
};
pub use splitter::{Feed, FrameSplitter};
pub use value::{
    Constant, FieldNames, FieldNamesIter, FieldValue, NameSource, Pushed, Value, Values,
    ValuesIter, ValuesWriter, MAX_FIELD_INDEX,
};

/// The version of this wire format, sent in every [`Hello`].
pub const PROTOCOL_VERSION: u16 = 3;
