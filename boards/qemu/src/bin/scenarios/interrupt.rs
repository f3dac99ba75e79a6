//! Spans and events from interrupt handlers while thread-mode spans are entered: PendSV, set
//! pending by the thread (it runs at once, at a known point), and SysTick, firing while the
//! thread waits in a span. Handlers nest their spans inside whatever thread mode had entered.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SCB;
use cortex_m_rt::exception;
use tracing::{debug, debug_span, info, info_span, trace, trace_span};

use crate::sync;

/// Times PendSV ran.
static PENDSV_RUNS: AtomicU32 = AtomicU32::new(0);
/// SysTick interrupts so far.
static TICKS: AtomicU32 = AtomicU32::new(0);
/// SysTick interrupts the thread waits for.
const TICKS_WANTED: u32 = 3;

pub fn run() {
    let mut core = cortex_m::Peripherals::take().expect("the core peripherals, taken once");
    let _work = info_span!("thread_work").entered();
    {
        let _step = debug_span!("step", n = 1u32).entered();
        info!("pending PendSV");
        SCB::set_pendsv();
        // PendSV has run by now: it preempts thread mode as soon as it is pending.
        info!(
            runs = PENDSV_RUNS.load(Ordering::Acquire),
            "back from PendSV"
        );
    }
    sync();
    {
        let _wait = debug_span!("wait_for_systick", ticks = TICKS_WANTED).entered();
        // 1 ms periods.
        core.SYST.set_clock_source(SystClkSource::Core);
        core.SYST
            .set_reload((qemu_boards::TICK_HZ / 1000) as u32 - 1);
        core.SYST.clear_current();
        core.SYST.enable_interrupt();
        core.SYST.enable_counter();
        while TICKS.load(Ordering::Acquire) < TICKS_WANTED {
            cortex_m::asm::wfi();
        }
        core.SYST.disable_interrupt();
        core.SYST.disable_counter();
    }
    info!(ticks = TICKS.load(Ordering::Acquire), "SysTick done");
    sync();
}

#[exception]
fn PendSV() {
    let run = PENDSV_RUNS.fetch_add(1, Ordering::AcqRel) + 1;
    let _isr = info_span!("pendsv", run).entered();
    info!("in PendSV");
    {
        let _inner = trace_span!("pendsv_inner").entered();
        trace!("nested in the handler");
    }
}

#[exception]
fn SysTick() {
    let tick = TICKS.fetch_add(1, Ordering::AcqRel) + 1;
    if tick > TICKS_WANTED {
        return;
    }
    let _isr = debug_span!("systick", tick).entered();
    debug!("tick");
}
