//! The two holes issue 12 started from, as recorded streams (`tests/fixtures/hostile/`,
//! written by `cargo run -p rtt-tunnel-host --example hostile_capture`), replayed as
//! regression tests:
//!
//! - `nested-4000.rttcap`: 4,000 nested spans left entered at the end of the stream (48 KB).
//!   Closing them went through the registry once per level and overflowed the stack (a
//!   debug build, some 4,000 levels).
//! - `live-60.rttcap`: 60 `LiveSpan` frames with `entered: 1024` (615 bytes). Each entry
//!   scanned the whole entered stack: 11.6 s in a debug build.
//!
//! (Each ends with a `Dropped` frame of 0, which the example writes last.)

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rtt_tunnel_host::capture::{replay, CaptureReader};
use rtt_tunnel_host::receiver::{Limits, Receiver};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Clone, Default)]
struct Spans(Arc<(AtomicUsize, AtomicUsize)>);

impl<S: Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.0 .0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_close(&self, _: Id, _: Context<'_, S>) {
        self.0 .1.fetch_add(1, Ordering::Relaxed);
    }
}

/// Replays the fixture `name` into host-receiver's host side (fmt into a sink) on a thread
/// with a 2 MiB stack; returns the stats, the receiver's bound counters, the spans opened
/// and closed on the host.
fn replay_fixture(
    name: &'static str,
    limits: Limits,
) -> (rtt_tunnel_host::pipeline::SessionStats, usize, usize) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let spans = Spans::default();
            let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
            let dispatch =
                Dispatch::new(tracing_subscriber::registry().with(fmt).with(spans.clone()));
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/hostile")
                .join(name);
            let stats = tracing_core::dispatcher::with_default(&dispatch, || {
                let mut reader = CaptureReader::open(&path).unwrap();
                let mut receiver = Receiver::default();
                receiver.set_limits(limits);
                let stats = replay(&mut reader, &mut receiver).unwrap();
                drop(receiver);
                stats
            });
            let (opened, closed) = (
                spans.0 .0.load(Ordering::Relaxed),
                spans.0 .1.load(Ordering::Relaxed),
            );
            (stats, opened, closed)
        })
        .unwrap()
        .join()
        .expect("the replay ended normally")
}

#[test]
fn four_thousand_nested_entered_spans_end_without_overflowing_the_stack() {
    // With the depth bound raised to hold them all: the registry really nests 4,000 deep.
    let (stats, opened, closed) =
        replay_fixture("nested-4000.rttcap", Limits::DEFAULT.entered(4_000));
    assert_eq!((stats.frames, stats.errors()), (8_003, 0), "{stats}");
    assert_eq!((opened, closed), (4_000, 4_000));

    // With the defaults: 1,024 entered, the other entries refused and counted.
    let (stats, opened, closed) = replay_fixture("nested-4000.rttcap", Limits::DEFAULT);
    assert_eq!(stats.limits.entries_refused, 4_000 - 1_024, "{stats}");
    assert_eq!(stats.receive_errors, 4_000 - 1_024);
    assert_eq!((opened, closed), (4_000, 4_000));
}

#[test]
fn live_spans_claiming_1024_entries_each_stop_at_the_depth_bound() {
    let (stats, opened, closed) = replay_fixture("live-60.rttcap", Limits::DEFAULT);
    assert_eq!(stats.limits.entries_refused, 59 * 1_024, "{stats}");
    assert_eq!(stats.limits.entered_peak, 1_024);
    assert_eq!((stats.frames, stats.receive_errors), (4, 59), "{stats}");
    assert_eq!((opened, closed), (1, 1));
}
