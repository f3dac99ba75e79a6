//! Values from the wire -> a `tracing` `ValueSet`, on the stack, without allocating.

use std::fmt;

use rtt_tunnel_protocol::{Value as WireValue, Values};

use super::constants;
use tracing_core::field::{self, DisplayValue, Field, FieldSet, Value, ValueSet};

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
}

impl<'a> Held<'a> {
    /// `constant` gives the text of a [`WireValue::SameConstant`] marker.
    fn new(value: WireValue<'a>, constant: &'a str) -> Self {
        match value {
            WireValue::Bool(v) => Self::Bool(v),
            WireValue::I64(v) => Self::I64(v),
            WireValue::U64(v) => Self::U64(v),
            WireValue::I128(v) => Self::I128(v),
            WireValue::U128(v) => Self::U128(v),
            WireValue::F64(v) => Self::F64(v),
            WireValue::Str(v) => Self::Str(v),
            WireValue::Debug { text, truncated } => {
                Self::Text(field::display(DebugText { text, truncated }))
            }
            WireValue::Constant(text) => Self::Text(field::display(DebugText {
                text,
                truncated: false,
            })),
            WireValue::SameConstant => Self::Text(field::display(DebugText {
                text: constant,
                truncated: false,
            })),
        }
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
        }
    }
}

/// Why values cannot be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValuesError {
    TooMany { count: usize },
    UnknownField { field: u8 },
}

/// Checks `values` against a call site with `fields` fields.
/// Returns whether they hold a call-site constant ([`WireValue::Constant`]) to keep.
pub(crate) fn check(values: Values<'_>, fields: usize) -> Result<bool, ValuesError> {
    let (mut count, mut constant) = (0, false);
    for v in values {
        if usize::from(v.field) >= fields {
            return Err(ValuesError::UnknownField { field: v.field });
        }
        constant |= matches!(v.value, WireValue::Constant(_));
        count += 1;
    }
    if count > MAX_VALUES {
        return Err(ValuesError::TooMany { count });
    }
    Ok(constant)
}

/// Builds the `ValueSet` of `$n` values in arrays of exactly `$n` entries (tracing's
/// `value_set` takes arrays of up to 32, each length its own type) and calls `$f` with it.
macro_rules! value_set_of_len {
    ($n:expr, $fieldset:expr, $fields:expr, $first:expr, $values:expr, $constant:expr, $f:expr, [$($len:literal)*]) => {
        match $n {
            $(
                $len => {
                    let mut iter = $values.iter();
                    let held: [(Held<'_>, usize); $len] = std::array::from_fn(|_| {
                        let v = iter.next().expect("counted above");
                        (Held::new(v.value, $constant(v.field)), usize::from(v.field))
                    });
                    let pairs: [(&Field, Option<&dyn Value>); $len] = std::array::from_fn(|i| {
                        let (held, field) = &held[i];
                        ($fields.get(*field).unwrap_or($first), Some(held.as_value()))
                    });
                    $f(&$fieldset.value_set(&pairs))
                }
            )*
            _ => unreachable!("checked against MAX_VALUES"),
        }
    };
}

/// Calls `f` with `values` as a `ValueSet` of `fieldset`, whose fields are `fields`.
/// `values` must have passed [`check`] against `fields.len()`.
pub(crate) fn with_value_set<R>(
    fieldset: &FieldSet,
    fields: &[Field],
    values: Values<'_>,
    f: impl FnOnce(&ValueSet<'_>) -> R,
) -> R {
    with_constants(
        fieldset,
        fields,
        values,
        &|_| constants::MISSING_CONSTANT,
        f,
    )
}

/// [`with_value_set`], where `constant` gives the text of a call-site constant's marker.
pub(crate) fn with_constants<'a, R>(
    fieldset: &FieldSet,
    fields: &[Field],
    values: Values<'a>,
    constant: &dyn Fn(u8) -> &'a str,
    f: impl FnOnce(&ValueSet<'_>) -> R,
) -> R {
    let Some(first) = fields.first() else {
        // No fields: `check` let no value through.
        return f(&fieldset.value_set(&[]));
    };
    let n = values.iter().count().min(MAX_VALUES);
    value_set_of_len!(
        n,
        fieldset,
        fields,
        first,
        values,
        constant,
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
