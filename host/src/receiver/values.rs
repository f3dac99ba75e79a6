//! Values from the wire -> a `tracing` `ValueSet`, on the stack, without allocating.

use std::fmt;

use rtt_tunnel_protocol::{DecodeError, Value as WireValue, Values};
use tracing_core::field::{self, DisplayValue, Field, FieldSet, Value, ValueSet};

use super::constants::MISSING_CONSTANT;

/// The most values `tracing` relays at once (its macros allow 32 fields per call site).
pub const MAX_VALUES: usize = 32;

/// `Debug` text formatted on the target, displayed as is; text the target had to cut short
/// ends with [`TRUNCATED_MARKER`].
#[derive(Clone, Copy)]
pub(crate) struct DebugText<'a> {
    text: &'a str,
    truncated: bool,
}

/// Appended to `Debug` text the target had to cut short.
pub const TRUNCATED_MARKER: &str = "…";

impl fmt::Display for DebugText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)?;
        if self.truncated {
            f.write_str(TRUNCATED_MARKER)?;
        }
        Ok(())
    }
}

/// One wire value held in a form that `tracing` can borrow as `&dyn Value`.
enum Held<'a> {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Str(&'a str),
    Text(DisplayValue<DebugText<'a>>),
    /// The marker of a call-site constant (or a reference to its text), until
    /// [`Decoded::resolve`] puts its text here.
    Same,
}

/// What an unresolved marker shows.
static MISSING: &str = MISSING_CONSTANT;

impl<'a> Held<'a> {
    fn text(text: &'a str) -> Self {
        Self::Text(field::display(DebugText {
            text,
            truncated: false,
        }))
    }

    fn as_value(&self) -> &(dyn Value + 'a) {
        match self {
            Self::Bool(v) => v,
            Self::I64(v) => v,
            Self::U64(v) => v,
            Self::I128(v) => v,
            Self::U128(v) => v,
            Self::F64(v) => v,
            Self::Str(v) => v,
            Self::Text(v) => v,
            Self::Same => &MISSING,
        }
    }
}

/// Why values cannot be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValuesError {
    TooMany { count: usize },
    UnknownField { field: u8 },
    Decode(DecodeError),
}

/// The values of one message, each decoded once from the wire, with the index of its field.
pub(crate) struct Decoded<'a> {
    held: heapless::Vec<(Held<'a>, usize), MAX_VALUES>,
    /// A call-site constant came in full ([`WireValue::Constant`]): the receiver keeps it.
    constant: bool,
    /// A marker came ([`WireValue::SameConstant`]): the receiver resolves it.
    same: bool,
}

impl<'a> Decoded<'a> {
    /// No values.
    pub(crate) fn empty() -> Self {
        Decoded {
            held: heapless::Vec::new(),
            constant: false,
            same: false,
        }
    }

    /// `value` as held, noting a call-site constant or a marker of one (one match on the
    /// kind for both).
    #[inline(always)]
    fn hold(&mut self, value: WireValue<'a>) -> Held<'a> {
        match value {
            WireValue::Bool(v) => Held::Bool(v),
            WireValue::I64(v) => Held::I64(v),
            WireValue::U64(v) => Held::U64(v),
            WireValue::I128(v) => Held::I128(v),
            WireValue::U128(v) => Held::U128(v),
            WireValue::F64(v) => Held::F64(v),
            WireValue::Str(v) => Held::Str(v),
            WireValue::Debug { text, truncated } => {
                Held::Text(field::display(DebugText { text, truncated }))
            }
            WireValue::Constant(text) => {
                self.constant = true;
                Held::text(text)
            }
            // Its text is the call-site constant the receiver learns from it.
            WireValue::SameConstant => {
                self.same = true;
                Held::Same
            }
            WireValue::FlashText { .. } => {
                self.constant = true;
                self.same = true;
                Held::Same
            }
        }
    }

    /// Whether a call-site constant came in full.
    pub(crate) fn has_constant(&self) -> bool {
        self.constant
    }

    /// Puts the text of each marker of a call-site constant in its place: `text` gives it by
    /// field index. Inlined: values without a marker (the usual ones) cost a test.
    #[inline(always)]
    pub(crate) fn resolve(&mut self, text: impl Fn(u8) -> &'a str) {
        if self.same {
            self.resolve_markers(text);
        }
    }

    /// [`resolve`](Self::resolve) of values with a marker.
    #[inline(never)]
    fn resolve_markers(&mut self, text: impl Fn(u8) -> &'a str) {
        for (held, field) in self.held.iter_mut() {
            if let Held::Same = held {
                // Field indices come from a `u8` (`decode`).
                *held = Held::text(text(*field as u8));
            }
        }
    }
}

/// Decodes `values` for a call site with `fields` fields into `out` (empty), checking each
/// value (they may come from `Frame::decode_deferred`) and its field index. `out` is filled where it lies: a [`Decoded`] is a 32-slot array, which moving
/// out of a function by value copied on every relayed message.
pub(crate) fn decode_into<'a>(
    values: Values<'a>,
    fields: usize,
    out: &mut Decoded<'a>,
) -> Result<(), ValuesError> {
    debug_assert!(out.held.is_empty());
    let mut count = 0;
    for v in values.try_iter() {
        let v = v.map_err(ValuesError::Decode)?;
        let field = usize::from(v.field);
        if field >= fields {
            return Err(ValuesError::UnknownField { field: v.field });
        }
        count += 1;
        // Past the limit: only counted, for the error.
        let held = out.hold(v.value);
        let _ = out.held.push((held, field));
    }
    if count > MAX_VALUES {
        return Err(ValuesError::TooMany { count });
    }
    Ok(())
}

/// Builds the `ValueSet` of `$n` values in arrays of exactly `$n` entries (tracing's
/// `value_set` takes arrays of up to 32, each length its own type) and calls `$f` with it.
macro_rules! value_set_of_len {
    ($n:expr, $fieldset:expr, $fields:expr, $first:expr, $held:expr, $f:expr, [$($len:literal)*]) => {
        match $n {
            $(
                $len => {
                    // Filled in place: `array::from_fn` was a call per message, out of line.
                    let mut pairs: [(&Field, Option<&dyn Value>); $len] = [($first, None); $len];
                    for (pair, (held, field)) in pairs.iter_mut().zip($held) {
                        *pair = ($fields.get(*field).unwrap_or($first), Some(held.as_value()));
                    }
                    $f(&$fieldset.value_set(&pairs))
                }
            )*
            _ => unreachable!("checked against MAX_VALUES"),
        }
    };
}

/// Calls `f` with `values` as a `ValueSet` of `fieldset`, whose fields are `fields`; `values`
/// were [decoded](decode) against `fields.len()`.
pub(crate) fn with_value_set<R>(
    fieldset: &FieldSet,
    fields: &[Field],
    values: &Decoded<'_>,
    f: impl FnOnce(&ValueSet<'_>) -> R,
) -> R {
    let Some(first) = fields.first() else {
        // No fields: `decode` let no value through.
        return f(&fieldset.value_set(&[]));
    };
    let held = values.held.as_slice();
    value_set_of_len!(
        held.len(),
        fieldset,
        fields,
        first,
        held,
        f,
        [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_text_marks_truncation() {
        let t = DebugText {
            text: "Foo { a",
            truncated: true,
        };
        assert_eq!(t.to_string(), "Foo { a…");
        let t = DebugText {
            text: "Foo",
            truncated: false,
        };
        assert_eq!(t.to_string(), "Foo");
    }
}
