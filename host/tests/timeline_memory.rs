//! The timeline exporter streams: its memory stays flat however long the run. A global
//! allocator counts the bytes this thread holds (allocated minus freed) while spans and events
//! are exported; after a warm-up, twenty times more work must not hold more memory, while the
//! file grows twenty times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rtt_tunnel_host::timeline::Timeline;
use tracing_subscriber::layer::SubscriberExt;

struct Counting;

thread_local! {
    // Bytes this thread allocated minus bytes it freed (per thread: tests run in parallel).
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    let _ = HELD.try_with(|held| held.set(held.get() + bytes));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, as `System` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: `ptr` came from `System` (every allocation here does), with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts what is written, keeps nothing.
struct CountingSink(Arc<AtomicU64>);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One round of a sensor loop: a span with fields, entered, with a nested span entered
/// twice, events with fields, a counter field.
fn round(n: u64) {
    let round = tracing::info_span!("round", round = n, label = "sensor");
    let _entered = round.enter();
    for i in 0..2_u64 {
        let sample = tracing::debug_span!("sample", i);
        let _sample = sample.enter();
        tracing::trace!(raw = n * 3 + i, value = 21.5, "bus transfer done");
    }
    tracing::info!(average = n as f64 / 3.0, "progress");
}

#[test]
fn memory_stays_flat_however_long_the_export() {
    let written = Arc::new(AtomicU64::new(0));
    let (layer, handle) = Timeline::new(CountingSink(Arc::clone(&written)))
        .counter("average")
        .build();
    let dispatch = tracing_core::Dispatch::new(tracing_subscriber::registry().with(layer));
    let (held_warm, written_warm, held_end) =
        tracing_core::dispatcher::with_default(&dispatch, || {
            for n in 0..1_000 {
                round(n);
            }
            let held_warm = HELD.with(Cell::get);
            let written_warm = written.load(Ordering::Relaxed);
            for n in 1_000..21_000 {
                round(n);
            }
            (held_warm, written_warm, HELD.with(Cell::get))
        });
    let stats = handle.finish().expect("written");
    let written_end = written.load(Ordering::Relaxed);
    assert_eq!(stats.slices, 21_000 * 3);
    assert!(
        written_end - written_warm > 10 * 1024 * 1024,
        "the rounds wrote {} bytes",
        written_end - written_warm
    );
    assert!(
        held_end - held_warm < 4096,
        "memory grew by {} bytes over 20 000 rounds ({} bytes written)",
        held_end - held_warm,
        written_end - written_warm
    );
}
