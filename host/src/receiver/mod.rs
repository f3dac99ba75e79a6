//! The [`Receiver`]: relays the frames of one target into the host's `tracing` dispatcher.
//!
//! It is the equivalent of `tracing-tunnel`'s `TracingEventReceiver` for a microcontroller:
//! call sites become leaked `&'static Metadata` ([leaked memory](self#leaked-memory)), the target's
//! span ids map to host spans, and the target's resets are handled.
//!
//! # Example
//!
//! ```
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_protocol::{
//!     CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, Message, Parent, Values,
//!     PROTOCOL_VERSION,
//! };
//!
//! let output = tracing_subscriber::fmt().with_test_writer().finish();
//! let dispatch = tracing_core::Dispatch::new(output);
//! tracing_core::dispatcher::with_default(&dispatch, || {
//!     let mut receiver = Receiver::default();
//!     let hello = Hello {
//!         version: PROTOCOL_VERSION,
//!         boot: 1,
//!         tick_hz: 1_000_000,
//!         firmware: "demo 0.1",
//!         flash_base: 0,
//!         flash_len: 0,
//!     };
//!     receiver.receive(Frame { exception: 0, dt: 10, message: Message::Hello(hello) });
//!     let names = ["message"];
//!     let site = CallSite {
//!         id: CallsiteId(0),
//!         kind: Kind::Event,
//!         level: Level::Info,
//!         name: "event src/main.rs:3",
//!         target: "demo",
//!         module_path: Some("demo"),
//!         file: Some("src/main.rs"),
//!         line: Some(3),
//!         fields: FieldNames::new(&names),
//!     };
//!     receiver.receive(Frame { exception: 0, dt: 5, message: Message::CallSite(site) });
//!     let event = Message::Event {
//!         callsite: CallsiteId(0),
//!         parent: Parent::Current,
//!         values: Values::EMPTY,
//!     };
//!     // `try_receive` for a real target: errors say what went wrong, and the receiver
//!     // goes on.
//!     receiver.try_receive(Frame { exception: 0, dt: 100, message: event })?;
//!     assert_eq!(receiver.target_time().ticks, 115);
//!     Ok::<(), rtt_tunnel_host::receiver::ReceiveError>(())
//! })?;
//! # Ok::<(), rtt_tunnel_host::receiver::ReceiveError>(())
//! ```
//!
//! # Semantics
//!
//! - **Time.** Each frame's `dt` adds to the target time; a `Hello`'s `dt` restarts it (ticks
//!   since boot). See [`crate::target_time`].
//! - **Frames before the first `Hello`** (a host that attached to a running target) are
//!   accepted: the tick rate and the firmware identity are unknown until a `Hello`, so times
//!   are shown in ticks and the call sites learned are not persisted. When the `Hello` comes
//!   (the target re-sends it with its call sites and live spans when the host asks, or it
//!   reset), the spans seen before it are exited and closed, its call sites forgotten: the
//!   re-send brings back what is alive. This is not counted as a reset.
//! - **Reset.** A `Hello` with another boot value or another firmware identity than the
//!   current boot's, or with the same ones but a time since boot that went back (a target
//!   whose boot value does not change), means the target booted again: the entered spans of
//!   the old boot are exited, its spans closed, a `WARN` event (target `rtt_tunnel`) says so,
//!   and [`resets`](Receiver::resets) counts it. Call sites are kept when the firmware
//!   identity stays the same, dropped when it changes. A `Hello` of the current boot (a
//!   re-send) changes nothing but the time, which it sets exactly.
//! - **Call sites** announced again with the same id: identical content is a no-op; different
//!   content replaces the old call site (a rebuilt firmware that kept its identity string):
//!   later messages use the new one, spans already created keep theirs.
//! - **Parents.** [`Parent::Current`](rtt_tunnel_protocol::Parent::Current) is the span the target most recently entered and has not
//!   exited, as its `Enter` and `Exit` frames tell: the receiver keeps a mirror of the target's
//!   stack of entered spans. Every span and event is relayed with an explicit parent (or as an
//!   explicit root), so the result does not depend on the host thread's own context. A target
//!   root is a root on the host.
//! - **Interrupts.** Each frame says whether the target wrote it in thread mode or in which
//!   exception handler ([`Frame::exception`](rtt_tunnel_protocol::Frame::exception)), and
//!   each entry of the mirrored stack remembers where it was entered. By default
//!   ([`HandlerParents::Own`]), the current span of a frame is the span most recently entered
//!   *in the same context*: a span or an event from a handler is not the child of the
//!   thread-mode span the interrupt preempted (it is a root, or the child of a span entered
//!   in that handler), unless the target gave it that parent explicitly; thread-mode code
//!   never gets a handler's span as parent. [`HandlerParents::Preempted`] keeps the one
//!   stack of the target's `Subscriber` (a handler's events inside the preempted span), as
//!   the receiver did before frames carried the context. The context of the frame being
//!   relayed is published to layers by [`target_time::current_exception`].
//! - **Filtering.** A call site the host's subscriber does not enable is not relayed, exactly
//!   as with local `tracing`: the children and events of a disabled span go to its nearest
//!   relayed ancestor.
//! - **References.** `NewSpan` holds one reference, `Clone` adds one, `Close` drops one; the
//!   host span is closed when the last one goes. The receiver holds one host reference per
//!   relayed span. A span closed while entered is exited first.
//! - **[`SpanId::UNTRACKED`]**: the target's span table was full. Lifecycle frames of that span
//!   are ignored and counted ([`untracked_frames`](Receiver::untracked_frames)); an event or a
//!   span whose explicit parent is untracked gets the current span as parent.
//! - **Values.** `Debug` text is relayed as `Display` of the text (`format_args!("{}", text)`),
//!   with [`TRUNCATED_MARKER`] appended when the target cut it short.
//! - **`Dropped`** becomes a `WARN` event (target `rtt_tunnel`) with the count; the running
//!   total is [`dropped_frames`](Receiver::dropped_frames).
//! - **Lost frames are made good.** After any loss the target writes, before its next frame
//!   that fits, a `Resync`: its live spans and its stack of entered spans (then a `LiveSpan`
//!   for each span whose `NewSpan` was lost, and a second `Resync` with their entries). The receiver closes the spans the target no longer
//!   has and makes its entered stack equal the target's, so from there on the host's spans
//!   and entered stack equal the target's and every later span and event has the parent it
//!   has on the target. Those exits, closes and enters are late (the span ended at or before
//!   the `Resync`'s time): a `WARN` event says how many, [`reconciled`](Receiver::reconciled)
//!   counts them. Not recovered: values of a lost `NewSpan` or `Record`, lost `FollowsFrom`
//!   and lost events (counted by `Dropped`).
//! - **`Status`**: what the target's tables could not hold (spans and enters untracked,
//!   events of refused call sites, values dropped or cut), counted since its boot. The first
//!   time a kind is not 0, a `WARN` event (target `rtt_tunnel`) names it with its count and
//!   the fix ("raise SPANS in `Tunnel<…>`: 44 spans were not tracked …");
//!   [`target_capacity`](Receiver::target_capacity) sums every boot's.
//! - **Errors** ([`ReceiveError`]): a frame that fails is not relayed and changes nothing but
//!   the time; the next frame is handled normally.
//! - **Drop.** Entered spans are exited and spans not [persisted](Receiver::persist) closed.
//!   Host spans are closed innermost first, each only once its host children are: closing
//!   never recurses through the subscriber, however deep the nesting.
//! - **Bounds.** Spans alive, the depth of the entered stack, the entries of a `LiveSpan`,
//!   call sites, and the firmware identities of the persisted metadata are bounded
//!   ([`Limits`], [`set_limits`](Receiver::set_limits)); a frame past a bound is refused with
//!   its error and counted ([`limit_stats`](Receiver::limit_stats)).
//!
//! All calls of a receiver, its drop included, must run under the same dispatcher (the host
//! span ids belong to it), and preferably on one thread: the host subscriber's stack of entered
//! spans is per thread. The receiver holds the dispatcher that was the default when it first
//! needed one, and enters, exits, records and closes its host spans through it, as a local
//! span does through its own `Dispatch`; spans and events are made through the default
//! dispatcher of the moment, as `tracing`'s macros make them.
//!
//! # Leaked memory
//!
//! `tracing-core` wants `&'static` metadata, so call sites are leaked into a process-wide
//! arena that shares identical strings and identical call sites, with a cap
//! ([`set_leak_limit`], [`leak_stats`]). A reset of the same firmware leaks nothing new.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::num::NonZeroU64;

use rtt_tunnel_protocol::{CallSite, CallsiteId, Frame, Hello, Kind, Message, SpanId};
use tracing_core::dispatcher;

mod arena;
mod constants;
mod error;
mod flash;
mod host_spans;
mod library;
mod limits;
mod persist;
mod resync;
mod spans;
mod table;
mod values;

pub use arena::{leak_stats, set_leak_limit, LeakStats, DEFAULT_LEAK_LIMIT};
pub use error::ReceiveError;
pub use flash::FlashSource;
pub use limits::{LimitStats, Limits};
pub use persist::{BootInfo, CallSiteData, LocalSpans, PersistedMetadata, PersistedSpans};
pub use resync::Reconciled;
pub use values::{MAX_VALUES, TRUNCATED_MARKER};

use crate::target_time::{self, TargetClock, TargetTime};
pub(crate) use arena::{intern as intern_callsite, CallSiteView, RemoteCallsite};
use host_spans::HostSpans;
use library::Library;
use persist::{Boot, Local};
use spans::SpanState;
use table::IdTable;

/// A map keyed by the target's small integer ids (call sites, span slots), hashed with one
/// multiplication (FxHash's) rather than SipHash: every relayed message looks one up. The
/// ids come from the target; a target that picks colliding ids only slows its own relay.
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`].
#[derive(Default)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
}

/// Which span is current for a span or an event the target sent from an exception handler
/// with the contextual parent (see the [module docs](self#semantics)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HandlerParents {
    /// The span most recently entered in the same handler, else none (a root): a handler's
    /// spans and events are not children of the thread-mode span the interrupt preempted.
    #[default]
    Own,
    /// The span most recently entered anywhere, as the target's one stack of entered spans
    /// has it: a handler's events nest inside whatever span thread mode was in.
    Preempted,
}

/// The target of the events the receiver emits itself (reset, dropped frames).
pub const RECEIVER_TARGET: &str = "rtt_tunnel";

/// Relays the frames of one target into the host's `tracing` dispatcher. See the
/// [module docs](self) for the semantics.
pub struct Receiver {
    /// Call sites of every firmware build known, for persistence and lazy activation, with
    /// the use of each build for [`Limits::firmware`] and [`Limits::metadata_bytes`].
    library: Library,
    /// Call sites of the running firmware, leaked.
    callsites: IdTable<CallsiteId, &'static RemoteCallsite>,
    boot: Boot,
    ticks: i64,
    epoch: u64,
    spans: IdTable<SpanId, SpanState>,
    /// The target's stack of entered spans, innermost last. Every id in it is in `spans`.
    entered: Vec<SpanId>,
    /// Where each entry of `entered` was entered: the exception number, 0 for thread mode.
    entered_in: Vec<u16>,
    /// The exception number of the frame being relayed (0: thread mode).
    exception: u16,
    /// How handler frames find their current span.
    handler_parents: HandlerParents,
    dropped_frames: u64,
    untracked_frames: u64,
    /// Spans replaced by a `NewSpan` that reused their id (their `Close` was lost).
    replaced_spans: u64,
    clock: TargetClock,
    /// Call-site constants the target sent (see the protocol's `Value::Constant`).
    constants: constants::Constants,
    /// Texts the target sent by reference (see the protocol's `Value::FlashText`).
    flash: flash::FlashTexts,
    /// The host spans held, for closing without recursion.
    host_spans: HostSpans,
    limits: Limits,
    limit_stats: LimitStats,
    /// What `Resync` frames and resets changed.
    reconciled: Reconciled,
    /// The target's `Status` counters.
    capacity: resync::TargetCapacity,
}

impl Default for Receiver {
    fn default() -> Self {
        Self::new(
            PersistedMetadata::default(),
            PersistedSpans::default(),
            LocalSpans::default(),
        )
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("boot", &self.boot)
            .field("time", &self.target_time())
            .field("call_sites", &self.callsites.len())
            .field("spans", &self.spans.len())
            .field("entered", &self.entered)
            .field("host_spans", &self.host_spans.len())
            .field("dropped_frames", &self.dropped_frames)
            .field("untracked_frames", &self.untracked_frames)
            .finish_non_exhaustive()
    }
}

/// Runs `f` inside `get_default`'s closure, without cloning the dispatcher (a reference count
/// up and down, an atomic each with a scoped dispatcher): for `enabled`, `new_span` and
/// `event`, which `tracing`'s own macros call there too (`Span::new`, `Event::dispatch`).
/// Whatever the subscriber dispatches from inside them reaches the no-op dispatcher, as it
/// would for local spans and events. Everything else goes through the dispatcher the
/// receiver's host spans belong to ([`HostSpans::dispatch`]), as a span's own `Dispatch`.
fn dispatch_busy<R>(f: impl FnMut(&dispatcher::Dispatch) -> R) -> R {
    dispatcher::get_default(f)
}

impl Receiver {
    /// Restores a receiver: `metadata` of any number of firmware builds (what
    /// [`persist_metadata`](Self::persist_metadata) returned, possibly merged across runs),
    /// and the `spans` and `local_spans` of the stream it continues (what
    /// [`persist`](Self::persist) returned; defaults for a new stream).
    ///
    /// Spans that were entered are entered again on the host (they were exited when the old
    /// receiver persisted). Call under the dispatcher that the stream is relayed to.
    ///
    /// `local_spans` must come from the same host subscriber; without them (the default) the
    /// spans are created again on the host, without values. Entries of `local_spans` for spans
    /// that `spans` does not have are closed.
    pub fn new(
        metadata: PersistedMetadata,
        spans: PersistedSpans,
        local_spans: LocalSpans,
    ) -> Self {
        let mut local = local_spans.inner;
        let mut host_spans = HostSpans::default();
        let mut span_table: IdTable<SpanId, SpanState> = spans
            .spans
            .into_iter()
            .map(|(id, data)| {
                let local = local.remove(&id).unwrap_or(Local::Pending);
                (id, SpanState::restored(data, local))
            })
            .collect();
        for (_, stale) in local {
            if let Local::Relayed(id) = stale {
                host_spans.dispatch(|d| d.try_close(id));
            }
        }
        let entered: Vec<SpanId> = spans
            .entered
            .into_iter()
            .filter(|id| span_table.contains_key(id))
            .collect();
        spans::hold_restored(&mut span_table, &mut host_spans);
        let mut this = Self {
            library: Library::new(metadata),
            callsites: IdTable::default(),
            boot: spans.boot,
            ticks: spans.ticks,
            epoch: spans.epoch,
            spans: span_table,
            // What was persisted was entered in thread mode, as far as the receiver knows.
            entered_in: vec![0; entered.len()],
            entered,
            exception: 0,
            handler_parents: HandlerParents::default(),
            dropped_frames: spans.dropped_frames,
            untracked_frames: spans.untracked_frames,
            replaced_spans: 0,
            clock: TargetClock::new(),
            constants: constants::Constants::default(),
            flash: flash::FlashTexts::default(),
            host_spans,
            limits: Limits::DEFAULT,
            limit_stats: LimitStats::default(),
            reconciled: Reconciled::default(),
            capacity: resync::TargetCapacity::default(),
        };
        this.clock.set(this.target_time());
        let _current = target_time::set_current(this.target_time());
        this.reenter();
        this
    }

    /// How spans and events from exception handlers find their current span (see the
    /// [module docs](self#semantics)); [`HandlerParents::Own`] unless set.
    pub fn with_handler_parents(mut self, rule: HandlerParents) -> Self {
        self.handler_parents = rule;
        self
    }

    /// Relays one frame.
    ///
    /// # Errors
    ///
    /// See [`ReceiveError`]. A frame that fails is not relayed and leaves the receiver as it
    /// was, except for the target time; the receiver keeps working.
    pub fn try_receive(&mut self, frame: Frame<'_>) -> Result<(), ReceiveError> {
        self.receive_in_scope(frame, None)
    }

    /// [`try_receive`](Self::try_receive), reading a text the frame sends by reference from
    /// `flash` (the target's memory) when the receiver has it neither already nor from its
    /// own [`FlashSource`] (see [`with_flash_source`](Self::with_flash_source)).
    ///
    /// # Errors
    ///
    /// As [`try_receive`](Self::try_receive).
    pub fn try_receive_with(
        &mut self,
        frame: Frame<'_>,
        flash: &mut dyn FlashSource,
    ) -> Result<(), ReceiveError> {
        self.receive_in_scope(frame, Some(flash))
    }

    /// The body of [`try_receive`](Self::try_receive) and
    /// [`try_receive_with`](Self::try_receive_with): one frame in a target-time scope of its
    /// own (a pipeline calls [`relay_frame`](Self::relay_frame) instead, inside one scope for
    /// all the frames of a chunk).
    fn receive_in_scope(
        &mut self,
        frame: Frame<'_>,
        flash: Option<&mut dyn FlashSource>,
    ) -> Result<(), ReceiveError> {
        let _scope = target_time::frame_scope();
        self.relay_frame(frame, flash)
    }

    /// [`relay_frame`](Self::relay_frame) out of line, for the frames a pipeline reads with
    /// `Frame::decode_deferred`: the messages that are not compact (rare), whose dispatch
    /// need not be in the pipeline's loop.
    #[inline(never)]
    pub(crate) fn relay_other_frame(
        &mut self,
        frame: Frame<'_>,
        flash: Option<&mut dyn FlashSource>,
    ) -> Result<(), ReceiveError> {
        self.relay_frame(frame, flash)
    }

    /// [`try_receive`](Self::try_receive) inside a [`target_time::frame_scope`] the caller
    /// holds (a pipeline holds one for all the frames of a chunk): the frame's time and
    /// context are published for the layers, and left there for the scope to restore.
    ///
    /// Inlined into the pipeline's loop, where the frame was read with
    /// `Frame::decode_compact`: its message is matched right where it was read (never a
    /// `Hello` there), a call and the frame's trip through memory fewer per frame (the
    /// handlers of the kinds of message stay out of line).
    #[inline(always)]
    pub(crate) fn relay_frame(
        &mut self,
        frame: Frame<'_>,
        flash: Option<&mut dyn FlashSource>,
    ) -> Result<(), ReceiveError> {
        self.exception = frame.exception;
        if let Message::Hello(hello) = frame.message {
            target_time::set_hello_frame(frame.exception);
            return self.on_hello(frame.dt, hello);
        }
        self.ticks = self.ticks.wrapping_add(frame.dt);
        if matches!(self.boot, Boot::NotStarted) {
            self.boot = Boot::Unannounced;
        }
        self.clock.set_ticks(self.ticks);
        // The frame's time and context, both set at once (the caller's scope restores them).
        target_time::set_frame(frame.exception, self.ticks, || self.target_time());
        match frame.message {
            Message::Hello(_) => unreachable!("handled above"),
            Message::CallSite(site) => self.on_callsite(&site),
            Message::Event {
                callsite,
                parent,
                values,
            } => self.on_event(callsite, parent, values, flash),
            Message::NewSpan {
                id,
                callsite,
                parent,
                values,
            } => self.on_new_span(id, callsite, parent, values),
            Message::Enter(id) => self.on_enter(id),
            Message::Exit(id) => self.on_exit(id),
            Message::Close(id) => self.on_close(id),
            Message::Clone(id) => self.on_clone(id),
            Message::Record { span, values } => self.on_record(span, values),
            Message::FollowsFrom { span, follows } => self.on_follows_from(span, follows),
            Message::Dropped { frames } => {
                self.on_dropped(frames);
                Ok(())
            }
            Message::LiveSpan(live) => self.on_live_span(live),
            Message::Resync(resync) => {
                self.on_resync(resync);
                Ok(())
            }
            Message::Status(status) => {
                self.on_status(status);
                Ok(())
            }
        }
    }

    /// Relays one frame, like [`try_receive`](Self::try_receive).
    ///
    /// # Panics
    ///
    /// Panics where [`try_receive`](Self::try_receive) returns an error: a bogus frame, a
    /// host that attached late and missed call sites or spans, or restored state of another
    /// stream. A host reading a real target wants `try_receive`.
    pub fn receive(&mut self, frame: Frame<'_>) {
        if let Err(err) = self.try_receive(frame) {
            panic!("bogus frame from the target: {err}");
        }
    }

    /// The call sites of every firmware build this receiver knows (the ones it was restored
    /// with, and the ones it learned), to give to a later [`new`](Self::new).
    pub fn persist_metadata(&self) -> PersistedMetadata {
        self.library.metadata().clone()
    }

    /// Reads the texts the target sends by reference (a constant message, a static `&str`:
    /// see the protocol's `Value::FlashText`) from `source`, the firmware's ELF
    /// ([`FirmwareElf`](crate::elf::FirmwareElf)) say. Without one, a reference the receiver
    /// has no text for is shown as a placeholder that says why, unless a frame brings a
    /// source of its own ([`try_receive_with`](Self::try_receive_with)).
    pub fn with_flash_source(mut self, source: impl FlashSource + Send + 'static) -> Self {
        self.flash.set_source(Box::new(source));
        self
    }

    /// Gives the receiver the text at target address `address` (a capture recorded it):
    /// a reference to it needs no [`FlashSource`].
    pub fn preload_flash_text(&mut self, address: u64, text: &str) {
        self.flash.preload(address, text.into());
    }

    /// The texts read from a [`FlashSource`] since the last call, with their target
    /// addresses: what a capture records, so that its replay needs no source.
    pub fn take_new_flash_texts(&mut self) -> Vec<(u64, Box<str>)> {
        self.flash.take_new()
    }

    /// Whether [`take_new_flash_texts`](Self::take_new_flash_texts) has something.
    pub fn has_new_flash_texts(&self) -> bool {
        self.flash.has_new()
    }

    /// References shown as a placeholder: no source had their text, or it was not UTF-8.
    pub fn unresolved_flash_texts(&self) -> u64 {
        self.flash.unresolved()
    }

    /// Sets the bounds on what the target's frames can make this receiver keep or do (see
    /// [`Limits`]). Spans, entries and call sites already kept beyond new, lower bounds stay.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The bounds in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What the bounds refused or dropped so far.
    pub fn limit_stats(&self) -> LimitStats {
        LimitStats {
            call_sites_not_persisted: self.library.not_persisted(),
            firmware_dropped: self.library.dropped(),
            ..self.limit_stats
        }
    }

    /// Ends this receiver without closing the stream's spans: returns them, to continue the
    /// stream in a receiver made by [`new`](Self::new). Entered spans are exited on the host
    /// (the new receiver enters them again).
    pub fn persist(mut self) -> (PersistedSpans, LocalSpans) {
        let _current = target_time::set_current(self.target_time());
        let entered = std::mem::take(&mut self.entered);
        self.entered_in.clear();
        for id in entered.iter().rev() {
            if let Some(Local::Relayed(local)) = self.spans.get(id).map(|s| &s.local) {
                self.host_spans.dispatch(|d| d.exit(local));
            }
        }
        self.host_spans.hand_on();
        let mut local = LocalSpans::default();
        let spans = std::mem::take(&mut self.spans)
            .into_iter()
            .map(|(id, state)| {
                let (data, l) = state.into_persisted();
                if l != Local::Pending {
                    local.inner.insert(id, l);
                }
                (id, data)
            })
            .collect();
        let persisted = PersistedSpans {
            boot: self.boot.clone(),
            ticks: self.ticks,
            epoch: self.epoch,
            spans,
            entered,
            dropped_frames: self.dropped_frames,
            untracked_frames: self.untracked_frames,
        };
        (persisted, local)
    }

    /// The target time of the last frame.
    pub fn target_time(&self) -> TargetTime {
        let (tick_hz, boot) = match &self.boot {
            Boot::Announced(info) => (NonZeroU64::new(info.tick_hz), Some(info.boot)),
            _ => (None, None),
        };
        TargetTime {
            ticks: self.ticks,
            tick_hz,
            boot,
            epoch: self.epoch,
        }
    }

    /// A handle on the target time, updated before each frame is relayed.
    pub fn clock(&self) -> TargetClock {
        self.clock.clone()
    }

    /// The current boot's `Hello`, once one came.
    pub fn boot(&self) -> Option<&BootInfo> {
        match &self.boot {
            Boot::Announced(info) => Some(info),
            _ => None,
        }
    }

    /// How many times the target reset (see the [module docs](self)).
    pub fn resets(&self) -> u64 {
        self.epoch
    }

    /// Total of the frames the target reported dropped (its ring was full).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }

    /// Lifecycle frames of [`SpanId::UNTRACKED`] spans that were ignored.
    pub fn untracked_frames(&self) -> u64 {
        self.untracked_frames
    }

    /// Spans closed because a `NewSpan` reused their id: the target frees a span's id (its
    /// slot) when it closes the span, so this means the `Close` was lost (a full ring; the
    /// target's `Dropped` report says how many frames). Counted since this receiver was made.
    pub fn replaced_spans(&self) -> u64 {
        self.replaced_spans
    }

    /// The number of alive spans of the current boot.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The target's entered spans as the receiver mirrors them, innermost last.
    pub fn entered(&self) -> &[SpanId] {
        &self.entered
    }

    fn firmware(&self) -> Option<&str> {
        match &self.boot {
            Boot::Announced(info) if !info.firmware.is_empty() => Some(&info.firmware),
            _ => None,
        }
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    fn on_hello(&mut self, dt: i64, hello: Hello<'_>) -> Result<(), ReceiveError> {
        if hello.version != rtt_tunnel_protocol::PROTOCOL_VERSION {
            return Err(ReceiveError::VersionMismatch {
                found: hello.version,
                expected: rtt_tunnel_protocol::PROTOCOL_VERSION,
            });
        }
        let old_boot = match &self.boot {
            Boot::NotStarted => None,
            Boot::Unannounced => {
                // A host that attached to a running target sees its Hello when it asks for a
                // re-send, or when the target resets: either way, what came before is
                // replaced (live spans are re-sent after the Hello).
                let _current = target_time::set_current(self.target_time());
                self.end_boot();
                None
            }
            Boot::Announced(old) if old.boot == hello.boot && old.firmware == hello.firmware => {
                // Time since boot never goes back within a boot; a little slack (10 ms) for
                // frames that an interrupt sealed ahead of this one.
                let slack = i64::try_from(hello.tick_hz / 100).unwrap_or(i64::MAX);
                if dt >= self.ticks.saturating_sub(slack) {
                    // The same boot announced again (the host asked for a re-send): only the
                    // time is taken, exactly, from it.
                    if let Boot::Announced(info) = &mut self.boot {
                        info.tick_hz = hello.tick_hz;
                    }
                    // The sender re-sends its `Hello` when its flash moved.
                    self.flash
                        .set_flash(hello.flash_base, hello.flash_len, true);
                    self.ticks = dt;
                    self.clock.set(self.target_time());
                    return Ok(());
                }
                Some(old.boot)
            }
            Boot::Announced(old) => Some(old.boot),
        };
        let same_firmware = !hello.firmware.is_empty() && self.firmware() == Some(hello.firmware);
        let (exited, closed) = match old_boot {
            Some(_) => {
                let _current = target_time::set_current(self.target_time());
                self.end_boot()
            }
            None => (0, 0),
        };
        if !same_firmware {
            self.callsites.clear();
        }
        self.constants.clear();
        self.flash
            .set_flash(hello.flash_base, hello.flash_len, same_firmware);
        self.library.touch(hello.firmware);
        if old_boot.is_some() {
            self.epoch += 1;
            self.reconciled.reset_exits += exited as u64;
            self.reconciled.reset_closes += closed as u64;
            self.capacity.new_boot();
        }
        self.boot = Boot::Announced(BootInfo {
            firmware: hello.firmware.into(),
            boot: hello.boot,
            tick_hz: hello.tick_hz,
        });
        self.ticks = dt;
        let time = self.target_time();
        self.clock.set(time);
        if let Some(old) = old_boot {
            let _current = target_time::set_current(time);
            tracing::warn!(
                target: RECEIVER_TARGET,
                parent: None,
                resets = self.epoch,
                boot = hello.boot,
                exited,
                closed,
                firmware = hello.firmware,
                "target reset (boot {old} -> {}): the old boot's entered spans were exited and \
                 its spans closed",
                hello.boot,
            );
        }
        Ok(())
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    fn on_dropped(&mut self, frames: u32) {
        if frames == 0 {
            return;
        }
        self.dropped_frames = self.dropped_frames.saturating_add(u64::from(frames));
        tracing::warn!(
            target: RECEIVER_TARGET,
            parent: None,
            frames,
            total = self.dropped_frames,
            "target dropped {frames} frames ({} in all): its RTT buffer was full; \
             read faster or give the channel a bigger buffer",
            self.dropped_frames,
        );
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    fn on_callsite(&mut self, site: &CallSite<'_>) -> Result<(), ReceiveError> {
        self.constants.forget(site.id);
        if let Some(existing) = self.callsites.get(&site.id) {
            if CallSiteView::from(site).matches(existing.metadata()) {
                return Ok(());
            }
        }
        if !self.callsites.contains_key(&site.id) && self.callsites.len() >= self.limits.call_sites
        {
            self.limit_stats.call_sites_refused += 1;
            return Err(ReceiveError::CallSiteLimit {
                callsite: site.id,
                limit: self.limits.call_sites,
            });
        }
        let callsite = match arena::intern(&CallSiteView::from(site)) {
            Ok(callsite) => callsite,
            Err(full) => {
                self.limit_stats.arena_refused += 1;
                return Err(ReceiveError::ArenaFull {
                    callsite: site.id,
                    needed: full.needed,
                    leaked: full.leaked,
                    limit: full.limit,
                });
            }
        };
        self.callsites.insert(site.id, callsite);
        if let Some(firmware) = self.firmware() {
            let firmware = firmware.to_owned();
            self.library
                .insert(&firmware, site.id, CallSiteData::from(site), &self.limits);
        }
        Ok(())
    }

    /// A call site not in the table: activated from the persisted metadata, or the error.
    #[cold]
    #[inline(never)]
    fn activate_callsite(
        &mut self,
        id: CallsiteId,
        message: &'static str,
    ) -> Result<&'static RemoteCallsite, ReceiveError> {
        let unknown = ReceiveError::UnknownCallsite {
            callsite: id,
            message,
        };
        let firmware = match &self.boot {
            Boot::Announced(info) if !info.firmware.is_empty() => &info.firmware,
            _ => return Err(unknown),
        };
        if self.callsites.len() >= self.limits.call_sites {
            self.limit_stats.call_sites_refused += 1;
            return Err(ReceiveError::CallSiteLimit {
                callsite: id,
                limit: self.limits.call_sites,
            });
        }
        let data = self.library.metadata().get(firmware, id).ok_or(unknown)?;
        let callsite = match arena::intern(&data.view()) {
            Ok(callsite) => callsite,
            Err(full) => {
                self.limit_stats.arena_refused += 1;
                return Err(ReceiveError::ArenaFull {
                    callsite: id,
                    needed: full.needed,
                    leaked: full.leaked,
                    limit: full.limit,
                });
            }
        };
        self.callsites.insert(id, callsite);
        Ok(callsite)
    }

    /// The call site `id` of the running firmware, of kind `kind`, activating it from the
    /// persisted metadata if needed.
    ///
    /// Inlined into each handler: the usual call site, known and of the right kind, is one
    /// look-up and one comparison; anything else (an error, a call site to activate) is
    /// [`callsite_of_kind_other`](Self::callsite_of_kind_other).
    #[inline(always)]
    fn callsite_of_kind(
        &mut self,
        id: CallsiteId,
        kind: Kind,
        message: &'static str,
    ) -> Result<&'static RemoteCallsite, ReceiveError> {
        match self.callsites.get(&id) {
            Some(&callsite) if kind_of(callsite) == kind => Ok(callsite),
            _ => self.callsite_of_kind_other(id, kind, message),
        }
    }

    /// [`callsite_of_kind`](Self::callsite_of_kind) of a call site not in the table or not
    /// of the kind: activated from the persisted metadata, or the error.
    #[cold]
    #[inline(never)]
    fn callsite_of_kind_other(
        &mut self,
        id: CallsiteId,
        kind: Kind,
        message: &'static str,
    ) -> Result<&'static RemoteCallsite, ReceiveError> {
        let callsite = match self.callsites.get(&id) {
            Some(&callsite) => callsite,
            None => self.activate_callsite(id, message)?,
        };
        let actual = kind_of(callsite);
        if actual != kind {
            return Err(ReceiveError::CallsiteKind {
                callsite: id,
                name: callsite.metadata().name(),
                actual,
                expected: kind,
                message,
            });
        }
        Ok(callsite)
    }
}

/// Whether `callsite` is a span's or an event's.
#[inline(always)]
fn kind_of(callsite: &RemoteCallsite) -> Kind {
    if callsite.metadata().is_span() {
        Kind::Span
    } else {
        Kind::Event
    }
}

/// Decodes `values` against `callsite` into `out` (empty), with the context for an error.
fn check_values<'a>(
    callsite: &RemoteCallsite,
    id: CallsiteId,
    values: rtt_tunnel_protocol::Values<'a>,
    message: &'static str,
    out: &mut values::Decoded<'a>,
) -> Result<(), ReceiveError> {
    let name = callsite.metadata().name();
    values::decode_into(values, callsite.fields().len(), out).map_err(|e| match e {
        values::ValuesError::TooMany { count } => ReceiveError::TooManyValues {
            callsite: id,
            name,
            count,
            max: MAX_VALUES,
            message,
        },
        values::ValuesError::Decode(error) => ReceiveError::BadValue {
            callsite: id,
            name,
            error,
            message,
        },
        values::ValuesError::UnknownField { field } => ReceiveError::UnknownField {
            callsite: id,
            name,
            field,
            fields: callsite.fields().len(),
            message,
        },
    })
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _current = target_time::set_current(self.target_time());
        self.end_boot();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn id_hashes_differ_for_the_ids_a_target_uses() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let spans: HashSet<u64> = (0..4096u32).map(|id| build.hash_one(SpanId(id))).collect();
        assert_eq!(spans.len(), 4096);
        // The table's bucket index takes the low bits: consecutive ids spread over them.
        let low: HashSet<u64> = (0..64u32)
            .map(|id| build.hash_one(CallsiteId(id)) & 63)
            .collect();
        assert!(low.len() > 32, "{} distinct buckets of 64", low.len());
    }

    #[test]
    fn id_maps_find_what_they_hold() {
        let mut map = IdMap::<SpanId, u32>::default();
        for id in 0..1000 {
            map.insert(SpanId(id * 7), id);
        }
        assert!((0..1000).all(|id| map.get(&SpanId(id * 7)) == Some(&id)));
        assert_eq!(map.get(&SpanId(1)), None);
    }
}
