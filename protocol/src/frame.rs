//! One frame = COBS(varint timestamp delta ++ message) followed by `0x00`.
//!
//! The timestamp delta is a zigzag varint of target ticks since the previous frame the target
//! *wrote* (not encoded): a sender encodes the message outside its critical section and seals
//! the frame inside it, where it knows which frame went into the ring last. So the host's sum
//! of deltas is exact even when frames were dropped or an interrupt wrote a frame in between.
//! A `Hello` frame's delta is the absolute time since boot: the host restarts its sum there.

use cobs::{EncoderState, PushResult};

use crate::error::{DecodeError, EncodeError};
use crate::message::Message;
use crate::value::ValuesWriter;

/// Largest encoding of the timestamp delta (a 64-bit varint).
const MAX_DT_LEN: usize = 10;

/// Where the body starts in a builder's buffer of `buf_len` bytes: room for the timestamp
/// and for COBS to encode in place.
const fn body_offset(buf_len: usize) -> usize {
    MAX_DT_LEN + 3 + buf_len / 254
}

/// A decoded frame, borrowing from the frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame<'a> {
    /// Ticks since the previous frame the target wrote (for a `Hello`: since boot).
    pub dt: i64,
    /// The message.
    pub message: Message<'a>,
}

impl<'a> Frame<'a> {
    /// Decodes a frame from the bytes between two delimiters, after COBS decoding (as the
    /// [`FrameSplitter`](crate::FrameSplitter) yields them).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (dt, rest) = postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)?;
        Ok(Self {
            dt,
            message: Message::decode(rest)?,
        })
    }

    /// Encodes the frame, COBS and delimiter included, into `buf`; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut builder = FrameBuilder::new(buf);
        builder.push_message(&self.message)?;
        builder.seal(self.dt).map(<[u8]>::len)
    }
}

/// Builds one frame in a caller's buffer: the message body first (outside any critical
/// section), then [`seal`](Self::seal) adds the timestamp delta and COBS-encodes in place.
#[derive(Debug)]
pub struct FrameBuilder<'b> {
    buf: &'b mut [u8],
    start: usize,
    len: usize,
}

impl<'b> FrameBuilder<'b> {
    /// A builder over `buf`. The largest message it can hold is a little smaller than `buf`
    /// (`buf.len() - 13 - buf.len() / 254` bytes).
    pub fn new(buf: &'b mut [u8]) -> Self {
        let start = body_offset(buf.len()).min(buf.len());
        Self { buf, start, len: 0 }
    }

    /// Appends an encoded message to the body.
    pub fn push_message(&mut self, message: &Message<'_>) -> Result<(), EncodeError> {
        let n = message.encode(&mut self.buf[self.start + self.len..])?;
        self.len += n;
        Ok(())
    }

    /// Appends values to the body (after a message encoded with `Values::EMPTY`).
    pub fn push_values<R>(&mut self, f: impl FnOnce(&mut ValuesWriter<'_>) -> R) -> R {
        let mut writer = ValuesWriter::new(&mut self.buf[self.start + self.len..]);
        let r = f(&mut writer);
        self.len += writer.len();
        r
    }

    /// The body so far (the message without timestamp or framing).
    pub fn body(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// Prefixes the timestamp delta, COBS-encodes in place and appends the delimiter.
    /// Returns the finished frame, ready to copy into the ring. Cost: one pass over the frame.
    pub fn seal(self, dt: i64) -> Result<&'b [u8], EncodeError> {
        let mut dt_bytes = [0u8; MAX_DT_LEN];
        let dt_len = postcard::to_slice(&dt, &mut dt_bytes)
            .map_err(|_| EncodeError::BufferFull)?
            .len();
        let src = self.start - dt_len;
        self.buf[src..self.start].copy_from_slice(&dt_bytes[..dt_len]);
        let n = cobs_in_place(self.buf, src, dt_len + self.len)?;
        *self.buf.get_mut(n).ok_or(EncodeError::BufferFull)? = 0;
        Ok(&self.buf[..=n])
    }
}

/// COBS-encodes `buf[src..src + len]` into `buf[..]`, returning the encoded length.
///
/// Sound because `src` is at least `2 + len / 254` bytes in: the write position never
/// overtakes the byte being read (each 254-byte block adds one code byte, plus the first).
fn cobs_in_place(buf: &mut [u8], src: usize, len: usize) -> Result<usize, EncodeError> {
    debug_assert!(src >= 2 + len / 254);
    let mut state = EncoderState::default();
    let mut w = 1;
    let mut ended_full_block = false;
    for i in src..src + len {
        let byte = buf[i];
        ended_full_block = false;
        match state.push(byte) {
            PushResult::AddSingle(b) => {
                buf[w] = b;
                w += 1;
            }
            PushResult::ModifyFromStartAndSkip((idx, code)) => {
                buf[idx] = code;
                w += 1;
            }
            PushResult::ModifyFromStartAndPushAndSkip((idx, code, b)) => {
                buf[idx] = code;
                buf[w] = b;
                w += 2;
                ended_full_block = true;
            }
        }
    }
    if ended_full_block {
        // The last block was a full 254 bytes: no code byte follows it.
        w -= 1;
    } else {
        let (idx, code) = state.finalize();
        *buf.get_mut(idx).ok_or(EncodeError::BufferFull)? = code;
    }
    Ok(w)
}
