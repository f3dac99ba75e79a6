//! A capturing `Layer`: what the host's `tracing` saw, kept as [`Op`]s with the target time of
//! each, and rendered as deterministic text for snapshots.
//!
//! # The text
//!
//! One line per span or event operation, in the order the host subscriber saw them:
//!
//! ```text
//! b1 new     #1 outer (INFO scenarios::nested) in root {job="nested"}
//! b1 enter   #1 outer
//! b1 event   INFO scenarios::nested in #1 outer: in outer {n=3_u64}
//! b1 record  #1 outer {later=42_u64}
//! b1 follows #3 detached <- #1 outer
//! b1 exit    #1 outer
//! b1 close   #1 outer
//! ```
//!
//! - **Times** are normalised to the boot they belong to: `b1` is a line stamped with a target
//!   time of the boot whose `Hello` said boot 1. The times themselves are checked by
//!   [`check_times`] (never decreasing within a boot, at the board's tick rate, within the
//!   run's length) rather than printed, because they vary from run to run.
//! - **Span ids** are normalised to `#1`, `#2`, ... in the order the spans were created, with
//!   the span's name.
//! - **Values** show how they were recorded: `true`, `-5_i64`, `5_u64`, `..._i128`,
//!   `..._u128`, `1.5_f64`, `"text"` (a `&str`), `?text` (`Debug` or `Display` text formatted on
//!   the target; the receiver appends `…` to text the target cut short). An event's `message`
//!   follows the colon.
//! - The receiver's own events (target `rtt_tunnel`) are shown from `WARN` up (resets, dropped
//!   frames, errors); its `DEBUG` and `INFO` events say what the link did (attached at an
//!   address, saw the control block vanish), which varies by board and timing, and are left
//!   out.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};

use rtt_tunnel_host::receiver::RECEIVER_TARGET;
use rtt_tunnel_host::target_time::{self, TargetTime};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span as the text names it: `#index name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRef {
    /// 1 for the first span created, 2 for the next, ...; 0 for a span the layer never saw
    /// created.
    pub index: usize,
    /// The span's name.
    pub name: &'static str,
}

impl fmt::Display for SpanRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == 0 {
            write!(f, "#? {}", self.name)
        } else {
            write!(f, "#{} {}", self.index, self.name)
        }
    }
}

/// A value, by the `Visit` method that received it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
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
    /// `record_debug` (the receiver relays `Debug` and `Display` text formatted on the
    /// target this way).
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}_i64"),
            Value::U64(v) => write!(f, "{v}_u64"),
            Value::I128(v) => write!(f, "{v}_i128"),
            Value::U128(v) => write!(f, "{v}_u128"),
            Value::F64(v) => write!(f, "{v:?}_f64"),
            Value::Str(v) => write!(f, "{v:?}"),
            Value::Text(v) => write!(f, "?{v}"),
        }
    }
}

impl Value {
    /// The value as an unsigned integer, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The text of a `Str` or `Text` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(v) | Value::Text(v) => Some(v),
            _ => None,
        }
    }
}

/// Field names and values, in the order they were visited.
pub type Fields = Vec<(&'static str, Value)>;

/// One operation the host subscriber saw.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// A span was created.
    NewSpan {
        /// The span.
        span: SpanRef,
        /// Its level.
        level: Level,
        /// Its target.
        target: &'static str,
        /// Its parent; `None` for a root.
        parent: Option<SpanRef>,
        /// Its values.
        fields: Fields,
    },
    /// A span was entered.
    Enter(SpanRef),
    /// A span was exited.
    Exit(SpanRef),
    /// A span was closed.
    Close(SpanRef),
    /// Values were recorded on a span.
    Record {
        /// The span.
        span: SpanRef,
        /// The values.
        fields: Fields,
    },
    /// `span` follows from `follows`.
    FollowsFrom {
        /// The span.
        span: SpanRef,
        /// The span it follows from.
        follows: SpanRef,
    },
    /// An event.
    Event {
        /// Its level.
        level: Level,
        /// Its target.
        target: &'static str,
        /// Its parent span; `None` for a root.
        parent: Option<SpanRef>,
        /// Its values (the message as the field `message`).
        fields: Fields,
    },
}

/// An operation and the target time of the frame being relayed when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// What happened.
    pub kind: OpKind,
    /// [`target_time::current()`] at the time.
    pub time: Option<TargetTime>,
}

impl Op {
    /// The event's field `name`, if this is an event that has it.
    pub fn event_field(&self, name: &str) -> Option<&Value> {
        match &self.kind {
            OpKind::Event { fields, .. } => fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The event's message, if this is an event with one.
    pub fn message(&self) -> Option<&str> {
        self.event_field("message").and_then(Value::as_text)
    }

    /// Whether this is an event of the receiver itself (target `rtt_tunnel`).
    pub fn is_receiver_event(&self) -> bool {
        matches!(&self.kind, OpKind::Event { target, .. } if *target == RECEIVER_TARGET)
    }
}

#[derive(Debug, Default)]
struct State {
    ops: Vec<Op>,
    /// Live host spans by id (the registry reuses ids of closed spans).
    spans: HashMap<u64, SpanRef>,
    created: usize,
}

/// The capturing layer. Clones share what was captured.
#[derive(Debug, Clone, Default)]
pub struct CaptureLayer {
    state: Arc<Mutex<State>>,
}

impl CaptureLayer {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A dispatcher of a `tracing-subscriber` registry with this layer (and nothing else).
    pub fn dispatch(&self) -> Dispatch {
        Dispatch::new(tracing_subscriber::registry().with(self.clone()))
    }

    /// A dispatcher of a registry with this layer and `other` (an exporter under test).
    pub fn dispatch_with<L>(&self, other: L) -> Dispatch
    where
        L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        type Boxed = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;
        let layers: Vec<Boxed> = vec![Box::new(self.clone()), Box::new(other)];
        Dispatch::new(tracing_subscriber::registry().with(layers))
    }

    /// What was captured so far.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Whether an event with this message was captured.
    pub fn saw_message(&self, message: &str) -> bool {
        self.lock()
            .ops
            .iter()
            .any(|op| op.message() == Some(message))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding it already failed; its data is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, kind: OpKind) {
        let time = target_time::current();
        self.lock().ops.push(Op { kind, time });
    }

    fn span(&self, id: &Id) -> SpanRef {
        self.lock()
            .spans
            .get(&id.into_u64())
            .cloned()
            .unwrap_or(SpanRef {
                index: 0,
                name: "?",
            })
    }
}

#[derive(Default)]
struct Visitor(Fields);

impl Visit for Visitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), Value::Bool(value)));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), Value::I64(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), Value::U64(value)));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.push((field.name(), Value::I128(value)));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.push((field.name(), Value::U128(value)));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.name(), Value::F64(value)));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), Value::Str(value.to_owned())));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name(), Value::Text(format!("{value:?}"))));
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = if let Some(parent) = attrs.parent() {
            Some(self.span(parent))
        } else if attrs.is_contextual() {
            ctx.current_span().id().map(|id| self.span(id))
        } else {
            None
        };
        let mut visitor = Visitor::default();
        attrs.record(&mut visitor);
        let meta = attrs.metadata();
        let span = {
            let mut state = self.lock();
            state.created += 1;
            let span = SpanRef {
                index: state.created,
                name: meta.name(),
            };
            state.spans.insert(id.into_u64(), span.clone());
            span
        };
        self.push(OpKind::NewSpan {
            span,
            level: *meta.level(),
            target: meta.target(),
            parent,
            fields: visitor.0,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut visitor = Visitor::default();
        values.record(&mut visitor);
        self.push(OpKind::Record {
            span: self.span(id),
            fields: visitor.0,
        });
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, _ctx: Context<'_, S>) {
        self.push(OpKind::FollowsFrom {
            span: self.span(span),
            follows: self.span(follows),
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|span| self.span(&span.id()));
        let mut visitor = Visitor::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        self.push(OpKind::Event {
            level: *meta.level(),
            target: meta.target(),
            parent,
            fields: visitor.0,
        });
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        self.push(OpKind::Enter(self.span(id)));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        self.push(OpKind::Exit(self.span(id)));
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        let span = self.span(&id);
        self.push(OpKind::Close(span));
        self.lock().spans.remove(&id.into_u64());
    }
}

/// Operations that vary from run to run, left out of the text: one line stands where the
/// first of them was. The test checks them itself.
#[derive(Debug, Clone, Copy)]
pub struct Collapse {
    /// Which operations.
    pub matches: fn(&Op) -> bool,
    /// The line that stands for them (after the boot).
    pub text: &'static str,
}

/// What varies from run to run in a scenario, and how the text shows it instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalise {
    /// Operations left out.
    pub collapse: Option<Collapse>,
    /// Fields whose values vary (shown as `<varies>`); the test checks them itself.
    pub volatile_fields: &'static [&'static str],
}

/// Whether the text shows `op` at all: everything but the receiver's link-level events (which
/// are host events, without a target time).
pub fn shown(op: &Op) -> bool {
    match &op.kind {
        OpKind::Event { target, level, .. } if *target == RECEIVER_TARGET => *level <= Level::WARN,
        _ => true,
    }
}

fn boot_of(time: Option<TargetTime>) -> String {
    match time.and_then(|t| t.boot) {
        Some(boot) => format!("b{boot}"),
        None => "b?".to_owned(),
    }
}

fn write_fields(out: &mut String, fields: &Fields, normalise: &Normalise, skip_message: bool) {
    let shown: Vec<String> = fields
        .iter()
        .filter(|(name, _)| !(skip_message && *name == "message"))
        .map(|(name, value)| {
            if normalise.volatile_fields.contains(name) {
                format!("{name}=<varies>")
            } else {
                format!("{name}={value}")
            }
        })
        .collect();
    if !shown.is_empty() {
        let _ = write!(out, " {{{}}}", shown.join(", "));
    }
}

fn parent_text(parent: &Option<SpanRef>) -> String {
    match parent {
        Some(span) => span.to_string(),
        None => "root".to_owned(),
    }
}

/// The text of `ops` (see the [module docs](self)), one line per shown operation.
pub fn render(ops: &[Op], normalise: &Normalise) -> String {
    let mut out = String::new();
    let mut collapsed = false;
    for op in ops.iter().filter(|op| shown(op)) {
        let boot = boot_of(op.time);
        if let Some(Collapse { matches, text }) = normalise.collapse {
            if matches(op) {
                if !collapsed {
                    let _ = writeln!(out, "{boot} {text}");
                    collapsed = true;
                }
                continue;
            }
        }
        let _ = write!(out, "{boot} ");
        match &op.kind {
            OpKind::NewSpan {
                span,
                level,
                target,
                parent,
                fields,
            } => {
                let _ = write!(
                    out,
                    "new     {span} ({level} {target}) in {}",
                    parent_text(parent)
                );
                write_fields(&mut out, fields, normalise, false);
            }
            OpKind::Enter(span) => {
                let _ = write!(out, "enter   {span}");
            }
            OpKind::Exit(span) => {
                let _ = write!(out, "exit    {span}");
            }
            OpKind::Close(span) => {
                let _ = write!(out, "close   {span}");
            }
            OpKind::Record { span, fields } => {
                let _ = write!(out, "record  {span}");
                write_fields(&mut out, fields, normalise, false);
            }
            OpKind::FollowsFrom { span, follows } => {
                let _ = write!(out, "follows {span} <- {follows}");
            }
            OpKind::Event {
                level,
                target,
                parent,
                fields,
            } => {
                let _ = write!(out, "event   {level} {target} in {}", parent_text(parent));
                if let Some(message) = op.message() {
                    let _ = write!(out, ": {message}");
                }
                write_fields(&mut out, fields, normalise, true);
            }
        }
        out.push('\n');
    }
    out
}

/// Checks the target times of the [`shown`] `ops`: every one has one, at `tick_hz`, not
/// negative, below `max_seconds`, and never earlier than the one before it in the same boot
/// (the receiver's epoch). Returns what is wrong.
pub fn check_times(ops: &[Op], tick_hz: u64, max_seconds: u64) -> Result<(), String> {
    let mut last: Option<TargetTime> = None;
    for (i, op) in ops.iter().enumerate().filter(|(_, op)| shown(op)) {
        let Some(time) = op.time else {
            return Err(format!("operation {i} has no target time: {op:?}"));
        };
        if time.tick_hz.map(|hz| hz.get()) != Some(tick_hz) {
            return Err(format!(
                "operation {i} is at {:?} ticks per second, not {tick_hz}: {op:?}",
                time.tick_hz
            ));
        }
        if time.ticks < 0 || time.ticks as u64 >= max_seconds * tick_hz {
            return Err(format!(
                "operation {i} is at {time} since boot, not within 0..{max_seconds} s: {op:?}"
            ));
        }
        if let Some(before) = last {
            if before.epoch == time.epoch && time.ticks < before.ticks {
                return Err(format!(
                    "operation {i} at {time} is earlier than the one before it at {before}: \
                     {op:?}"
                ));
            }
            if time.epoch < before.epoch {
                return Err(format!("operation {i} goes back a boot: {op:?}"));
            }
        }
        last = Some(time);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use super::*;

    fn at(ticks: i64, epoch: u64) -> Option<TargetTime> {
        Some(TargetTime {
            ticks,
            tick_hz: NonZeroU64::new(1_000),
            boot: Some(epoch as u32 + 1),
            epoch,
        })
    }

    fn enter(index: usize, time: Option<TargetTime>) -> Op {
        Op {
            kind: OpKind::Enter(SpanRef { index, name: "s" }),
            time,
        }
    }

    #[test]
    fn times_must_not_go_back_within_a_boot() {
        let ops = [enter(1, at(5, 0)), enter(1, at(5, 0)), enter(1, at(9, 0))];
        assert_eq!(check_times(&ops, 1_000, 60), Ok(()));
        let back = [enter(1, at(5, 0)), enter(1, at(4, 0))];
        let error = check_times(&back, 1_000, 60).unwrap_err();
        assert!(error.contains("earlier than the one before it"), "{error}");
        // A new boot starts again from zero.
        let reset = [enter(1, at(5, 0)), enter(1, at(1, 1))];
        assert_eq!(check_times(&reset, 1_000, 60), Ok(()));
        let older_boot = [enter(1, at(5, 1)), enter(1, at(6, 0))];
        assert!(check_times(&older_boot, 1_000, 60).is_err());
    }

    #[test]
    fn times_must_be_there_at_the_right_rate_and_in_range() {
        assert!(check_times(&[enter(1, None)], 1_000, 60)
            .unwrap_err()
            .contains("no target time"));
        assert!(check_times(&[enter(1, at(5, 0))], 25_000_000, 60)
            .unwrap_err()
            .contains("ticks per second"));
        assert!(check_times(&[enter(1, at(-1, 0))], 1_000, 60).is_err());
        assert!(check_times(&[enter(1, at(60_000, 0))], 1_000, 60).is_err());
    }

    #[test]
    fn text_numbers_spans_in_order_and_shows_values_by_kind() {
        let layer = CaptureLayer::new();
        tracing_core::dispatcher::with_default(&layer.dispatch(), || {
            let outer = tracing::info_span!("outer", n = 3u64, s = "x");
            let _outer = outer.enter();
            tracing::warn!(f = 1.5, d = ?[1, 2], neg = -2i64, "hello {}", 1);
            tracing::debug_span!("inner").in_scope(|| {});
        });
        let text = render(&layer.ops(), &Normalise::default());
        assert_eq!(
            text,
            "b? new     #1 outer (INFO rtt_tunnel_tests::layer::tests) in root {n=3_u64, s=\"x\"}\n\
             b? enter   #1 outer\n\
             b? event   WARN rtt_tunnel_tests::layer::tests in #1 outer: hello 1 \
             {f=1.5_f64, d=?[1, 2], neg=-2_i64}\n\
             b? new     #2 inner (DEBUG rtt_tunnel_tests::layer::tests) in #1 outer\n\
             b? enter   #2 inner\n\
             b? exit    #2 inner\n\
             b? close   #2 inner\n\
             b? exit    #1 outer\n\
             b? close   #1 outer\n"
        );
    }

    #[test]
    fn normalising_collapses_and_masks() {
        let layer = CaptureLayer::new();
        tracing_core::dispatcher::with_default(&layer.dispatch(), || {
            for i in 0..3u64 {
                tracing::info!(i, "noise");
            }
            tracing::info!(count = 17u64, "done");
            tracing::debug!(target: RECEIVER_TARGET, "link detail");
            tracing::warn!(target: RECEIVER_TARGET, "receiver warning");
        });
        let normalise = Normalise {
            collapse: Some(Collapse {
                matches: |op| op.message() == Some("noise"),
                text: "[noise]",
            }),
            volatile_fields: &["count"],
        };
        assert_eq!(
            render(&layer.ops(), &normalise),
            "b? [noise]\n\
             b? event   INFO rtt_tunnel_tests::layer::tests in root: done {count=<varies>}\n\
             b? event   WARN rtt_tunnel in root: receiver warning\n"
        );
    }
}
