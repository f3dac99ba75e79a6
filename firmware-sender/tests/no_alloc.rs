//! Spans and events allocate nothing: this test binary's global allocator counts the
//! allocations of the thread that asks it to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rtt_tunnel_protocol::{LevelFilter as WireLevel, Request};
use rtt_tunnel_sender::{Clock, Identity, MemoryLink, OneShotAlloc, Tunnel};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards to the system allocator; the counters are thread-locals with const
// initialisers, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
            LARGEST.with(|l| {
                let (size, align) = l.get();
                l.set((size.max(layout.size()), align.max(layout.align())));
            });
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread, and the largest size and alignment asked for.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, (usize, usize), R) {
    COUNT.with(|c| c.set(0));
    LARGEST.with(|l| l.set((0, 0)));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (COUNT.with(Cell::get), LARGEST.with(Cell::get), r)
}

struct Ticks;
impl Clock for Ticks {
    fn now() -> u64 {
        7
    }
}

type T = Tunnel<MemoryLink<8192>, Ticks>;

const IDENTITY: Identity = Identity {
    boot: 1,
    tick_hz: 1000,
    firmware: "no-alloc",
};

#[test]
fn the_counter_counts() {
    let (n, largest, b) = allocations(|| Box::new([0u64; 3]));
    assert_eq!((n, largest), (1, (24, 8)));
    drop(b);
}

#[test]
fn the_dispatcher_is_the_one_allocation_and_fits_the_one_shot_allocator() {
    static TUNNEL: T = T::new();
    TUNNEL.connect(MemoryLink::new(), IDENTITY).unwrap();
    // On the host, tracing-core's `std` feature keeps a list of dispatchers, shared by the
    // tests running beside this one: grow it first, so that its growth is not measured here
    // (whichever thread registers first would otherwise pay for it).
    drop((0..16).map(|_| TUNNEL.dispatch()).collect::<Vec<_>>());
    let (n, (size, align), dispatch) = allocations(|| TUNNEL.dispatch());
    // On the host, tracing-core's `std` feature also keeps a list of dispatchers (one
    // allocation more); on a target without it, the `Arc` is all.
    assert!(n <= 2, "{n} allocations");
    assert!(size <= 32 && align <= 8, "{size} bytes aligned to {align}");
    let one_shot = OneShotAlloc::<32>::new();
    // The Arc of a `Sender`: two counters and one pointer.
    let arc = Layout::from_size_align(3 * std::mem::size_of::<usize>(), 8).unwrap();
    // SAFETY: a valid layout.
    assert!(!unsafe { one_shot.alloc(arc) }.is_null());
    drop(dispatch);
}

#[test]
fn spans_events_and_requests_allocate_nothing() {
    static TUNNEL: T = T::new();
    TUNNEL.connect(MemoryLink::new(), IDENTITY).unwrap();
    let dispatch = TUNNEL.dispatch();
    let _default = tracing::dispatcher::set_default(&dispatch);

    #[derive(Debug)]
    struct Nested {
        #[allow(dead_code)]
        values: [u32; 4],
    }

    #[tracing::instrument]
    fn instrumented(n: u32, label: &str) -> u32 {
        tracing::debug!(n, label, "in instrumented");
        n + 1
    }

    let work = || {
        for round in 0..3u32 {
            let outer = tracing::info_span!("outer", round, late = tracing::field::Empty);
            let _in_outer = outer.enter();
            outer.record("late", "recorded");
            let inner = tracing::debug_span!(parent: &outer, "inner", f = 2.5);
            inner.follows_from(&outer);
            let clone = inner.clone();
            inner.in_scope(|| {
                tracing::info!(
                    round,
                    big = u128::MAX,
                    neg = i128::MIN,
                    flag = true,
                    text = "str",
                    nested = ?Nested { values: [round; 4] },
                    shown = %round,
                    "formatted {} {:?}",
                    round,
                    Nested { values: [1, 2, 3, 4] }
                );
                tracing::warn!(parent: None, "root event");
            });
            drop(clone);
            instrumented(round, "label");
            let _ = tracing::Span::current();
            TUNNEL.poll();
        }
    };

    // Warm-up: the first call of each call site registers it with tracing (a linked list
    // of statics, no allocation on a target; on the host tracing-core's `std` dispatcher
    // list is read). Counted too.
    let (first, _, ()) = allocations(work);
    assert_eq!(first, 0, "first round allocated");
    let (n, _, ()) = allocations(work);
    assert_eq!(n, 0);

    // Host requests: a re-send of everything and level changes (which rebuild tracing's
    // interest cache).
    let send = |r: Request| {
        let mut buf = [0u8; 8];
        let len = r.encode_frame(&mut buf).unwrap();
        TUNNEL
            .with_link(|l| assert!(l.push_down(&buf[..len])))
            .unwrap();
    };
    let (n, _, ()) = allocations(|| {
        let _span = tracing::info_span!("live").entered();
        send(Request::ResendAll);
        TUNNEL.poll();
        send(Request::SetLevel(WireLevel::Warn));
        TUNNEL.poll();
        work();
        send(Request::SetLevel(WireLevel::Trace));
        TUNNEL.poll();
    });
    assert_eq!(n, 0);

    // Drain, so the ring never filled, and check the work really reached it.
    let mut out = vec![0u8; 8192];
    let len = TUNNEL.with_link(|l| l.drain_up(&mut out)).unwrap();
    assert!(len > 1000, "{len} bytes");
    let stats = TUNNEL.stats();
    assert_eq!(stats.frames_dropped, 0, "{stats:?}");
}
