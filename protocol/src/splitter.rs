//! The host's streaming frame splitter: arbitrary chunks in, whole decoded frames out.

use crate::error::FrameError;

/// What one call of [`FrameSplitter::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'s, 'i> {
    /// All of the input was taken; no frame ended in it.
    Consumed,
    /// A frame ended: its COBS-decoded bytes, and the input after its delimiter.
    Frame {
        /// The frame's bytes, ready for [`Frame::decode`](crate::Frame::decode).
        frame: &'s [u8],
        /// Input not yet fed.
        rest: &'i [u8],
    },
    /// Bytes up to a delimiter could not be a frame; they were skipped.
    Error {
        /// Why they were skipped.
        error: FrameError,
        /// Input not yet fed.
        rest: &'i [u8],
    },
}

/// Splits a byte stream at `0x00` delimiters and COBS-decodes each frame, in a fixed buffer of
/// `N` bytes (no allocation). A host that attaches mid-stream, or loses bytes, gets an error
/// for the damaged frame and resynchronises at the next delimiter. Empty frames (two
/// delimiters in a row, as zeroed memory gives) are skipped silently.
///
/// ```
/// use rtt_tunnel_protocol::{Feed, FrameSplitter};
/// let mut splitter = FrameSplitter::<64>::new();
/// let mut input: &[u8] = &[0x03, 0x01, 0x02, 0x00, 0x02, 0x07, 0x00];
/// let mut frames = 0;
/// loop {
///     match splitter.feed(input) {
///         Feed::Consumed => break,
///         Feed::Frame { frame, rest } => { frames += 1; assert!(!frame.is_empty()); input = rest; }
///         Feed::Error { rest, .. } => input = rest,
///     }
/// }
/// assert_eq!(frames, 2);
/// ```
#[derive(Debug, Clone)]
pub struct FrameSplitter<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes of an oversized frame skipped so far (0: not skipping).
    skipping: usize,
}

impl<const N: usize> Default for FrameSplitter<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameSplitter<N> {
    /// An empty splitter.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            skipping: 0,
        }
    }

    /// Forgets a partial frame (after the target reset, say).
    pub fn reset(&mut self) {
        self.len = 0;
        self.skipping = 0;
    }

    /// Bytes of an unfinished frame held.
    pub fn pending(&self) -> usize {
        self.len + self.skipping
    }

    /// Takes input up to the end of the next frame. Call again with `rest` until it returns
    /// [`Feed::Consumed`]. Work is linear in the input.
    pub fn feed<'s, 'i>(&'s mut self, mut input: &'i [u8]) -> Feed<'s, 'i> {
        loop {
            let Some(end) = input.iter().position(|&b| b == 0) else {
                self.take(input);
                return Feed::Consumed;
            };
            self.take(&input[..end]);
            let rest = &input[end + 1..];
            let (len, skipped) = (self.len, self.skipping);
            self.reset();
            if skipped > 0 {
                return Feed::Error {
                    error: FrameError::Oversized { len: skipped },
                    rest,
                };
            }
            if len == 0 {
                input = rest;
                continue;
            }
            return match cobs::decode_in_place(&mut self.buf[..len]) {
                Ok(n) => Feed::Frame {
                    frame: &self.buf[..n],
                    rest,
                },
                Err(_) => Feed::Error {
                    error: FrameError::Cobs { len },
                    rest,
                },
            };
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.skipping > 0 {
            self.skipping += bytes.len();
        } else if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            self.skipping = self.len + bytes.len();
            self.len = 0;
        }
    }
}
