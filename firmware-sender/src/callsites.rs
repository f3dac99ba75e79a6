//! The call sites seen so far: each gets the next index as its wire id on first use, and is
//! announced before the first frame that refers to it.

use heapless::index_map::FnvIndexMap;
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
}

/// At most `N` call sites (a power of two).
#[derive(Debug)]
pub(crate) struct CallsiteTable<const N: usize> {
    /// Keyed by the address of the call site's static metadata; the index is the wire id.
    map: FnvIndexMap<usize, Entry, N>,
}

impl<const N: usize> CallsiteTable<N> {
    pub(crate) const fn new() -> Self {
        Self {
            map: FnvIndexMap::new(),
        }
    }

    /// The id of a call site, given one if it is new; `None` when the table is full.
    pub(crate) fn id_of(&mut self, meta: &'static Metadata<'static>) -> Option<u32> {
        let key = meta as *const Metadata<'static> as usize;
        if let Some(i) = self.map.get_index_of(&key) {
            return Some(i as u32);
        }
        let entry = Entry {
            meta,
            announce: Announce::Pending,
        };
        self.map.insert(key, entry).ok()?;
        Some(self.map.len() as u32 - 1)
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Entry> {
        self.map.get_index(id as usize).map(|(_, e)| e)
    }

    pub(crate) fn set(&mut self, id: u32, announce: Announce) {
        if let Some((_, e)) = self.map.get_index_mut(id as usize) {
            e.announce = announce;
        }
    }

    /// The first call site whose announcement is pending.
    pub(crate) fn next_pending(&self) -> Option<u32> {
        self.map
            .values()
            .position(|e| e.announce == Announce::Pending)
            .map(|i| i as u32)
    }

    /// Makes every announced call site pending again (the host asked for a re-send).
    pub(crate) fn mark_all_pending(&mut self) {
        for e in self.map.values_mut() {
            if e.announce == Announce::Done {
                e.announce = Announce::Pending;
            }
        }
    }
}
