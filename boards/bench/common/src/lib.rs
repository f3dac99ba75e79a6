//! What the benchmark firmware of `cargo xtask bench` shares.
//!
//! Each logger under test is its own binary in its own package (defmt-rtt and rtt-target each
//! define the RTT control block), and every binary runs the same code from here:
//!
//! - [`harness`]: the timed loops and the wire phase of the per-operation benchmark, run on
//!   QEMU's `mps2-an385` (Cortex-M3) under `-icount shift=10,align=off`, where the FPGA I/O
//!   block's COUNTER ([`counter`]) advances 25.6 ticks per guest instruction. The harness
//!   checks that constant itself against a block of `nop`s.
//! - [`demo`]: the demo-like application of the flash and RAM comparison, generic over the
//!   logger, so the three size builds run the very same code.
//! - [`up0`]: up channel 0 of whichever RTT control block the binary has, read and drained
//!   by the firmware itself between timed calls.
//!
//! Results go to the host through semihosting (`hprintln!`), one line each; the host side is
//! `host-receiver/benches/firmware.rs`, which `cargo xtask bench` runs.
//!
//! The panic and HardFault handlers here exit QEMU with failure without `core::fmt`, so that
//! the size builds only carry the formatting machinery their logger brings.
#![no_std]

pub mod demo;
pub mod harness;
pub mod up0;

use core::sync::atomic::{compiler_fence, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

// `BOARD`, `TICK_HZ` (ticks per second of [`counter`]) and `FPGAIO_COUNTER` of this build's
// board, from the one board table (`rtt-tunnel-boards`, written by build.rs).
include!(concat!(env!("OUT_DIR"), "/board.rs"));

/// Ticks of [`counter`] per guest instruction under `-icount shift=10` on the AN385: one
/// instruction is 2^10 ns of virtual time, and the counter runs at 25 MHz. The harness measures
/// it (a block of `nop`s) and reports what it found; the host uses the measured value.
pub const TICKS_PER_INSTRUCTION: f64 = 25.6;

/// The FPGA I/O block's COUNTER: 32 bits at [`TICK_HZ`]. The compiler fences keep the read
/// where it is written relative to the code around it.
#[inline(always)]
pub fn counter() -> u32 {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: a read-only, always-mapped device register of the MPS2 boards.
    let ticks = unsafe { FPGAIO_COUNTER.read_volatile() };
    compiler_fence(Ordering::SeqCst);
    ticks
}

/// The firmware's code and read-only data in flash, from cortex-m-rt's linker symbols: text
/// there cannot change, so the sender sends it once per call site
/// (`Tunnel::set_flash` of rtt-tunnel).
pub fn flash() -> core::ops::Range<usize> {
    extern "C" {
        static __stext: u8;
        static __erodata: u8;
    }
    // Only the addresses of the linker's symbols are taken, never their bytes.
    core::ptr::addr_of!(__stext) as usize..core::ptr::addr_of!(__erodata) as usize
}

/// Ends the firmware through semihosting: QEMU exits with 0 when `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached when semihosting is off.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Writes `text` to the host's standard output through semihosting, without `core::fmt`.
pub fn print(text: &str) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(text.as_bytes());
    }
}

/// Writes `value` in decimal, without `core::fmt`.
pub fn print_u32(value: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    print(core::str::from_utf8(&digits[at..]).unwrap_or("?"));
}

/// Prints where the panic happened (not its message: that would need `core::fmt`) and exits
/// with failure.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    print("firmware panicked");
    if let Some(location) = info.location() {
        print(" at ");
        print(location.file());
        print(":");
        print_u32(location.line());
    }
    print("\n");
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    print("HardFault at pc ");
    print_u32(frame.pc());
    print("\n");
    exit(false)
}
