//! Cortex-M board support (feature `cortex-m`): ready clocks, the boot counter, waiting for
//! the host at the end, and the panic handler (feature `panic-handler`). [`init!`](crate::init)
//! uses all of it; firmware with its own set-up picks what it needs.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, DWT, SYST};

use crate::Clock;

/// Timestamps from the DWT cycle counter: 32 bits at the core clock, a wrap every
/// `2^32 / f` seconds (67 s at 64 MHz). [`Dwt::start`] turns the counter on. Not on
/// Cortex-M0/M0+ (no DWT counter), and not in QEMU (which does not emulate it).
#[derive(Debug, Clone, Copy)]
pub struct Dwt;

impl Dwt {
    /// Turns on trace and the cycle counter.
    pub fn start() {
        // SAFETY: only the DCB's DEMCR and the DWT's CTRL are written, read-modify-write,
        // before anything else uses them (start-up).
        let mut core = unsafe { cortex_m::Peripherals::steal() };
        core.DCB.enable_trace();
        core.DWT.enable_cycle_counter();
    }
}

impl Clock for Dwt {
    const BITS: u32 = 32;

    #[inline(always)]
    fn now() -> u64 {
        u64::from(DWT::cycle_count())
    }
}

/// Milliseconds counted by the SysTick interrupt: for cores without a DWT cycle counter, and
/// for QEMU. [`SysTickMs::start`] programs SysTick for 1 kHz; [`init!`](crate::init) with
/// `clock = systick(CORE_HZ)` also declares the `SysTick` handler that calls
/// [`SysTickMs::tick`]. Coarse (1 ms) and 32 bits (a wrap every 49 days).
#[derive(Debug, Clone, Copy)]
pub struct SysTickMs;

/// Milliseconds since [`SysTickMs::start`].
static MILLIS: AtomicU32 = AtomicU32::new(0);

impl SysTickMs {
    /// Programs SysTick to interrupt every millisecond of a core clocked at `core_hz`.
    pub fn start(core_hz: u32) {
        // SAFETY: SysTick is programmed once, at start-up, before anything else uses it.
        let mut core = unsafe { cortex_m::Peripherals::steal() };
        let syst: &mut SYST = &mut core.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload((core_hz / 1000).saturating_sub(1).min(0x00ff_ffff));
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
    }

    /// One millisecond more: call it from the `SysTick` handler.
    #[inline(always)]
    pub fn tick() {
        // Only the SysTick handler writes it: a load and a store do.
        MILLIS.store(
            MILLIS.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }
}

impl Clock for SysTickMs {
    const BITS: u32 = 32;

    #[inline(always)]
    fn now() -> u64 {
        u64::from(MILLIS.load(Ordering::Relaxed))
    }
}

/// The magic value that marks [`BOOT`] as written by an earlier boot.
const BOOT_MAGIC: u32 = 0x7274_7442;

/// Magic value and boot count, in RAM that cortex-m-rt does not zero (`.uninit`).
#[link_section = ".uninit.rtt_tunnel.boot"]
static mut BOOT: MaybeUninit<[u32; 2]> = MaybeUninit::uninit();

/// This boot's number, once counted.
static BOOT_COUNT: AtomicU32 = AtomicU32::new(0);

/// This boot's number, for the `Hello`'s [`Identity::boot`](crate::Identity::boot): kept with a
/// magic value in `.uninit` RAM, which neither cortex-m-rt's start-up nor a system reset
/// clears, so it is 1 after power-up (or whatever the RAM held) and one more after each
/// reset. Counted on the first call of each boot; later calls return the same number.
pub fn boot_count() -> u32 {
    let count = BOOT_COUNT.load(Ordering::Acquire);
    if count != 0 {
        return count;
    }
    let count = critical_section::with(|_| {
        // SAFETY: inside a critical section, on a single core: nothing else touches BOOT. It
        // is plain RAM holding some two words (the magic tells whether they are ours).
        unsafe {
            let words = core::ptr::addr_of_mut!(BOOT).cast::<u32>();
            let count = if words.read_volatile() == BOOT_MAGIC {
                words.add(1).read_volatile().wrapping_add(1).max(1)
            } else {
                1
            };
            words.write_volatile(BOOT_MAGIC);
            words.add(1).write_volatile(count);
            count
        }
    });
    BOOT_COUNT.store(count, Ordering::Release);
    count
}

/// What [`init!`](crate::init) registers for the panic path: writes what the tunnel has
/// pending and waits (bounded) for the host to read it.
static FLUSH: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Registers the function [`flush_registered`] calls ([`init!`](crate::init) registers its
/// tunnel's).
pub fn register_flush(flush: fn()) {
    FLUSH.store(flush as *mut (), Ordering::Release);
}

/// Calls the function [`register_flush`] registered, if any: the panic handler's way to get
/// the panic event to the host before the firmware halts.
pub fn flush_registered() {
    let flush = FLUSH.load(Ordering::Acquire);
    if !flush.is_null() {
        // SAFETY: only `register_flush` stores a non-null value, and it stores a `fn()`.
        let flush = unsafe { core::mem::transmute::<*mut (), fn()>(flush) };
        flush();
    }
}

impl<L, C, const SPANS: usize, const CALLSITES: usize, const DEPTH: usize, const FRAME: usize>
    crate::Tunnel<L, C, SPANS, CALLSITES, DEPTH, FRAME>
where
    L: crate::Link + Send + 'static,
    C: Clock + 'static,
{
    /// The end of a firmware, or its panic: writes everything pending ([`flush`](Self::flush):
    /// the `Dropped` report, what a loss made due, the capacity `Status`), waiting for the host
    /// to make room in the ring, then waits until the host has read the whole up ring; all of
    /// it for at most `timeout_ticks` of the tunnel's clock and at most `max_spins` rounds (a
    /// clock that stops, a SysTick masked in a panic, is not waited for). Returns whether
    /// everything was written and read.
    pub fn poll_and_wait(&self, timeout_ticks: u64, max_spins: u32) -> bool {
        let start = C::now();
        let mut spins = 0u32;
        let mut out_of_time = move || {
            spins = spins.saturating_add(1);
            spins > max_spins || crate::clock::delta::<C>(C::now(), start) > timeout_ticks as i64
        };
        let mut expired = false;
        let mut drained = || loop {
            if self.with_link(|link| link.up_drained()) != Some(false) {
                return true;
            }
            if expired || out_of_time() {
                expired = true;
                return false;
            }
            core::hint::spin_loop();
        };
        // Each try that finds the ring full waits for the host to read it; once time is up,
        // the remaining tries return at once and `flush` counts the failure.
        let flushed = self.flush(64, || {
            drained();
        });
        flushed && drained()
    }
}

/// The panic handler of feature `panic-handler`, as panic-probe's: the panic's message and
/// location go out as an `ERROR` event ([`report_panic`](crate::report_panic)), the tunnel
/// writes what is pending and waits (bounded) for the host to read it, then the core executes
/// `udf` (a HardFault: `host-receiver run` and `probe-rs run` show where it stopped).
#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m::interrupt::disable();
    crate::report_panic(info);
    flush_registered();
    cortex_m::asm::udf()
}
