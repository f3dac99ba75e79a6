//! The call sites seen so far: each gets the next index as its wire id on first use, and is
//! announced before the first frame that refers to it.

use heapless::Vec;
use tracing_core::Metadata;

/// Whether the host knows a call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// Not written yet (the ring was full, or the host asked for a re-send).
    Pending,
    /// Written.
    Done,
    /// Its `CallSite` frame does not fit the frame buffer, even with shortened strings: frames
    /// that refer to it are dropped, spans from it are untracked.
    TooLarge,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) meta: &'static Metadata<'static>,
    pub(crate) announce: Announce,
    /// The constant text the host keeps for this call site, if any: later events whose text
    /// is the same piece of flash send a one-byte marker instead.
    pub(crate) constant: Option<Pinned>,
}

/// A text in flash, sent once as a constant of a call site's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pinned {
    /// Its address (never 0: flash that starts at 0 holds the vector table, not text).
    pub(crate) addr: core::num::NonZeroUsize,
    pub(crate) len: u16,
    pub(crate) field: u8,
}

/// At most `N` call sites (a power of two).
#[derive(Debug)]
pub(crate) struct CallsiteTable<const N: usize> {
    /// In the order of first use: the index is the wire id.
    entries: Vec<Entry, N>,
    /// An open-addressing hash table over the address of the call site's static metadata:
    /// `wire id + 1`, 0 for a free slot. Never more than `N` used, so a probe ends.
    slots: [u8; N],
}

impl<const N: usize> CallsiteTable<N> {
    pub(crate) const fn new() -> Self {
        const {
            assert!(
                N.is_power_of_two() && N <= 128,
                "CALLSITES must be a power of two, at most 128"
            )
        };
        Self {
            entries: Vec::new(),
            slots: [0; N],
        }
    }

    /// The first slot to probe for the metadata at `key`: the address's bits above its
    /// alignment, mixed by a multiplication (Fibonacci hashing), whose top `log2(N)` bits
    /// are the slot: they depend on every bit of the address, where a middle slice of the
    /// product let neighbouring metadata collide.
    #[inline(always)]
    fn home(key: usize) -> usize {
        let product = (key as u32 >> 2).wrapping_mul(0x9e37_79b9);
        // Two shifts, so that `N == 1` (a shift by 32) stays defined; they fold into one.
        (product >> 1 >> (31 - N.trailing_zeros())) as usize & (N - 1)
    }

    /// The id and entry of a call site, given one if it is new; `None` when the table is full.
    #[inline]
    pub(crate) fn id_of(&mut self, meta: &'static Metadata<'static>) -> Option<(u32, &Entry)> {
        let index = self.index_of(meta)?;
        Some((index as u32, self.entries.get(index)?))
    }

    /// The index of a call site's entry, added if it is new; `None` when the table is full.
    #[inline(always)]
    fn index_of(&mut self, meta: &'static Metadata<'static>) -> Option<usize> {
        let mut at = Self::home(meta as *const Metadata<'static> as usize);
        for _ in 0..N {
            let slot = self.slots.get_mut(at)?;
            if *slot == 0 {
                // Free: a new call site.
                let entry = Entry {
                    meta,
                    announce: Announce::Pending,
                    constant: None,
                };
                self.entries.push(entry).ok()?;
                *slot = self.entries.len() as u8;
                return Some(usize::from(*slot) - 1);
            }
            let index = usize::from(*slot) - 1;
            let entry = self.entries.get(index)?;
            if core::ptr::eq(entry.meta, meta) {
                return Some(index);
            }
            at = (at + 1) & (N - 1);
        }
        None
    }

    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&Entry> {
        self.entries.get(id as usize)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Entry> {
        self.entries.get_mut(id as usize)
    }

    pub(crate) fn set(&mut self, id: u32, announce: Announce) {
        if let Some(e) = self.entries.get_mut(id as usize) {
            e.announce = announce;
        }
    }

    /// The first call site whose announcement is pending.
    pub(crate) fn next_pending(&self) -> Option<u32> {
        self.entries
            .iter()
            .position(|e| e.announce == Announce::Pending)
            .map(|i| i as u32)
    }

    /// Makes every announced call site pending again (the host asked for a re-send), and
    /// forgets the constants the host kept (a re-announced call site has none).
    pub(crate) fn mark_all_pending(&mut self) {
        for e in self.entries.iter_mut() {
            if e.announce == Announce::Done {
                e.announce = Announce::Pending;
            }
            e.constant = None;
        }
    }
}
