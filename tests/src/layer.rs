//! What the host's `tracing` saw, captured by the capture layer every test suite shares
//! (`rtt-tunnel-testing`) with the target time of each operation, and rendered as
//! deterministic text for snapshots.
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
use std::fmt::Write as _;

use rtt_tunnel_host::receiver::RECEIVER_TARGET;
use rtt_tunnel_host::target_time::{self, TargetTime};
use rtt_tunnel_testing::Stamp;
use tracing_core::Level;

pub use rtt_tunnel_testing::{span_name, Fields, Val};

/// Stamps each captured operation with [`target_time::current()`]: the target time of the
/// frame being relayed.
#[derive(Debug)]
pub struct TargetStamp;

impl Stamp for TargetStamp {
    type Time = TargetTime;

    fn now() -> Option<TargetTime> {
        target_time::current()
    }
}

/// What a capture saw (clones share it); [`Log::dispatch`] is a registry with the capture
/// layer.
pub type Log = rtt_tunnel_testing::Log<TargetStamp>;
/// One operation the host subscriber saw; spans are labelled `name#n`.
pub type Op = rtt_tunnel_testing::Op<TargetTime>;
/// An operation with its target time and metadata.
pub type Entry = rtt_tunnel_testing::Entry<TargetTime>;

/// Whether `op` is an event of the receiver itself (target `rtt_tunnel`).
pub fn is_receiver_event(op: &Op) -> bool {
    matches!(op, Op::Event { target, .. } if target == RECEIVER_TARGET)
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
    match op {
        Op::Event { target, level, .. } if target == RECEIVER_TARGET => *level <= Level::WARN,
        _ => true,
    }
}

/// A value as the text shows it (see the [module docs](self)).
fn value_text(value: &Val) -> String {
    match value {
        Val::Bool(v) => format!("{v}"),
        Val::I64(v) => format!("{v}_i64"),
        Val::U64(v) => format!("{v}_u64"),
        Val::I128(v) => format!("{v}_i128"),
        Val::U128(v) => format!("{v}_u128"),
        Val::F64(v) => format!("{v:?}_f64"),
        Val::Str(v) => format!("{v:?}"),
        Val::Debug(v) => format!("?{v}"),
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
        .filter(|(name, _)| !(skip_message && name == "message"))
        .map(|(name, value)| {
            if normalise.volatile_fields.contains(&name.as_str()) {
                format!("{name}=<varies>")
            } else {
                format!("{name}={}", value_text(value))
            }
        })
        .collect();
    if !shown.is_empty() {
        let _ = write!(out, " {{{}}}", shown.join(", "));
    }
}

/// Spans as the text names them: `#index name`, numbered in the order they were created.
#[derive(Default)]
struct SpanNumbers(HashMap<String, usize>);

impl SpanNumbers {
    fn created(&mut self, label: &str) {
        let index = self.0.len() + 1;
        self.0.insert(label.to_owned(), index);
    }

    /// `#index name`, or `#? ?` for a span the capture never saw created.
    fn text(&self, label: &str) -> String {
        match self.0.get(label) {
            Some(index) => format!("#{index} {}", span_name(label)),
            None => "#? ?".to_owned(),
        }
    }

    fn parent_text(&self, parent: &Option<String>) -> String {
        match parent {
            Some(label) => self.text(label),
            None => "root".to_owned(),
        }
    }
}

/// The text of `entries` (see the [module docs](self)), one line per shown operation.
pub fn render(entries: &[Entry], normalise: &Normalise) -> String {
    let mut out = String::new();
    let mut collapsed = false;
    let mut spans = SpanNumbers::default();
    for entry in entries {
        let op = &entry.op;
        if let Op::NewSpan { span, .. } = op {
            spans.created(span);
        }
        if !shown(op) {
            continue;
        }
        let boot = boot_of(entry.time);
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
        match op {
            Op::NewSpan {
                span,
                parent,
                fields,
                ..
            } => {
                let meta = entry.metadata.expect("a new span's metadata");
                let _ = write!(
                    out,
                    "new     {} ({} {}) in {}",
                    spans.text(span),
                    meta.level(),
                    meta.target(),
                    spans.parent_text(parent)
                );
                write_fields(&mut out, fields, normalise, false);
            }
            Op::Enter(span) => {
                let _ = write!(out, "enter   {}", spans.text(span));
            }
            Op::Exit(span) => {
                let _ = write!(out, "exit    {}", spans.text(span));
            }
            Op::Close(span) => {
                let _ = write!(out, "close   {}", spans.text(span));
            }
            Op::Record { span, fields } => {
                let _ = write!(out, "record  {}", spans.text(span));
                write_fields(&mut out, fields, normalise, false);
            }
            Op::FollowsFrom { span, follows } => {
                let _ = write!(
                    out,
                    "follows {} <- {}",
                    spans.text(span),
                    spans.text(follows)
                );
            }
            Op::Event {
                level,
                target,
                parent,
                fields,
                ..
            } => {
                let _ = write!(
                    out,
                    "event   {level} {target} in {}",
                    spans.parent_text(parent)
                );
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

/// Checks the target times of the [`shown`] `entries`: every one has one, at `tick_hz`, not
/// negative, below `max_seconds`, and never earlier than the one before it in the same boot
/// (the receiver's epoch). Returns what is wrong.
pub fn check_times(entries: &[Entry], tick_hz: u64, max_seconds: u64) -> Result<(), String> {
    let mut last: Option<TargetTime> = None;
    for (i, entry) in entries.iter().enumerate().filter(|(_, e)| shown(&e.op)) {
        let op = &entry.op;
        let Some(time) = entry.time else {
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

    fn enter(index: usize, time: Option<TargetTime>) -> Entry {
        Entry {
            op: Op::Enter(format!("s#{index}")),
            time,
            metadata: None,
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
        let log = Log::default();
        tracing_core::dispatcher::with_default(&log.dispatch(), || {
            let outer = tracing::info_span!("outer", n = 3u64, s = "x");
            let _outer = outer.enter();
            tracing::warn!(f = 1.5, d = ?[1, 2], neg = -2i64, "hello {}", 1);
            tracing::debug_span!("inner").in_scope(|| {});
        });
        let text = render(&log.entries(), &Normalise::default());
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
        let log = Log::default();
        tracing_core::dispatcher::with_default(&log.dispatch(), || {
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
            render(&log.entries(), &normalise),
            "b? [noise]\n\
             b? event   INFO rtt_tunnel_tests::layer::tests in root: done {count=<varies>}\n\
             b? event   WARN rtt_tunnel in root: receiver warning\n"
        );
    }
}
