//! Host relay throughput, in messages per second: rtt-tunnel's bytes through the host's
//! [`Pipeline`] (frame splitter, decoder) into the [`Receiver`], against `tracing-tunnel`'s
//! `TracingEventReceiver` fed the equivalent events, each into
//!
//! - `noop`: a `tracing-subscriber` registry with a no-op layer (a bare registry never frees
//!   closed spans, so it grows and drifts), and
//! - `fmt`: the registry with the fmt layer writing to `io::sink`.
//!
//! `native/noop` and `native/fmt` are the ceiling: the same `tracing` workload run on the
//! host, its macros straight into the same subscriber (no sender, no bytes, no relay). A
//! relay does the registry's work of every message and more, so no relay can beat it.
//!
//! The workload is the same `tracing` code run once under each sender: a span `round` with a
//! `u32` field, entered, an event with `u32`, `bool` and `&str` fields inside it, exited and
//! closed; five messages per cycle on both sides. rtt-tunnel's bytes come from the real sender
//! (`rtt-tunnel-sender` on an in-memory ring); tracing-tunnel's events from its own
//! `TracingEventSender`. The first cycle (call-site announcements, the `Hello`) is relayed
//! once, before measuring.
//!
//! tracing-tunnel's receiver takes owned events, so each measured batch gets a fresh copy of
//! them, made outside the timing: it is measured without any decoding, while rtt-tunnel's
//! figure includes splitting and decoding its bytes. The pipeline decodes frames in the buffer
//! it is handed, so each of its batches gets a fresh copy of the bytes, made outside the
//! timing too. `decode` (split + decode, no receiver) is measured too.
//!
//! **Paired rounds.** Criterion measures one pipeline for two seconds, then the next: on a
//! shared machine whose speed drifts by a third within a minute, the ratio of two such
//! figures moves with the drift. With `RELAY_PAIRED=FILE` set, after criterion, the three
//! pipelines into each subscriber are also timed in [`PAIRED_ROUNDS`] rounds, each round
//! timing every pipeline once (in an order that turns from round to round) over the same
//! messages, and the nanoseconds per message of every round go to `FILE` as JSON
//! (`{"messages_per_round": 20000, "noop": {"rtt-tunnel": [...], "tracing-tunnel": [...],
//! "native": [...]}, "fmt": ...}`):
//! a ratio taken within each round compares pipelines that ran a few milliseconds apart.
//!
//! `cargo xtask bench` runs this and reads criterion's estimates and the paired rounds; by
//! hand: `cargo bench -p rtt-tunnel-host --bench relay`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use rtt_tunnel_host::pipeline::{Pipeline, Splitter};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::session::MAX_FRAME;
use rtt_tunnel_protocol::{Frame, Message};
use rtt_tunnel_sender::{Clock, Identity, MemoryLink, Tunnel};
use tracing_core::{dispatcher, Dispatch};
use tracing_subscriber::layer::{Identity as NoOpLayer, SubscriberExt};
use tracing_tunnel::{TracingEvent, TracingEventReceiver, TracingEventSender};

/// Span cycles per measured batch.
const CYCLES: u32 = 1000;
/// Messages per cycle: new span, enter, event, exit, close.
const MESSAGES_PER_CYCLE: u32 = 5;
/// Bytes of the in-memory ring the sender writes into (the whole stream fits).
const RING: usize = 64 * 1024;
/// Rounds of the paired measurement (see the module docs).
const PAIRED_ROUNDS: usize = 30;
/// Batches of [`CYCLES`] cycles each pipeline relays in one round of the paired measurement.
const PAIRED_BATCHES: usize = 4;

/// A clock that advances 100 ticks per reading (two-byte time deltas, as on a target).
struct Ticks;

static NOW: AtomicU64 = AtomicU64::new(0);

impl Clock for Ticks {
    fn now() -> u64 {
        NOW.fetch_add(100, Ordering::Relaxed)
    }
}

static TUNNEL: Tunnel<MemoryLink<RING>, Ticks> = Tunnel::new();

/// The traced code: `cycles` spans with an event inside.
fn workload(first: u32, cycles: u32) {
    for i in first..first + cycles {
        let span = tracing::info_span!("round", n = i);
        let _entered = span.enter();
        tracing::info!(reading = 1000 + i % 100, ok = i % 2 == 0, note = "hello");
    }
}

/// rtt-tunnel's bytes: the first cycle with the `Hello` and the call sites, then [`CYCLES`]
/// cycles.
fn tunnel_stream() -> (Vec<u8>, Vec<u8>) {
    let identity = Identity {
        boot: 1,
        tick_hz: 1_000_000,
        firmware: "relay-bench 0.1",
    };
    TUNNEL
        .connect(MemoryLink::new(), identity)
        .expect("the bench connects its tunnel once");
    let drain = || {
        let mut wire = vec![0u8; RING];
        let n = TUNNEL.with_link(|link| link.drain_up(&mut wire)).unwrap();
        wire.truncate(n);
        wire
    };
    let dispatch = TUNNEL.dispatch();
    dispatcher::with_default(&dispatch, || workload(0, 1));
    let setup = drain();
    dispatcher::with_default(&dispatch, || workload(1, CYCLES));
    let body = drain();
    assert_eq!(
        TUNNEL.stats().frames_dropped,
        0,
        "the ring must hold the stream"
    );
    (setup, body)
}

/// tracing-tunnel's events for the same code: the first cycle, then [`CYCLES`] cycles.
fn tracing_tunnel_events() -> (Vec<TracingEvent>, Vec<TracingEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let sender = TracingEventSender::new(move |event| sink.lock().unwrap().push(event));
    let dispatch = Dispatch::new(sender);
    dispatcher::with_default(&dispatch, || workload(0, 1));
    let setup = std::mem::take(&mut *events.lock().unwrap());
    dispatcher::with_default(&dispatch, || workload(1, CYCLES));
    let body = std::mem::take(&mut *events.lock().unwrap());
    (setup, body)
}

/// Splits and decodes `wire` (in place) as the pipeline does, handing each frame to `each`;
/// returns how many frames.
fn split_decode(wire: &mut [u8], mut each: impl FnMut(Frame<'_>)) -> u32 {
    let mut splitter = Splitter::new(MAX_FRAME);
    let mut frames = 0;
    splitter.split(wire, |frame| {
        let frame = frame.expect("the sender's stream splits");
        frames += 1;
        each(Frame::decode(frame).expect("the sender's frames decode"));
    });
    frames
}

/// Relays `wire` (in place) through `pipeline` into `receiver`; returns how many frames.
fn relay(pipeline: &mut Pipeline, receiver: &mut Receiver, wire: &mut [u8]) -> u64 {
    let frames = pipeline.feed(wire, receiver).expect("no capture to fail");
    let stats = pipeline.stats(receiver);
    assert_eq!(stats.errors(), 0, "the sender's frames relay");
    frames
}

/// The two host subscribers, by name.
fn subscribers() -> [(&'static str, Dispatch); 2] {
    let noop = tracing_subscriber::registry().with(NoOpLayer::new());
    let fmt = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    [("noop", Dispatch::new(noop)), ("fmt", Dispatch::new(fmt))]
}

/// The streams every measurement relays: rtt-tunnel's bytes and tracing-tunnel's events, each
/// the first cycle, then [`CYCLES`] cycles.
struct Streams {
    setup: Vec<u8>,
    body: Vec<u8>,
    tt_setup: Vec<TracingEvent>,
    tt_body: Vec<TracingEvent>,
}

impl Streams {
    /// Runs the workload under both senders (once: the sender's tunnel is a static).
    fn record() -> Self {
        let (setup, body) = tunnel_stream();
        let (tt_setup, tt_body) = tracing_tunnel_events();
        Streams {
            setup,
            body,
            tt_setup,
            tt_body,
        }
    }

    /// A pipeline and a receiver that relayed the first cycle (the `Hello`, the call sites).
    fn tunnel_receiver(&self) -> (Pipeline, Receiver) {
        let mut receiver = Receiver::default();
        let mut pipeline = Pipeline::new();
        relay(&mut pipeline, &mut receiver, &mut self.setup.clone());
        (pipeline, receiver)
    }

    /// tracing-tunnel's receiver after the first cycle.
    fn tt_receiver(&self) -> TracingEventReceiver {
        let mut receiver = TracingEventReceiver::default();
        for event in self.tt_setup.iter().cloned() {
            receiver.receive(event);
        }
        receiver
    }
}

fn relay_benches(c: &mut Criterion, streams: &Streams) {
    let (body, tt_body) = (&streams.body, &streams.tt_body);
    let messages = split_decode(&mut body.clone(), |frame| {
        assert!(
            !matches!(frame.message, Message::CallSite(_) | Message::Hello(_)),
            "announcements belong to the first cycle"
        );
    });
    assert_eq!(messages, CYCLES * MESSAGES_PER_CYCLE);
    assert_eq!(tt_body.len() as u32, CYCLES * MESSAGES_PER_CYCLE);

    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(u64::from(messages)));

    group.bench_function("rtt-tunnel/decode", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |wire| {
                split_decode(black_box(wire), |frame| {
                    black_box(frame);
                })
            },
            BatchSize::LargeInput,
        )
    });
    for (name, dispatch) in subscribers() {
        dispatcher::with_default(&dispatch, || {
            let (mut pipeline, mut receiver) = streams.tunnel_receiver();
            group.bench_function(format!("rtt-tunnel/{name}"), |b| {
                b.iter_batched_ref(
                    || body.clone(),
                    |wire| relay(&mut pipeline, &mut receiver, black_box(wire)),
                    BatchSize::LargeInput,
                )
            });
            assert_eq!(receiver.span_count(), 0, "every span was closed");
        });
        dispatcher::with_default(&dispatch, || {
            workload(0, 1);
            group.bench_function(format!("native/{name}"), |b| {
                b.iter(|| workload(black_box(1), CYCLES))
            });
        });
        dispatcher::with_default(&dispatch, || {
            let mut receiver = streams.tt_receiver();
            group.bench_function(format!("tracing-tunnel/{name}"), |b| {
                b.iter_batched(
                    || tt_body.clone(),
                    |events| {
                        for event in events {
                            receiver.receive(event);
                        }
                    },
                    BatchSize::LargeInput,
                )
            });
        });
    }
    group.finish();
}

/// The paired rounds (see the module docs): nanoseconds per message of each pipeline in
/// each round, into each subscriber, as JSON.
fn paired_rounds(streams: &Streams) -> String {
    let (body, tt_body) = (&streams.body, &streams.tt_body);
    let messages = f64::from(CYCLES * MESSAGES_PER_CYCLE) * PAIRED_BATCHES as f64;
    let mut json = format!("{{\"messages_per_round\": {messages}");
    for (name, dispatch) in subscribers() {
        let times = dispatcher::with_default(&dispatch, || {
            let (mut pipeline, mut receiver) = streams.tunnel_receiver();
            let mut tt_receiver = streams.tt_receiver();
            workload(0, 1);
            let mut times: [Vec<f64>; 3] = Default::default();
            for round in 0..PAIRED_ROUNDS {
                for turn in 0..3 {
                    let which = (round + turn) % 3;
                    // Each pipeline's input is made before its timing starts.
                    let ns = match which {
                        0 => {
                            let mut wires = vec![body.clone(); PAIRED_BATCHES];
                            let start = Instant::now();
                            for wire in &mut wires {
                                relay(&mut pipeline, &mut receiver, black_box(wire));
                            }
                            start.elapsed()
                        }
                        1 => {
                            let batches = vec![tt_body.clone(); PAIRED_BATCHES];
                            let start = Instant::now();
                            for events in batches {
                                for event in events {
                                    tt_receiver.receive(event);
                                }
                            }
                            start.elapsed()
                        }
                        _ => {
                            let start = Instant::now();
                            for _ in 0..PAIRED_BATCHES {
                                workload(black_box(1), CYCLES);
                            }
                            start.elapsed()
                        }
                    };
                    times[which].push(ns.as_nanos() as f64 / messages);
                }
            }
            assert_eq!(receiver.span_count(), 0, "every span was closed");
            times
        });
        let list = |times: &[f64]| {
            let figures: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
            figures.join(", ")
        };
        let _ = write!(
            json,
            ", \"{name}\": {{\"rtt-tunnel\": [{}], \"tracing-tunnel\": [{}], \"native\": [{}]}}",
            list(&times[0]),
            list(&times[1]),
            list(&times[2]),
        );
    }
    json.push('}');
    json
}

fn main() {
    let streams = Streams::record();
    // What `criterion_group!` and `criterion_main!` would write, with the streams recorded
    // once for both measurements. Short, so that `cargo xtask bench` stays around a few
    // minutes: each figure is the mean of 20 samples of batches of 5000 messages.
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    relay_benches(&mut criterion, &streams);
    criterion.final_summary();
    if let Some(path) = std::env::var_os("RELAY_PAIRED") {
        let json = paired_rounds(&streams);
        std::fs::write(&path, json).expect("the paired rounds' file can be written");
    }
}
