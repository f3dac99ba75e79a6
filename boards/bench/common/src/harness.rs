//! The per-operation benchmark: instructions per call, then bytes on the wire per call.
//!
//! A binary implements [`Subject`] with its logger's macros and calls [`run`], which:
//!
//! 0. Waits until the counter has passed 2^24 ticks (0.67 s of virtual time), so that
//!    timestamps look like those of a device that has been up a while.
//! 1. **Calibrates**: a block of 1000 `nop`s between two reads of the counter gives the ticks
//!    per instruction (25.6 under `-icount shift=10` on the AN385); two reads with nothing
//!    between them give the cost of the measurement itself, subtracted by the host.
//! 2. **Times** each operation [`CALLS`] times, after one untimed call (the first call of a
//!    `tracing` call site registers and announces it). Every call is bracketed by two counter
//!    reads and the ticks summed. Before each call, untimed, the firmware drops what the logger
//!    wrote once the ring is half full, so no timed call can find the ring full; after each
//!    single-frame call it checks that the write offset moved, and reports calls whose output
//!    did not reach the ring as `lost`.
//! 3. Prints one line per measurement, empties the ring and prints `timed-done`. The host
//!    attaches to the RTT channel only then.
//! 4. **Wire phase**: for each operation, waits until the host has read everything, then makes
//!    one warm-up call and [`WIRE_CALLS`] measured calls back to back (the ring holds all of
//!    them, so nothing waits for the host in between). The host splits what it read into
//!    frames and attributes them to operations by their order.
//! 5. Waits for the host to read the last bytes, prints `wire-done` and exits with success.
//!
//! The lines, for the host's parser:
//!
//! ```text
//! clock <counter value when the measurements start>
//! ticks <measurement> <calls> <total ticks> <calls lost>
//! dropped <frames the logger itself counted as dropped>   (loggers that count them)
//! timed-done
//! wire <operation> <frames per call> <calls, warm-up included>
//! wire-done
//! ```

use core::hint::black_box;

use cortex_m_semihosting::hprintln;

use crate::{counter, exit, up0};

/// Timed calls per operation.
pub const CALLS: u32 = 2000;
/// Calls of the `nop` calibration.
pub const NOP_CALLS: u32 = 100;
/// Measured calls per operation in the wire phase (after one warm-up call).
pub const WIRE_CALLS: u32 = 20;
/// The counter value the measurements start at: 2^24 ticks, 0.67 s after reset.
const STEADY: u32 = 1 << 24;
/// Polls of the ring's offsets before the firmware gives up waiting for the host.
const WAIT_SPINS: u32 = 1 << 28;

/// The arguments of the operations: computed before the first counter read and hidden from
/// the optimiser, so no call is specialised for constant values.
#[derive(Debug, Clone, Copy)]
pub struct Args {
    /// The `u32` field: 1000 to 1099 (two bytes as a varint, a small number for defmt).
    pub value: u32,
    /// The `bool` field: alternates.
    pub flag: bool,
    /// The `&str` field: 5 bytes.
    pub text: &'static str,
}

impl Args {
    /// The arguments of call `i`.
    pub fn new(i: u32) -> Self {
        Args {
            value: 1000 + i % 100,
            flag: i % 2 == 0,
            text: "hello",
        }
    }
}

/// A logger under test: each method is one log statement, written with the logger's own
/// macros so that it compiles as it would in an application.
pub trait Subject {
    /// An event with no field (for loggers that need a format string: a constant one).
    fn event_none(&self);
    /// An event with a constant message and no other field.
    fn event_message(&self);
    /// An event with one `u32` field.
    fn event_u32(&self, value: u32);
    /// An event with three fields: `u32`, `bool`, `&str`.
    fn event_three(&self, value: u32, flag: bool, text: &str);
    /// A span's life: new, enter, exit, close, with `stamps[k] = counter()` before the first
    /// step, between steps and after the last (loggers without spans log one line per step).
    fn span_cycle(&self, stamps: &mut [u32; 5]);
    /// Frames the logger itself counted as dropped so far, if it counts them.
    fn dropped(&self) -> Option<u32> {
        None
    }
    /// Whether the logger writes its frames into up channel 0. The variants that measure a
    /// part of a logger (a subscriber that does nothing, a sender whose link copies nothing)
    /// do not: they skip the check for lost calls and the wire phase.
    fn writes_frames(&self) -> bool {
        true
    }
}

/// The span steps, in the order of [`Subject::span_cycle`].
const SPAN_STEPS: [&str; 4] = ["span_new", "span_enter", "span_exit", "span_close"];

/// Times `call` [`CALLS`] times (`calls` for the calibration); returns the ticks summed over
/// the calls and how many calls left the ring's write offset where it was (when `check`).
fn time_calls(calls: u32, check: bool, mut call: impl FnMut(&Args)) -> (u64, u32) {
    let mut ticks = 0u64;
    let mut lost = 0;
    for i in 0..calls {
        up0::make_room();
        let before = up0::write_offset();
        let args = black_box(Args::new(i));
        let start = counter();
        call(&args);
        let end = counter();
        ticks += u64::from(end.wrapping_sub(start));
        if check && up0::write_offset() == before {
            lost += 1;
        }
    }
    (ticks, lost)
}

/// Times the four steps of [`Subject::span_cycle`]: ticks summed per step.
fn time_cycles(mut cycle: impl FnMut(&mut [u32; 5])) -> [u64; 4] {
    let mut ticks = [0u64; 4];
    for _ in 0..CALLS {
        up0::make_room();
        let mut stamps = [0u32; 5];
        cycle(&mut stamps);
        for (step, total) in ticks.iter_mut().enumerate() {
            *total += u64::from(stamps[step + 1].wrapping_sub(stamps[step]));
        }
    }
    ticks
}

/// A span cycle with no span: the cost of its counter reads, for the calibration.
#[inline(never)]
fn empty_cycle(stamps: &mut [u32; 5]) {
    stamps[0] = counter();
    stamps[1] = counter();
    stamps[2] = counter();
    stamps[3] = counter();
    stamps[4] = counter();
}

/// 1000 instructions.
#[inline(always)]
fn nops() {
    // SAFETY: no operands, no memory, no stack: 1000 `nop` instructions.
    unsafe {
        core::arch::asm!(
            ".rept 1000",
            "nop",
            ".endr",
            options(nomem, nostack, preserves_flags)
        )
    }
}

fn report(name: &str, calls: u32, (ticks, lost): (u64, u32)) {
    hprintln!("ticks {} {} {} {}", name, calls, ticks, lost);
}

/// Runs the whole benchmark on `subject` and exits QEMU: 0 when every phase went through.
pub fn run<S: Subject>(subject: &S) -> ! {
    if up0::size() < 1024 {
        hprintln!("bench: up channel 0 must hold at least 1024 bytes");
        exit(false);
    }

    // Steady state: a device that has been up for a while, whose 32-bit timestamps have no
    // zero byte for defmt's rzCOBS to squeeze (a freshly booted one writes shorter ones).
    while counter() < STEADY {
        core::hint::spin_loop();
    }
    hprintln!("clock {}", counter());

    // 1. Calibration.
    report(
        "nop1000",
        NOP_CALLS,
        time_calls(NOP_CALLS, false, |_| nops()),
    );
    report("empty", CALLS, time_calls(CALLS, false, |_| {}));
    let empty = time_cycles(empty_cycle);
    for (step, ticks) in SPAN_STEPS.iter().zip(empty) {
        hprintln!("ticks empty_{} {} {} 0", step, CALLS, ticks);
    }

    // 2. Warm-up: the first call of each call site registers it (and announces it).
    let warm = Args::new(0);
    subject.event_none();
    subject.event_message();
    subject.event_u32(warm.value);
    subject.event_three(warm.value, warm.flag, warm.text);
    subject.span_cycle(&mut [0; 5]);

    // 3. Timed calls.
    let check = subject.writes_frames();
    report(
        "event_none",
        CALLS,
        time_calls(CALLS, check, |_| subject.event_none()),
    );
    report(
        "event_message",
        CALLS,
        time_calls(CALLS, check, |_| subject.event_message()),
    );
    report(
        "event_u32",
        CALLS,
        time_calls(CALLS, check, |a| subject.event_u32(a.value)),
    );
    report(
        "event_three",
        CALLS,
        time_calls(CALLS, check, |a| {
            subject.event_three(a.value, a.flag, a.text)
        }),
    );
    let spans = time_cycles(|stamps| subject.span_cycle(stamps));
    for (step, ticks) in SPAN_STEPS.iter().zip(spans) {
        hprintln!("ticks {} {} {} 0", step, CALLS, ticks);
    }
    if let Some(dropped) = subject.dropped() {
        hprintln!("dropped {}", dropped);
    }
    up0::discard();
    hprintln!("timed-done");

    if !check {
        hprintln!("wire-done");
        exit(true);
    }

    // 4. Wire phase.
    wire_phase("event_none", 1, |_| subject.event_none());
    wire_phase("event_message", 1, |_| subject.event_message());
    wire_phase("event_u32", 1, |a| subject.event_u32(a.value));
    wire_phase("event_three", 1, |a| {
        subject.event_three(a.value, a.flag, a.text)
    });
    wire_phase("span", 4, |_| subject.span_cycle(&mut [0; 5]));

    // 5. The host has everything.
    wait_for_host("the end");
    hprintln!("wire-done");
    exit(true)
}

fn wait_for_host(before: &str) {
    if !up0::wait_empty(WAIT_SPINS) {
        hprintln!("bench: the host did not read the ring before {}", before);
        exit(false);
    }
}

/// One operation's wire phase: once the host has read everything, a warm-up call and
/// [`WIRE_CALLS`] calls back to back.
fn wire_phase(name: &str, frames: u32, mut call: impl FnMut(&Args)) {
    wait_for_host(name);
    for i in 0..=WIRE_CALLS {
        call(&Args::new(i));
    }
    hprintln!("wire {} {} {}", name, frames, WIRE_CALLS + 1);
}
