//! Target time: when a span or event happened on the chip, not when the host read it.
//!
//! Every frame carries a delta of target ticks since the frame before it (a `Hello` frame: ticks
//! since boot). The [`Receiver`](crate::receiver::Receiver) sums them into the absolute time of
//! the frame it is relaying, and publishes it two ways:
//!
//! - [`current()`]: a thread-local, set while the receiver relays a frame on this thread. A
//!   `Layer` calls it from `on_event` / `on_new_span` / ... and gets the time of exactly the
//!   frame being relayed, whatever other receivers run on other threads. [`TargetTimer`]
//!   prints it in `tracing-subscriber`'s `fmt` output.
//! - [`TargetClock`]: a cheap cloneable handle ([`Receiver::clock`]) that always holds the time
//!   of the last frame the receiver took, readable from any thread (a status line, say).
//!
//! [`Receiver::clock`]: crate::receiver::Receiver::clock

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The time of one frame on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetTime {
    /// Ticks since boot: the sum of the frames' deltas since the last `Hello`. Before the
    /// first `Hello` (a host that attached to a running target), ticks since the first frame
    /// the receiver saw, which may go below zero.
    pub ticks: i64,
    /// Ticks per second, from the `Hello` of this boot; `None` before the first `Hello` or if
    /// the target announced a rate of 0.
    pub tick_hz: Option<NonZeroU64>,
    /// The boot value of the target's `Hello` (a counter or a nonce); `None` before the first
    /// `Hello`.
    pub boot: Option<u32>,
    /// How many target resets the receiver has seen before this frame: 0 for the first boot.
    pub epoch: u64,
}

impl TargetTime {
    /// Time since boot, if the tick rate is known and the ticks are not negative.
    pub fn since_boot(&self) -> Option<Duration> {
        let hz = self.tick_hz?.get();
        let ticks = u64::try_from(self.ticks).ok()?;
        let secs = ticks / hz;
        // (ticks % hz) < hz, so the product fits in u128 and the quotient is below 1e9.
        let nanos = (u128::from(ticks % hz) * 1_000_000_000 / u128::from(hz)) as u32;
        Some(Duration::new(secs, nanos))
    }
}

/// Seconds with microseconds (`1.234567s`) when the tick rate is known, else raw ticks
/// (`123456t`). The width flag pads on the left: `{:>12}`.
impl fmt::Display for TargetTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Format into a small stack buffer first so that width and alignment apply to the whole.
        let mut buf = StackStr::<48>::new();
        match self.tick_hz {
            Some(hz) => {
                let hz = u128::from(hz.get());
                let sign = if self.ticks < 0 { "-" } else { "" };
                let ticks = u128::from(self.ticks.unsigned_abs());
                let secs = ticks / hz;
                let micros = (ticks % hz) * 1_000_000 / hz;
                fmt::write(&mut buf, format_args!("{sign}{secs}.{micros:06}s"))?;
            }
            None => fmt::write(&mut buf, format_args!("{}t", self.ticks))?,
        }
        f.pad(buf.as_str())
    }
}

struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What a receiver publishes about the frame it is relaying on this thread: one
/// thread-local for both, so that a frame sets and restores them with one access each.
///
/// The time is a flag and plain values rather than an `Option`: the usual frame writes the
/// time and raises the flag, and its guard only lowers the flag (an `Option` was read back
/// and written whole, twice per frame). The ticks are kept apart from the rest, which changes
/// only with a `Hello`: inside a [`frame_scope`], a frame writes its ticks alone while the
/// flag is up (see [`set_frame`]).
struct Relaying {
    /// Whether `ticks` and `base` are [`current()`] (else `None`).
    has_time: Cell<bool>,
    /// [`TargetTime::ticks`] of [`current()`], while `has_time`.
    ticks: Cell<i64>,
    /// The rest of [`current()`], while `has_time`.
    base: Cell<TimeBase>,
    /// [`current_exception()`].
    exception: Cell<Option<u16>>,
}

/// What a [`TargetTime`] holds besides its ticks: what a `Hello` sets.
#[derive(Clone, Copy)]
struct TimeBase {
    tick_hz: Option<NonZeroU64>,
    boot: Option<u32>,
    epoch: u64,
}

impl Relaying {
    #[inline(always)]
    fn time(&self) -> Option<TargetTime> {
        self.has_time.get().then(|| self.full_time())
    }

    /// The time held, whether or not it is [`current()`].
    #[inline(always)]
    fn full_time(&self) -> TargetTime {
        let base = self.base.get();
        TargetTime {
            ticks: self.ticks.get(),
            tick_hz: base.tick_hz,
            boot: base.boot,
            epoch: base.epoch,
        }
    }

    /// Holds `time` (the flag is the caller's).
    #[inline(always)]
    fn hold(&self, time: TargetTime) {
        self.ticks.set(time.ticks);
        self.base.set(TimeBase {
            tick_hz: time.tick_hz,
            boot: time.boot,
            epoch: time.epoch,
        });
    }
}

thread_local! {
    static RELAYING: Relaying = const {
        Relaying {
            has_time: Cell::new(false),
            ticks: Cell::new(0),
            base: Cell::new(TimeBase {
                tick_hz: None,
                boot: None,
                epoch: 0,
            }),
            exception: Cell::new(None),
        }
    };
}

/// The target time of the frame being relayed on this thread, or `None` outside of a
/// receiver's `try_receive` (an event the host itself emitted).
pub fn current() -> Option<TargetTime> {
    RELAYING.try_with(Relaying::time).ok().flatten()
}

/// Sets [`current()`] until the guard drops, then restores what was there before.
#[inline]
pub(crate) fn set_current(time: TargetTime) -> CurrentGuard {
    let mut guard = CurrentGuard(Previous { time: None });
    let _ = RELAYING.try_with(|r| set_time(r, time, &mut guard.0));
    guard
}

/// Sets [`current()`] to `time`, keeping what it was in `previous`.
#[inline(always)]
fn set_time(r: &Relaying, time: TargetTime, previous: &mut Previous) {
    if r.has_time.get() {
        // A receiver relaying inside another's callback, or the receiver's own events.
        previous.time = Some(r.full_time());
    }
    r.hold(time);
    r.has_time.set(true);
}

/// The [`current()`] a guard restores.
struct Previous {
    /// The time that was set when the guard was made (rare: see [`set_time`]); `None` in the
    /// usual case, whose drop only lowers the flag.
    time: Option<TargetTime>,
}

impl Previous {
    #[inline(always)]
    fn restore(&self, r: &Relaying) {
        match self.time {
            None => r.has_time.set(false),
            Some(_) => restore_current(r, &self.time),
        }
    }
}

/// Restores the previous [`current()`] on drop.
pub(crate) struct CurrentGuard(Previous);

impl Drop for CurrentGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = RELAYING.try_with(|r| self.0.restore(r));
    }
}

#[cold]
#[inline(never)]
fn restore_current(r: &Relaying, previous: &Option<TargetTime>) {
    if let Some(time) = previous {
        r.hold(*time);
        r.has_time.set(true);
    }
}

/// Where the target was when it wrote the frame being relayed on this thread: `Some(0)` in
/// thread mode, `Some(n)` in the handler of exception `n` (the Cortex-M exception number:
/// 15 is SysTick, 16 + i device interrupt i); `None` outside of a receiver's `try_receive`
/// (what the receiver relays on its own: spans it ends at a reset or when dropped) and for
/// the events a pipeline emits itself between frames (its warnings, defmt lines).
pub fn current_exception() -> Option<u16> {
    RELAYING.try_with(|r| r.exception.get()).ok().flatten()
}

/// Opens a scope for relaying frames one after another: [`set_frame`] publishes each frame's
/// time and context without saving what it replaces, and the guard restores what was there
/// before the scope when it drops. A pipeline opens one per chunk of bytes rather than one
/// per frame: a save and a restore fewer on every frame.
#[inline]
pub(crate) fn frame_scope() -> FrameGuard {
    let mut guard = FrameGuard {
        time: Previous { time: None },
        exception: None,
    };
    let _ = RELAYING.try_with(|r| {
        guard.exception = r.exception.get();
        guard.time.time = r.time();
        // The scope's first frame publishes its whole time (see `set_frame`).
        r.has_time.set(false);
    });
    guard
}

/// Publishes the time and context of the frame being relayed, inside a [`frame_scope`]:
/// [`current()`] is the frame's time, [`current_exception()`] is `exception`.
///
/// While a time is published, only its `ticks` are written: inside a scope, what a
/// [`TargetTime`] holds besides its ticks changes with a `Hello` alone, and a `Hello`
/// ([`set_hello_frame`]) and the scope's start lower the flag, so that the next frame
/// publishes its whole time, `time()`. Guards made inside the scope restore what they
/// replaced, whole.
#[inline(always)]
pub(crate) fn set_frame(exception: u16, ticks: i64, time: impl FnOnce() -> TargetTime) {
    let _ = RELAYING.try_with(|r| {
        r.exception.set(Some(exception));
        if r.has_time.get() {
            r.ticks.set(ticks);
        } else {
            r.hold(time());
            r.has_time.set(true);
        }
    });
}

/// Publishes the context of a `Hello` frame being relayed, inside a [`frame_scope`]:
/// [`current_exception()`] is `exception`, [`current()`] is `None` (the receiver sets the time
/// itself around what the `Hello` changes).
pub(crate) fn set_hello_frame(exception: u16) {
    let _ = RELAYING.try_with(|r| {
        r.exception.set(Some(exception));
        r.has_time.set(false);
    });
}

/// Sets [`current()`] to `time` and [`current_exception()`] to `None` until the guard drops,
/// for an event of the host itself (a warning, a defmt line) relayed between two frames
/// inside a [`frame_scope`]: it is not in the context of the frame before it.
#[inline]
pub(crate) fn set_current_host(time: TargetTime) -> FrameGuard {
    let mut guard = FrameGuard {
        time: Previous { time: None },
        exception: None,
    };
    let _ = RELAYING.try_with(|r| {
        guard.exception = r.exception.replace(None);
        set_time(r, time, &mut guard.time);
    });
    guard
}

/// Restores the previous [`current()`] and [`current_exception()`] on drop.
pub(crate) struct FrameGuard {
    time: Previous,
    exception: Option<u16>,
}

impl Drop for FrameGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = RELAYING.try_with(|r| {
            self.time.restore(r);
            r.exception.set(self.exception);
        });
    }
}

/// A shared, cheap-to-clone view of a receiver's target time: the time of the last frame it
/// took. Readable from any thread; the receiver updates it before relaying each frame.
///
/// The fields are separate atomics: a reader on another thread that races with a `Hello` may
/// see the new ticks with the old tick rate for one read. On the receiver's own thread (inside
/// a layer), reads are exact; prefer [`current()`] there anyway.
#[derive(Debug, Clone, Default)]
pub struct TargetClock {
    inner: Arc<ClockInner>,
}

#[derive(Debug, Default)]
struct ClockInner {
    ticks: AtomicI64,
    /// 0: unknown.
    tick_hz: AtomicU64,
    /// `u64::MAX`: unknown; else the `u32` boot value.
    boot: AtomicU64,
    epoch: AtomicU64,
}

const NO_BOOT: u64 = u64::MAX;

impl TargetClock {
    /// A clock at tick 0 with unknown rate and boot.
    pub fn new() -> Self {
        let clock = Self::default();
        clock.inner.boot.store(NO_BOOT, Ordering::Relaxed);
        clock
    }

    /// The time of the last frame the receiver took.
    pub fn now(&self) -> TargetTime {
        let i = &self.inner;
        let boot = i.boot.load(Ordering::Acquire);
        TargetTime {
            ticks: i.ticks.load(Ordering::Acquire),
            tick_hz: NonZeroU64::new(i.tick_hz.load(Ordering::Acquire)),
            boot: u32::try_from(boot).ok(),
            epoch: i.epoch.load(Ordering::Acquire),
        }
    }

    /// Publishes the ticks of a frame that changed nothing but the time (tick rate, boot and
    /// epoch change only with a `Hello`, which [`set`](Self::set)s everything).
    #[inline]
    pub(crate) fn set_ticks(&self, ticks: i64) {
        self.inner.ticks.store(ticks, Ordering::Release);
    }

    /// Publishes `time` (called by the receiver before it relays a frame).
    pub(crate) fn set(&self, time: TargetTime) {
        let i = &self.inner;
        i.tick_hz
            .store(time.tick_hz.map_or(0, NonZeroU64::get), Ordering::Release);
        i.boot
            .store(time.boot.map_or(NO_BOOT, u64::from), Ordering::Release);
        i.epoch.store(time.epoch, Ordering::Release);
        i.ticks.store(time.ticks, Ordering::Release);
    }
}

/// A [`FormatTime`] for `tracing-subscriber`'s `fmt` layer that prints the target time of the
/// frame being relayed ([`current()`]), e.g. `   1.234567s`, instead of the host's clock.
///
/// Events the host emits itself (outside a receiver) have no target time: they print `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetTimer {
    pad: bool,
    epoch: bool,
}

impl Default for TargetTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl TargetTimer {
    /// Width of the padded timestamp: seconds up to 9999 line up.
    pub const WIDTH: usize = 12;

    /// Padded to [`WIDTH`](Self::WIDTH) so that text output lines up, without the epoch.
    pub const fn new() -> Self {
        Self {
            pad: true,
            epoch: false,
        }
    }

    /// No padding: for JSON output.
    pub const fn unpadded(self) -> Self {
        Self { pad: false, ..self }
    }

    /// Prefix the time with the number of target resets seen so far (`#1    0.001000s`), so
    /// that times of different boots are not confused.
    pub const fn with_epoch(self) -> Self {
        Self {
            epoch: true,
            ..self
        }
    }

    fn write(&self, w: &mut dyn fmt::Write, time: Option<TargetTime>) -> fmt::Result {
        let width = if self.pad { Self::WIDTH } else { 0 };
        match time {
            Some(time) => {
                if self.epoch {
                    write!(w, "#{} ", time.epoch)?;
                }
                write!(w, "{time:>width$}")
            }
            None => {
                if self.epoch {
                    w.write_str("#- ")?;
                }
                write!(w, "{:>width$}", "host")
            }
        }
    }
}

impl FormatTime for TargetTimer {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        self.write(w, current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ticks: i64, hz: u64) -> TargetTime {
        TargetTime {
            ticks,
            tick_hz: NonZeroU64::new(hz),
            boot: Some(7),
            epoch: 2,
        }
    }

    #[test]
    fn since_boot_converts_ticks() {
        assert_eq!(
            at(1_500_000, 1_000_000).since_boot(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            at(25, 25_000_000).since_boot(),
            Some(Duration::from_nanos(1000))
        );
        assert_eq!(at(-1, 1000).since_boot(), None);
        assert_eq!(at(5, 0).since_boot(), None);
        // The largest tick count at the largest rate does not overflow.
        let t = at(i64::MAX, u64::MAX).since_boot().unwrap();
        assert_eq!(t.as_secs(), 0);
    }

    #[test]
    fn display_seconds_or_ticks() {
        assert_eq!(at(1_234_567, 1_000_000).to_string(), "1.234567s");
        assert_eq!(at(-500, 1000).to_string(), "-0.500000s");
        assert_eq!(at(42, 0).to_string(), "42t");
        assert_eq!(format!("{:>12}", at(1_000_000, 1_000_000)), "   1.000000s");
        assert_eq!(at(i64::MIN, 1).to_string(), "-9223372036854775808.000000s");
    }

    #[test]
    fn timer_prints_current_or_host() {
        let mut out = String::new();
        TargetTimer::new().write(&mut out, None).unwrap();
        assert_eq!(out, "        host");
        out.clear();
        let timer = TargetTimer::new().unpadded().with_epoch();
        timer.write(&mut out, Some(at(2_000, 1_000))).unwrap();
        assert_eq!(out, "#2 2.000000s");
    }

    #[test]
    fn current_is_scoped() {
        assert_eq!(current(), None);
        {
            let _outer = set_current(at(1, 1));
            {
                let _inner = set_current(at(2, 1));
                assert_eq!(current().unwrap().ticks, 2);
            }
            assert_eq!(current().unwrap().ticks, 1);
        }
        assert_eq!(current(), None);
    }

    #[test]
    fn clock_round_trips() {
        let clock = TargetClock::new();
        assert_eq!(clock.now().boot, None);
        assert_eq!(clock.now().tick_hz, None);
        let other = clock.clone();
        clock.set(at(99, 1000));
        assert_eq!(other.now(), at(99, 1000));
    }
}
