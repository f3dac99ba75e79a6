//! The `tracing` statements of rtt-tunnel's benchmark, shared by its three binaries:
//!
//! - `bench-tunnel`: `tracing` → the sender → an RTT up channel (what the table compares);
//! - `bench-tunnel-nolink`: the same sender whose link takes every frame and copies nothing,
//!   so the difference with `bench-tunnel` is the copy into the ring;
//! - `bench-tracing-null`: `tracing` → a subscriber that does nothing, so what is left is
//!   the cost of the `tracing` macros and of tracing-core's dispatch.
#![no_std]

use bench_common::counter;
use bench_common::harness::Subject;
use rtt_tunnel_sender::Clock;

/// Timestamps from the FPGA I/O block's COUNTER, the clock the instructions are counted with.
#[derive(Debug)]
pub struct Counter;

impl Clock for Counter {
    const BITS: u32 = 32;

    fn now() -> u64 {
        u64::from(counter())
    }
}

/// The benchmark's operations as `tracing` statements, whatever the global dispatcher.
#[derive(Debug)]
pub struct Tracing {
    /// Frames the sender dropped so far (`None` without a sender).
    pub dropped: fn() -> Option<u32>,
    /// Whether the frames reach up channel 0.
    pub writes_frames: bool,
}

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
        (self.dropped)()
    }

    fn writes_frames(&self) -> bool {
        self.writes_frames
    }
}
