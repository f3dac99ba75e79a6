//! One frame = COBS(varint timestamp delta ++ message) followed by `0x00`.
//!
//! The timestamp delta is a zigzag varint of target ticks since the previous frame the target
//! *wrote* (not encoded): a sender encodes the message outside its critical section and seals
//! the frame inside it, where it knows which frame went into the ring last. So the host's sum
//! of deltas is exact even when frames were dropped or an interrupt wrote a frame in between.
//! A `Hello` frame's delta is the absolute time since boot: the host restarts its sum there.

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
        // postcard's encoding of an `i64`, written straight in front of the body.
        let zigzag = ((dt << 1) ^ (dt >> 63)) as u64;
        let dt_len = varint_len(zigzag);
        let src = self
            .start
            .checked_sub(dt_len)
            .ok_or(EncodeError::BufferFull)?;
        write_varint(&mut self.buf[src..self.start], zigzag);
        let n = cobs_in_place(self.buf, src, dt_len + self.len)?;
        *self.buf.get_mut(n).ok_or(EncodeError::BufferFull)? = 0;
        Ok(&self.buf[..=n])
    }
}

/// Bytes of `value` as a LEB128 varint (postcard's integer encoding): 1 to 10.
fn varint_len(value: u64) -> usize {
    (64 - value.leading_zeros() as usize).div_ceil(7).max(1)
}

/// Writes `value` as a LEB128 varint filling `out`, which is [`varint_len`] bytes long.
fn write_varint(out: &mut [u8], mut value: u64) {
    let last = out.len() - 1;
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (value as u8 & 0x7f) | if i < last { 0x80 } else { 0 };
        value >>= 7;
    }
}

/// COBS-encodes `buf[src..src + len]` into `buf[..]`, returning the encoded length (the
/// same bytes as the `cobs` crate's encoder: a block of 254 non-zero bytes that ends the data
/// gets no code byte after it).
///
/// Sound because `src` is at least `2 + len / 254` bytes in: the write position never
/// overtakes the byte being read (each 254-byte block adds one code byte, plus the first),
/// and a block's code byte is written only once the bytes before it have been read.
fn cobs_in_place(buf: &mut [u8], src: usize, len: usize) -> Result<usize, EncodeError> {
    debug_assert!(src >= 2 + len / 254);
    let end = src + len;
    if end > buf.len() || src == 0 {
        return Err(EncodeError::BufferFull);
    }
    // `at`: where the current block's code byte goes; `w`: the next byte written.
    let (mut at, mut w, mut code) = (0, 1, 1u8);
    for i in src..end {
        let byte = buf[i];
        if byte == 0 {
            buf[at] = code;
            (at, w, code) = (w, w + 1, 1);
            continue;
        }
        buf[w] = byte;
        w += 1;
        code += 1;
        if code == 0xff {
            buf[at] = code;
            if i + 1 == end {
                return Ok(w);
            }
            (at, w, code) = (w, w + 1, 1);
        }
    }
    buf[at] = code;
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
        let n = cobs_in_place(&mut buf, src, data.len()).unwrap();
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
        fn time_deltas_match_postcard(dt in any::<i64>()) {
            let mut expected = [0u8; MAX_DT_LEN];
            let expected = postcard::to_slice(&dt, &mut expected).unwrap();
            let zigzag = ((dt << 1) ^ (dt >> 63)) as u64;
            let mut ours = [0u8; MAX_DT_LEN];
            let ours = &mut ours[..varint_len(zigzag)];
            write_varint(ours, zigzag);
            prop_assert_eq!(&*ours, &*expected);
        }
    }
}
