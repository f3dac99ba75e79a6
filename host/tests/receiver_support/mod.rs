//! Shared by the `receiver_*` tests: a capturing layer and frame builders.
#![allow(dead_code)] // Each test binary uses part of it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET};
use rtt_tunnel_host::target_time::{self, TargetTime};
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, Message, Parent, SpanId, Value,
    Values, ValuesWriter, PROTOCOL_VERSION,
};
use rtt_tunnel_sender::{Clock, MemoryLink, Tunnel};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A recorded value, by the `Visit` method that received it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Str(String),
    Debug(String),
}

pub type Fields = Vec<(String, Val)>;

/// What the host subscriber saw. Spans are labelled `name#n`: the n-th span of that name.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    NewSpan {
        span: String,
        parent: Option<String>,
        /// Whether the span came with an explicit parent or as explicit root.
        explicit: bool,
        fields: Fields,
    },
    Event {
        name: String,
        target: String,
        level: tracing_core::Level,
        parent: Option<String>,
        explicit: bool,
        fields: Fields,
        time: Option<TargetTime>,
    },
    Record {
        span: String,
        fields: Fields,
    },
    FollowsFrom {
        span: String,
        follows: String,
    },
    Enter(String),
    Exit(String),
    Close(String),
}

#[derive(Default)]
struct FieldVisitor(Fields);

impl Visit for FieldVisitor {
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.push((f.name().into(), Val::Bool(v)));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.push((f.name().into(), Val::I64(v)));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.push((f.name().into(), Val::U64(v)));
    }
    fn record_i128(&mut self, f: &Field, v: i128) {
        self.0.push((f.name().into(), Val::I128(v)));
    }
    fn record_u128(&mut self, f: &Field, v: u128) {
        self.0.push((f.name().into(), Val::U128(v)));
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.push((f.name().into(), Val::F64(v)));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.push((f.name().into(), Val::Str(v.into())));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.0.push((f.name().into(), Val::Debug(format!("{v:?}"))));
    }
}

#[derive(Default)]
struct State {
    ops: Vec<Op>,
    labels: HashMap<u64, String>,
    counts: HashMap<String, usize>,
}

/// The log of a [`CaptureLayer`].
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<State>>);

impl Log {
    pub fn ops(&self) -> Vec<Op> {
        self.0.lock().unwrap().ops.clone()
    }

    pub fn take(&self) -> Vec<Op> {
        std::mem::take(&mut self.0.lock().unwrap().ops)
    }

    pub fn events(&self) -> Vec<Op> {
        self.ops()
            .into_iter()
            .filter(|op| matches!(op, Op::Event { .. }))
            .collect()
    }

    /// The label of a host span id.
    fn label(&self, id: &Id) -> String {
        self.0
            .lock()
            .unwrap()
            .labels
            .get(&id.into_u64())
            .cloned()
            .unwrap_or_else(|| format!("?{}", id.into_u64()))
    }

    /// Enter minus exit count per span, for spans whose count is not zero.
    pub fn unbalanced(&self) -> Vec<(String, i64)> {
        let mut depth: HashMap<String, i64> = HashMap::new();
        for op in self.ops() {
            match op {
                Op::Enter(s) => *depth.entry(s).or_default() += 1,
                Op::Exit(s) => *depth.entry(s).or_default() -= 1,
                _ => {}
            }
        }
        let mut v: Vec<_> = depth.into_iter().filter(|(_, d)| *d != 0).collect();
        v.sort();
        v
    }

    /// Spans created and not closed.
    pub fn open_spans(&self) -> Vec<String> {
        let mut open = Vec::new();
        for op in self.ops() {
            match op {
                Op::NewSpan { span, .. } => open.push(span),
                Op::Close(span) => open.retain(|s| *s != span),
                _ => {}
            }
        }
        open
    }
}

/// Records every span and event callback into a [`Log`].
pub struct CaptureLayer(Log);

impl CaptureLayer {
    pub fn new(log: Log) -> Self {
        Self(log)
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = FieldVisitor::default();
        attrs.record(&mut v);
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| self.0.label(&p.id()));
        let mut state = self.0 .0.lock().unwrap();
        let name = attrs.metadata().name();
        let n = state.counts.entry(name.into()).or_default();
        *n += 1;
        let label = format!("{name}#{n}");
        state.labels.insert(id.into_u64(), label.clone());
        state.ops.push(Op::NewSpan {
            span: label,
            parent,
            explicit: !attrs.is_contextual(),
            fields: v.0,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut v = FieldVisitor::default();
        values.record(&mut v);
        let span = self.0.label(id);
        self.0
             .0
            .lock()
            .unwrap()
            .ops
            .push(Op::Record { span, fields: v.0 });
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, _ctx: Context<'_, S>) {
        let (span, follows) = (self.0.label(span), self.0.label(follows));
        self.0
             .0
            .lock()
            .unwrap()
            .ops
            .push(Op::FollowsFrom { span, follows });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut v = FieldVisitor::default();
        event.record(&mut v);
        let parent = ctx.event_span(event).map(|s| self.0.label(&s.id()));
        let meta = event.metadata();
        let op = Op::Event {
            name: meta.name().into(),
            target: meta.target().into(),
            level: *meta.level(),
            parent,
            explicit: !event.is_contextual(),
            fields: v.0,
            time: target_time::current(),
        };
        self.0 .0.lock().unwrap().ops.push(op);
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        let span = self.0.label(id);
        self.0 .0.lock().unwrap().ops.push(Op::Enter(span));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let span = self.0.label(id);
        self.0 .0.lock().unwrap().ops.push(Op::Exit(span));
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let span = self.0.label(&id);
        self.0 .0.lock().unwrap().ops.push(Op::Close(span));
    }
}

/// A registry with a [`CaptureLayer`].
pub fn capture() -> (Dispatch, Log) {
    let log = Log::default();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(CaptureLayer(log.clone())));
    (dispatch, log)
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

/// Shorthand for a new span op.
pub fn new_span_op(span: &str, parent: Option<&str>, fields: Fields) -> Op {
    Op::NewSpan {
        span: span.into(),
        parent: parent.map(Into::into),
        explicit: true,
        fields,
    }
}

/// The parents of the events in `ops`, in order.
pub fn event_parents(ops: &[Op]) -> Vec<Option<String>> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Event { parent, .. } => Some(parent.clone()),
            _ => None,
        })
        .collect()
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
