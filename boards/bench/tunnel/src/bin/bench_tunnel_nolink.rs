//! rtt-tunnel's sender with a link that takes every frame and copies nothing: subtracted from
//! `bench-tunnel`, the cost of the copy into the RTT ring. Timed phase only; run by
//! `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::harness;
use bench_common::TICK_HZ;
use bench_tunnel::{Counter, Tracing};
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{Identity, Link, OneShotAlloc, Tunnel};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// Takes every frame, copies nothing (the frame is handed to `black_box`, so its encoding is
/// not optimised away).
struct Discard;

impl Link for Discard {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        core::hint::black_box(frame);
        true
    }
}

static TUNNEL: Tunnel<Discard, Counter> = Tunnel::new();

#[entry]
fn main() -> ! {
    // The harness needs an up channel 0 to look at; nothing is written to it.
    let _channels = rtt_init! {
        up: {
            0: { size: 1024, name: "unused" }
        }
    };
    let identity = Identity {
        boot: 1,
        tick_hz: TICK_HZ,
        firmware: rtt_tunnel_sender::firmware_id!(),
    };
    TUNNEL.set_flash(bench_common::flash());
    if TUNNEL.init(Discard, identity).is_err() {
        bench_common::print("bench-tunnel-nolink: the tunnel did not start\n");
        bench_common::exit(false);
    }
    harness::run(&Tracing {
        dropped: || Some(TUNNEL.stats().frames_dropped),
        writes_frames: false,
    })
}
