//! The stack of entered spans, shared by thread mode and interrupts: interrupts nest, so
//! enters and exits stay last-in, first-out. Its top is the contextual parent.

use heapless::Vec;

/// One `enter` of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The span's id (a tracked span's id fits 32 bits: `spans.rs`).
    pub(crate) id: u32,
    /// The `Enter` frame was written: the host has this entry on its own stack.
    pub(crate) sent: bool,
}

/// At most `N` spans entered at once.
#[derive(Debug)]
pub(crate) struct EnteredStack<const N: usize> {
    entries: Vec<Entry, N>,
}

impl<const N: usize> EnteredStack<N> {
    pub(crate) const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Pushes an entry; its index, or `None` when the stack is full.
    /// Only the ids of tracked spans (below 2^32) are pushed; another is refused as if the
    /// stack were full.
    pub(crate) fn push(&mut self, id: u64) -> Option<usize> {
        let id = u32::try_from(id).ok()?;
        self.entries.push(Entry { id, sent: false }).ok()?;
        Some(self.entries.len() - 1)
    }

    /// Marks the entry at `at` (from [`push`](Self::push)) as sent.
    pub(crate) fn mark_sent_at(&mut self, at: usize) {
        if let Some(entry) = self.entries.get_mut(at) {
            entry.sent = true;
        }
    }

    /// The most recent entry of `id`.
    #[cfg(test)]
    pub(crate) fn last_mut(&mut self, id: u64) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| u64::from(e.id) == id)
    }

    /// Removes the most recent entry of `id` (exits need not be in order, as in
    /// `tracing-subscriber`'s registry).
    pub(crate) fn remove_last(&mut self, id: u64) -> Option<Entry> {
        // Nearly always the innermost span: no search, nothing moves.
        if self.entries.last().is_some_and(|e| u64::from(e.id) == id) {
            return self.entries.pop();
        }
        let at = self.entries.iter().rposition(|e| u64::from(e.id) == id)?;
        // Bubbled to the top by swaps, then popped: no `memmove` linked for a stack of a
        // few entries.
        let tail = self.entries.get_mut(at..)?;
        for i in 1..tail.len() {
            if let Some([below, above]) = tail.get_mut(i - 1..=i) {
                core::mem::swap(below, above);
            }
        }
        self.entries.pop()
    }

    /// Removes every entry of `id` (a span closed while entered); returns how many.
    pub(crate) fn remove_all(&mut self, id: u64) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| u64::from(e.id) != id);
        before - self.entries.len()
    }

    /// Marks every entry of `id` as known to the host.
    pub(crate) fn mark_sent(&mut self, id: u64) {
        for e in self.entries.iter_mut().filter(|e| u64::from(e.id) == id) {
            e.sent = true;
        }
    }

    /// The ids of the entries, outermost first.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u64> + Clone + '_ {
        self.entries.iter().map(|e| u64::from(e.id))
    }

    /// Marks the entries whose span `known` accepts as known to the host.
    pub(crate) fn mark_sent_where(&mut self, known: impl Fn(u64) -> bool) {
        for e in self.entries.iter_mut().filter(|e| known(u64::from(e.id))) {
            e.sent = true;
        }
    }

    /// The innermost entered span: the target's current span.
    pub(crate) fn current(&self) -> Option<u64> {
        self.entries.last().map(|e| u64::from(e.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifo_with_out_of_order_exits_and_a_capacity() {
        let mut s = EnteredStack::<3>::new();
        assert_eq!(s.current(), None);
        assert_eq!(
            (s.push(1), s.push(2), s.push(1)),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(s.push(4), None, "full");
        assert_eq!(s.current(), Some(1));
        s.mark_sent_at(2);
        assert_eq!(s.remove_last(1), Some(Entry { id: 1, sent: true }));
        assert_eq!(s.current(), Some(2));
        assert_eq!(s.remove_last(1), Some(Entry { id: 1, sent: false }));
        assert_eq!(s.remove_last(1), None);
        assert_eq!(s.current(), Some(2));
        s.push(3);
        s.push(2);
        s.mark_sent(2);
        assert_eq!(s.last_mut(3).map(|e| e.sent), Some(false));
        assert_eq!(s.remove_all(2), 2);
        assert_eq!(s.current(), Some(3));
    }
}
