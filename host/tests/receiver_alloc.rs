//! Relaying the frames of known call sites and spans allocates nothing: from the wire bytes
//! (splitting, COBS, decoding) through the receiver (call-site and span lookup, parent
//! resolution, value set, target time) to the subscriber's visit of every value.
//!
//! A counting global allocator counts the allocations of the test's own thread while a
//! stream of enter / event / record / exit frames runs, after one warm-up round (the first
//! round fills the host registry's per-thread span stack). What it proves: the receiver adds
//! no allocation per frame, so none for the strings of call sites (they are `&'static`). What
//! it does not: a real output layer (`fmt`) allocates its own buffers; that is its cost, not
//! the receiver's. Creating a span may allocate (the span table grows), as may a call site
//! (it is leaked once).

mod receiver_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use receiver_support::*;
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, Message, Parent, SpanId, Value};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Interest, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    // Per thread: tests run in parallel, and another test's thread may be counting too.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, as `System` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: `ptr` came from `System` (every allocation here does), with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

/// Visits every value the way an output would, into a sink that only counts.
#[derive(Default)]
struct Sink {
    values: usize,
    text: usize,
}

impl fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text += s.len();
        Ok(())
    }
}

impl Visit for Sink {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.values += 1;
        let _ = fmt::write(self, format_args!("{}={value:?}", field.name()));
    }
}

/// A subscriber that allocates nothing: enables everything, visits every value.
#[derive(Default)]
struct Quiet {
    next: AtomicU64,
    values: AtomicUsize,
}

impl Quiet {
    fn visit(&self, f: impl FnOnce(&mut Sink)) {
        let mut sink = Sink::default();
        f(&mut sink);
        self.values.fetch_add(sink.values, Ordering::Relaxed);
    }
}

impl Subscriber for Quiet {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.visit(|s| span.record(s));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        self.visit(|s| values.record(s));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        self.visit(|s| event.record(s));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// A layer that visits every value of events.
struct Visiting(std::sync::Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for Visiting {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut sink = Sink::default();
        event.record(&mut sink);
        self.0.fetch_add(sink.values, Ordering::Relaxed);
    }
}

/// Encodes the frames of one round into wire bytes.
fn round() -> Vec<u8> {
    let text = "x".repeat(40);
    let vals = Vals::new(&[
        (
            0,
            Value::Debug {
                text: "temperature is 21.5 degrees",
                truncated: false,
            },
        ),
        (1, Value::U64(7)),
        (2, Value::I64(-7)),
        (3, Value::I128(1 << 100)),
        (4, Value::U128(1 << 100)),
        (5, Value::F64(0.25)),
        (6, Value::Bool(true)),
        (7, Value::Str("a str value")),
        (
            8,
            Value::Debug {
                text: &text,
                truncated: true,
            },
        ),
    ]);
    let a = Vals::new(&[(0, Value::U64(3))]);
    let messages = [
        Message::Enter(SpanId(10)),
        Message::Enter(SpanId(11)),
        event(5, Parent::Current, vals.values()),
        event(5, Parent::Explicit(SpanId(10)), vals.values()),
        event(0, Parent::Root, rtt_tunnel_protocol::Values::EMPTY),
        Message::Record {
            span: SpanId(10),
            values: a.values(),
        },
        Message::Exit(SpanId(11)),
        Message::Exit(SpanId(10)),
        Message::Dropped { frames: 0 },
    ];
    let mut wire = Vec::new();
    for message in messages {
        let mut buf = [0u8; 512];
        let n = Frame {
            exception: 0,
            dt: 3,
            message,
        }
        .encode(&mut buf)
        .unwrap();
        wire.extend_from_slice(&buf[..n]);
    }
    wire
}

/// Splits, decodes and relays `wire`; returns the number of frames.
fn relay(rx: &mut Receiver, splitter: &mut FrameSplitter<512>, mut wire: &[u8]) -> usize {
    let mut frames = 0;
    loop {
        match splitter.feed(wire) {
            Feed::Consumed => return frames,
            Feed::Frame { frame, rest } => {
                rx.try_receive(Frame::decode(frame).unwrap()).unwrap();
                frames += 1;
                wire = rest;
            }
            Feed::Error { error, .. } => panic!("{error}"),
        }
    }
}

fn setup() -> Receiver {
    let mut rx = started();
    feed(
        &mut rx,
        [
            event_site(
                5,
                "all kinds",
                &["message", "u", "i", "i2", "u2", "f", "b", "s", "d"],
            ),
            new_span(10, 1, Parent::Root),
            new_span(11, 2, Parent::Current),
        ],
    );
    rx
}

fn no_allocations_under(dispatch: Dispatch) {
    let wire = round();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = setup();
        let mut splitter = FrameSplitter::<512>::new();
        assert_eq!(relay(&mut rx, &mut splitter, &wire), 9);
        let mut frames = 0;
        let n = allocations(|| {
            for _ in 0..50 {
                frames += relay(&mut rx, &mut splitter, &wire);
            }
        });
        assert_eq!(frames, 450);
        assert_eq!(n, 0, "{n} allocations relaying {frames} frames");
        assert_eq!(rx.target_time().ticks % 3, 2);
    });
}

#[test]
fn relaying_allocates_nothing() {
    let quiet = std::sync::Arc::new(Quiet::default());
    no_allocations_under(Dispatch::from(quiet.clone()));
    // Every value was visited: the formatting of text values ran, inside the count.
    assert_eq!(quiet.values.load(Ordering::Relaxed), 51 * (9 + 9 + 1));
    // And under the registry that real outputs sit on.
    let visited = std::sync::Arc::new(AtomicUsize::new(0));
    no_allocations_under(Dispatch::new(
        tracing_subscriber::registry().with(Visiting(visited.clone())),
    ));
    assert_eq!(visited.load(Ordering::Relaxed), 51 * (9 + 9));
}

#[test]
fn the_counter_counts() {
    // The test above would pass with a counter that never counts: check that it does.
    let n = allocations(|| {
        let v: Vec<u8> = Vec::with_capacity(10);
        std::hint::black_box(v);
    });
    assert_eq!(n, 1);
    let (dispatch, _log) = capture();
    let n = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = Receiver::default();
        allocations(|| feed(&mut rx, standard_preamble(1)))
    });
    assert!(n > 0, "announcing call sites allocates");
}
