//! Instructions and bytes per operation of rtt-tunnel: `tracing` macros → the sender → an RTT
//! up channel of 4 KiB. See `bench_common::harness`; run by `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::harness;
use bench_common::TICK_HZ;
use bench_tunnel::{Counter, Tracing};
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{Identity, OneShotAlloc, RttLink, Tunnel};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// The sender with its default capacities (32 spans, 64 call sites, 16 entered, 256-byte
/// frames).
static TUNNEL: Tunnel<RttLink, Counter> = Tunnel::new();

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
    TUNNEL.set_flash(bench_common::flash());
    if TUNNEL
        .init(RttLink::new(channels.up.0, None), identity)
        .is_err()
    {
        bench_common::print("bench-tunnel: the tunnel did not start\n");
        bench_common::exit(false);
    }
    harness::run(&Tracing {
        dropped: || Some(TUNNEL.stats().frames_dropped),
        writes_frames: true,
    })
}
