//! Field values into a frame: a `tracing_core::field::Visit` over the protocol's
//! `ValuesWriter`, bounded by the frame and by the text limit.

use core::fmt;

use rtt_tunnel_protocol::{Constant, Pushed, Value, ValuesWriter};
use tracing_core::field::{Field, Visit};

use crate::callsites::Pinned;
use crate::state::MAX_FIELDS;
use crate::Stats;

/// What a visit had to leave out or cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) dropped: u32,
    pub(crate) truncated: u32,
}

impl Cut {
    #[inline]
    pub(crate) fn add_to(self, stats: &mut Stats) {
        if self == Cut::default() {
            return;
        }
        stats.values_dropped = stats.values_dropped.saturating_add(self.dropped);
        stats.values_truncated = stats.values_truncated.saturating_add(self.truncated);
    }
}

/// Texts of an event that lie in flash: sent once by reference (their offset from the start of
/// flash and their length) as a constant of the call site, then as a one-byte marker while
/// they stay the same. One per call site: the first field that had one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Constants {
    /// The firmware's flash: `start..end` (empty: no constants).
    pub(crate) flash: (usize, usize),
    /// The constant the host keeps for this call site.
    pub(crate) known: Option<Pinned>,
    /// A value of this event was sent as the marker of `known`.
    pub(crate) same: bool,
    /// The value of this event sent as a new constant, for the host to keep.
    pub(crate) new: Option<Pinned>,
}

impl Default for Constants {
    /// No flash: every text goes in full. (Not all zeros, which the compiler would clear with
    /// a call to `memset` on every span.)
    #[inline(always)]
    fn default() -> Self {
        Self {
            flash: (usize::MAX, 0),
            known: None,
            same: false,
            new: None,
        }
    }
}

impl Constants {
    /// How the text at `addr`, `len` goes as field `field`.
    #[inline]
    fn decide(&mut self, field: u8, addr: usize, len: usize) -> Constant {
        let (start, end) = self.flash;
        if addr < start || addr.saturating_add(len) > end {
            return Constant::No;
        }
        let (Some(addr), Ok(len)) = (core::num::NonZeroUsize::new(addr), u16::try_from(len)) else {
            return Constant::No;
        };
        let pinned = Pinned { addr, len, field };
        if self.known == Some(pinned) {
            self.same = true;
            return Constant::Same;
        }
        self.first(pinned, start)
    }

    /// The first time of a text in flash at this call site (the rare path): sent by
    /// reference, as its offset from the start of flash.
    fn first(&mut self, pinned: Pinned, start: usize) -> Constant {
        if u32::try_from(pinned.addr.get() - start).is_err() {
            return Constant::No;
        }
        // One constant per call site: the first field that had one keeps it (a new text for
        // that field replaces it); the other fields' texts go in full.
        let free = self.known.is_none_or(|known| known.field == pinned.field);
        if free && self.new.is_none() {
            self.new = Some(pinned);
            Constant::Flash
        } else {
            Constant::No
        }
    }
}

/// The text of `value` if it is a `fmt::Arguments` of one static piece and no arguments
/// (`format_args!("ready")`, what `tracing` records as an event's constant message).
///
/// A `&dyn Debug` does not tell its type; its vtable does. tracing-core's own `Value` impl of
/// `fmt::Arguments` hands a probe `Arguments` to a probe visitor, through the very code that
/// handed `value` over: if `value` has the vtable the probe got, it is an `Arguments` (or a
/// value whose `Debug` code and layout are the very same, which the compiler alone could give
/// the same vtable). A copy of that code elsewhere (another codegen unit) has a vtable of its
/// own, which compares unequal: the value is then formatted as any other, slower, never wrong.
#[inline(always)]
fn static_text<'a>(field: &Field, value: &'a (dyn fmt::Debug + 'a)) -> Option<&'static str> {
    struct Probe<'v> {
        value: *const (dyn fmt::Debug + 'v),
        same_vtable: bool,
    }
    impl Visit for Probe<'_> {
        fn record_debug(&mut self, _: &Field, probe: &dyn fmt::Debug) {
            // The probe's vtable with `value`'s address: the same pointer iff the same vtable.
            let probe = core::ptr::from_ref(probe).with_addr(self.value.addr());
            self.same_vtable = core::ptr::eq(probe, self.value);
        }
    }
    let mut probe = Probe {
        value: core::ptr::from_ref(value),
        same_vtable: false,
    };
    tracing_core::field::Value::record(&format_args!(""), field, &mut probe);
    if !probe.same_vtable {
        return None;
    }
    let data = core::ptr::from_ref(value).cast::<fmt::Arguments<'a>>();
    // SAFETY: `value` points at a live value whose vtable is that of `fmt::Arguments` as
    // tracing-core hands it over (the probe above): it is an `Arguments`, borrowed for `'a`.
    // `as_str`'s text is `'static`.
    unsafe { (*data).as_str() }
}

/// `bytes` as tracing-core's `HexBytes` writes them: `[`, each byte as two lowercase hex
/// digits, separated by a space, `]`. One character at a time, so that no piece of it is ever
/// taken for a text in flash (as `HexBytes`, it writes `[` first, from the stack).
fn hex_bytes(w: &mut dyn fmt::Write, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    w.write_char('[')?;
    for (i, &byte) in bytes.iter().enumerate() {
        if i > 0 {
            w.write_char(' ')?;
        }
        w.write_char(char::from(DIGITS[usize::from(byte >> 4)]))?;
        w.write_char(char::from(DIGITS[usize::from(byte & 0xf)]))?;
    }
    w.write_char(']')
}

/// The kinds of number of [`ValueVisitor::push_number`].
#[derive(Clone, Copy)]
enum Number {
    I64,
    F64,
    I128,
    U128,
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
    constants: &'w mut Constants,
}

impl<'w, 'b> ValueVisitor<'w, 'b> {
    #[inline(always)]
    pub(crate) fn new(
        writer: &'w mut ValuesWriter<'b>,
        text_limit: usize,
        constants: &'w mut Constants,
    ) -> Self {
        Self {
            writer,
            text_limit,
            cut: Cut::default(),
            constants,
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

    #[inline(always)]
    fn push(&mut self, field: &Field, value: Value<'_>) {
        let Some(index) = self.index(field) else {
            return;
        };
        if self.writer.push(index, value).is_err() {
            self.no_room(index);
        }
    }

    /// The numbers that the hot paths do not carry (`i64`, `f64`, `i128`, `u128`: the bits of
    /// each in `bits`): one out-of-line copy of their encoders for all four, rather than one
    /// inlined into each `record_*`.
    #[inline(never)]
    fn push_number(&mut self, field: &Field, bits: u128, kind: Number) {
        let value = match kind {
            Number::I64 => Value::I64(bits as i64),
            Number::F64 => Value::F64(f64::from_bits(bits as u64)),
            Number::I128 => Value::I128(bits as i128),
            Number::U128 => Value::U128(bits),
        };
        self.push(field, value);
    }

    /// A text formatted into the frame (cut at the limit), or a constant the host keeps. One
    /// copy for every caller: `format` is a trait object.
    #[inline(never)]
    fn text(&mut self, index: u8, format: &dyn Fn(&mut dyn fmt::Write) -> fmt::Result) {
        let constants = &mut *self.constants;
        // The text the host keeps for this field: if that is all the value writes, it is not
        // even copied.
        let same = constants
            .known
            .filter(|known| known.field == index)
            .map(|known| (known.addr.get() as *const u8, usize::from(known.len)));
        let flash_start = constants.flash.0;
        let pushed = self.writer.push_fmt_constant(
            index,
            self.text_limit,
            format,
            same,
            flash_start,
            |addr, len| constants.decide(index, addr as usize, len),
        );
        match pushed {
            Ok(Pushed::Whole) => {}
            Ok(Pushed::Same) => self.constants.same = true,
            Ok(Pushed::Cut) => self.cut.truncated += 1,
            Err(_) => {
                self.cut.dropped += 1;
                // A reference that found no room: the host does not have it.
                if self.constants.new.is_some_and(|new| new.field == index) {
                    self.constants.new = None;
                }
            }
        }
    }

    /// A static `&str` in flash, the first time at this call site (the rare path): its offset
    /// from the start of flash and its length.
    #[cold]
    #[inline(never)]
    fn str_reference(&mut self, index: u8, value: &str) {
        let reference = Value::FlashText {
            // `decide` took only offsets that fit a `u32` and lengths that fit a `u16`.
            offset: (value.as_ptr() as usize - self.constants.flash.0) as u32,
            len: value.len() as u32,
        };
        if self.writer.push(index, reference).is_err() {
            // The host does not have it.
            self.constants.new = None;
            self.no_room(index);
        }
    }

    /// A text known whole: a `&str` value (`debug` false), or the one static piece of a
    /// `fmt::Arguments` recorded as `Debug` (`debug` true: it goes as the `Debug` text that
    /// formatting it would have written). A text in flash goes as a call-site constant, by
    /// reference the first time.
    fn whole_text(&mut self, index: u8, text: &str, debug: bool) {
        let value = match self
            .constants
            .decide(index, text.as_ptr() as usize, text.len())
        {
            Constant::Same => Value::SameConstant,
            // A sender of ours sends constants by reference, never in full.
            Constant::New | Constant::Flash => return self.str_reference(index, text),
            Constant::No if debug => Value::Debug {
                text,
                truncated: false,
            },
            Constant::No => Value::Str(text),
        };
        let fits = |v: &str| v.len() <= self.text_limit;
        let pushed = match value {
            Value::Str(v) | Value::Debug { text: v, .. } if !fits(v) => Err(()),
            value => self.writer.push(index, value).map_err(|_| ()),
        };
        if pushed.is_err() {
            if let Value::Str(v) | Value::Debug { text: v, .. } = value {
                self.text(index, &|w| w.write_str(v));
            } else {
                self.no_room(index);
            }
        }
    }

    /// The value did not fit: leave an empty text marked as cut in its place.
    fn no_room(&mut self, index: u8) {
        self.cut.dropped += 1;
        // Not even the header fits: nothing to mark. (`black_box`: not a tail call, which moved
        // the epilogue away from the end of `whole_text`'s hot path, one branch more there.)
        core::hint::black_box(self.writer.push_cut(index)).ok();
    }
}

impl Visit for ValueVisitor<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push_number(field, u128::from(value.to_bits()), Number::F64);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push_number(field, value as u128, Number::I64);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push_number(field, value as u128, Number::I128);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push_number(field, value, Number::U128);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let Some(index) = self.index(field) else {
            return;
        };
        self.whole_text(index, value, false);
    }

    // `record_error` (with tracing-core's `std` feature) keeps its default, which formats
    // the value and calls `record_debug`.

    /// The text of the default (tracing-core's `HexBytes` as `Debug`: `[01 ff]`), written
    /// without `core::fmt`'s integer formatting (`{:02x}` per byte), which it alone brings in.
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        let Some(index) = self.index(field) else {
            return;
        };
        self.text(index, &|w| hex_bytes(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let Some(index) = self.index(field) else {
            return;
        };
        // `info!("ready")`: its message is a `fmt::Arguments` of one static piece, whose
        // text is known without running `core::fmt` (twice: once to get a `Formatter`, once
        // inside `Arguments`'s own `Debug`). It goes as that formatting would have written it.
        match static_text(field, value) {
            Some(text) if !text.is_empty() => self.whole_text(index, text, true),
            _ => self.text(index, &|w| write!(w, "{value:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::string::{String, ToString};
    use std::vec::Vec;

    use tracing_core::span::{Attributes, Id, Record};
    use tracing_core::{Dispatch, Event, Metadata, Subscriber};

    use super::*;

    /// Records what [`static_text`] says of each `Debug` value of each event.
    struct Texts(std::sync::Mutex<Vec<Option<String>>>);

    impl Visit for &Texts {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let text = static_text(field, value).map(ToString::to_string);
            self.0.lock().unwrap().push(text);
        }
    }

    impl Subscriber for &'static Texts {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            event.record(&mut &**self);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn the_text_of_a_constant_message_is_read_without_formatting() {
        let texts: &'static Texts = std::boxed::Box::leak(std::boxed::Box::new(Texts(
            std::sync::Mutex::new(Vec::new()),
        )));
        let n = 7;
        tracing::dispatcher::with_default(&Dispatch::new(texts), || {
            tracing::info!("ready");
            tracing::info!("n = {}", n);
            tracing::info!(debug = ?"ready", "");
        });
        let seen = texts.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                Some("ready".to_string()),
                // Formatted: no static text.
                None,
                // An empty message (tracing visits the message first): its text is empty.
                Some(String::new()),
                // A `&str` recorded as `Debug` is not an `Arguments`.
                None,
            ]
        );
    }
}
