//! Instructions and bytes per operation of `defmt::info!` through defmt-rtt (its default 1 KiB
//! ring), with timestamps from the same counter as rtt-tunnel's. defmt has no spans: each span
//! step is compared with one log line. See `bench_common::harness`; run by `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::counter;
use bench_common::harness::{self, Subject};
use cortex_m_rt::entry;
use defmt_rtt as _;

defmt::timestamp!("{=u32}", counter());

struct Defmt;

impl Subject for Defmt {
    fn event_none(&self) {
        defmt::info!("ready");
    }

    fn event_message(&self) {
        defmt::info!("ready");
    }

    fn event_u32(&self, value: u32) {
        defmt::info!("reading={=u32}", value);
    }

    fn event_three(&self, value: u32, flag: bool, text: &str) {
        defmt::info!("reading={=u32} ok={=bool} note={=str}", value, flag, text);
    }

    fn span_cycle(&self, stamps: &mut [u32; 5]) {
        stamps[0] = counter();
        defmt::info!("round: new");
        stamps[1] = counter();
        defmt::info!("round: enter");
        stamps[2] = counter();
        defmt::info!("round: exit");
        stamps[3] = counter();
        defmt::info!("round: close");
        stamps[4] = counter();
    }
}

#[entry]
fn main() -> ! {
    harness::run(&Defmt)
}
