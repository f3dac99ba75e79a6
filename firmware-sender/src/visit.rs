//! Field values into a frame: a `tracing_core::field::Visit` over the protocol's
//! `ValuesWriter`, bounded by the frame and by the text limit.

use core::fmt;

use rtt_tunnel_protocol::{Value, ValuesWriter};
use tracing_core::field::{Field, Visit};

use crate::state::MAX_FIELDS;
use crate::Stats;

/// What a visit had to leave out or cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) dropped: u32,
    pub(crate) truncated: u32,
}

impl Cut {
    pub(crate) fn add_to(self, stats: &mut Stats) {
        stats.values_dropped = stats.values_dropped.saturating_add(self.dropped);
        stats.values_truncated = stats.values_truncated.saturating_add(self.truncated);
    }
}

/// Writes each visited value into the frame.
///
/// `Debug` and `Display` values are formatted straight into the frame, cut at `text_limit`
/// bytes; so are strings longer than that. A value that finds no room is replaced by an empty
/// text marked as cut, if even that fits, and counted.
pub(crate) struct ValueVisitor<'w, 'b> {
    writer: &'w mut ValuesWriter<'b>,
    text_limit: usize,
    pub(crate) cut: Cut,
}

impl<'w, 'b> ValueVisitor<'w, 'b> {
    pub(crate) fn new(writer: &'w mut ValuesWriter<'b>, text_limit: usize) -> Self {
        Self {
            writer,
            text_limit,
            cut: Cut::default(),
        }
    }

    /// The wire index of a field, or `None` (counted) beyond the limit.
    fn index(&mut self, field: &Field) -> Option<u8> {
        match field.index() {
            i if i < MAX_FIELDS => Some(i as u8),
            _ => {
                self.cut.dropped += 1;
                None
            }
        }
    }

    fn push(&mut self, field: &Field, value: Value<'_>) {
        let Some(index) = self.index(field) else {
            return;
        };
        if self.writer.push(index, value).is_err() {
            self.no_room(index);
        }
    }

    fn text(&mut self, index: u8, format: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) {
        match self.writer.push_fmt(index, self.text_limit, format) {
            Ok(false) => {}
            Ok(true) => self.cut.truncated += 1,
            Err(_) => self.cut.dropped += 1,
        }
    }

    /// The value did not fit: leave an empty text marked as cut in its place.
    fn no_room(&mut self, index: u8) {
        self.cut.dropped += 1;
        // `push_fmt` with no room for text marks it truncated; it fails only when not even the
        // value's header fits.
        let _ = self.writer.push_fmt(index, 0, |w| w.write_char('…'));
    }
}

impl Visit for ValueVisitor<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, Value::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, Value::U128(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let Some(index) = self.index(field) else {
            return;
        };
        if value.len() > self.text_limit || self.writer.push(index, Value::Str(value)).is_err() {
            self.text(index, |w| w.write_str(value));
        }
    }

    // `record_error` (with tracing-core's `std` feature) and `record_bytes` keep their
    // defaults, which format the value and call `record_debug`.

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let Some(index) = self.index(field) else {
            return;
        };
        self.text(index, |w| write!(w, "{value:?}"));
    }
}
