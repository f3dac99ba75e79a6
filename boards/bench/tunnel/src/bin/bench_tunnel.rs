//! Instructions and bytes per operation of rtt-tunnel: `tracing` macros → the sender → an RTT
//! up channel of 4 KiB. See `bench_common::harness`; run by `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::harness::{self, Subject};
use bench_common::{counter, TICK_HZ};
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{Clock, Identity, OneShotAlloc, RttLink, Tunnel};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// Timestamps from the FPGA I/O block's COUNTER, the clock the instructions are counted with.
struct Counter;

impl Clock for Counter {
    const BITS: u32 = 32;

    fn now() -> u64 {
        u64::from(counter())
    }
}

/// The sender with its default capacities (32 spans, 64 call sites, 16 entered, 256-byte
/// frames).
static TUNNEL: Tunnel<RttLink, Counter> = Tunnel::new();

struct Tracing;

impl Subject for Tracing {
    fn event_none(&self) {
        tracing::info!({});
    }

    fn event_message(&self) {
        tracing::info!("ready");
    }

    fn event_u32(&self, value: u32) {
        tracing::info!(reading = value);
    }

    fn event_three(&self, value: u32, flag: bool, text: &str) {
        tracing::info!(reading = value, ok = flag, note = text);
    }

    fn span_cycle(&self, stamps: &mut [u32; 5]) {
        stamps[0] = counter();
        let span = tracing::info_span!("round");
        stamps[1] = counter();
        let entered = span.enter();
        stamps[2] = counter();
        drop(entered);
        stamps[3] = counter();
        drop(span);
        stamps[4] = counter();
    }

    fn dropped(&self) -> Option<u32> {
        Some(TUNNEL.stats().frames_dropped)
    }
}

#[entry]
fn main() -> ! {
    let channels = rtt_init! {
        up: {
            0: { size: 4096, name: "rtt-tunnel" }
        }
    };
    let identity = Identity {
        boot: 1,
        tick_hz: TICK_HZ,
        firmware: rtt_tunnel_sender::firmware_id!(),
    };
    if TUNNEL
        .init(RttLink::new(channels.up.0, None), identity)
        .is_err()
    {
        bench_common::print("bench-tunnel: the tunnel did not start\n");
        bench_common::exit(false);
    }
    harness::run(&Tracing)
}
