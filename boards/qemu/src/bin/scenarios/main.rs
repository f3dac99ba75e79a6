//! The scenario firmware of the host tests (`tests/`): one binary, one scenario per run,
//! chosen by QEMU's command line (`-append <scenario>`, read through semihosting).
//!
//! | scenario      | what it does                                                            |
//! |---------------|-------------------------------------------------------------------------|
//! | `nested`      | nested spans, re-entered spans, `record`, `follows_from`, explicit parents |
//! | `instrument`  | `#[instrument]` functions: arguments, `skip`, `fields`, `ret`, `err`, recursion |
//! | `values`      | events and spans with every value kind, long values cut short            |
//! | `interrupt`   | spans and events from PendSV and SysTick while thread-mode spans are entered |
//! | `burst`       | a burst that overflows the ring; reports the sender's own drop count     |
//! | `reset`       | `SCB::sys_reset()` inside entered spans; the second boot finishes         |
//! | `panic`       | a panic inside entered spans: reported, then exit with failure           |
//! | `late_attach` | waits (bounded) for the host's re-send request, then goes on              |
//! | `tricky`      | late `record`, clones, re-entrance, explicit and `None` parents, 128-bit, NaN, unicode, long `Debug` |
//! | `churn`       | spans and events in a loop without waiting: frames of every kind lost, then the drop count |
//! | `capacity`    | 64 spans alive and nesting 40 deep: past the span table and the entered stack |
//!
//! Every scenario but `panic` ends with semihosting exit 0 after the host has read everything;
//! an unknown scenario exits 1. The scenarios wait for the host to drain the ring between
//! steps ([`sync`]), so only `burst` and `churn` ever drop a frame, however slowly the host polls.
#![no_std]
#![no_main]

mod burst;
mod capacity;
mod churn;
mod instrument;
mod interrupt;
mod late_attach;
mod nested;
mod panic;
mod reset;
mod tricky;
mod values;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use qemu_boards::{cmdline_args, exit, finish, init_tunnel, wait_drained};

/// Bytes of the rtt-tunnel up channel: small, so that `burst` overflows it quickly; the other
/// scenarios [`sync`] often enough never to fill it.
const UP_CHANNEL: usize = 2048;

/// The scenarios, by name.
const SCENARIOS: [(&str, fn()); 11] = [
    ("nested", nested::run),
    ("instrument", instrument::run),
    ("values", values::run),
    ("interrupt", interrupt::run),
    ("burst", burst::run),
    ("reset", reset::run),
    ("panic", panic::run),
    ("late_attach", late_attach::run),
    ("tricky", tricky::run),
    ("churn", churn::run),
    ("capacity", capacity::run),
];

/// Waits until the host has read everything written so far (at most 20 s: without a host, the
/// scenario goes on and its frames may be dropped).
pub fn sync() {
    wait_drained(20_000);
}

#[entry]
fn main() -> ! {
    let mut line = [0u8; 256];
    let name = cmdline_args(&mut line);
    let Some(&(_, scenario)) = SCENARIOS.iter().find(|(n, _)| *n == name) else {
        hprintln!(
            "scenarios: unknown scenario {:?}; run QEMU with `-append <scenario>`, one of: \
             nested instrument values interrupt burst reset panic late_attach tricky churn \
             capacity",
            name
        );
        exit(false)
    };
    init_tunnel!(UP_CHANNEL);
    scenario();
    finish(true)
}
