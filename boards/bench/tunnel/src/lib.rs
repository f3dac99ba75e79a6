//! The `tracing` statements of rtt-tunnel's benchmark, shared by its three binaries:
//!
//! - `bench-tunnel`: `tracing` → the sender → an RTT up channel (what the table compares);
//! - `bench-tunnel-nolink`: the same sender whose link seals every frame into a scratch
//!   buffer that nothing reads, so the difference with `bench-tunnel` is the ring's offsets
//!   (reading them, the room check, publishing the new one);
//! - `bench-tracing-null`: `tracing` → a subscriber that does nothing, so what is left is
//!   the cost of the `tracing` macros and of tracing-core's dispatch.
//!
//! and of the demo-like application's size builds ([`DemoTracing`]): `size-tunnel` (with the
//! sender) and `size-tracing-null` (with [`Null`]: what `tracing` alone adds to the flash).
#![no_std]

use bench_common::counter;
use bench_common::demo::DemoLog;
use bench_common::harness::Subject;
use rtt_tunnel_sender::Clock;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

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

/// Enables everything, gives every span the same id, and does nothing else.
#[derive(Debug)]
pub struct Null;

impl Subscriber for Null {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The demo-like application's log statements as `tracing` macros; `service` runs once per
/// round (the sender's `poll`).
#[derive(Debug)]
pub struct DemoTracing {
    /// Called once per round.
    pub service: fn(),
}

impl DemoLog for DemoTracing {
    fn up(&self, board: &'static str, boot: u32) {
        tracing::info!(board, boot, "demo firmware up");
    }

    fn round<R>(&self, round: u32, body: impl FnOnce() -> R) -> R {
        let _span = tracing::info_span!("round", round).entered();
        body()
    }

    fn sample<R>(&self, sensor: &'static str, body: impl FnOnce() -> R) -> R {
        let _span = tracing::debug_span!("sample", sensor).entered();
        body()
    }

    fn sampled(&self, raw: u32, value: f32) {
        tracing::debug!(raw, value, "sampled");
    }

    fn over_limit(&self, celsius: f32, limit: f32) {
        tracing::warn!(celsius, limit, "temperature above the limit");
    }

    fn unavailable(&self, sensor: &'static str, address: u32, round: u32) {
        tracing::error!(
            sensor,
            address,
            round,
            "sensor unavailable, skipped this round"
        );
    }

    fn progress(&self, round: u32, average: f32, warm: bool) {
        tracing::info!(round, average, warm, "progress");
    }

    fn finished(&self, rounds: u32, warnings: u32, errors: u32) {
        tracing::info!(rounds, warnings, errors, "demo finished");
    }

    fn service(&self) {
        (self.service)();
    }
}
