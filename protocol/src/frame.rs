//! One frame = COBS(varint timestamp delta ++ message) followed by `0x00`.
//!
//! The timestamp delta is a zigzag varint of target ticks since the previous frame the target
//! *wrote* (not encoded): a sender encodes the message outside its critical section and seals
//! the frame inside it, where it knows which frame went into the ring last. So the host's sum
//! of deltas is exact even when frames were dropped or an interrupt wrote a frame in between.
//! A `Hello` frame's delta is the absolute time since boot: the host restarts its sum there.

use core::mem::MaybeUninit;

use crate::error::{DecodeError, EncodeError};
use crate::message::Message;
use crate::value::ValuesWriter;
use crate::wire::{self, Out};

/// Largest encoding of the timestamp delta (a 64-bit varint).
const MAX_DT_LEN: usize = 10;

/// Largest handler prefix: the tag and a `u16` varint.
const MAX_HANDLER_LEN: usize = 4;

/// Where the body starts in a builder's buffer of `buf_len` bytes: room for the timestamp
/// and for COBS to encode in place.
const fn body_offset(buf_len: usize) -> usize {
    MAX_DT_LEN + MAX_HANDLER_LEN + 3 + buf_len / 254
}

/// A decoded frame, borrowing from the frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame<'a> {
    /// Ticks since the previous frame the target wrote (for a `Hello`: since boot).
    pub dt: i64,
    /// The exception the target was handling when it wrote the frame (the Cortex-M IPSR:
    /// 15 for SysTick, 16 + n for device interrupt n); 0 in thread mode. On the wire only
    /// when not 0: the handler prefix (tag 12, the number as a varint) before the message.
    pub exception: u16,
    /// The message.
    pub message: Message<'a>,
}

/// The exception prefix of a frame written in a handler (the `HANDLER` tag, then the
/// exception number), and the bytes after it; 0 and the same bytes for a thread-mode frame.
pub(crate) fn take_exception(rest: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    match rest {
        [tag, rest @ ..] if u32::from(*tag) == crate::message::tag::HANDLER => {
            let (exception, rest): (u16, _) =
                postcard::take_from_bytes(rest).map_err(DecodeError::from_postcard)?;
            if exception == 0 {
                return Err(DecodeError::BadTag {
                    what: "exception number (0 is thread mode, never sent)",
                    tag: 0,
                });
            }
            Ok((exception, rest))
        }
        _ => Ok((0, rest)),
    }
}

impl<'a> Frame<'a> {
    /// Decodes a frame from the bytes between two delimiters, after COBS decoding (as the
    /// [`FrameSplitter`](crate::FrameSplitter) yields them).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (dt, rest) = postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)?;
        let (exception, rest) = take_exception(rest)?;
        Ok(Self {
            dt,
            exception,
            message: Message::decode(rest)?,
        })
    }

    /// Encodes the frame, COBS and delimiter included, into `buf`; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let base = buf.as_ptr() as usize;
        let mut builder = FrameBuilder::new(buf);
        builder.push_message(&self.message)?;
        let frame = builder.seal_in(self.dt, self.exception)?;
        // The sealed frame may start a few bytes into the buffer: move it to the front.
        let (at, len) = (frame.as_ptr() as usize - base, frame.len());
        buf.copy_within(at..at + len, 0);
        Ok(len)
    }
}

/// Builds one frame in a caller's buffer: the message body first (outside any critical
/// section), then [`seal`](Self::seal) adds the timestamp delta and COBS-encodes in place.
///
/// The buffer need not be initialised ([`new_uninit`](Self::new_uninit)): a sender puts it
/// on the stack of every span and event operation and never zeroes it.
#[derive(Debug)]
pub struct FrameBuilder<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    start: usize,
    /// Invariant: `buf[start..start + len]` has been written.
    len: usize,
}

impl<'b> FrameBuilder<'b> {
    /// A builder over `buf`. The largest message it can hold is a little smaller than `buf`
    /// (`buf.len() - 17 - buf.len() / 254` bytes).
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self::new_uninit(wire::as_uninit(buf))
    }

    /// A builder over `buf`, which need not be initialised.
    #[inline]
    pub fn new_uninit(buf: &'b mut [MaybeUninit<u8>]) -> Self {
        let start = body_offset(buf.len()).min(buf.len());
        Self { buf, start, len: 0 }
    }

    /// The unwritten rest of the buffer.
    #[inline(always)]
    fn rest(&mut self) -> &mut [MaybeUninit<u8>] {
        self.buf
            .get_mut(self.start + self.len..)
            .unwrap_or_default()
    }

    /// Appends an encoded message to the body.
    #[inline(always)]
    pub fn push_message(&mut self, message: &Message<'_>) -> Result<(), EncodeError> {
        let mut out = Out::new(self.rest());
        message.write(&mut out)?;
        self.len += out.len();
        Ok(())
    }

    /// [`push_message`](Self::push_message) through one out-of-line encoder of every message
    /// kind: for messages written rarely, whose kind the caller does not fix (a sender's
    /// `Hello`, `Dropped`, `CallSite`, `LiveSpan`), so that their code is not inlined.
    #[inline]
    pub fn push_message_cold(&mut self, message: &Message<'_>) -> Result<(), EncodeError> {
        let mut out = Out::new(self.rest());
        message.write_cold(&mut out)?;
        self.len += out.len();
        Ok(())
    }

    /// Appends a [`Resync`](crate::Resync) message made from the ids `live` and `entered`
    /// yield (a sender writes it from its tables, without a list of its own).
    pub fn push_resync(
        &mut self,
        live: impl Iterator<Item = crate::SpanId> + Clone,
        entered: impl Iterator<Item = crate::SpanId> + Clone,
    ) -> Result<(), EncodeError> {
        fn list(
            out: &mut Out<'_>,
            mut ids: impl Iterator<Item = crate::SpanId> + Clone,
        ) -> Result<(), EncodeError> {
            // Written after a loss only: the varints out of line.
            out.varint_cold(wire::len32(ids.clone().count())?)?;
            ids.try_for_each(|id| out.varint_cold(id.0))
        }
        let mut out = Out::new(self.rest());
        out.byte(crate::message::tag::RESYNC as u8)?;
        list(&mut out, live)?;
        list(&mut out, entered)?;
        self.len += out.len();
        Ok(())
    }

    /// Appends values to the body (after a message encoded with `Values::EMPTY`).
    #[inline]
    pub fn push_values<R>(&mut self, f: impl FnOnce(&mut ValuesWriter<'_>) -> R) -> R {
        let mut writer = ValuesWriter::new_uninit(self.rest());
        let r = f(&mut writer);
        self.len += writer.len();
        r
    }

    /// The body so far (the message without timestamp or framing).
    pub fn body(&self) -> &[u8] {
        let body = self
            .buf
            .get(self.start..self.start + self.len)
            .unwrap_or_default();
        // SAFETY: the body has been written (the invariant).
        unsafe { wire::assume_init(body) }
    }

    /// Prefixes the timestamp delta, COBS-encodes in place and appends the delimiter.
    /// Returns the finished frame, ready to copy into the ring (somewhere in the buffer, not
    /// necessarily at its start). Cost: one pass over the frame
    /// (a frame under 254 bytes without a zero byte, as most are, is only scanned: its COBS
    /// code byte goes in front of it and nothing moves).
    #[inline]
    pub fn seal(self, dt: i64) -> Result<&'b [u8], EncodeError> {
        self.seal_in(dt, 0)
    }

    /// [`seal`](Self::seal) for a frame written while the target handled exception
    /// `exception` (its IPSR; 0: thread mode, and the frame is the same as `seal`'s).
    #[inline]
    pub fn seal_in(mut self, dt: i64, exception: u16) -> Result<&'b [u8], EncodeError> {
        if exception != 0 {
            let number_len = varint32_len(u32::from(exception));
            let at = self
                .start
                .checked_sub(1 + number_len)
                .ok_or(EncodeError::BufferFull)?;
            let Some((tag, number)) = self
                .buf
                .get_mut(at..self.start)
                .and_then(<[_]>::split_first_mut)
            else {
                return Err(EncodeError::BufferFull);
            };
            tag.write(crate::message::tag::HANDLER as u8);
            write_varint32(number, u32::from(exception));
            self.len += self.start - at;
            self.start = at;
        }
        // postcard's encoding of an `i64`, written straight in front of the body.
        let zigzag = ((dt << 1) ^ (dt >> 63)) as u64;
        let src = match u32::try_from(zigzag) {
            Ok(small) => {
                let dt_len = varint32_len(small);
                let src = self.start.checked_sub(dt_len);
                let dt_bytes = src.and_then(|src| self.buf.get_mut(src..self.start));
                let Some(dt_bytes) = dt_bytes else {
                    return Err(EncodeError::BufferFull);
                };
                write_varint32(dt_bytes, small);
                self.start - dt_len
            }
            Err(_) => {
                let dt_len = varint_len(zigzag);
                let src = self.start.checked_sub(dt_len);
                let dt_bytes = src.and_then(|src| self.buf.get_mut(src..self.start));
                let Some(dt_bytes) = dt_bytes else {
                    return Err(EncodeError::BufferFull);
                };
                write_varint(dt_bytes, zigzag);
                self.start - dt_len
            }
        };
        let len = self.start + self.len - src;
        if has_no_zeros(self.buf, src, len) {
            let frame = self
                .buf
                .get_mut(src - 1..src + len + 1)
                .ok_or(EncodeError::BufferFull)?;
            if let Some(code) = frame.first_mut() {
                code.write(len as u8 + 1);
            }
            if let Some(delimiter) = frame.last_mut() {
                delimiter.write(0);
            }
            // SAFETY: the varint and the body are written, and now the code byte in front of
            // them and the delimiter after them.
            return Ok(unsafe { wire::assume_init(frame) });
        }
        // SAFETY: the varint went to `buf[src..start]`, the body is written (the invariant).
        let n = unsafe { cobs_in_place(self.buf, src, len) }?;
        let (frame, _) = self
            .buf
            .split_at_mut_checked(n + 1)
            .ok_or(EncodeError::BufferFull)?;
        if let Some(last) = frame.last_mut() {
            last.write(0);
        }
        // SAFETY: COBS wrote `buf[..n]` and the delimiter went to `buf[n]`.
        Ok(unsafe { wire::assume_init(frame) })
    }
}

/// The common case of COBS: `buf[src..src + len]` (written) is under 254 bytes, has no zero
/// byte and room for a code byte in front and a delimiter after it. Its encoding is then the
/// code byte `len + 1` in front of it and the delimiter after it: nothing moves.
#[inline(always)]
fn has_no_zeros(buf: &[MaybeUninit<u8>], src: usize, len: usize) -> bool {
    if len >= 254 || src == 0 || src + len >= buf.len() {
        return false;
    }
    let Some(data) = buf.get(src..src + len) else {
        return false;
    };
    // SAFETY: the caller wrote `buf[src..src + len]`.
    let data = unsafe { wire::assume_init(data) };
    // Four bytes at a time: a word has a zero byte iff `(w - 0x01..) & !w & 0x80..` is not 0.
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let w = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        if w.wrapping_sub(0x0101_0101) & !w & 0x8080_8080 != 0 {
            return false;
        }
    }
    !words.remainder().contains(&0)
}

/// Bytes of `value` as a LEB128 varint: 1 to 5.
#[inline(always)]
fn varint32_len(value: u32) -> usize {
    match value {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// Writes `value` as a LEB128 varint filling `out`, which is [`varint32_len`] bytes long.
#[inline(always)]
fn write_varint32(out: &mut [MaybeUninit<u8>], mut value: u32) {
    if let Some((last, head)) = out.split_last_mut() {
        for byte in head {
            byte.write(value as u8 | 0x80);
            value >>= 7;
        }
        last.write(value as u8);
    }
}

/// Bytes of `value` as a LEB128 varint (postcard's integer encoding): 1 to 10.
#[inline(always)]
fn varint_len(value: u64) -> usize {
    (64 - value.leading_zeros() as usize).div_ceil(7).max(1)
}

/// Writes `value` as a LEB128 varint filling `out`, which is [`varint_len`] bytes long.
#[inline(never)]
fn write_varint(out: &mut [MaybeUninit<u8>], mut value: u64) {
    let last = out.len().wrapping_sub(1);
    for (i, byte) in out.iter_mut().enumerate() {
        byte.write((value as u8 & 0x7f) | if i < last { 0x80 } else { 0 });
        value >>= 7;
    }
}

/// COBS-encodes `buf[src..src + len]` into `buf[..]`, returning the encoded length (the
/// same bytes as the `cobs` crate's encoder: a block of 254 non-zero bytes that ends the data
/// gets no code byte after it). On success, `buf[..n]` has been written.
///
/// # Safety
///
/// `buf[src..src + len]` must have been written.
///
/// Sound because `src` is at least `2 + len / 254` bytes in: the write position never
/// overtakes the byte being read (each 254-byte block adds one code byte, plus the first),
/// and a block's code byte is written only once the bytes before it have been read.
#[inline(never)]
unsafe fn cobs_in_place(
    buf: &mut [MaybeUninit<u8>],
    src: usize,
    len: usize,
) -> Result<usize, EncodeError> {
    let end = src + len;
    if end > buf.len() || src < 2 + len / 254 {
        return Err(EncodeError::BufferFull);
    }
    // `at`: where the current block's code byte goes; `w`: the next byte written. The checks
    // above keep `at < w <= i < end <= buf.len()` (`w` gains at most one on `i` per 254
    // bytes, and starts `src - 1 >= 1 + len / 254` below it), so every index is in bounds.
    let (mut at, mut w, mut code) = (0, 1, 1u8);
    for i in src..end {
        debug_assert!(at < w && w <= i);
        // SAFETY: `i < end <= buf.len()`; `buf[src..end]` was written by the caller, and
        // COBS writes only below `i`.
        let byte = unsafe { buf.get_unchecked(i).assume_init() };
        if byte == 0 {
            // SAFETY: `at < i` (above).
            unsafe { buf.get_unchecked_mut(at) }.write(code);
            (at, w, code) = (w, w + 1, 1);
            continue;
        }
        // SAFETY: `w <= i` (above).
        unsafe { buf.get_unchecked_mut(w) }.write(byte);
        w += 1;
        code += 1;
        if code == 0xff {
            // SAFETY: `at < w <= i`.
            unsafe { buf.get_unchecked_mut(at) }.write(code);
            if i + 1 == end {
                return Ok(w);
            }
            (at, w, code) = (w, w + 1, 1);
        }
    }
    // SAFETY: `at < w <= end <= buf.len()`.
    unsafe { buf.get_unchecked_mut(at) }.write(code);
    Ok(w)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    /// `cobs_in_place` at the smallest offset it allows, against the `cobs` crate.
    fn encode(data: &[u8]) -> Vec<u8> {
        let src = 2 + data.len() / 254;
        let mut buf = std::vec![0xaa; src + data.len()];
        buf[src..].copy_from_slice(data);
        // SAFETY: `buf` is initialised.
        let n = unsafe { cobs_in_place(wire::as_uninit(&mut buf), src, data.len()) }.unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn cobs_at_block_boundaries() {
        for len in [0usize, 1, 2, 253, 254, 255, 507, 508, 509, 600] {
            for zero_at in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                let mut data: Vec<u8> = (0..len).map(|i| (i % 255) as u8 + 1).collect();
                if let Some(at) = zero_at.filter(|&at| at < len) {
                    data[at] = 0;
                }
                assert_eq!(encode(&data), cobs::encode_vec(&data), "{len} {zero_at:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn cobs_matches_the_cobs_crate(
            data in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..800)
        ) {
            prop_assert_eq!(encode(&data), cobs::encode_vec(&data));
        }

        #[test]
        fn varint32_len_is_the_encoded_length(value in any::<u32>()) {
            let mut expected = [0u8; 5];
            let expected = postcard::to_slice(&value, &mut expected).unwrap();
            prop_assert_eq!(varint32_len(value), expected.len());
        }

        #[test]
        fn time_deltas_match_postcard(dt in any::<i64>()) {
            let mut expected = [0u8; MAX_DT_LEN];
            let expected = postcard::to_slice(&dt, &mut expected).unwrap();
            let zigzag = ((dt << 1) ^ (dt >> 63)) as u64;
            let mut ours = [0u8; MAX_DT_LEN];
            let ours = &mut ours[..varint_len(zigzag)];
            write_varint(wire::as_uninit(ours), zigzag);
            prop_assert_eq!(&*ours, &*expected);
        }
    }
}
