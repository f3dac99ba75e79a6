//! Shared by the host library's tests: the capture layer (from `rtt-tunnel-testing`) stamped with
//! the target time, and frame builders.
#![allow(dead_code)] // Each test binary uses part of it.

use std::sync::atomic::{AtomicU64, Ordering};

use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET};
use rtt_tunnel_host::target_time::{self, TargetTime};
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, Message, Parent, SpanId, Value,
    Values, ValuesWriter, PROTOCOL_VERSION,
};
use rtt_tunnel_sender::{Clock, MemoryLink, Tunnel};
use rtt_tunnel_testing::Stamp;
use tracing_core::Dispatch;

// The capture layer of every test suite (`rtt-tunnel-testing`), stamped with the target time
// of the frame being relayed.
#[allow(unused_imports)] // Each test binary uses part of it.
pub use rtt_tunnel_testing::{event_parents, new_span_op, span_name, Fields, Val};

/// Stamps each captured operation with [`target_time::current()`].
pub struct TargetStamp;

impl Stamp for TargetStamp {
    type Time = TargetTime;

    fn now() -> Option<TargetTime> {
        target_time::current()
    }
}

/// What the host subscriber saw. Spans are labelled `name#n`: the n-th span of that name.
pub type Op = rtt_tunnel_testing::Op<TargetTime>;
/// The log of a [`CaptureLayer`].
pub type Log = rtt_tunnel_testing::Log<TargetStamp>;
/// Records every span and event callback into a [`Log`].
pub type CaptureLayer = rtt_tunnel_testing::CaptureLayer<TargetStamp>;

/// A registry with a [`CaptureLayer`].
pub fn capture() -> (Dispatch, Log) {
    let log = Log::default();
    (log.dispatch(), log)
}

/// Runs `f` with a fresh capturing dispatcher; returns its log.
pub fn with_capture(f: impl FnOnce()) -> Log {
    let (dispatch, log) = capture();
    tracing_core::dispatcher::with_default(&dispatch, f);
    log
}

pub const FIRMWARE: &str = "test-fw 1.0 build 42";

pub fn hello(boot: u32, firmware: &'static str) -> Message<'static> {
    Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        boot,
        tick_hz: 1_000_000,
        firmware,
        flash_base: 0,
        flash_len: 0,
    })
}

pub fn site(
    id: u32,
    kind: Kind,
    level: Level,
    name: &'static str,
    fields: &'static [&'static str],
) -> Message<'static> {
    Message::CallSite(CallSite {
        id: CallsiteId(id),
        kind,
        level,
        name,
        target: "fw::app",
        module_path: Some("fw::app"),
        file: Some("src/main.rs"),
        line: Some(id + 10),
        fields: FieldNames::new(fields),
    })
}

pub fn event_site(
    id: u32,
    name: &'static str,
    fields: &'static [&'static str],
) -> Message<'static> {
    site(id, Kind::Event, Level::Info, name, fields)
}

pub fn span_site(id: u32, name: &'static str, fields: &'static [&'static str]) -> Message<'static> {
    site(id, Kind::Span, Level::Info, name, fields)
}

/// Encoded values, to borrow as [`Values`].
pub struct Vals(Vec<u8>);

impl Vals {
    pub fn new(items: &[(u8, Value<'_>)]) -> Self {
        let mut buf = vec![0u8; 4096];
        let mut w = ValuesWriter::new(&mut buf);
        for (field, value) in items {
            w.push(*field, *value).unwrap();
        }
        let n = w.len();
        buf.truncate(n);
        Self(buf)
    }

    pub fn values(&self) -> Values<'_> {
        Values::decode(&self.0).unwrap()
    }
}

pub fn event(callsite: u32, parent: Parent, values: Values<'_>) -> Message<'_> {
    Message::Event {
        callsite: CallsiteId(callsite),
        parent,
        values,
    }
}

pub fn new_span(id: u32, callsite: u32, parent: Parent) -> Message<'static> {
    Message::NewSpan {
        id: SpanId(id),
        callsite: CallsiteId(callsite),
        parent,
        values: Values::EMPTY,
    }
}

pub fn span(id: u32) -> SpanId {
    SpanId(id)
}

/// Feeds frames 1 tick apart, panicking on an error.
pub fn feed(rx: &mut Receiver, messages: impl IntoIterator<Item = Message<'static>>) {
    for message in messages {
        rx.receive(Frame {
            exception: 0,
            dt: 1,
            message,
        });
    }
}

/// One frame, 1 tick after the last.
pub fn frame(message: Message<'_>) -> Frame<'_> {
    Frame {
        exception: 0,
        dt: 1,
        message,
    }
}

/// A receiver that has seen a `Hello` and the standard call sites:
/// 0 `event` [message, n], 1 `outer` span [a], 2 `inner` span [], 3 `other` span [].
pub fn started() -> Receiver {
    let mut rx = Receiver::default();
    feed(&mut rx, standard_preamble(1));
    rx
}

pub fn standard_preamble(boot: u32) -> Vec<Message<'static>> {
    vec![
        hello(boot, FIRMWARE),
        event_site(0, "event", &["message", "n"]),
        span_site(1, "outer", &["a"]),
        span_site(2, "inner", &[]),
        span_site(3, "other", &[]),
    ]
}

/// A boot that announces itself and enters two spans (`outer` then `inner`), and stays inside.
pub fn boot_inside_spans(boot: u32) -> Vec<Message<'static>> {
    let mut messages = standard_preamble(boot);
    messages.extend([
        new_span(1, 1, Parent::Current),
        Message::Enter(span(1)),
        new_span(2, 2, Parent::Current),
        Message::Enter(span(2)),
    ]);
    messages
}

/// A boot's `Hello`, call sites and one event.
pub fn boot_with_event(boot: u32) -> Vec<Message<'static>> {
    let mut messages = standard_preamble(boot);
    messages.push(event(0, Parent::Current, Values::EMPTY));
    messages
}

/// The messages of the receiver's own `WARN` events.
pub fn receiver_warnings(log: &Log) -> Vec<String> {
    log.events()
        .into_iter()
        .filter_map(|op| match op {
            Op::Event {
                target,
                level,
                fields,
                ..
            } if target == RECEIVER_TARGET && level == tracing_core::Level::WARN => {
                fields.into_iter().find_map(|(name, value)| match value {
                    Val::Debug(text) if name == "message" => Some(text),
                    _ => None,
                })
            }
            _ => None,
        })
        .collect()
}

/// A clock for the real sender that advances 10 ticks per reading.
pub struct TestClock;

static NOW: AtomicU64 = AtomicU64::new(1_000);

impl Clock for TestClock {
    fn now() -> u64 {
        NOW.fetch_add(10, Ordering::Relaxed)
    }
}

/// The real sender over an in-memory ring.
pub type MemoryTunnel = Tunnel<MemoryLink<32768>, TestClock>;

/// The bytes the sender has written and the host has not yet taken.
pub fn drain(tunnel: &MemoryTunnel) -> Vec<u8> {
    let mut wire = vec![0u8; 32768];
    let n = tunnel.with_link(|link| link.drain_up(&mut wire)).unwrap();
    wire.truncate(n);
    wire
}
