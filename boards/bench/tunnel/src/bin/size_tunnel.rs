//! The demo-like application (`bench_common::demo`) traced with rtt-tunnel: its ELF sections
//! are compared with the same application on defmt-rtt and without logging.
#![no_std]
#![no_main]

use bench_common::demo;
use bench_common::{counter, TICK_HZ};
use bench_tunnel::DemoTracing;
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{Clock, Identity, OneShotAlloc, RttLink, Tunnel};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// Timestamps from the FPGA I/O block's COUNTER (QEMU has no DWT cycle counter).
struct Counter;

impl Clock for Counter {
    const BITS: u32 = 32;

    fn now() -> u64 {
        u64::from(counter())
    }
}

/// The sender with its default capacities.
static TUNNEL: Tunnel<RttLink, Counter> = Tunnel::new();

#[entry]
fn main() -> ! {
    // The same ring as defmt-rtt's default (1 KiB), and the 16-byte down channel for requests.
    let channels = rtt_init! {
        up: {
            0: { size: 1024, name: "rtt-tunnel" }
        }
        down: {
            0: { size: 16, name: "rtt-tunnel" }
        }
    };
    let identity = Identity {
        boot: 1,
        tick_hz: TICK_HZ,
        firmware: rtt_tunnel_sender::firmware_id!(),
    };
    TUNNEL.set_flash(bench_common::flash());
    let link = RttLink::new(channels.up.0, Some(channels.down.0));
    let started = TUNNEL.init(link, identity).is_ok();
    let checksum = demo::run(
        &DemoTracing {
            service: || TUNNEL.poll(),
        },
        "mps2",
        1,
        20,
    );
    bench_common::exit(started && checksum != 0)
}
