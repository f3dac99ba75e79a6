//! The receiver's bounds against hostile but well-formed streams (issue 12): each bound is
//! enforced, counted and reported; memory stays under the documented 64 MB (a counting
//! allocator, per thread); closing deep nestings never recurses.
//!
//! The host side is the registry with the fmt layer writing to a sink (what host-receiver
//! runs) and a layer that counts spans opened and closed.

mod receiver_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use receiver_support::*;
use rtt_tunnel_host::pipeline::Pipeline;
use rtt_tunnel_host::receiver::{Limits, ReceiveError, Receiver};
use rtt_tunnel_protocol::{
    CallsiteId, Frame, Hello, LiveSpan, Message, Parent, SpanId, PROTOCOL_VERSION,
};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// The bound the docs state for the receiver's memory under any stream, with the defaults.
const MEMORY_BOUND: usize = 64 << 20;

struct Counting;

thread_local! {
    // Per thread: tests run in parallel. Bytes allocated less bytes freed, and the peak.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, as `System` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        // SAFETY: `ptr` came from `System` (every allocation here does), with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f`; returns its result and the peak of this thread's live heap bytes above where
/// they were when it started.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let result = f();
    let peak = PEAK.with(Cell::get) - start;
    (result, peak.max(0) as usize)
}

/// Spans opened and closed on the host.
#[derive(Clone, Default)]
struct Counts(Arc<(AtomicUsize, AtomicUsize, AtomicUsize)>);

impl Counts {
    fn opened(&self) -> usize {
        self.0 .0.load(Ordering::Relaxed)
    }
    fn closed(&self) -> usize {
        self.0 .1.load(Ordering::Relaxed)
    }
    fn warnings(&self) -> usize {
        self.0 .2.load(Ordering::Relaxed)
    }
}

impl<S: Subscriber> Layer<S> for Counts {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.0 .0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_close(&self, _: Id, _: Context<'_, S>) {
        self.0 .1.fetch_add(1, Ordering::Relaxed);
    }
    fn on_event(&self, event: &tracing_core::Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() == tracing_core::Level::WARN {
            self.0 .2.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// host-receiver's host side (fmt into a sink), with [`Counts`].
fn host() -> (Dispatch, Counts) {
    let counts = Counts::default();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(fmt)
            .with(counts.clone()),
    );
    (dispatch, counts)
}

/// Runs `f` on a thread of its own with a 2 MiB stack (the default of spawned threads,
/// smaller than a main thread's): what overflowed before overflows here too.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the thread ended normally")
}

fn try_feed(rx: &mut Receiver, message: Message<'_>) -> Result<(), ReceiveError> {
    rx.try_receive(Frame {
        dt: 1,
        exception: 0,
        message,
    })
}

/// `depth` spans, each the child of the one before (explicit parents, none entered).
fn nest(rx: &mut Receiver, depth: u32) {
    for id in 1..=depth {
        let parent = if id == 1 {
            Parent::Root
        } else {
            Parent::Explicit(SpanId(id - 1))
        };
        try_feed(rx, new_span(id, 1, parent)).unwrap();
    }
}

#[test]
fn deep_nestings_close_at_the_end_of_the_stream_without_recursion() {
    for depth in [5_000u32, 50_000, 200_000] {
        let (opened, closed) = on_small_stack(move || {
            let (dispatch, counts) = host();
            tracing_core::dispatcher::with_default(&dispatch, || {
                let mut rx = started();
                rx.set_limits(Limits::DEFAULT.spans(depth as usize + 10));
                nest(&mut rx, depth);
                assert_eq!(rx.span_count(), depth as usize);
                drop(rx);
            });
            (counts.opened(), counts.closed())
        });
        assert_eq!(
            (opened, closed),
            (depth as usize, depth as usize),
            "depth {depth}"
        );
    }
}

#[test]
fn deep_nestings_close_at_a_reset_and_when_closed_outermost_first() {
    on_small_stack(|| {
        // 5,000: a span closed before its children hands them to its parent, a scan of the
        // span table (linear in the spans alive, bounded by `Limits::spans`).
        let depth = 5_000u32;
        let (dispatch, counts) = host();
        tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = started();
            rx.set_limits(Limits::DEFAULT.spans(depth as usize));
            nest(&mut rx, depth);
            // The target closes them outermost first: the host spans wait for their children.
            for id in 1..depth {
                try_feed(&mut rx, Message::Close(SpanId(id))).unwrap();
            }
            assert_eq!(counts.closed(), 0);
            try_feed(&mut rx, Message::Close(SpanId(depth))).unwrap();
            assert_eq!(counts.closed(), depth as usize);
            // Again, then a reset.
            nest(&mut rx, depth);
            try_feed(&mut rx, hello(2, FIRMWARE)).unwrap();
            assert_eq!(rx.resets(), 1);
            assert_eq!(rx.span_count(), 0);
        });
        assert_eq!(counts.closed(), 2 * depth as usize);
    });
}

#[test]
fn nested_entered_spans_end_cleanly_within_the_depth_bound_and_beyond_it() {
    on_small_stack(|| {
        // Raised to 5,000: all entered, then the end of the stream.
        let (dispatch, counts) = host();
        tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = started();
            rx.set_limits(Limits::DEFAULT.entered(5_000));
            for id in 1..=5_000 {
                try_feed(&mut rx, new_span(id, 1, Parent::Current)).unwrap();
                try_feed(&mut rx, Message::Enter(SpanId(id))).unwrap();
            }
            assert_eq!(rx.entered().len(), 5_000);
        });
        assert_eq!((counts.opened(), counts.closed()), (5_000, 5_000));

        // 200,000 with the defaults: the first 1,024 nest and enter, the rest are refused and
        // counted; the end of the stream closes what was kept.
        let (dispatch, counts) = host();
        let stats = tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = started();
            let mut refused = (0, 0);
            for id in 1..=200_000 {
                match try_feed(&mut rx, new_span(id, 1, Parent::Current)) {
                    Err(ReceiveError::SpanLimit { limit, .. }) => {
                        assert_eq!(limit, Limits::DEFAULT.spans);
                        refused.0 += 1;
                    }
                    other => other.unwrap(),
                }
                match try_feed(&mut rx, Message::Enter(SpanId(id))) {
                    Err(ReceiveError::EnteredLimit { .. } | ReceiveError::UnknownSpan { .. }) => {
                        refused.1 += 1
                    }
                    other => other.unwrap(),
                }
            }
            assert_eq!(rx.entered().len(), Limits::DEFAULT.entered);
            assert_eq!(rx.span_count(), Limits::DEFAULT.spans);
            assert_eq!(refused, (200_000 - 16_384, 200_000 - 1_024));
            rx.limit_stats()
        });
        assert_eq!(stats.spans_refused, 200_000 - 16_384);
        assert_eq!(stats.spans_peak, 16_384);
        assert_eq!(stats.entries_refused, 16_384 - 1_024);
        assert_eq!(stats.entered_peak, 1_024);
        assert_eq!(counts.closed(), counts.opened());
    });
}

#[test]
fn live_spans_claiming_many_entries_stop_at_the_depth_bound() {
    let (dispatch, _counts) = host();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        let live = |id: u32, entered: u32| {
            Message::LiveSpan(LiveSpan {
                id: SpanId(id),
                callsite: CallsiteId(1),
                parent: Parent::Root,
                entered,
            })
        };
        let mut errors = 0;
        for id in 1..=1_000 {
            match try_feed(&mut rx, live(id, 1_024)) {
                Ok(()) => {}
                Err(ReceiveError::EnteredLimit { depth, limit, .. }) => {
                    assert_eq!((depth, limit), (1_024, 1_024));
                    errors += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(errors, 999);
        assert_eq!(rx.entered().len(), 1_024);
        assert_eq!(rx.span_count(), 1);
        // More than a live span may claim.
        assert!(matches!(
            try_feed(&mut rx, live(5_000, 1_025)),
            Err(ReceiveError::TooManyEntries {
                entered: 1_025,
                max: 1_024,
                ..
            })
        ));
        let stats = rx.limit_stats();
        assert_eq!(stats.entries_refused, 999 * 1_024);
        assert_eq!(stats.live_spans_refused, 1);
        assert!(stats.any());
    });
}

/// The frames of `messages`, COBS-framed, fed to `pipeline` in chunks.
fn pump<'a>(
    pipeline: &mut Pipeline,
    rx: &mut Receiver,
    messages: impl Iterator<Item = Message<'a>>,
) {
    let mut wire = Vec::with_capacity(64 << 10);
    let mut buf = [0u8; 256];
    for message in messages {
        let n = Frame {
            dt: 1,
            exception: 0,
            message,
        }
        .encode(&mut buf)
        .unwrap();
        wire.extend_from_slice(&buf[..n]);
        if wire.len() > 60 << 10 {
            pipeline.feed(&mut wire, rx).unwrap();
            wire.clear();
        }
    }
    pipeline.feed(&mut wire, rx).unwrap();
}

#[test]
fn a_million_spans_never_closed_stay_under_the_memory_bound() {
    let (dispatch, counts) = host();
    let ((stats, limits), peak) = peak_heap(|| {
        tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = started();
            let mut pipeline = Pipeline::new();
            pump(
                &mut pipeline,
                &mut rx,
                (1..=1_000_000).map(|id| new_span(id, 1, Parent::Root)),
            );
            let stats = pipeline.stats(&rx);
            drop(rx);
            (stats, pipeline.errors_by_kind().to_vec())
        })
    });
    assert!(peak < MEMORY_BOUND, "peak heap {peak} bytes");
    assert_eq!(stats.limits.spans_refused, 1_000_000 - 16_384, "{stats}");
    assert_eq!(stats.receive_errors, 1_000_000 - 16_384);
    assert_eq!(limits, [("span limit", 1_000_000 - 16_384)]);
    assert!(
        stats
            .to_string()
            .contains("bounds reached: 983616 spans refused"),
        "{stats}"
    );
    // Told once, then at each power of ten: 1, 10, ... 100,000 (983,616 refused).
    assert_eq!(counts.warnings(), 6);
    assert_eq!(counts.closed(), 16_384);
    eprintln!("a million spans never closed: peak heap {} KiB", peak >> 10);
}

#[test]
fn a_reset_storm_of_new_firmware_identities_stays_under_the_memory_bound() {
    let (dispatch, _counts) = host();
    // 33,300 here (a debug build relays some 10,000 boots a second); `docs/hardening.md` has
    // the figures of 333,000 through host-receiver in release.
    let boots = 33_300;
    let names: Vec<String> = (0..boots).map(|n| format!("fw build {n}")).collect();
    let ((stats, kept), peak) = peak_heap(|| {
        tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = Receiver::default();
            for (boot, firmware) in names.iter().enumerate() {
                let hello = Message::Hello(Hello {
                    version: PROTOCOL_VERSION,
                    boot: boot as u32,
                    tick_hz: 1_000,
                    firmware,
                    flash_base: 0,
                    flash_len: 0,
                });
                try_feed(&mut rx, hello).unwrap();
                try_feed(&mut rx, span_site(1, "outer", &["a"])).unwrap();
                try_feed(&mut rx, new_span(1, 1, Parent::Root)).unwrap();
                try_feed(&mut rx, Message::Enter(SpanId(1))).unwrap();
            }
            let kept = rx.persist_metadata();
            (rx.limit_stats(), kept)
        })
    });
    assert!(peak < MEMORY_BOUND, "peak heap {peak} bytes");
    assert_eq!(kept.firmware().count(), Limits::DEFAULT.firmware);
    // The most recent builds are the ones kept.
    assert!(kept.firmware().any(|f| f == "fw build 33299"));
    assert_eq!(stats.firmware_dropped, boots as u64 - 16);
    assert_eq!((stats.spans_peak, stats.entered_peak), (1, 1));
    assert_eq!(
        stats.spans_refused + stats.entries_refused + stats.call_sites_refused,
        0
    );
    eprintln!("{boots} firmware identities: peak heap {} KiB", peak >> 10);
}

#[test]
fn persisted_metadata_stays_within_its_bytes_and_keeps_the_running_firmware() {
    let (dispatch, _counts) = host();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        rx.set_limits(Limits::DEFAULT.metadata_bytes(2_000).call_sites(100));
        let mut refused = 0;
        for id in 10..200 {
            if let Err(error) = try_feed(&mut rx, span_site(id, "s", &["a", "b"])) {
                assert!(matches!(
                    error,
                    ReceiveError::CallSiteLimit { limit: 100, .. }
                ));
                refused += 1;
            }
        }
        // 4 standard call sites + 96 new; the rest refused.
        assert_eq!(refused, 94);
        let stats = rx.limit_stats();
        assert_eq!(stats.call_sites_refused, 94);
        assert!(stats.call_sites_not_persisted > 0);
        let kept = rx.persist_metadata();
        assert_eq!(kept.firmware().collect::<Vec<_>>(), [FIRMWARE]);
        assert!(kept.len() < 100, "{}", kept.len());
    });
}

#[test]
fn millions_of_refused_frames_warn_once_per_power_of_ten() {
    let (dispatch, counts) = host();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        let mut pipeline = Pipeline::new();
        pump(
            &mut pipeline,
            &mut rx,
            (0..1_000_000).map(|_| event(99, Parent::Current, rtt_tunnel_protocol::Values::EMPTY)),
        );
        let stats = pipeline.stats(&rx);
        assert_eq!(stats.receive_errors, 1_000_000);
        assert_eq!(
            pipeline.errors_by_kind(),
            [("unknown call site", 1_000_000)]
        );
    });
    // 1, 10, 100, ..., 1,000,000.
    assert_eq!(counts.warnings(), 7);
}
