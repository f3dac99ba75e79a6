//! The real link: rtt-target's up and down channels.
//!
//! Frames go into the up channel's ring directly, with the SEGGER RTT layout that every RTT
//! host reads (the one rtt-target declares): the sender seals a frame straight into the
//! ring's free space when it lies in one piece ([`Link::write_in_place`]: two offsets read,
//! one written), and a frame that would wrap around the end of the buffer is copied in two
//! parts, where rtt-target's general `write` (modes, partial writes, `memcpy`) costs about a
//! hundred instructions. A frame that fits is written whole in every mode; one that does not is
//! skipped whole, or, in the `BlockIfFull` mode a host may set while it is attached, written
//! once the host has made room. rtt-target's general `write` is not linked (about 340 bytes of
//! flash).

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use rtt_target::{ChannelMode, DownChannel, UpChannel};

use crate::Link;

/// An up channel's descriptor in the RTT control block (SEGGER's `SEGGER_RTT_BUFFER_UP`).
#[repr(C)]
struct Descriptor {
    name: *const u8,
    buffer: *mut u8,
    size: usize,
    write: AtomicUsize,
    read: AtomicUsize,
    flags: AtomicUsize,
}

/// `flags & MODE_MASK` is the channel's mode; 0 is `NoBlockSkip`, 1 `NoBlockTrim`, 2
/// `BlockIfFull`.
const MODE_MASK: usize = 3;

/// The mode in which the target waits for the host to make room.
const BLOCK_IF_FULL: usize = 2;

/// An RTT up channel for frames and, optionally, a down channel for the host's requests.
///
/// The up channel is put in [`ChannelMode::NoBlockSkip`]: a frame that does not fit is skipped
/// whole and counted, never written in part, and tracing never waits for the host. (A host
/// that switches the channel to `BlockIfFull` makes tracing wait for room; `NoBlockTrim` is
/// taken as `NoBlockSkip`: frames are never cut.)
pub struct RttLink {
    /// Held so that nothing else writes the channel; written through `descriptor`.
    _up: UpChannel,
    /// `_up`'s descriptor.
    descriptor: *const Descriptor,
    down: Option<DownChannel>,
}

// SAFETY: as rtt-target's `UpChannel`, which is `Send`: the descriptor is only used through
// `&mut self`.
unsafe impl Send for RttLink {}

impl RttLink {
    /// The sender's up channel, and its down channel if there is one.
    pub fn new(mut up: UpChannel, down: Option<DownChannel>) -> Self {
        up.set_mode(ChannelMode::NoBlockSkip);
        const {
            assert!(core::mem::size_of::<UpChannel>() == core::mem::size_of::<*const u8>());
            assert!(core::mem::size_of::<DownChannel>() == core::mem::size_of::<*const u8>());
        };
        // SAFETY: rtt-target 0.6's `UpChannel` is its descriptor's pointer and nothing else
        // (checked in size above); the pointer is only read here.
        let descriptor = unsafe { core::mem::transmute_copy::<UpChannel, *const Descriptor>(&up) };
        Self {
            _up: up,
            descriptor,
            down,
        }
    }

    /// Writes `frame` into the ring whole and returns `Some(true)`, or writes nothing and
    /// returns `Some(false)` when it does not fit; `None` when the offsets are out of range.
    #[inline]
    fn write_whole(&mut self, frame: &[u8]) -> Option<bool> {
        // SAFETY: the descriptor lives in the RTT control block, a static; the host writes
        // `read` and `flags`, which are atomics.
        let d = unsafe { &*self.descriptor };
        let (size, write) = (d.size, d.write.load(Ordering::Relaxed));
        let read = d.read.load(Ordering::Acquire);
        if write >= size || read >= size {
            return None;
        }
        // One byte always stays free: `read == write` is an empty ring.
        let free = if read > write {
            read - write - 1
        } else {
            size - write + read - 1
        };
        let len = frame.len();
        if len > free {
            return Some(false);
        }
        let first = len.min(size - write);
        let (head, tail) = frame.split_at(first);
        // SAFETY: `write + first <= size` and `tail.len() <= read`: both parts land in the
        // free space of the ring buffer, which the host does not touch.
        unsafe {
            copy(d.buffer.add(write), head);
            copy(d.buffer, tail);
        }
        let next = if write + len >= size {
            write + len - size
        } else {
            write + len
        };
        // The bytes before the offset that shows them to the host.
        d.write.store(next, Ordering::Release);
        Some(true)
    }

    /// Whether `write_frame` tries again after `write_whole` said `written` (not
    /// `Some(true)`): in `BlockIfFull` mode it does, until the host has made room for a frame
    /// that fits the ring. Offsets out of range are reset to an empty ring (as rtt-target does)
    /// and the frame is dropped.
    #[cold]
    #[inline(never)]
    fn try_again(&mut self, len: usize, written: Option<bool>) -> bool {
        // SAFETY: as in `write_whole`.
        let d = unsafe { &*self.descriptor };
        if written.is_none() {
            d.write.store(0, Ordering::Relaxed);
            d.read.store(0, Ordering::Relaxed);
            return false;
        }
        // Skip (or trim: never a part of a frame), or a frame that could never fit.
        len < d.size && d.flags.load(Ordering::Relaxed) & MODE_MASK == BLOCK_IF_FULL
    }
}

impl RttLink {
    /// The down channel's descriptor, if there is one.
    fn down_descriptor(&self) -> Option<&Descriptor> {
        let down = self.down.as_ref()?;
        // SAFETY: rtt-target 0.6's `DownChannel` is its descriptor's pointer (as `UpChannel`,
        // checked in `new`), a down descriptor has the up one's layout, and it lives in the
        // RTT control block, a static; the host writes `write`, which is atomic.
        Some(unsafe { &**(down as *const DownChannel).cast::<*const Descriptor>() })
    }
}

/// Copies `src` to `dst` a byte at a time: only frames that wrap around the end of the ring
/// (or too long for one COBS block) come here, the others are sealed in place
/// ([`Link::write_in_place`]); a loop of a few instructions, where word moves for each size
/// of frame cost flash for the rare case.
///
/// # Safety
///
/// `dst` must be valid for `src.len()` bytes of writes.
#[inline(always)]
unsafe fn copy(dst: *mut u8, src: &[u8]) {
    for (i, &byte) in src.iter().enumerate() {
        // SAFETY: `i < src.len()`, and `dst` is valid for that many bytes (the caller).
        // Volatile, so that the compiler keeps the loop rather than calling `memcpy`.
        unsafe { dst.add(i).write_volatile(byte) };
    }
}

impl core::fmt::Debug for RttLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RttLink")
            .field("down", &self.down.is_some())
            .finish_non_exhaustive()
    }
}

impl Link for RttLink {
    /// The free space from the write offset to the read offset (one byte stays free) or to
    /// the end of the buffer (less one when the read offset is 0), when it holds `need`.
    #[inline(always)]
    fn write_in_place(
        &mut self,
        need: usize,
        encode: impl FnOnce(&mut [MaybeUninit<u8>]) -> usize,
    ) -> bool {
        // SAFETY: as in `write_whole`.
        let d = unsafe { &*self.descriptor };
        let (size, write) = (d.size, d.write.load(Ordering::Relaxed));
        let read = d.read.load(Ordering::Acquire);
        if write >= size || read >= size {
            return false; // `write_frame` resets the offsets
        }
        let room = if read > write {
            read - write - 1
        } else {
            size - write - usize::from(read == 0)
        };
        if room < need {
            return false;
        }
        // SAFETY: `write + room <= size`, and those bytes are free space of the ring, which
        // the host does not touch until the write offset moves past them.
        let free = unsafe {
            core::slice::from_raw_parts_mut(d.buffer.add(write).cast::<MaybeUninit<u8>>(), room)
        };
        let n = encode(free).min(room);
        if n == 0 {
            return false;
        }
        // `write + n < size` unless the frame ends at the end of the buffer, with the read
        // offset not at 0 (`room`).
        let next = if write + n == size { 0 } else { write + n };
        // The bytes before the offset that shows them to the host.
        d.write.store(next, Ordering::Release);
        true
    }

    #[inline]
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        loop {
            match self.write_whole(frame) {
                // A frame that fits is written whole in every mode.
                Some(true) => return true,
                written if !self.try_again(frame.len(), written) => return false,
                _ => {}
            }
        }
    }

    /// A byte at a time (requests are 2 or 3 bytes): a few instructions of code, where
    /// rtt-target's `read` brings its wrapping copy and `memcpy`.
    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        let Some(d) = self.down_descriptor() else {
            return 0;
        };
        let (size, write) = (d.size, d.write.load(Ordering::Acquire));
        let mut read = d.read.load(Ordering::Relaxed);
        if write >= size || read >= size {
            return 0;
        }
        let mut n = 0;
        for slot in buf.iter_mut() {
            if read == write {
                break;
            }
            // SAFETY: `read < size`: within the ring buffer, in the part the host has written
            // and not yet seen read. Volatile, so that the compiler keeps the byte loop rather
            // than calling `memcpy` for a few bytes.
            *slot = unsafe { d.buffer.add(read).read_volatile() };
            read = if read + 1 == size { 0 } else { read + 1 };
            n += 1;
        }
        // The bytes are copied before the offset that gives their room back to the host.
        d.read.store(read, Ordering::Release);
        n
    }

    fn down_pending(&mut self) -> bool {
        self.down_descriptor()
            .is_some_and(|d| d.write.load(Ordering::Relaxed) != d.read.load(Ordering::Relaxed))
    }

    fn up_drained(&mut self) -> bool {
        // SAFETY: as in `write_whole`.
        let d = unsafe { &*self.descriptor };
        d.write.load(Ordering::Relaxed) == d.read.load(Ordering::Acquire)
    }
}

/// An up channel alone: no requests from the host.
impl Link for UpChannel {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        self.write(frame) == frame.len()
    }
}
