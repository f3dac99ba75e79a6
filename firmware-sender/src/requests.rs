//! Host requests served without [`Tunnel::poll`]: every [`Tunnel::REQUEST_CHECK`] new spans,
//! events and span clones, the sender looks at the down channel (two offsets on RTT) and, when
//! the host wrote something, polls. Enter and exit do not count: they come in pairs with the
//! span or event operations around them, and their budget is the tightest.
//!
//! The count sits outside the state's critical section, a word counted down: a load, a
//! subtraction, a branch and a store (4 instructions on a Cortex-M3); the check every
//! [`Tunnel::REQUEST_CHECK`] operations (a critical section, two offsets; about 35
//! instructions) adds about 1 per operation, amortised. `cargo xtask bench` on the M3, one
//! `u32` event: 599 without the check (before it was added), 607 with the first one (a byte
//! counted up every operation, a check every 16), 599 with this one and a parent kept across
//! the critical section as one value (`subscriber.rs`, `ParentOf`), 597 after this pass's
//! other trims; enter, exit and close 282, 292, 292 (no count). The check itself runs at the
//! start of an operation, in thread mode only: there nothing else of the sender's is half
//! done, and a level change may rebuild tracing's interest cache. An interrupt that reaches
//! the count leaves the check to the next operation in thread mode.

use core::sync::atomic::Ordering;

use rtt_tunnel_protocol::Request;

use crate::{Clock, Link, Tunnel};

/// Longest request frame the down channel accepts, COBS code byte included, delimiter not
/// (requests are 2 or 3 bytes: see [`Request::decode`]). Longer frames (requests of a later
/// version) are skipped whole.
const REQUEST_FRAME: usize = 8;

/// The down channel's bytes, cut into frames at each `0x00` and COBS-decoded: the protocol's
/// `FrameSplitter` for frames of a few bytes, a byte at a time, with no copy of a slice.
#[derive(Debug)]
pub(crate) struct RequestReader {
    buf: [u8; REQUEST_FRAME],
    /// Bytes of the current frame so far (saturating: beyond `REQUEST_FRAME`, it is skipped).
    len: u8,
}

impl RequestReader {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; REQUEST_FRAME],
            len: 0,
        }
    }

    /// Takes the next byte of the down channel; the request whose frame it ends, if the frame
    /// decodes to one this build knows (anything else is ignored).
    pub(crate) fn push(&mut self, byte: u8) -> Option<Request> {
        let len = usize::from(self.len);
        if byte != 0 {
            if let Some(slot) = self.buf.get_mut(len) {
                *slot = byte;
            }
            self.len = self.len.saturating_add(1);
            return None;
        }
        self.len = 0;
        // `None` for a frame that was too long.
        let frame = self.buf.get_mut(..len)?;
        let n = cobs_decode(frame)?;
        Request::decode(frame.get(..n)?).ok()
    }
}

/// Decodes the COBS frame `frame` (without its delimiter) in place; its length, or `None` if
/// it is not COBS.
fn cobs_decode(frame: &mut [u8]) -> Option<usize> {
    let (mut read, mut write) = (0, 0);
    while let Some(&code) = frame.get(read) {
        // A code byte: `code - 1` bytes follow, then a zero unless the block is full (0xff)
        // or the frame ends.
        let data = usize::from(code).checked_sub(1)?;
        read += 1;
        for _ in 0..data {
            let byte = *frame.get(read)?;
            *frame.get_mut(write)? = byte;
            read += 1;
            write += 1;
        }
        if code != 0xff && read < frame.len() {
            *frame.get_mut(write)? = 0;
            write += 1;
        }
    }
    Some(write)
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    /// The sender looks at the down channel once per this many new spans, events and span
    /// clones in thread mode, and serves the host's requests it finds there as
    /// [`poll`](Self::poll) does.
    pub const REQUEST_CHECK: u8 = 32;

    /// Counts one operation; every [`REQUEST_CHECK`](Self::REQUEST_CHECK)-th looks at the
    /// down channel. Call at the start of an operation, outside any critical section.
    #[inline(always)]
    pub(crate) fn count_operation(&self) {
        // Counts down below zero, then the check starts it again: a load, a subtraction that
        // sets the flags, a branch on its sign and a store. Not an atomic read-modify-write
        // (a loop on Cortex-M3): an interrupt between the load and the store costs a count,
        // nothing else.
        let left = self.since_check.load(Ordering::Relaxed).wrapping_sub(1);
        if (left as i32) < 0 {
            self.check_requests();
        } else {
            self.since_check.store(left, Ordering::Relaxed);
        }
    }

    /// Polls when the host wrote on the down channel (thread mode only).
    #[cold]
    #[inline(never)]
    fn check_requests(&self) {
        if crate::context::exception() != 0 {
            return; // leave it to thread mode
        }
        self.since_check
            .store(u32::from(Self::REQUEST_CHECK) - 1, Ordering::Relaxed);
        if self.with_link(|link| link.down_pending()) == Some(true) {
            self.poll();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtt_tunnel_protocol::LevelFilter;

    fn feed(reader: &mut RequestReader, bytes: &[u8]) -> std::vec::Vec<Request> {
        bytes.iter().filter_map(|&b| reader.push(b)).collect()
    }

    #[test]
    fn reads_the_requests_the_host_encodes_and_skips_the_rest() {
        let mut reader = RequestReader::new();
        let mut wire = std::vec::Vec::new();
        let requests = [
            Request::ResendAll,
            Request::SetLevel(LevelFilter::Off),
            Request::SetLevel(LevelFilter::Trace),
            Request::SetLevel(LevelFilter::Info),
        ];
        for request in requests {
            let mut buf = [0; 16];
            let n = request.encode_frame(&mut buf).unwrap();
            wire.extend_from_slice(&buf[..n]);
        }
        assert_eq!(feed(&mut reader, &wire), requests);
        // Garbage, a frame too long, an unknown request, an empty frame, a bad code byte:
        // nothing, and the next request still reads.
        let noise = [
            &[0x09, 0x01, 0x00][..],
            &[0x05; 20],
            &[0x00],
            &[0x02, 0x07, 0x00],
            &[0x00],
            &[0x04, 0x01, 0x00],
            &[0x01, 0x01, 0x00],
        ]
        .concat();
        assert_eq!(feed(&mut reader, &noise), [Request::ResendAll]);
    }

    #[test]
    fn cobs_decodes_in_place() {
        let mut frame = [0x01, 0x03, 0x01, 0x02, 0x01];
        let n = cobs_decode(&mut frame);
        assert_eq!(n, Some(4));
        assert_eq!(frame[..4], [0x00, 0x01, 0x02, 0x00]);
        assert_eq!(cobs_decode(&mut [0x03, 0x01]), None, "a block past the end");
        assert_eq!(cobs_decode(&mut [0x00]), None, "a zero code byte");
    }
}
