//! A global allocator for the one allocation tracing-core makes, and none after it.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

/// The largest alignment [`OneShotAlloc`] serves.
const ALIGN: usize = 8;

#[repr(C, align(8))]
struct Arena<const N: usize>(UnsafeCell<[u8; N]>);

/// A `#[global_allocator]` that serves exactly one allocation of at most `N` bytes (alignment
/// up to 8) and refuses every other.
///
/// tracing-core 0.1 links `alloc`: [`Dispatch::new`](tracing_core::Dispatch::new) puts the
/// subscriber in an `Arc`, and has no allocation-free constructor in any released version.
/// The sender's subscriber is one pointer ([`Sender`](crate::Sender)), so that `Arc` is 12
/// bytes on a 32-bit target; [`Tunnel::init`](crate::Tunnel::init) makes it, and it lives as
/// long as the program (the global dispatcher is never dropped). The default `N = 32` leaves
/// room to spare.
///
/// Any other allocation, or a second one, gets a null pointer, so Rust's allocation error
/// handler fires: on `no_std` it panics with "memory allocation of N bytes failed", and your
/// panic handler reports it. Nothing allocates quietly. Freeing does nothing.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: rtt_tunnel_sender::OneShotAlloc = rtt_tunnel_sender::OneShotAlloc::new();
/// ```
///
/// A firmware that has a heap of its own (embedded-alloc, say) keeps it and does not need
/// this.
pub struct OneShotAlloc<const N: usize = 32> {
    arena: Arena<N>,
    taken: AtomicBool,
}

// SAFETY: the arena is handed out at most once (`taken` is swapped atomically), so no two
// users ever share it.
unsafe impl<const N: usize> Sync for OneShotAlloc<N> {}

impl<const N: usize> OneShotAlloc<N> {
    /// An allocator with its one allocation still available.
    pub const fn new() -> Self {
        Self {
            arena: Arena(UnsafeCell::new([0; N])),
            taken: AtomicBool::new(false),
        }
    }

    /// Whether the one allocation was served.
    pub fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Relaxed)
    }
}

impl<const N: usize> Default for OneShotAlloc<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for OneShotAlloc<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OneShotAlloc")
            .field("size", &N)
            .field("taken", &self.is_taken())
            .finish()
    }
}

// SAFETY: `alloc` returns either null or the arena, once: a block of `N >= layout.size()`
// bytes aligned to 8 >= `layout.align()`, valid for the program's lifetime and used by no one
// else. `dealloc` never reuses memory.
unsafe impl<const N: usize> GlobalAlloc for OneShotAlloc<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > N || layout.align() > ALIGN || self.taken.swap(true, Ordering::AcqRel) {
            return ptr::null_mut();
        }
        self.arena.0.get().cast()
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_one_allocation_then_refuses() {
        let a = OneShotAlloc::<32>::new();
        assert!(!a.is_taken());
        let arc_like = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: a valid, non-zero layout.
        let p = unsafe { a.alloc(arc_like) };
        assert!(!p.is_null());
        assert_eq!(p as usize % 8, 0);
        assert!(a.is_taken());
        // SAFETY: as above.
        assert!(unsafe { a.alloc(Layout::from_size_align(1, 1).unwrap()) }.is_null());
        // SAFETY: `p` came from `a` with this layout.
        unsafe { a.dealloc(p, arc_like) };
        // SAFETY: as above.
        let again = unsafe { a.alloc(arc_like) };
        assert!(again.is_null(), "freeing does not give it back");
    }

    #[test]
    fn refuses_what_does_not_fit_without_using_up_its_one_allocation() {
        let a = OneShotAlloc::<16>::new();
        // SAFETY: valid layouts.
        unsafe {
            assert!(a.alloc(Layout::from_size_align(17, 1).unwrap()).is_null());
            assert!(a.alloc(Layout::from_size_align(8, 16).unwrap()).is_null());
            assert!(!a.is_taken());
            assert!(!a.alloc(Layout::from_size_align(16, 8).unwrap()).is_null());
        }
    }
}
