//! The host's frame splitter: a byte stream cut at `0x00` delimiters (found a word at a time,
//! then with `memchr`), each frame COBS-decoded where it lies.

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
        // A frame the last chunk cut off, or an oversized one being skipped, ends first.
        if self.skipping > 0 || !self.pending.is_empty() {
            let Some(end) = find_delimiter(input) else {
                self.keep(input);
                return;
            };
            let (head, tail) = std::mem::take(&mut input).split_at_mut(end);
            input = &mut tail[1..];
            self.end_held(head, &mut each);
        }
        // Then the frames that lie whole in the chunk.
        while let Some(end) = find_delimiter(input) {
            let (head, tail) = std::mem::take(&mut input).split_at_mut(end);
            input = &mut tail[1..];
            if head.len() > self.max {
                each(Err(FrameError::Oversized { len: head.len() }));
            } else if !head.is_empty() {
                each(decode_in_place(head));
            }
        }
        self.keep(input);
    }

    /// Ends the frame held or skipped with `head`, the bytes before the delimiter (once per
    /// chunk at most: out of the loop).
    #[cold]
    #[inline(never)]
    fn end_held(&mut self, head: &[u8], each: &mut impl FnMut(Result<&[u8], FrameError>)) {
        if self.skipping > 0 {
            let len = self.skipping + head.len();
            self.skipping = 0;
            each(Err(FrameError::Oversized { len }));
            return;
        }
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

/// The index of the first `0x00` in `bytes`. Most frames are a few bytes long: the first 16
/// bytes are looked at a word at a time (a call of `memchr` costs more than that), the rest
/// with `memchr`.
#[inline]
fn find_delimiter(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while at < 16 {
        let Some(word) = bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        else {
            break;
        };
        let word = u64::from_le_bytes(word);
        // The lowest high bit set marks the first zero byte (bits above it may be wrong).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr(0, bytes.get(at..)?).map(|i| at + i)
}

/// COBS-decodes the non-empty `frame` (without its delimiter, so without a `0x00`) where it
/// lies: what `cobs::decode_in_place` does, without its search for a delimiter the splitter
/// already found, nor its copy byte by byte.
///
/// A frame of fewer than 255 bytes cannot hold a full block (code `0xFF`, 254 data bytes
/// and no zero after them), so nothing in it moves: its bytes after the first are the decoded
/// bytes, once each code byte but the first (it lies where its zero belongs) is set to zero.
/// One walk along the chain of code bytes both checks it and puts the zeros back; a frame
/// whose chain does not end where the frame does is an error (its bytes are scratch then, as
/// every frame's are once relayed). Longer frames go to [`decode_long`].
#[inline]
fn decode_in_place(frame: &mut [u8]) -> Result<&[u8], FrameError> {
    let len = frame.len();
    debug_assert!(
        !frame.contains(&0),
        "the splitter cut the frame at its first zero"
    );
    if len >= 0xFF {
        return decode_long(frame);
    }
    let Some(&first) = frame.first() else {
        return Err(FrameError::Cobs { len });
    };
    // Code bytes are never zero (the frame holds none): each moves `at` on.
    let mut at = usize::from(first);
    while at < len {
        // The code byte of the block at `at`, in the zero's place.
        let code = frame[at];
        frame[at] = 0;
        at += usize::from(code);
    }
    if at != len {
        return Err(FrameError::Cobs { len });
    }
    Ok(&frame[1..])
}

/// [`decode_in_place`] of a frame of 255 bytes or more, which may hold full blocks: the chain
/// of code bytes is checked first (a bad frame is left as it came), then the frame decoded.
#[cold]
fn decode_long(frame: &mut [u8]) -> Result<&[u8], FrameError> {
    let len = frame.len();
    let error = FrameError::Cobs { len };
    let (mut at, mut full) = (0, false);
    while at < len {
        let code = usize::from(frame[at]);
        if code == 0 || at + code > len {
            return Err(error);
        }
        full |= code == 0xFF;
        at += code;
    }
    if full {
        return Ok(decode_blocks(frame));
    }
    let mut at = usize::from(frame[0]);
    while at < len {
        let code = usize::from(frame[at]);
        frame[at] = 0;
        at += code;
    }
    Ok(&frame[1..])
}

/// COBS-decodes a frame whose chain of code bytes was checked, a block at a time.
fn decode_blocks(frame: &mut [u8]) -> &[u8] {
    let len = frame.len();
    let (mut read, mut write) = (0, 0);
    while read < len {
        // A block: its code byte, then `code - 1` data bytes; then a zero, unless the code
        // is 0xFF (a full block) or the frame ends.
        let code = usize::from(frame[read]);
        let end = read + code;
        // `write <= read` throughout: each block shrinks by its code byte at least.
        frame.copy_within(read + 1..end, write);
        write += code - 1;
        read = end;
        if code != 0xFF && read < len {
            frame[write] = 0;
            write += 1;
        }
    }
    &frame[..write]
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

    proptest::proptest! {
        /// The block decoder gives what the `cobs` crate gives, for any run of bytes between
        /// two delimiters, valid COBS or not.
        #[test]
        fn decodes_as_the_cobs_crate(bytes in proptest::collection::vec(1u8.., 0..600)) {
            let mut ours = bytes.clone();
            let mut theirs = bytes.clone();
            let expected = cobs::decode_in_place(&mut theirs)
                .map(|n| theirs[..n].to_vec())
                .map_err(|_| FrameError::Cobs { len: bytes.len() });
            proptest::prop_assert_eq!(decode_in_place(&mut ours).map(<[u8]>::to_vec), expected);
        }

        /// Every encoded frame decodes back (full blocks of 254 data bytes included).
        #[test]
        fn decodes_what_cobs_encodes(data in proptest::prop_oneof![
            // Many zeros: short blocks.
            proptest::collection::vec(0u8..4, 0..1200),
            // Few zeros: full blocks.
            proptest::collection::vec(proptest::num::u8::ANY, 0..1200),
        ]) {
            let mut encoded = vec![0; cobs::max_encoding_length(data.len())];
            let n = cobs::encode(&data, &mut encoded);
            encoded.truncate(n);
            proptest::prop_assert_eq!(decode_in_place(&mut encoded).map(<[u8]>::to_vec), Ok(data));
        }
    }

    proptest::proptest! {
        /// The delimiter search finds what `memchr` finds, at any place and in any length.
        #[test]
        fn finds_the_delimiter_as_memchr_does(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![15 => 1u8.., 1 => proptest::strategy::Just(0u8)],
                0..80,
            )
        ) {
            proptest::prop_assert_eq!(find_delimiter(&bytes), memchr::memchr(0, &bytes));
            let ones: Vec<u8> = bytes.iter().map(|&b| b.max(1)).collect();
            proptest::prop_assert_eq!(find_delimiter(&ones), None);
        }
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
