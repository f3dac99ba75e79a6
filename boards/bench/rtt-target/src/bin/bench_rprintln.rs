//! Instructions and bytes per operation of rtt-target's `rprintln!` (text through
//! `core::fmt`, no timestamp) on an up channel of 4 KiB. It has no spans: each span step is
//! compared with one line. See `bench_common::harness`; run by `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::counter;
use bench_common::harness::{self, Subject};
use cortex_m_rt::entry;
use rtt_target::{rprintln, rtt_init_print, ChannelMode};

struct Rprintln;

impl Subject for Rprintln {
    fn event_none(&self) {
        rprintln!("ready");
    }

    fn event_message(&self) {
        rprintln!("ready");
    }

    fn event_u32(&self, value: u32) {
        rprintln!("reading={}", value);
    }

    fn event_three(&self, value: u32, flag: bool, text: &str) {
        rprintln!("reading={} ok={} note={}", value, flag, text);
    }

    fn span_cycle(&self, stamps: &mut [u32; 5]) {
        stamps[0] = counter();
        rprintln!("round: new");
        stamps[1] = counter();
        rprintln!("round: enter");
        stamps[2] = counter();
        rprintln!("round: exit");
        stamps[3] = counter();
        rprintln!("round: close");
        stamps[4] = counter();
    }
}

#[entry]
fn main() -> ! {
    rtt_init_print!(ChannelMode::NoBlockSkip, 4096);
    harness::run(&Rprintln)
}
