//! Field values and field names: the tails of `Event`, `NewSpan`, `Record` and `CallSite`.
//!
//! A value travels as a varint header `field_index << 4 | kind` followed by its payload, so a
//! value of one of the first eight fields costs one header byte, and a `bool` costs nothing
//! more. Values run to the end of the frame: there is no count, the COBS frame delimits them.

use core::fmt;

use crate::error::{DecodeError, EncodeError};

/// Largest field index a value may carry (tracing allows 32 fields per call site).
pub const MAX_FIELD_INDEX: u8 = u8::MAX;

const KIND_FALSE: u32 = 0;
const KIND_TRUE: u32 = 1;
const KIND_I64: u32 = 2;
const KIND_U64: u32 = 3;
const KIND_I128: u32 = 4;
const KIND_U128: u32 = 5;
const KIND_F64: u32 = 6;
const KIND_STR: u32 = 7;
const KIND_DEBUG: u32 = 8;
const KIND_DEBUG_TRUNCATED: u32 = 9;

/// One recorded value, borrowed from the frame it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// `bool`.
    Bool(bool),
    /// Any signed integer up to 64 bits.
    I64(i64),
    /// Any unsigned integer up to 64 bits.
    U64(u64),
    /// `i128`.
    I128(i128),
    /// `u128`.
    U128(u128),
    /// `f64` (and `f32`, widened).
    F64(f64),
    /// A string recorded with `record_str`.
    Str(&'a str),
    /// `Debug` (or `Display`) text formatted on the target into a bounded buffer.
    Debug {
        /// The text, cut at a character boundary if it was truncated.
        text: &'a str,
        /// Whether the target had to cut the text short.
        truncated: bool,
    },
}

/// A value together with the index of its field in the call site's field names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldValue<'a> {
    /// Index into the call site's field names.
    pub field: u8,
    /// The value.
    pub value: Value<'a>,
}

fn put<T: serde::Serialize + ?Sized>(value: &T, out: &mut [u8]) -> Result<usize, EncodeError> {
    postcard::to_slice(value, out)
        .map(|s| s.len())
        .map_err(|_| EncodeError::BufferFull)
}

fn take<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)
}

impl<'a> FieldValue<'a> {
    /// Encodes this value at the start of `out`, returning the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let (kind, n) = match self.value {
            Value::Bool(false) => (KIND_FALSE, 0),
            Value::Bool(true) => (KIND_TRUE, 0),
            Value::I64(_) => (KIND_I64, 0),
            Value::U64(_) => (KIND_U64, 0),
            Value::I128(_) => (KIND_I128, 0),
            Value::U128(_) => (KIND_U128, 0),
            Value::F64(_) => (KIND_F64, 0),
            Value::Str(_) => (KIND_STR, 0),
            Value::Debug {
                truncated: false, ..
            } => (KIND_DEBUG, 0),
            Value::Debug {
                truncated: true, ..
            } => (KIND_DEBUG_TRUNCATED, 0),
        };
        let header = (u32::from(self.field) << 4) | kind;
        let mut n = n + put(&header, out)?;
        let rest = out.get_mut(n..).ok_or(EncodeError::BufferFull)?;
        n += match self.value {
            Value::Bool(_) => 0,
            Value::I64(v) => put(&v, rest)?,
            Value::U64(v) => put(&v, rest)?,
            Value::I128(v) => put(&v, rest)?,
            Value::U128(v) => put(&v, rest)?,
            Value::F64(v) => put(&v, rest)?,
            Value::Str(s) | Value::Debug { text: s, .. } => put(s, rest)?,
        };
        Ok(n)
    }

    /// Decodes one value from the start of `bytes`, returning it and the bytes after it.
    pub fn decode(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let (header, rest): (u32, _) = take(bytes)?;
        let index = header >> 4;
        let field = u8::try_from(index).map_err(|_| DecodeError::FieldIndexTooLarge { index })?;
        let (value, rest) = match header & 0xf {
            KIND_FALSE => (Value::Bool(false), rest),
            KIND_TRUE => (Value::Bool(true), rest),
            KIND_I64 => take(rest).map(|(v, r)| (Value::I64(v), r))?,
            KIND_U64 => take(rest).map(|(v, r)| (Value::U64(v), r))?,
            KIND_I128 => take(rest).map(|(v, r)| (Value::I128(v), r))?,
            KIND_U128 => take(rest).map(|(v, r)| (Value::U128(v), r))?,
            KIND_F64 => take(rest).map(|(v, r)| (Value::F64(v), r))?,
            KIND_STR => take(rest).map(|(v, r)| (Value::Str(v), r))?,
            kind @ (KIND_DEBUG | KIND_DEBUG_TRUNCATED) => take(rest).map(|(text, r)| {
                let truncated = kind == KIND_DEBUG_TRUNCATED;
                (Value::Debug { text, truncated }, r)
            })?,
            tag => {
                return Err(DecodeError::BadTag {
                    what: "value kind",
                    tag,
                })
            }
        };
        Ok((Self { field, value }, rest))
    }
}

/// The encoded values at the end of an `Event`, `NewSpan` or `Record` message.
///
/// Decoding checks every value once, so iterating never fails.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Values<'a> {
    bytes: &'a [u8],
}

impl<'a> Values<'a> {
    /// No values.
    pub const EMPTY: Values<'static> = Values { bytes: &[] };

    /// Checks that `bytes` is a sequence of whole, valid values.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = FieldValue::decode(rest)?.1;
        }
        Ok(Self { bytes })
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The number of values (walks the bytes).
    pub fn count(&self) -> usize {
        self.iter().count()
    }

    /// The values in the order they were recorded.
    pub fn iter(&self) -> ValuesIter<'a> {
        ValuesIter { rest: self.bytes }
    }
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = FieldValue<'a>;
    type IntoIter = ValuesIter<'a>;
    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Values`].
#[derive(Debug, Clone)]
pub struct ValuesIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = FieldValue<'a>;
    fn next(&mut self) -> Option<FieldValue<'a>> {
        // `Values::decode` checked the bytes; an error here cannot happen, and ends the walk.
        let (value, rest) = FieldValue::decode(self.rest).ok()?;
        self.rest = rest;
        Some(value)
    }
}

/// Appends encoded values to a buffer; what it wrote is a valid [`Values`] tail.
///
/// On [`EncodeError::BufferFull`] nothing of the value that did not fit is kept.
#[derive(Debug)]
pub struct ValuesWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> ValuesWriter<'b> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What was written so far.
    pub fn values(&self) -> Values<'_> {
        Values {
            bytes: &self.buf[..self.len],
        }
    }

    /// Appends one value.
    pub fn push(&mut self, field: u8, value: Value<'_>) -> Result<(), EncodeError> {
        let n = FieldValue { field, value }.encode(&mut self.buf[self.len..])?;
        self.len += n;
        Ok(())
    }

    /// Appends `value` formatted with `Debug`, cut at a character boundary after at most
    /// `limit` bytes (and at whatever room the buffer has left). Returns whether it was cut.
    ///
    /// The text is formatted straight into the buffer: no second buffer on the stack.
    pub fn push_debug(
        &mut self,
        field: u8,
        value: &dyn fmt::Debug,
        limit: usize,
    ) -> Result<bool, EncodeError> {
        self.push_fmt(field, limit, |w| write!(w, "{value:?}"))
    }

    /// Like [`push_debug`](Self::push_debug), for any formatting closure (`Display`, say).
    pub fn push_fmt(
        &mut self,
        field: u8,
        limit: usize,
        format: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
    ) -> Result<bool, EncodeError> {
        // Header (at most 2 bytes for a u8 field index), then the text length as a varint we
        // reserve 2 bytes for (texts up to 16383 bytes), then the text.
        let start = self.len;
        let header_max = 2;
        let text_at = start + header_max + 2;
        let room = self.buf.len().saturating_sub(text_at);
        let limit = limit.min(room).min(0x3fff);
        let text_buf = self.buf.get_mut(text_at..text_at + limit);
        let Some(text_buf) = text_buf else {
            return Err(EncodeError::BufferFull);
        };
        let mut w = Truncating {
            buf: text_buf,
            len: 0,
            truncated: false,
        };
        // A formatting error from a value's own `Debug` impl leaves what was written so far.
        let _ = format(&mut w);
        let (text_len, truncated) = (w.len, w.truncated);
        let kind = if truncated {
            KIND_DEBUG_TRUNCATED
        } else {
            KIND_DEBUG
        };
        let header = (u32::from(field) << 4) | kind;
        let mut prefix = [0u8; 4];
        let h = put(&header, &mut prefix)?;
        let l = put(&(text_len as u32), &mut prefix[h..])?;
        let prefix_len = h + l;
        // Move the text down next to its prefix (it sits at most 2 bytes too far).
        self.buf
            .copy_within(text_at..text_at + text_len, start + prefix_len);
        self.buf[start..start + prefix_len].copy_from_slice(&prefix[..prefix_len]);
        self.len = start + prefix_len + text_len;
        Ok(truncated)
    }
}

/// A `fmt::Write` into a fixed slice that cuts at a character boundary when full.
struct Truncating<'b> {
    buf: &'b mut [u8],
    len: usize,
    truncated: bool,
}

impl fmt::Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Err(fmt::Error);
        }
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            self.truncated = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// The field names at the end of a `CallSite` message.
#[derive(Clone, Copy)]
pub struct FieldNames<'a> {
    repr: NamesRepr<'a>,
}

#[derive(Clone, Copy)]
enum NamesRepr<'a> {
    Names(&'a [&'a str]),
    Encoded(&'a [u8]),
}

impl<'a> FieldNames<'a> {
    /// Field names from a slice, as the sender has them in `tracing-core`'s `FieldSet`.
    pub const fn new(names: &'a [&'a str]) -> Self {
        Self {
            repr: NamesRepr::Names(names),
        }
    }

    /// Checks that `bytes` is a sequence of whole strings.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = take::<&str>(rest)?.1;
        }
        Ok(Self {
            repr: NamesRepr::Encoded(bytes),
        })
    }

    /// The names, in field-index order.
    pub fn iter(&self) -> FieldNamesIter<'a> {
        FieldNamesIter { repr: self.repr }
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Encodes the names at the start of `out`, returning the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut n = 0;
        for name in self.iter() {
            n += put(name, out.get_mut(n..).ok_or(EncodeError::BufferFull)?)?;
        }
        Ok(n)
    }
}

impl PartialEq for FieldNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for FieldNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`FieldNames`].
#[derive(Clone)]
pub struct FieldNamesIter<'a> {
    repr: NamesRepr<'a>,
}

impl<'a> Iterator for FieldNamesIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match &mut self.repr {
            NamesRepr::Names(names) => {
                let (first, rest) = names.split_first()?;
                *names = rest;
                Some(first)
            }
            NamesRepr::Encoded(bytes) => {
                let (name, rest) = take::<&str>(bytes).ok()?;
                *bytes = rest;
                Some(name)
            }
        }
    }
}
