//! A frame sealed straight into the ring: the COBS code byte, the timestamp delta, the
//! handler prefix and the body, COBS-encoded as they are copied, and the delimiter, in one
//! pass over the body, with no copy of the frame in between.
//!
//! It writes exactly the bytes `FrameBuilder::seal_in` writes (the tests compare the two),
//! for frames whose encoding is under 254 bytes, so one COBS block (every frame of a span
//! or event operation but the longest): the protocol's seal prefixes the delta in the
//! frame buffer, scans it for zero bytes, encodes it in place when it has some, and the link
//! then copies the frame into the ring; here the link lends its free space
//! ([`Link::write_in_place`](crate::Link::write_in_place)) and the frame is written there
//! once. A frame that does not fit in one piece of the ring's free space (at its end) is
//! sealed by the same encoder into a buffer on the stack and copied ([`write_copied`]); only
//! a longer one (from a frame buffer over 256 bytes) goes the protocol's way.

use core::mem::MaybeUninit;

/// Bytes a frame takes beyond its body, at most: the COBS code byte, the delta (a 64-bit
/// varint), the handler prefix (its tag and a `u16` varint) and the delimiter.
pub(crate) const OVERHEAD: usize = 1 + 10 + 4 + 1;

/// Longest body [`encode`] takes: its frame's COBS content (delta, prefix, body) stays under
/// 254 bytes, one block.
pub(crate) const MAX_BODY: usize = 253 - 14;

/// The protocol's tag of the handler prefix (`tag::HANDLER`).
const HANDLER: u8 = 12;

/// Writes the frame of `body` stamped `dt` in exception `exception` (0: thread mode) at the
/// start of `out` and returns its length (at most `body.len() + OVERHEAD`).
///
/// `out` must hold `body.len() + OVERHEAD` bytes and `body` at most [`MAX_BODY`]; otherwise
/// nothing is written and 0 is returned.
#[inline(always)]
pub(crate) fn encode(out: &mut [MaybeUninit<u8>], dt: i64, exception: u16, body: &[u8]) -> usize {
    let n = body.len();
    if n > MAX_BODY || out.len() < n + OVERHEAD {
        return 0;
    }
    // SAFETY: `out` holds `n + OVERHEAD` bytes, and the encoding below writes at most that
    // many: the code byte, at most 10 bytes of delta, 4 of prefix, `n` of body (COBS
    // replaces each zero byte by a code byte, adding none within one block) and the
    // delimiter.
    unsafe { encode_unchecked(out.as_mut_ptr().cast::<u8>(), dt, exception, body) }
}

/// Seals `frame` into a buffer and hands it to [`Link::write_frame`](crate::Link::write_frame):
/// for a frame that does not fit the ring's free space in one piece (it wraps), or a link
/// that does not lend it. A body of one COBS block (every body of a frame buffer of at most
/// 256 bytes, `FRAME`) goes through [`encode`], into a buffer on the stack (out of line, so
/// that the buffer is on the stack only then); a longer one through the protocol's seal, in
/// its own buffer (compiled out for frame buffers of at most 256 bytes).
#[cold]
#[inline(never)]
pub(crate) fn write_copied<L: crate::Link, const FRAME: usize>(
    link: &mut L,
    dt: i64,
    exception: u16,
    frame: rtt_tunnel_protocol::FrameBuilder<'_>,
) -> bool {
    let body = frame.body();
    if FRAME > MAX_BODY + 17 && body.len() > MAX_BODY {
        return frame
            .seal_in(dt, exception)
            .is_ok_and(|bytes| link.write_frame(bytes));
    }
    let mut buf = [MaybeUninit::<u8>::uninit(); MAX_BODY + OVERHEAD];
    let n = encode(&mut buf, dt, exception, body);
    // SAFETY: `encode` wrote the first `n` bytes of `buf`.
    let sealed = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
    n > 0 && link.write_frame(sealed)
}

/// COBS output within one block: the position of the pending code byte and the next byte.
struct Cobs {
    code: *mut u8,
    at: *mut u8,
}

impl Cobs {
    /// Appends `byte`: a zero ends the block (its code byte is set) and starts the next.
    ///
    /// # Safety
    ///
    /// `self.at` must be valid for a write.
    #[inline(always)]
    unsafe fn push(&mut self, byte: u8) {
        // SAFETY: the caller's.
        unsafe {
            if byte == 0 {
                self.end_block();
            } else {
                self.at.write(byte);
                self.at = self.at.add(1);
            }
        }
    }

    /// Sets the pending code byte to the length of its block plus one, and makes the next
    /// byte the next block's code byte.
    ///
    /// # Safety
    ///
    /// `self.at` must be valid for a write, and lie at most 253 bytes after `self.code`.
    #[inline(always)]
    unsafe fn end_block(&mut self) {
        // SAFETY: the caller's.
        unsafe {
            self.code.write(self.at.offset_from(self.code) as u8);
            self.code = self.at;
            self.at = self.at.add(1);
        }
    }
}

/// [`encode`] without its checks.
///
/// # Safety
///
/// `out` must be valid for `body.len() + OVERHEAD` bytes of writes, and `body` at most
/// [`MAX_BODY`] bytes long.
#[inline(always)]
unsafe fn encode_unchecked(out: *mut u8, dt: i64, exception: u16, body: &[u8]) -> usize {
    // SAFETY: every write below is within the `body.len() + OVERHEAD` bytes of `out`
    // (see `encode`), and no block exceeds 253 bytes (`body.len() <= MAX_BODY`).
    unsafe {
        let mut cobs = Cobs {
            code: out,
            at: out.add(1),
        };
        // postcard's encoding of an `i64`: a zigzag varint. Its bytes before the last have
        // their top bit set; the last is 0 only for a delta of 0.
        let zigzag = ((dt << 1) ^ (dt >> 63)) as u64;
        let last = match u32::try_from(zigzag) {
            Ok(mut v) => {
                while v >= 0x80 {
                    cobs.at.write(v as u8 | 0x80);
                    cobs.at = cobs.at.add(1);
                    v >>= 7;
                }
                v as u8
            }
            Err(_) => {
                let (at, last) = wide_varint(cobs.at, zigzag);
                cobs.at = at;
                last
            }
        };
        cobs.push(last);
        if exception != 0 {
            // The handler prefix: its tag and the exception number (not 0), no zero byte.
            cobs.at.write(HANDLER);
            cobs.at = cobs.at.add(1);
            let mut v = exception;
            while v >= 0x80 {
                cobs.at.write(v as u8 | 0x80);
                cobs.at = cobs.at.add(1);
                v >>= 7;
            }
            cobs.at.write(v as u8);
            cobs.at = cobs.at.add(1);
        }
        // The body, a word at a time while its words have no zero byte (`(w - 0x01..) & !w &
        // 0x80..` is 0 only then), a byte at a time otherwise. Unaligned word accesses are
        // single instructions on Armv7-M.
        let (mut from, n) = (body.as_ptr(), body.len());
        let end = from.add(n);
        while end.offset_from(from) >= 4 {
            let w = from.cast::<u32>().read_unaligned();
            if w.wrapping_sub(0x0101_0101) & !w & 0x8080_8080 == 0 {
                cobs.at.cast::<u32>().write_unaligned(w);
                cobs.at = cobs.at.add(4);
            } else {
                for byte in w.to_le_bytes() {
                    cobs.push(byte);
                }
            }
            from = from.add(4);
        }
        while from < end {
            cobs.push(from.read());
            from = from.add(1);
        }
        // The last block's code byte, and the delimiter.
        cobs.end_block();
        cobs.code.write(0);
        cobs.at.offset_from(out) as usize
    }
}

/// Writes the bytes of a delta's varint before its last at `at`, for a zigzag above
/// `u32::MAX`; returns where they end and the last byte. (Pointer in, pointer out: the COBS
/// writer's position stays in a register in the caller.)
///
/// # Safety
///
/// `at` must be valid for 9 bytes of writes.
#[cold]
#[inline(never)]
unsafe fn wide_varint(mut at: *mut u8, mut v: u64) -> (*mut u8, u8) {
    while v >= 0x80 {
        // SAFETY: at most 9 bytes before the last (the caller's).
        unsafe {
            at.write(v as u8 | 0x80);
            at = at.add(1);
        }
        v >>= 7;
    }
    (at, v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtt_tunnel_protocol::{FrameBuilder, Value};
    use std::string::String;
    use std::vec::Vec;

    /// The protocol's body and frame of a string value `text` of field `field`, stamped `dt`
    /// in `exception`.
    fn sealed(field: u8, text: &str, dt: i64, exception: u16) -> (Vec<u8>, Vec<u8>) {
        let mut buf = [MaybeUninit::uninit(); 512];
        let mut frame = FrameBuilder::new_uninit(&mut buf);
        frame
            .push_values(|w| w.push(field, Value::Str(text)))
            .expect("the value fits the buffer");
        let body = frame.body().to_vec();
        (body, frame.seal_in(dt, exception).unwrap().to_vec())
    }

    fn in_place(body: &[u8], dt: i64, exception: u16) -> Vec<u8> {
        let mut out = [MaybeUninit::new(0xee_u8); 300];
        let n = encode(&mut out[..body.len() + OVERHEAD], dt, exception, body);
        assert!(n > 0 && n <= body.len() + OVERHEAD);
        // SAFETY: all of `out` is initialised.
        out[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect()
    }

    #[test]
    fn writes_the_protocols_frame() {
        let deltas = [
            0,
            1,
            -1,
            63,
            64,
            -65,
            8191,
            1 << 20,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            1 << 40,
            -(1 << 40),
            i64::MAX,
            i64::MIN,
        ];
        // Strings with and without zero bytes, of every length up to a few words, and the
        // longest body (the value's field, kind and length take 3 bytes).
        let mut texts: Vec<String> = Vec::new();
        for len in 0..14u8 {
            texts.push((0..len).map(|i| char::from(b'a' + i)).collect());
            texts.push((0..len).map(|i| char::from(i % 3)).collect());
        }
        texts.push(
            (0..MAX_BODY - 4)
                .map(|i| char::from(b'!' + (i % 90) as u8))
                .collect(),
        );
        texts.push(
            (0..MAX_BODY - 4)
                .map(|i| char::from((i % 5) as u8))
                .collect(),
        );
        for (i, text) in texts.iter().enumerate() {
            for &dt in &deltas {
                for exception in [0, 3, 15, 127, 128, 511] {
                    let (body, frame) = sealed(i as u8 % 2, text, dt, exception);
                    assert_eq!(
                        in_place(&body, dt, exception),
                        frame,
                        "body {body:02x?}, dt {dt}, exception {exception}"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_write_in_one_block_or_in_the_room_given() {
        let body = [1u8; MAX_BODY + 1];
        let mut out = [MaybeUninit::new(0u8); 300];
        assert_eq!(encode(&mut out, 5, 0, &body), 0);
        assert_eq!(encode(&mut out[..4 + OVERHEAD - 1], 5, 0, &body[..4]), 0);
        assert!(encode(&mut out[..4 + OVERHEAD], 5, 0, &body[..4]) > 0);
        assert!(encode(&mut out, 5, 0, &body[..MAX_BODY]) > 0);
    }
}
