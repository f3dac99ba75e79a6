//! The demo-like application (`bench_common::demo`) traced with `tracing` into a subscriber
//! that does nothing: its flash, against `size-none`'s, is what `tracing` alone (the macros'
//! code, the call sites' metadata, tracing-core's dispatch and registry, the `core::fmt` they
//! link) adds, the part of `size-tunnel`'s figure that is not the sender's.
#![no_std]
#![no_main]

use bench_common::demo;
use bench_tunnel::{DemoTracing, Null};
use cortex_m_rt::entry;
use rtt_tunnel_sender::OneShotAlloc;
use tracing::Dispatch;

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

#[entry]
fn main() -> ! {
    let started = tracing::dispatcher::set_global_default(Dispatch::new(Null)).is_ok();
    let checksum = demo::run(&DemoTracing { service: || {} }, "mps2", 1, 20);
    bench_common::exit(started && checksum != 0)
}
