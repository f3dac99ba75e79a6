//! rtt-tunnel's sender with a link that takes every frame and keeps none: subtracted from
//! `bench-tunnel`, the cost of the RTT ring's offsets (the frame itself is sealed into a
//! scratch buffer, as into the ring). Timed phase only; run by `cargo xtask bench`.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;

use bench_common::harness;
use bench_common::TICK_HZ;
use bench_tunnel::{Counter, Tracing};
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{Identity, Link, OneShotAlloc, Tunnel};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// Takes every frame and keeps none: a span or event frame is sealed into a buffer of its
/// own that nothing reads, as into a ring with room to spare whose offsets never move (so its
/// encoding is not optimised away, and what `bench-tunnel` adds is the ring's offsets:
/// reading them, the room check, publishing the new one); any other frame is handed to
/// `black_box`.
struct Discard {
    scratch: [MaybeUninit<u8>; 512],
}

impl Link for Discard {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        core::hint::black_box(frame);
        true
    }

    fn write_in_place(
        &mut self,
        need: usize,
        encode: impl FnOnce(&mut [MaybeUninit<u8>]) -> usize,
    ) -> bool {
        if need > self.scratch.len() {
            return false;
        }
        let n = encode(&mut self.scratch);
        core::hint::black_box(self.scratch.get(..n));
        n > 0
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
    if TUNNEL
        .init(
            Discard {
                scratch: [MaybeUninit::uninit(); 512],
            },
            identity,
        )
        .is_err()
    {
        bench_common::print("bench-tunnel-nolink: the tunnel did not start\n");
        bench_common::exit(false);
    }
    harness::run(&Tracing {
        dropped: || Some(TUNNEL.stats().frames_dropped),
        writes_frames: false,
    })
}
