//! The channel to the host: an up ring that takes whole frames or nothing, and an optional
//! down channel for the host's requests.

use core::mem::MaybeUninit;

use heapless::Deque;

/// The two RTT channels the sender talks over. All methods are called inside a critical
/// section and must not trace.
///
/// [`RttLink`](crate::RttLink) is the real one (feature `rtt`); [`MemoryLink`] is an in-memory
/// one for host tests.
pub trait Link {
    /// Writes the whole of `frame` into the up ring and returns `true`, or writes nothing and
    /// returns `false` (the ring has no room for all of it). Never writes part of a frame.
    fn write_frame(&mut self, frame: &[u8]) -> bool;

    /// Lends the up ring's free space to `encode` when at least `need` bytes of it lie in one
    /// piece: `encode` writes a frame at the start of the slice it is given (at least `need`
    /// bytes) and returns its length, at most `need`; the link then makes those bytes the
    /// ring's next ones and returns `true`. When `encode` returns 0, nothing is written and
    /// the link returns `false`; when there is not that much room in one piece, it returns
    /// `false` without calling `encode`.
    ///
    /// The sender seals its frames into the ring this way, in one pass (no copy of the
    /// finished frame); when the link says `false`, it seals the frame in its own buffer and
    /// calls [`write_frame`](Self::write_frame). The default always says `false`. (Not
    /// callable on a `dyn Link`, which stays possible.)
    #[inline(always)]
    fn write_in_place(
        &mut self,
        need: usize,
        encode: impl FnOnce(&mut [MaybeUninit<u8>]) -> usize,
    ) -> bool
    where
        Self: Sized,
    {
        let _ = (need, encode);
        false
    }

    /// Reads bytes the host sent on the down channel into `buf`; returns how many. Without a
    /// down channel: 0.
    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        let _ = buf;
        0
    }

    /// Whether the host has written something on the down channel that
    /// [`read_down`](Self::read_down) has not read yet. Called every
    /// [`REQUEST_CHECK`](crate::Tunnel::REQUEST_CHECK) operations, so it should be cheap (RTT:
    /// two offsets compared). Without a down channel: `false`.
    fn down_pending(&mut self) -> bool {
        false
    }

    /// Whether the host has read everything written into the up ring (the panic path and the
    /// end of a firmware wait for it). A link that cannot tell says `true`.
    fn up_drained(&mut self) -> bool {
        true
    }
}

// A `dyn Link` stays possible.
const _: Option<&dyn Link> = None;

/// An in-memory [`Link`]: an up ring of `UP` bytes and a down queue of `DOWN` bytes. For host
/// tests, and for firmware that ships frames another way.
#[derive(Debug)]
pub struct MemoryLink<const UP: usize, const DOWN: usize = 64> {
    up: Deque<u8, UP>,
    down: Deque<u8, DOWN>,
}

impl<const UP: usize, const DOWN: usize> Default for MemoryLink<UP, DOWN> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const UP: usize, const DOWN: usize> MemoryLink<UP, DOWN> {
    /// Both rings empty.
    pub const fn new() -> Self {
        Self {
            up: Deque::new(),
            down: Deque::new(),
        }
    }

    /// Bytes waiting in the up ring.
    pub fn up_len(&self) -> usize {
        self.up.len()
    }

    /// Moves up to `out.len()` bytes out of the up ring (what a host's drain does); returns
    /// how many.
    pub fn drain_up(&mut self, out: &mut [u8]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(b) = self.up.pop_front() else { break };
            out[n] = b;
            n += 1;
        }
        n
    }

    /// Queues bytes on the down channel (what a host's write does); `false`, and nothing
    /// queued, when they don't fit.
    pub fn push_down(&mut self, bytes: &[u8]) -> bool {
        if DOWN - self.down.len() < bytes.len() {
            return false;
        }
        for &b in bytes {
            // Room was checked above.
            let _ = self.down.push_back(b);
        }
        true
    }
}

impl<const UP: usize, const DOWN: usize> Link for MemoryLink<UP, DOWN> {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        if UP - self.up.len() < frame.len() {
            return false;
        }
        for &b in frame {
            // Room was checked above.
            let _ = self.up.push_back(b);
        }
        true
    }

    fn down_pending(&mut self) -> bool {
        !self.down.is_empty()
    }

    fn up_drained(&mut self) -> bool {
        self.up.is_empty()
    }

    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(b) = self.down.pop_front() else {
                break;
            };
            buf[n] = b;
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_or_nothing() {
        let mut link = MemoryLink::<8, 4>::new();
        assert!(link.write_frame(&[1, 2, 3, 4, 5]));
        assert!(!link.write_frame(&[6, 7, 8, 9]), "only 3 bytes free");
        assert_eq!(link.up_len(), 5);
        assert!(link.write_frame(&[6, 7, 8]));
        let mut out = [0; 16];
        assert_eq!(link.drain_up(&mut out), 8);
        assert_eq!(out[..8], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(link.push_down(&[1, 2, 3]));
        assert!(!link.push_down(&[4, 5]));
        let mut buf = [0; 2];
        assert_eq!(link.read_down(&mut buf), 2);
        assert_eq!(link.read_down(&mut buf), 1);
        assert_eq!(link.read_down(&mut buf), 0);
    }
}
