//! Test support for rtt-tunnel's host side: a capturing [`Layer`] and the [`Log`] of what it
//! saw, shared by every test suite that checks what the host's `tracing` received (the host
//! library's integration tests in `host/tests/` and the end-to-end QEMU tests in `tests/`).
//!
//! Like `tracing-mock`, it is a crate of its own so that no test scaffolding enters the host
//! library's public API, and the tests depend on it as any user would. It needs only
//! `tracing` types: it does not depend on `rtt-tunnel-host`, so the host library's tests can
//! use it without a dependency cycle (which would give them a second copy of the library's
//! types). The time of each operation comes from a [`Stamp`] the test supplies; the host's
//! tests stamp with `rtt_tunnel_host::target_time::current`.
//!
//! # Example
//!
//! ```
//! use rtt_tunnel_testing::{Log, Op, Val};
//!
//! let log: Log = Log::default();
//! tracing_core::dispatcher::with_default(&log.dispatch(), || {
//!     let span = tracing::info_span!("outer", a = 1u64);
//!     let _entered = span.enter();
//!     tracing::info!(n = 2u64, "hello");
//! });
//! assert_eq!(log.events().len(), 1);
//! assert_eq!(log.events()[0].message(), Some("hello"));
//! assert_eq!(log.events()[0].event_field("n"), Some(&Val::U64(2)));
//! assert!(matches!(&log.ops()[1], Op::Enter(span) if span == "outer#1"));
//! assert!(log.open_spans().is_empty());
//! ```
//!
//! # Spans
//!
//! A span is named by a label, `name#n`: the n-th span of that name the layer saw created.
//! [`span_name`] gives the name back. A span the layer never saw created is `?id`.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where the time of each captured operation comes from.
///
/// The host's tests implement it with the target time of the frame being relayed
/// (`rtt_tunnel_host::target_time::current`).
pub trait Stamp: 'static {
    /// The time.
    type Time: Clone + fmt::Debug + PartialEq + Send + 'static;

    /// The time now, if there is one.
    fn now() -> Option<Self::Time>;
}

/// No time: every operation is stamped `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStamp;

impl Stamp for NoStamp {
    type Time = ();

    fn now() -> Option<()> {
        None
    }
}

/// A recorded value, by the `Visit` method that received it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `record_bool`.
    Bool(bool),
    /// `record_i64`.
    I64(i64),
    /// `record_u64`.
    U64(u64),
    /// `record_i128`.
    I128(i128),
    /// `record_u128`.
    U128(u128),
    /// `record_f64`.
    F64(f64),
    /// `record_str`.
    Str(String),
    /// `record_debug`: the `Debug` text (the receiver relays the `Debug` and `Display` text
    /// formatted on the target this way, and an event's message).
    Debug(String),
}

impl Val {
    /// The value as an unsigned integer, if it is one (a non-negative `I64` too).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Val::U64(v) => Some(v),
            Val::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The text of a `Str` or `Debug` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Val::Str(v) | Val::Debug(v) => Some(v),
            _ => None,
        }
    }
}

/// Field names and values, in the order they were visited.
pub type Fields = Vec<(String, Val)>;

/// What the subscriber saw, one operation. Spans are labelled `name#n` (see the
/// [crate docs](crate)). `T` is the time of a [`Stamp`].
#[derive(Debug, Clone, PartialEq)]
pub enum Op<T = ()> {
    /// A span was created.
    NewSpan {
        /// Its label.
        span: String,
        /// Its parent's label (as the registry resolved it); `None` for a root.
        parent: Option<String>,
        /// Whether the span came with an explicit parent or as explicit root.
        explicit: bool,
        /// Its values.
        fields: Fields,
    },
    /// An event.
    Event {
        /// Its call site's name.
        name: String,
        /// Its target.
        target: String,
        /// Its level.
        level: tracing_core::Level,
        /// The label of the span it is in; `None` for a root.
        parent: Option<String>,
        /// Whether it came with an explicit parent or as explicit root.
        explicit: bool,
        /// Its values (the message as the field `message`).
        fields: Fields,
        /// Its time, from the [`Stamp`].
        time: Option<T>,
    },
    /// Values were recorded on a span.
    Record {
        /// The span.
        span: String,
        /// The values.
        fields: Fields,
    },
    /// `span` follows from `follows`.
    FollowsFrom {
        /// The span.
        span: String,
        /// The span it follows from.
        follows: String,
    },
    /// A span was entered.
    Enter(String),
    /// A span was exited.
    Exit(String),
    /// A span was closed.
    Close(String),
}

impl<T> Op<T> {
    /// The event's field `name`, if this is an event that has it.
    pub fn event_field(&self, name: &str) -> Option<&Val> {
        match self {
            Op::Event { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The event's message, if this is an event with one.
    pub fn message(&self) -> Option<&str> {
        self.event_field("message").and_then(Val::as_text)
    }

    /// The parent of a new span or an event.
    pub fn parent(&self) -> Option<&str> {
        match self {
            Op::NewSpan { parent, .. } | Op::Event { parent, .. } => parent.as_deref(),
            _ => None,
        }
    }
}

/// The name in a span label: `outer` for `outer#2`.
pub fn span_name(label: &str) -> &str {
    label.rsplit_once('#').map_or(label, |(name, _)| name)
}

/// A new span op as the receiver relays most spans: with an explicit parent (or explicitly
/// root).
pub fn new_span_op<T>(span: &str, parent: Option<&str>, fields: Fields) -> Op<T> {
    Op::NewSpan {
        span: span.into(),
        parent: parent.map(Into::into),
        explicit: true,
        fields,
    }
}

/// The parents of the events in `ops`, in order.
pub fn event_parents<T>(ops: &[Op<T>]) -> Vec<Option<String>> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Event { parent, .. } => Some(parent.clone()),
            _ => None,
        })
        .collect()
}

/// An [`Op`] with what a test that renders it needs besides: the time of every operation and
/// the metadata of its span or event.
#[derive(Debug, Clone)]
pub struct Entry<T = ()> {
    /// The operation.
    pub op: Op<T>,
    /// Its time, from the [`Stamp`] (for an event the same as the op's own `time`).
    pub time: Option<T>,
    /// The metadata of the span or event; `None` for a span the registry no longer knows.
    pub metadata: Option<&'static Metadata<'static>>,
}

struct State<T> {
    entries: Vec<Entry<T>>,
    labels: HashMap<u64, String>,
    counts: HashMap<&'static str, usize>,
}

impl<T> Default for State<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            labels: HashMap::new(),
            counts: HashMap::new(),
        }
    }
}

/// What a [`CaptureLayer`] saw. Clones share it.
pub struct Log<S: Stamp = NoStamp>(Arc<Mutex<State<S::Time>>>, PhantomData<fn() -> S>);

impl<S: Stamp> Default for Log<S> {
    fn default() -> Self {
        Self(Arc::default(), PhantomData)
    }
}

impl<S: Stamp> Clone for Log<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0), PhantomData)
    }
}

impl<S: Stamp> fmt::Debug for Log<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.lock().entries.iter().map(|e| &e.op))
            .finish()
    }
}

impl<S: Stamp> Log<S> {
    fn lock(&self) -> MutexGuard<'_, State<S::Time>> {
        // A test that panicked while holding it already failed; what it holds is still good.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A dispatcher of a `tracing-subscriber` registry with a [`CaptureLayer`] into this log
    /// (and nothing else).
    pub fn dispatch(&self) -> Dispatch {
        Dispatch::new(tracing_subscriber::registry().with(CaptureLayer::new(self.clone())))
    }

    /// A dispatcher of a registry with a [`CaptureLayer`] into this log and `other` beside it
    /// (an exporter under test, say).
    pub fn dispatch_with<L>(&self, other: L) -> Dispatch
    where
        L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        type Boxed = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;
        let layers: Vec<Boxed> = vec![Box::new(CaptureLayer::new(self.clone())), Box::new(other)];
        Dispatch::new(tracing_subscriber::registry().with(layers))
    }

    /// Everything captured so far.
    pub fn ops(&self) -> Vec<Op<S::Time>> {
        self.lock().entries.iter().map(|e| e.op.clone()).collect()
    }

    /// Everything captured so far, with times and metadata.
    pub fn entries(&self) -> Vec<Entry<S::Time>> {
        self.lock().entries.clone()
    }

    /// Everything captured so far, leaving the log empty (span labels go on counting).
    pub fn take(&self) -> Vec<Op<S::Time>> {
        std::mem::take(&mut self.lock().entries)
            .into_iter()
            .map(|e| e.op)
            .collect()
    }

    /// The events captured so far.
    pub fn events(&self) -> Vec<Op<S::Time>> {
        self.ops()
            .into_iter()
            .filter(|op| matches!(op, Op::Event { .. }))
            .collect()
    }

    /// Whether an event with this message was captured.
    pub fn saw_message(&self, message: &str) -> bool {
        self.lock()
            .entries
            .iter()
            .any(|e| e.op.message() == Some(message))
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

    /// The label of a host span id.
    fn label(&self, id: &Id) -> String {
        self.lock()
            .labels
            .get(&id.into_u64())
            .cloned()
            .unwrap_or_else(|| format!("?{}", id.into_u64()))
    }

    fn push(&self, op: Op<S::Time>, metadata: Option<&'static Metadata<'static>>) {
        let time = match &op {
            Op::Event { time, .. } => time.clone(),
            _ => S::now(),
        };
        self.lock().entries.push(Entry { op, time, metadata });
    }
}

/// Records every span and event callback into a [`Log`].
pub struct CaptureLayer<S: Stamp = NoStamp>(Log<S>);

impl<S: Stamp> CaptureLayer<S> {
    /// A layer that records into `log`.
    pub fn new(log: Log<S>) -> Self {
        Self(log)
    }
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

impl<S, R> Layer<R> for CaptureLayer<S>
where
    S: Stamp,
    R: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, R>) {
        let mut v = FieldVisitor::default();
        attrs.record(&mut v);
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| self.0.label(&p.id()));
        let meta = attrs.metadata();
        let label = {
            let mut state = self.0.lock();
            let n = state.counts.entry(meta.name()).or_default();
            *n += 1;
            let label = format!("{}#{n}", meta.name());
            state.labels.insert(id.into_u64(), label.clone());
            label
        };
        let op = Op::NewSpan {
            span: label,
            parent,
            explicit: !attrs.is_contextual(),
            fields: v.0,
        };
        self.0.push(op, Some(meta));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, R>) {
        let mut v = FieldVisitor::default();
        values.record(&mut v);
        let span = self.0.label(id);
        let meta = ctx.metadata(id);
        self.0.push(Op::Record { span, fields: v.0 }, meta);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, R>) {
        let meta = ctx.metadata(span);
        let (span, follows) = (self.0.label(span), self.0.label(follows));
        self.0.push(Op::FollowsFrom { span, follows }, meta);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, R>) {
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
            time: S::now(),
        };
        self.0.push(op, Some(meta));
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, R>) {
        self.0.push(Op::Enter(self.0.label(id)), ctx.metadata(id));
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, R>) {
        self.0.push(Op::Exit(self.0.label(id)), ctx.metadata(id));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, R>) {
        self.0.push(Op::Close(self.0.label(&id)), ctx.metadata(&id));
        // The registry reuses the ids of closed spans.
        self.0.lock().labels.remove(&id.into_u64());
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        static NOW: Cell<u32> = const { Cell::new(0) };
    }

    /// A clock that counts its readings.
    struct Counter;

    impl Stamp for Counter {
        type Time = u32;

        fn now() -> Option<u32> {
            Some(NOW.with(|n| {
                n.set(n.get() + 1);
                n.get()
            }))
        }
    }

    #[test]
    fn labels_parents_and_values() {
        let log: Log = Log::default();
        tracing_core::dispatcher::with_default(&log.dispatch(), || {
            let outer = tracing::info_span!("outer", a = 1u64);
            let _outer = outer.enter();
            tracing::info_span!("inner").in_scope(|| {
                tracing::warn!(f = 1.5, s = "x", neg = -2i64, "hi {}", 1);
            });
            tracing::info_span!(parent: None, "inner").in_scope(|| {});
            outer.record("a", 2u64);
        });
        let ops = log.ops();
        assert_eq!(
            ops[..3],
            [
                Op::NewSpan {
                    span: "outer#1".into(),
                    parent: None,
                    explicit: false,
                    fields: vec![("a".into(), Val::U64(1))],
                },
                Op::Enter("outer#1".into()),
                Op::NewSpan {
                    span: "inner#1".into(),
                    parent: Some("outer#1".into()),
                    explicit: false,
                    fields: vec![],
                },
            ]
        );
        let Op::Event {
            name,
            target,
            level,
            parent,
            explicit,
            fields,
            time,
        } = &ops[4]
        else {
            panic!("not an event: {:?}", ops[4]);
        };
        assert!(name.starts_with("event "), "{name}");
        assert_eq!(target, module_path!());
        assert_eq!(*level, tracing_core::Level::WARN);
        assert_eq!(parent.as_deref(), Some("inner#1"));
        assert!(!explicit);
        assert_eq!(
            fields,
            &vec![
                ("message".into(), Val::Debug("hi 1".into())),
                ("f".into(), Val::F64(1.5)),
                ("s".into(), Val::Str("x".into())),
                ("neg".into(), Val::I64(-2)),
            ]
        );
        assert_eq!(*time, None);
        assert_eq!(ops[4].message(), Some("hi 1"));
        assert!(ops.contains(&new_span_op("inner#2", None, vec![])));
        assert!(ops.contains(&Op::Record {
            span: "outer#1".into(),
            fields: vec![("a".into(), Val::U64(2))],
        }));
        assert_eq!(event_parents(&ops), [Some("inner#1".to_owned())]);
        assert!(log.unbalanced().is_empty());
        assert!(log.open_spans().is_empty());
        assert!(log.saw_message("hi 1"));
        assert!(!log.saw_message("hi"));
        assert_eq!(span_name("inner#2"), "inner");
    }

    #[test]
    fn every_operation_is_stamped_with_its_metadata() {
        let log: Log<Counter> = Log::default();
        tracing_core::dispatcher::with_default(&log.dispatch(), || {
            tracing::debug_span!(target: "t", "s").in_scope(|| tracing::info!("e"));
        });
        let entries = log.entries();
        let times: Vec<_> = entries.iter().map(|e| e.time).collect();
        assert_eq!(times, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
        assert!(matches!(entries[2].op, Op::Event { time: Some(3), .. }));
        let new = entries[0].metadata.expect("the span's metadata");
        assert_eq!(
            (new.target(), *new.level()),
            ("t", tracing_core::Level::DEBUG)
        );
        assert_eq!(entries[4].op, Op::Close("s#1".into()));
        assert_eq!(entries[4].metadata.map(|m| m.name()), Some("s"));
        assert_eq!(log.take().len(), 5);
        assert!(log.ops().is_empty());
    }
}
