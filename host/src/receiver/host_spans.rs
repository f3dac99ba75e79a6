//! The host spans a receiver holds, with their host parents: closing never recurses.
//!
//! A `tracing-subscriber` registry closes a span's parent from inside the child's close when
//! the child held the last reference, so closing a chain of nested spans outermost first
//! recurses once per level, and a few thousand levels overflow the stack. The receiver holds
//! one reference to each host span it made; [`HostSpans::release`] lets go of it only once
//! the span's host children are closed, and then closes the parents that waited for it,
//! innermost first, in a loop. The registry never drops a parent's last reference itself.

use std::cell::OnceCell;
use std::collections::HashMap;

use tracing_core::span::Id;
use tracing_core::{dispatcher, Dispatch};

use super::IdHasher;
use std::hash::BuildHasherDefault;

/// One host span the receiver made (or restored).
#[derive(Debug)]
struct Entry {
    /// Its host parent, if the receiver holds that one too.
    parent: Option<u64>,
    /// Its host children not closed yet.
    children: u32,
    /// The receiver let go of it: closed when `children` drops to 0.
    released: bool,
}

/// See the [module docs](self).
///
/// Only spans that have a host parent here or host children have an entry: a span without
/// either (a root with no children yet, as most spans are) is closed as soon as it is
/// released, and needs no bookkeeping until a child comes.
#[derive(Debug, Default)]
pub(crate) struct HostSpans {
    spans: HashMap<u64, Entry, BuildHasherDefault<IdHasher>>,
    /// Host spans held, entry or not, released ones waiting for their children included.
    held: usize,
    /// The dispatcher the host spans belong to: the default one when the receiver first
    /// needed it (a receiver runs under one dispatcher, see the [receiver docs](super)).
    dispatch: OnceCell<Dispatch>,
}

impl HostSpans {
    /// Runs `f` with the dispatcher the receiver's host spans belong to, as a span's own
    /// `Dispatch` runs its enter, exit, record and close: no look-up of the default
    /// dispatcher, no reference count, and not marked busy (a subscriber that dispatches
    /// again, as the registry closing a parent span from inside its last child's close,
    /// reaches it).
    #[inline]
    pub fn dispatch<R>(&self, f: impl FnOnce(&Dispatch) -> R) -> R {
        f(self
            .dispatch
            .get_or_init(|| dispatcher::get_default(Dispatch::clone)))
    }

    /// The receiver made (or restored) host span `id`, child of `parent` on the host (a span
    /// the receiver holds: it relays new spans only under spans it made).
    pub fn created(&mut self, id: &Id, parent: Option<&Id>) {
        self.held += 1;
        let Some(parent) = parent.map(Id::into_u64) else {
            return;
        };
        self.spans
            .entry(parent)
            .or_insert(Entry {
                parent: None,
                children: 0,
                released: false,
            })
            .children += 1;
        self.spans.insert(
            id.into_u64(),
            Entry {
                parent: Some(parent),
                children: 0,
                released: false,
            },
        );
    }

    /// Restored host spans, each with its host parent (in any order).
    pub fn restore(&mut self, spans: Vec<(Id, Option<Id>)>) {
        self.held += spans.len();
        for (id, _) in &spans {
            self.spans.insert(
                id.into_u64(),
                Entry {
                    parent: None,
                    children: 0,
                    released: false,
                },
            );
        }
        for (id, parent) in spans {
            let parent = parent.map(|p| p.into_u64()).filter(|p| *p != id.into_u64());
            if let Some(entry) = parent.and_then(|p| self.spans.get_mut(&p)) {
                entry.children += 1;
            } else {
                continue;
            }
            if let Some(entry) = self.spans.get_mut(&id.into_u64()) {
                entry.parent = parent;
            }
        }
    }

    /// The receiver is done with host span `id`: closes it now, or when its last host child
    /// closes; then the parents that waited for it, innermost first.
    pub fn release(&mut self, id: &Id) {
        if self.spans.is_empty() {
            // No span has a host parent or children here: nothing waits.
            self.held = self.held.saturating_sub(1);
            self.dispatch(|d| d.try_close(id.clone()));
            return;
        }
        let mut next = Some(id.into_u64());
        while let Some(id) = next.take() {
            match self.spans.get_mut(&id) {
                Some(entry) if entry.children > 0 => entry.released = true,
                Some(_) => {
                    let entry = self.spans.remove(&id).expect("found above");
                    self.held = self.held.saturating_sub(1);
                    self.dispatch(|d| d.try_close(Id::from_u64(id)));
                    if let Some(parent) = entry.parent.and_then(|p| self.spans.get_mut(&p)) {
                        parent.children -= 1;
                        if parent.children == 0 && parent.released {
                            next = entry.parent;
                        }
                    }
                }
                // No parent here and no children: nothing waits for it, nor it for anything.
                None => {
                    self.held = self.held.saturating_sub(1);
                    self.dispatch(|d| d.try_close(Id::from_u64(id)));
                }
            }
        }
    }

    /// Forgets every span without closing it (the receiver hands them on: `persist`), and
    /// closes the ones it had released (their host children are handed on, and hold them).
    pub fn hand_on(&mut self) {
        self.held = 0;
        let spans = std::mem::take(&mut self.spans);
        for (id, entry) in spans {
            if entry.released {
                self.dispatch(|d| d.try_close(Id::from_u64(id)));
            }
        }
    }

    /// Host spans held, released ones waiting for their children included.
    pub fn len(&self) -> usize {
        self.held
    }
}
