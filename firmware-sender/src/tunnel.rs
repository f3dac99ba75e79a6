//! The sender's core, kept in a `static`: its state behind a critical-section mutex, the
//! runtime level, and what the firmware calls (`init`, `poll`, `set_level`, `stats`).

use core::cell::RefCell;
use core::marker::PhantomData;
use core::sync::atomic::AtomicU32;

use critical_section::Mutex;
use tracing_core::{Dispatch, LevelFilter};

use crate::level::{self, AtomicLevel};
use crate::state::{Flush, State};
use crate::{Clock, Identity, InitError, Link, Sender, Stats};

/// The sender's state, meant for a `static`: everything it keeps, with fixed capacity.
///
/// - `L`: the [`Link`] to the host ([`RttLink`](crate::RttLink) on a target).
/// - `C`: the [`Clock`] of timestamps.
/// - `SPANS`: spans alive at once (default 32). Beyond it, new spans are untracked.
/// - `CALLSITES`: distinct call sites used (default 64; a power of two, at most 128). Beyond
///   it, events from new call sites are dropped and their spans untracked.
/// - `DEPTH`: spans entered at once, nesting and interrupts included (default 16).
/// - `FRAME`: bytes of a frame buffer (default 256, at least 64). One sits on the stack of
///   every span and event operation; a second, in here, holds call-site announcements.
///   `Debug`, `Display` and string values are cut at `FRAME / 2` bytes.
///
/// Everything is counted in [`Stats`]; nothing panics.
///
/// Its constructor is `const` and all of it starts zeroed, so a `static` of it lands in
/// `.bss` and costs no flash.
///
/// # Example
///
/// On the host with an in-memory link (on a target, see the [crate docs](crate)):
///
/// ```
/// use rtt_tunnel_sender::{Clock, Identity, MemoryLink, Tunnel};
///
/// struct Ticks;
/// impl Clock for Ticks {
///     fn now() -> u64 { 42 }
/// }
///
/// static TUNNEL: Tunnel<MemoryLink<1024>, Ticks> = Tunnel::new();
///
/// let identity = Identity { boot: 1, tick_hz: 1_000, firmware: rtt_tunnel_sender::firmware_id!() };
/// TUNNEL.connect(MemoryLink::new(), identity).unwrap();
/// tracing::dispatcher::with_default(&TUNNEL.dispatch(), || {
///     let span = tracing::info_span!("work", n = 3).entered();
///     tracing::info!(ok = true, "done");
///     drop(span);
/// });
/// TUNNEL.poll();
/// let written = TUNNEL.with_link(|link| link.up_len()).unwrap();
/// assert!(written > 0);
/// assert_eq!(TUNNEL.stats().frames_dropped, 0);
/// ```
pub struct Tunnel<
    L,
    C,
    const SPANS: usize = 32,
    const CALLSITES: usize = 64,
    const DEPTH: usize = 16,
    const FRAME: usize = 256,
> {
    pub(crate) level: AtomicLevel,
    pub(crate) state: Mutex<RefCell<State<L, SPANS, CALLSITES, DEPTH, FRAME>>>,
    /// Operations left until the down channel is looked at again (`requests.rs`).
    pub(crate) since_check: AtomicU32,
    clock: PhantomData<fn() -> C>,
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    core::fmt::Debug for Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tunnel")
            .field("level", &self.level.get())
            .finish_non_exhaustive()
    }
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Default for Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: Link + Send + 'static,
    C: Clock + 'static,
{
    /// `Debug`, `Display` and string values are cut at this many bytes.
    pub const TEXT_LIMIT: usize = FRAME / 2;

    /// A tunnel with no link yet, and every level enabled (as far as `tracing`'s static
    /// `max_level_*` features allow).
    pub const fn new() -> Self {
        const { assert!(FRAME >= 64, "FRAME must be at least 64 bytes") };
        Self {
            level: AtomicLevel::new(),
            state: Mutex::new(RefCell::new(State::new())),
            since_check: AtomicU32::new(0),
            clock: PhantomData,
        }
    }

    /// Runs `f` on the state inside a critical section. `None` if the state is in use: only
    /// when the sender itself panicked inside its critical section and the panic handler
    /// traces. The frame is then lost, silently.
    pub(crate) fn with_state<R>(
        &self,
        f: impl FnOnce(&mut State<L, SPANS, CALLSITES, DEPTH, FRAME>) -> R,
    ) -> Option<R> {
        critical_section::with(|cs| {
            let mut state = self.state.borrow(cs).try_borrow_mut().ok()?;
            Some(f(&mut state))
        })
    }

    /// Connects the link and writes the `Hello` frame, without installing a dispatcher: for
    /// tests, and for firmware that sets its dispatcher itself (with
    /// [`dispatch`](Self::dispatch)). Most firmware calls [`init`](Self::init).
    pub fn connect(&self, link: L, identity: Identity) -> Result<(), InitError> {
        if self.with_state(|s| s.connect(link, identity)) != Some(true) {
            return Err(InitError::AlreadyConnected);
        }
        self.write_pending();
        Ok(())
    }

    /// Connects the link, writes the `Hello` frame and makes this tunnel the global `tracing`
    /// dispatcher. Call it once at start-up, before the first span or event you want to see.
    ///
    /// This is where tracing-core makes its one allocation (see
    /// [`OneShotAlloc`](crate::OneShotAlloc)).
    pub fn init(&'static self, link: L, identity: Identity) -> Result<(), InitError> {
        self.connect(link, identity)?;
        tracing_core::dispatcher::set_global_default(self.dispatch())
            .map_err(|_| InitError::GlobalDefaultAlreadySet)
    }

    /// The `tracing` subscriber: a handle of one pointer to this tunnel.
    pub fn sender(&'static self) -> Sender<L, C, SPANS, CALLSITES, DEPTH, FRAME> {
        Sender { tunnel: self }
    }

    /// A dispatcher over [`sender`](Self::sender). Allocates its `Arc` (a few bytes).
    pub fn dispatch(&'static self) -> Dispatch {
        Dispatch::new(self.sender())
    }

    /// Services the host: reads its requests from the down channel (re-send everything,
    /// change the level), then writes what is pending as far as the ring has room: the
    /// `Dropped` report, call-site announcements that did not fit earlier, re-sent call sites
    /// and live spans. Each frame goes in its own short critical section.
    ///
    /// Optional: the sender looks at the down channel on its own every
    /// [`REQUEST_CHECK`](Self::REQUEST_CHECK) new spans, events and span clones in thread
    /// mode, and serves what it finds there. Call `poll` where the firmware may go quiet for long (an
    /// idle loop, a timer), so that a host that attaches then is served at once, and to write
    /// pending reports. Not from inside a critical section (a level change rebuilds tracing's
    /// interest cache).
    pub fn poll(&self) {
        self.serve();
    }

    /// [`poll`](Self::poll), saying whether the ring filled up or nothing is pending.
    fn serve(&self) -> Flush {
        if let Some(Some(filter)) = self.with_state(|s| s.read_requests()) {
            self.set_level(level::from_wire(filter));
        }
        self.write_pending()
    }

    /// Keeps [`poll`](Self::poll)ing until nothing is pending: the `Dropped` report, what a
    /// loss made due (the `Resync` and the `LiveSpan`s before it), the capacity `Status`,
    /// call-site announcements and re-sent spans. While the ring is full it calls `wait` (give
    /// the host time to read: a delay, or a wait for the ring to drain) and tries again, at
    /// most `tries` times. Call it before the firmware stops, resets or halts (the panic path
    /// of the QEMU boards does), so that the host's counts equal [`stats`](Self::stats).
    ///
    /// Returns `true` once nothing is pending; `false` when the tries ran out, which is
    /// counted in [`Stats::flushes_incomplete`]: the firmware reports it its own way (the QEMU
    /// boards print it through semihosting); the host's counts may then fall short.
    ///
    /// ```
    /// # use rtt_tunnel_sender::{Clock, Identity, MemoryLink, Tunnel};
    /// # struct Ticks;
    /// # impl Clock for Ticks { fn now() -> u64 { 0 } }
    /// static TUNNEL: Tunnel<MemoryLink<1024>, Ticks> = Tunnel::new();
    /// # let identity = Identity { boot: 1, tick_hz: 1_000, firmware: "doc" };
    /// TUNNEL.connect(MemoryLink::new(), identity).unwrap();
    /// // ... on the way out:
    /// let all_written = TUNNEL.flush(100, || { /* wait a millisecond */ });
    /// assert!(all_written);
    /// ```
    #[must_use = "`false` means frames are still pending"]
    pub fn flush(&self, tries: u32, mut wait: impl FnMut()) -> bool {
        for _ in 0..tries {
            if self.serve() == Flush::Idle {
                return true;
            }
            wait();
        }
        self.with_state(|s| {
            s.stats.flushes_incomplete = s.stats.flushes_incomplete.saturating_add(1);
        });
        false
    }

    /// Writes pending frames until the ring is full or nothing is pending; says which.
    fn write_pending(&self) -> Flush {
        // Each step writes a frame or retires one item: this bounds the loop even while
        // interrupts add spans and call sites.
        for _ in 0..SPANS + CALLSITES + 4 {
            let now = C::now();
            match self.with_state(|s| s.flush_one::<C>(now)) {
                Some(Flush::Progress) => {}
                Some(done) => return done,
                None => return Flush::Blocked,
            }
        }
        Flush::Progress
    }

    /// Tells the sender where the firmware's flash is (`start..end`, addresses of the
    /// running firmware), instead of the default. Text that lies there cannot change, so the
    /// sender does not send its bytes: a constant message (`info!("ready")`, whose one static
    /// piece `fmt::Arguments` hands over as is) or a static `&str` value goes out in the call
    /// site's first event as a reference (its offset from `start` and its length, which the
    /// host resolves from the firmware's ELF, target memory or a capture), and as a one-byte
    /// marker in the events after it, while it stays the same text. Formatted text
    /// (`info!("n = {}", n)`), `Debug` output written in pieces, and strings in RAM are sent
    /// in full every time.
    ///
    /// The default, with the `cortex-m-rt` feature (on by default) on a bare-metal ARM
    /// target, is cortex-m-rt's read-only data, `__srodata..__erodata`, where string literals
    /// lie. Without it, and before [`connect`](Self::connect), there is no flash and every
    /// text is sent in full. An empty range (`0..0`) turns references off. Called after the
    /// `Hello` went out with another start, it sends the `Hello` again.
    pub fn set_flash(&self, flash: core::ops::Range<usize>) {
        self.with_state(|s| s.set_flash((flash.start, flash.end)));
    }

    /// Sets the runtime level filter (what the host's `SetLevel` request does). Levels above
    /// `tracing`'s static `max_level_*` stay compiled out. Not from inside a critical section:
    /// a change rebuilds tracing's interest cache.
    pub fn set_level(&self, filter: LevelFilter) {
        if self.level.set(filter) {
            tracing_core::callsite::rebuild_interest_cache();
        }
    }

    /// The runtime level filter.
    pub fn level(&self) -> LevelFilter {
        self.level.get()
    }

    /// What was written and what had to be left out so far.
    pub fn stats(&self) -> Stats {
        self.with_state(|s| s.stats).unwrap_or_default()
    }

    /// Runs `f` on the link inside a critical section (a test drains its in-memory ring this
    /// way); `None` before [`connect`](Self::connect).
    pub fn with_link<R>(&self, f: impl FnOnce(&mut L) -> R) -> Option<R> {
        self.with_state(|s| s.link_mut().map(f)).flatten()
    }
}
