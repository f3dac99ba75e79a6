//! The host's frame splitter: a byte stream cut at `0x00` delimiters (found with `memchr`),
//! each frame COBS-decoded where it lies.

use rtt_tunnel_protocol::FrameError;

/// Splits chunks of a byte stream into COBS-decoded frames.
///
/// A frame that lies whole in a chunk is decoded in the chunk itself: no copy. Only the start
/// of a frame that a chunk cuts off is kept (in a buffer of at most `max` bytes) until the
/// chunk that ends it. A longer run of bytes between two delimiters is skipped and reported
/// as [`FrameError::Oversized`]; bytes that are not valid COBS as [`FrameError::Cobs`]. Empty
/// frames (two delimiters in a row, as zeroed memory gives) are skipped silently.
///
/// ```
/// use rtt_tunnel_host::pipeline::Splitter;
///
/// let mut splitter = Splitter::new(256);
/// let mut frames = Vec::new();
/// // Two frames, the second cut across two chunks: COBS of [1, 2], then of [0].
/// splitter.split(&mut [3, 1, 2, 0, 1], |frame| frames.push(frame.map(<[u8]>::to_vec)));
/// splitter.split(&mut [1, 0], |frame| frames.push(frame.map(<[u8]>::to_vec)));
/// assert_eq!(frames, [Ok(vec![1, 2]), Ok(vec![0])]);
/// ```
#[derive(Debug)]
pub struct Splitter {
    /// The start of a frame cut off by the end of the last chunk.
    pending: Vec<u8>,
    /// Bytes of an oversized frame skipped so far (0: not skipping).
    skipping: usize,
    max: usize,
}

impl Splitter {
    /// A splitter for frames of at most `max` encoded bytes.
    pub fn new(max: usize) -> Self {
        Splitter {
            pending: Vec::new(),
            skipping: 0,
            max,
        }
    }

    /// Forgets a partial frame (after the target reset, say).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.skipping = 0;
    }

    /// Bytes of an unfinished frame held or skipped.
    pub fn pending(&self) -> usize {
        self.pending.len() + self.skipping
    }

    /// Calls `each` with every frame that `input` ends, decoded, or with the error that
    /// stood in its place, in order; keeps the start of a frame that `input` does not end.
    /// `input` is left with the frames' bytes decoded in place: it is scratch afterwards.
    pub fn split(&mut self, mut input: &mut [u8], mut each: impl FnMut(Result<&[u8], FrameError>)) {
        while let Some(end) = memchr::memchr(0, input) {
            let (head, tail) = std::mem::take(&mut input).split_at_mut(end);
            input = &mut tail[1..];
            if self.skipping > 0 {
                let len = self.skipping + head.len();
                self.skipping = 0;
                each(Err(FrameError::Oversized { len }));
            } else if !self.pending.is_empty() {
                let mut frame = std::mem::take(&mut self.pending);
                if frame.len() + head.len() > self.max {
                    each(Err(FrameError::Oversized {
                        len: frame.len() + head.len(),
                    }));
                } else {
                    frame.extend_from_slice(head);
                    each(decode_in_place(&mut frame));
                }
                // Keep the allocation for the next cut-off frame.
                frame.clear();
                self.pending = frame;
            } else if head.len() > self.max {
                each(Err(FrameError::Oversized { len: head.len() }));
            } else if !head.is_empty() {
                each(decode_in_place(head));
            }
        }
        self.keep(input);
    }

    /// Keeps `bytes`, the start of a frame, or counts them as skipped when the frame grows
    /// past the limit.
    fn keep(&mut self, bytes: &[u8]) {
        if self.skipping > 0 {
            self.skipping += bytes.len();
        } else if self.pending.len() + bytes.len() > self.max {
            self.skipping = self.pending.len() + bytes.len();
            self.pending.clear();
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }
}

/// COBS-decodes the non-empty `frame` (without its delimiter) where it lies.
fn decode_in_place(frame: &mut [u8]) -> Result<&[u8], FrameError> {
    let len = frame.len();
    match cobs::decode_in_place(frame) {
        Ok(n) => Ok(&frame[..n]),
        Err(_) => Err(FrameError::Cobs { len }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames (or errors) of `chunks` fed in order.
    fn split_all(max: usize, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut splitter = Splitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut chunk = chunk.to_vec();
            splitter.split(&mut chunk, |frame| out.push(frame.map(<[u8]>::to_vec)));
        }
        out
    }

    #[test]
    fn frames_whole_in_a_chunk_and_cut_across_chunks() {
        // COBS of [1, 2] is [3, 1, 2]; of [7] is [2, 7]; of [0] is [1, 1].
        let frames = split_all(64, &[&[3, 1, 2, 0, 2], &[7, 0, 1], &[1, 0]]);
        assert_eq!(frames, vec![Ok(vec![1, 2]), Ok(vec![7]), Ok(vec![0])]);
    }

    #[test]
    fn empty_frames_are_skipped() {
        assert_eq!(split_all(64, &[&[0, 0, 2, 9, 0, 0]]), vec![Ok(vec![9])]);
    }

    #[test]
    fn bad_cobs_is_an_error_and_the_next_frame_decodes() {
        // A code byte that points past the end of the frame.
        let frames = split_all(64, &[&[5, 1, 0, 2, 9, 0]]);
        assert_eq!(frames, vec![Err(FrameError::Cobs { len: 2 }), Ok(vec![9])]);
    }

    #[test]
    fn oversized_frames_are_skipped_whole_or_cut() {
        let long = [1u8; 10];
        let frames = split_all(4, &[&long, &[1, 1, 0, 2, 9, 0]]);
        assert_eq!(
            frames,
            vec![Err(FrameError::Oversized { len: 12 }), Ok(vec![9])]
        );
        let frames = split_all(4, &[&[1, 1, 1, 1, 1, 1, 0, 2, 9, 0]]);
        assert_eq!(
            frames,
            vec![Err(FrameError::Oversized { len: 6 }), Ok(vec![9])]
        );
        // A pending start that the next chunk makes too long.
        let frames = split_all(4, &[&[1, 1, 1], &[1, 1, 0, 2, 9, 0]]);
        assert_eq!(
            frames,
            vec![Err(FrameError::Oversized { len: 5 }), Ok(vec![9])]
        );
    }

    #[test]
    fn reset_forgets_a_cut_frame() {
        let mut splitter = Splitter::new(64);
        splitter.split(&mut [3, 1], |_| panic!("no frame yet"));
        assert_eq!(splitter.pending(), 2);
        splitter.reset();
        assert_eq!(splitter.pending(), 0);
        let mut frames = Vec::new();
        splitter.split(&mut [2, 9, 0], |f| frames.push(f.map(<[u8]>::to_vec)));
        assert_eq!(frames, vec![Ok(vec![9])]);
    }
}
