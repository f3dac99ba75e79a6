//! `tracing` with a subscriber that does nothing: the cost of the macros and of tracing-core's
//! dispatch, the part of rtt-tunnel's figures that is not the sender's. Timed phase only; run
//! by `cargo xtask bench`.
#![no_std]
#![no_main]

use bench_common::harness;
use bench_tunnel::{Null, Tracing};
use cortex_m_rt::entry;
use rtt_target::rtt_init;
use rtt_tunnel_sender::OneShotAlloc;
use tracing::Dispatch;

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

#[entry]
fn main() -> ! {
    // The harness needs an up channel 0 to look at; nothing is written to it.
    let _channels = rtt_init! {
        up: {
            0: { size: 1024, name: "unused" }
        }
    };
    if tracing::dispatcher::set_global_default(Dispatch::new(Null)).is_err() {
        bench_common::print("bench-tracing-null: no global dispatcher\n");
        bench_common::exit(false);
    }
    harness::run(&Tracing {
        dropped: || None,
        writes_frames: false,
    })
}
