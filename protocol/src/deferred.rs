//! Decoding for a host that reads each message's values once, while it relays them.
//!
//! [`Frame::decode`] walks an `Event`'s, `NewSpan`'s or `Record`'s values to check them, and
//! the host's receiver walks them again to relay them. [`Frame::decode_deferred`] leaves the
//! values unchecked; [`Values::try_iter`] checks each value as it is read and reports the
//! first bad one. Everything else in the frame is checked as [`Frame::decode`] checks it.
//! [`Frame::decode_compact`] is `decode_deferred` of the frames a sender writes most, read
//! inline, for a reader that relays each frame where it reads it.

use crate::error::DecodeError;
use crate::frame::{take_exception, Frame};
use crate::message::{tag, CallsiteId, Message, Parent, SpanId};
use crate::value::{
    FieldValue, Value, Values, KIND_CONSTANT, KIND_DEBUG, KIND_DEBUG_TRUNCATED, KIND_FALSE,
    KIND_I64, KIND_SAME_CONSTANT, KIND_STR, KIND_TRUE, KIND_U64,
};

impl<'a> Frame<'a> {
    /// [`decode`](Self::decode), except that the message's [`Values`] are not checked: read
    /// them with [`Values::try_iter`], which returns the error `decode` would have.
    #[inline(always)]
    pub fn decode_deferred(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        // The frames a sender writes most are read inline, without a call or a stack frame;
        // anything else, valid or not, by `decode_deferred_other`, for the same result and
        // errors.
        if let Some(frame) = Self::decode_compact(bytes) {
            return Ok(frame);
        }
        Self::decode_deferred_other(bytes)
    }

    /// The frames a sender writes most, read inline: a message with a compact tag (an `Event`
    /// or a `NewSpan` whose parent is the current span, an `Enter`, an `Exit`, a `Close`)
    /// after a time delta and, in a handler, an exception number of one or two bytes. Their
    /// [`Values`] are not checked, as with [`decode_deferred`](Self::decode_deferred).
    ///
    /// `None` for any other frame, valid or not: [`decode_deferred`](Self::decode_deferred)
    /// reads those. Where this returns a frame, `decode_deferred` returns the same one.
    ///
    /// For a reader that relays frames as they come (the host's pipeline): it can match the
    /// message of these frames right where it was read, with no [`Result`] to go through and
    /// never a [`Message::Hello`].
    #[inline(always)]
    pub fn decode_compact(bytes: &'a [u8]) -> Option<Self> {
        let (dt, rest) = short_varint(bytes, 9)?;
        let (exception, rest) = match rest {
            [t, after @ ..] if u32::from(*t) == tag::HANDLER => {
                // At most 14 bits: a `u16`. Exception 0 (never sent) is left to `decode`'s
                // error.
                let (exception, after) = short_varint(after, 2)?;
                (u16::try_from(exception).ok().filter(|&e| e != 0)?, after)
            }
            _ => (0, rest),
        };
        Some(Self {
            dt: ((dt >> 1) as i64) ^ -((dt & 1) as i64),
            exception,
            message: compact(rest)?,
        })
    }

    /// [`decode_deferred`](Self::decode_deferred) of any frame: a long time delta, a handler
    /// prefix, a message without a compact tag, or bytes that do not decode.
    #[inline(never)]
    fn decode_deferred_other(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if let Some((dt, rest)) = short_varint(bytes, 9) {
            let dt = ((dt >> 1) as i64) ^ -((dt & 1) as i64);
            let (exception, rest) = take_exception(rest)?;
            // Two returns, not one of a message from either path: merged, the whole message
            // (120 bytes) was copied, for the few bytes a compact one has.
            if let Some(message) = compact(rest) {
                return Ok(Self {
                    dt,
                    exception,
                    message,
                });
            }
            return Ok(Self {
                dt,
                exception,
                message: Message::decode_deferred(rest)?,
            });
        }
        let (dt, rest) = postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)?;
        let (exception, rest) = take_exception(rest)?;
        Ok(Self {
            dt,
            exception,
            message: Message::decode_deferred(rest)?,
        })
    }
}

/// A varint of at most `max` bytes (`max * 7` bits, below the type's limit: always valid, so
/// the value postcard reads) at the start of `bytes`, and the bytes after it; `None` for
/// anything else (longer, or cut short), which the caller leaves to postcard.
///
/// One and two bytes, what most time deltas, tags, ids and lengths take, are read without a
/// loop; `max` is at least 2.
#[inline(always)]
fn short_varint(bytes: &[u8], max: usize) -> Option<(u64, &[u8])> {
    debug_assert!(max >= 2);
    match bytes {
        [b0, rest @ ..] if *b0 < 0x80 => Some((u64::from(*b0), rest)),
        [b0, b1, rest @ ..] if *b1 < 0x80 => {
            Some((u64::from(b0 & 0x7f) | u64::from(*b1) << 7, rest))
        }
        _ => longer_varint(bytes, max),
    }
}

/// [`short_varint`] of three bytes and more.
#[inline]
fn longer_varint(bytes: &[u8], max: usize) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(max).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// A message with a compact tag (see `message::tag`), as `Message::decode_with` reads it;
/// `None` for any other message or anything unusual (left to `Message::decode_deferred`).
#[inline(always)]
fn compact(bytes: &[u8]) -> Option<Message<'_>> {
    let (t, rest) = short_varint(bytes, 4)?;
    // At most 28 bits.
    let t = t as u32;
    if t < tag::COMPACT {
        return None;
    }
    let x = (t - tag::COMPACT) / tag::KINDS;
    let message = match (t - tag::COMPACT) % tag::KINDS {
        tag::K_EVENT => Message::Event {
            callsite: CallsiteId(x),
            parent: Parent::Current,
            values: Values::unchecked(rest),
        },
        tag::K_NEW_SPAN => {
            let (id, rest) = short_varint(rest, 4)?;
            Message::NewSpan {
                id: SpanId(id as u32),
                callsite: CallsiteId(x),
                parent: Parent::Current,
                values: Values::unchecked(rest),
            }
        }
        _ if !rest.is_empty() => return None,
        tag::K_ENTER => Message::Enter(SpanId(x)),
        tag::K_EXIT => Message::Exit(SpanId(x)),
        _ => Message::Close(SpanId(x)),
    };
    Some(message)
}

impl<'a> Message<'a> {
    /// [`decode`](Self::decode), except that the message's [`Values`] are not checked (see
    /// [`Frame::decode_deferred`]).
    pub fn decode_deferred(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Self::decode_with(bytes, |values| Ok(Values::unchecked(values)))
    }
}

impl<'a> Values<'a> {
    /// The values in the order they were recorded, each checked as it is read: after the first
    /// bad value (an error), the walk ends. For values that [`Values::decode`] checked, never
    /// an error.
    pub fn try_iter(&self) -> TryValuesIter<'a> {
        TryValuesIter {
            rest: self.as_bytes(),
        }
    }
}

/// Iterator over [`Values`] that checks each value: [`Values::try_iter`].
#[derive(Debug, Clone)]
pub struct TryValuesIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TryValuesIter<'a> {
    type Item = Result<FieldValue<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if let Some((value, rest)) = short_value(self.rest) {
            self.rest = rest;
            return Some(Ok(value));
        }
        match FieldValue::decode(self.rest) {
            Ok((value, rest)) => {
                self.rest = rest;
                Some(Ok(value))
            }
            Err(error) => {
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

/// The values a sender writes most (`bool`, integers up to 63 bits, text), read by hand, as
/// `FieldValue::decode` reads them; `None` for anything else, valid or not, which the caller
/// leaves to `FieldValue::decode`.
#[inline(always)]
fn short_value(bytes: &[u8]) -> Option<(FieldValue<'_>, &[u8])> {
    let (header, rest) = short_varint(bytes, 4)?;
    let field = u8::try_from(header >> 4).ok()?;
    let (value, rest) = match header as u32 & 0xf {
        KIND_FALSE => (Value::Bool(false), rest),
        KIND_TRUE => (Value::Bool(true), rest),
        KIND_SAME_CONSTANT => (Value::SameConstant, rest),
        KIND_U64 => {
            let (v, rest) = short_varint(rest, 9)?;
            (Value::U64(v), rest)
        }
        KIND_I64 => {
            let (v, rest) = short_varint(rest, 9)?;
            (Value::I64(((v >> 1) as i64) ^ -((v & 1) as i64)), rest)
        }
        kind @ (KIND_STR | KIND_DEBUG | KIND_DEBUG_TRUNCATED | KIND_CONSTANT) => {
            let (len, rest) = short_varint(rest, 4)?;
            // At most 28 bits.
            let len = len as usize;
            let text = text(rest.get(..len)?)?;
            let rest = &rest[len..];
            let value = match kind {
                KIND_STR => Value::Str(text),
                KIND_CONSTANT => Value::Constant(text),
                _ => Value::Debug {
                    text,
                    truncated: kind == KIND_DEBUG_TRUNCATED,
                },
            };
            (value, rest)
        }
        _ => return None,
    };
    Some((FieldValue { field, value }, rest))
}

/// `bytes` as UTF-8 text, if they are: ASCII (as most texts a target sends are) checked
/// inline, anything else by `core::str::from_utf8`.
#[inline(always)]
fn text(bytes: &[u8]) -> Option<&str> {
    if short_ascii(bytes).unwrap_or_else(|| bytes.is_ascii()) {
        // SAFETY: ASCII is UTF-8.
        return Some(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).ok()
}

/// Whether `bytes` are ASCII, for 4 to 16 bytes (`None` for other lengths): two words that
/// overlap in the middle, read whole, where `is_ascii` would look at each byte in turn.
#[inline(always)]
fn short_ascii(bytes: &[u8]) -> Option<bool> {
    const HIGH4: u32 = 0x8080_8080;
    const HIGH8: u64 = 0x8080_8080_8080_8080;
    let len = bytes.len();
    if (8..=16).contains(&len) {
        let head = u64::from_le_bytes(bytes[..8].try_into().ok()?);
        let tail = u64::from_le_bytes(bytes[len - 8..].try_into().ok()?);
        return Some((head | tail) & HIGH8 == 0);
    }
    if (4..8).contains(&len) {
        let head = u32::from_le_bytes(bytes[..4].try_into().ok()?);
        let tail = u32::from_le_bytes(bytes[len - 4..].try_into().ok()?);
        return Some((head | tail) & HIGH4 == 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ValuesWriter;

    fn event_frame(values: &[u8], buf: &mut [u8]) -> usize {
        // dt 5, the long Event tag with call site 3, parent current, then the values.
        let mut n = 0;
        let message = Message::Event {
            callsite: CallsiteId(3),
            parent: Parent::Current,
            values: Values::EMPTY,
        };
        buf[n] = 5;
        n += 1;
        n += message.encode(&mut buf[n..]).unwrap();
        buf[n..n + values.len()].copy_from_slice(values);
        n + values.len()
    }

    #[test]
    fn deferred_decodes_what_decode_does() {
        let mut vbuf = [0u8; 64];
        let mut w = ValuesWriter::new(&mut vbuf);
        w.push(0, Value::U64(1234)).unwrap();
        w.push(1, Value::Str("hello")).unwrap();
        w.push(2, Value::Bool(true)).unwrap();
        w.push(
            3,
            Value::FlashText {
                offset: 0x1c4,
                len: 5,
            },
        )
        .unwrap();
        let len = w.len();
        let mut buf = [0u8; 128];
        let n = event_frame(&vbuf[..len], &mut buf);
        let checked = Frame::decode(&buf[..n]).unwrap();
        let deferred = Frame::decode_deferred(&buf[..n]).unwrap();
        assert_eq!(checked, deferred);
        let Message::Event { values, .. } = deferred.message else {
            panic!("{deferred:?}");
        };
        assert_eq!(values.try_iter().count(), 4);
        assert_eq!(
            values.try_iter().last(),
            Some(Ok(FieldValue {
                field: 3,
                value: Value::FlashText {
                    offset: 0x1c4,
                    len: 5
                }
            }))
        );
        for (read, expected) in values.try_iter().zip(values.iter()) {
            assert_eq!(read, Ok(expected));
        }
    }

    #[test]
    fn bad_values_are_the_reader_error() {
        let mut vbuf = [0u8; 64];
        let mut w = ValuesWriter::new(&mut vbuf);
        w.push(0, Value::Str("hello")).unwrap();
        let len = w.len();
        // Not UTF-8, then a value kind that does not exist, then a cut string.
        for bad in [
            &[0x07, 0x01, 0xff][..],
            &[0x0f][..],
            &[0x07, 0x05, b'a'][..],
            // A flash reference without its length.
            &[0x0c, 0xc4, 0x03][..],
        ] {
            let mut values = vbuf[..len].to_vec();
            values.extend_from_slice(bad);
            let mut buf = [0u8; 128];
            let n = event_frame(&values, &mut buf);
            let error = Frame::decode(&buf[..n]).unwrap_err();
            let frame = Frame::decode_deferred(&buf[..n]).unwrap();
            let Message::Event { values, .. } = frame.message else {
                panic!("{frame:?}");
            };
            let mut it = values.try_iter();
            assert!(matches!(it.next(), Some(Ok(_))));
            assert_eq!(it.next(), Some(Err(error)));
            assert_eq!(it.next(), None);
        }
    }

    #[test]
    fn short_ascii_is_is_ascii() {
        let ascii = [b'a'; 20];
        for len in 0..ascii.len() {
            assert!(short_ascii(&ascii[..len]).unwrap_or(true), "{len}");
            for at in 0..len {
                let mut bytes = ascii;
                bytes[at] = 0xc3;
                let bytes = &bytes[..len];
                let found = short_ascii(bytes).unwrap_or_else(|| bytes.is_ascii());
                assert!(!found, "{len} {at}");
            }
        }
    }

    #[test]
    fn everything_but_values_is_checked() {
        assert_eq!(
            Frame::decode_deferred(&[]).unwrap_err(),
            Frame::decode(&[]).unwrap_err()
        );
        let enter_with_tail = {
            let mut buf = [0u8; 16];
            buf[0] = 1;
            let n = 1 + Message::Enter(crate::SpanId(1))
                .encode(&mut buf[1..])
                .unwrap();
            buf[n] = 0;
            buf[..n + 1].to_vec()
        };
        assert_eq!(
            Frame::decode_deferred(&enter_with_tail).unwrap_err(),
            Frame::decode(&enter_with_tail).unwrap_err()
        );
    }
}
