//! Field values and field names: the tails of `Event`, `NewSpan`, `Record` and `CallSite`.
//!
//! A value travels as a varint header `field_index << 4 | kind` followed by its payload, so a
//! value of one of the first eight fields costs one header byte, and a `bool` costs nothing
//! more. Values run to the end of the frame: there is no count, the COBS frame delimits them.

use core::fmt;
use core::mem::MaybeUninit;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{self, Out};

/// Largest field index a value may carry (tracing allows 32 fields per call site).
pub const MAX_FIELD_INDEX: u8 = u8::MAX;

pub(crate) const KIND_FALSE: u32 = 0;
pub(crate) const KIND_TRUE: u32 = 1;
pub(crate) const KIND_I64: u32 = 2;
pub(crate) const KIND_U64: u32 = 3;
pub(crate) const KIND_I128: u32 = 4;
pub(crate) const KIND_U128: u32 = 5;
pub(crate) const KIND_F64: u32 = 6;
pub(crate) const KIND_STR: u32 = 7;
pub(crate) const KIND_DEBUG: u32 = 8;
pub(crate) const KIND_DEBUG_TRUNCATED: u32 = 9;
pub(crate) const KIND_CONSTANT: u32 = 10;
pub(crate) const KIND_SAME_CONSTANT: u32 = 11;
pub(crate) const KIND_FLASH_TEXT: u32 = 12;

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
    /// Text that is the same at every event of its call site (a constant message such as
    /// `info!("ready")`): the host keeps it for the call site and field, and later events
    /// send [`Value::SameConstant`] instead.
    Constant(&'a str),
    /// The text of this field's last [`Value::Constant`] at this call site, again (one byte
    /// on the wire). The host's receiver puts the text back.
    SameConstant,
    /// A call-site constant by reference: `len` bytes of UTF-8 text at `offset` from the start
    /// of the firmware's flash (the `Hello`'s [`flash_base`](crate::Hello::flash_base)). The
    /// host reads the text from the firmware's ELF, from target memory or from a capture, and
    /// keeps it for the call site and field like a [`Value::Constant`]; later events send
    /// [`Value::SameConstant`].
    FlashText {
        /// Bytes from the start of flash.
        offset: u32,
        /// Length of the text in bytes.
        len: u32,
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

fn take<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(bytes).map_err(DecodeError::from_postcard)
}

/// A `u64` varint, with 32-bit arithmetic for the values most integers are.
#[inline(always)]
fn varint64(out: &mut Out<'_>, v: u64) -> Result<(), EncodeError> {
    match u32::try_from(v) {
        Ok(small) => out.varint(small),
        Err(_) => out.varint64(v),
    }
}

impl<'a> FieldValue<'a> {
    /// Encodes this value at the start of `out`, returning the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut out = Out::new(wire::as_uninit(out));
        self.write(&mut out)?;
        Ok(out.len())
    }

    /// The hand-written encoder: a varint header `field << 4 | kind`, then the payload as
    /// postcard writes it (checked by the property tests).
    #[inline(always)]
    pub(crate) fn write(&self, out: &mut Out<'_>) -> Result<(), EncodeError> {
        let kind = match self.value {
            Value::Bool(false) => KIND_FALSE,
            Value::Bool(true) => KIND_TRUE,
            Value::I64(_) => KIND_I64,
            Value::U64(_) => KIND_U64,
            Value::I128(_) => KIND_I128,
            Value::U128(_) => KIND_U128,
            Value::F64(_) => KIND_F64,
            Value::Str(_) => KIND_STR,
            Value::Debug {
                truncated: false, ..
            } => KIND_DEBUG,
            Value::Debug {
                truncated: true, ..
            } => KIND_DEBUG_TRUNCATED,
            Value::Constant(_) => KIND_CONSTANT,
            Value::SameConstant => KIND_SAME_CONSTANT,
            Value::FlashText { .. } => KIND_FLASH_TEXT,
        };
        out.varint((u32::from(self.field) << 4) | kind)?;
        match self.value {
            Value::Bool(_) | Value::SameConstant => Ok(()),
            Value::I64(v) => varint64(out, ((v << 1) ^ (v >> 63)) as u64),
            Value::U64(v) => varint64(out, v),
            Value::I128(v) => out.varint128(((v << 1) ^ (v >> 127)) as u128),
            Value::U128(v) => out.varint128(v),
            Value::F64(v) => out.bytes(&v.to_le_bytes()),
            Value::Str(s) | Value::Debug { text: s, .. } | Value::Constant(s) => out.str(s),
            // Once per call site: out of line.
            Value::FlashText { offset, len } => {
                out.varint_cold(offset)?;
                out.varint_cold(len)
            }
        }
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
            KIND_CONSTANT => take(rest).map(|(v, r)| (Value::Constant(v), r))?,
            KIND_SAME_CONSTANT => (Value::SameConstant, rest),
            KIND_FLASH_TEXT => {
                let (offset, rest) = take(rest)?;
                let (len, rest) = take(rest)?;
                (Value::FlashText { offset, len }, rest)
            }
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
/// [`Values::decode`] (and so [`Frame::decode`](crate::Frame::decode)) checks every value
/// once, so iterating never fails. The values of a frame decoded with
/// [`Frame::decode_deferred`](crate::Frame::decode_deferred) are not checked: read them with
/// [`try_iter`](Values::try_iter), which reports the first bad value ([`iter`](Values::iter)
/// would end there).
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

    /// `bytes` as values, unchecked (see `deferred.rs`).
    pub(crate) const fn unchecked(bytes: &'a [u8]) -> Self {
        Self { bytes }
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
        // `Values::decode` checked the bytes; an error here cannot happen, and ends the walk
        // (values of `Frame::decode_deferred` are read with `try_iter`).
        let (value, rest) = FieldValue::decode(self.rest).ok()?;
        self.rest = rest;
        Some(value)
    }
}

/// What becomes of a text written in one piece, as [`ValuesWriter::push_fmt_constant`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constant {
    /// Sent as `Debug` text.
    No,
    /// Sent as a [`Value::Constant`]: the host keeps it.
    New,
    /// Sent as [`Value::SameConstant`]: the host has it.
    Same,
    /// Sent as a [`Value::FlashText`]: the text lies in flash, at its offset from the
    /// `flash_start` given to [`ValuesWriter::push_fmt_constant`], and the host keeps it once
    /// it has read it.
    Flash,
}

/// How [`ValuesWriter::push_fmt_constant`] wrote a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// All of it (as text or as a new constant, in full or by reference).
    Whole,
    /// Cut at the limit or at the room left, and marked as cut.
    Cut,
    /// As [`Value::SameConstant`]: the one-byte marker of the constant the host keeps.
    Same,
}

/// Appends encoded values to a buffer; what it wrote is a valid [`Values`] tail.
///
/// On [`EncodeError::BufferFull`] nothing of the value that did not fit is kept. The buffer
/// need not be initialised: a sender encodes into a frame buffer it never zeroes.
#[derive(Debug)]
pub struct ValuesWriter<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    /// Invariant: `buf[..len]` has been written.
    len: usize,
}

impl<'b> ValuesWriter<'b> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self::new_uninit(wire::as_uninit(buf))
    }

    /// A writer that fills `buf`, which need not be initialised, from its start.
    pub fn new_uninit(buf: &'b mut [MaybeUninit<u8>]) -> Self {
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
        let written = self.buf.get(..self.len).unwrap_or_default();
        // SAFETY: `buf[..len]` has been written (the invariant).
        let bytes = unsafe { wire::assume_init(written) };
        Values { bytes }
    }

    /// Appends one value.
    #[inline(always)]
    pub fn push(&mut self, field: u8, value: Value<'_>) -> Result<(), EncodeError> {
        let rest = self
            .buf
            .get_mut(self.len..)
            .ok_or(EncodeError::BufferFull)?;
        let mut out = Out::new(rest);
        FieldValue { field, value }.write(&mut out)?;
        self.len += out.len();
        Ok(())
    }

    /// Appends the mark of a value that found no room: an empty text marked as cut
    /// ([`Value::Debug`] with `truncated`), where [`push_fmt`](Self::push_fmt) with a limit of 0
    /// writes the same bytes for any text, and with the same room needed (the header and a
    /// text length, reserved in front of the text).
    pub fn push_cut(&mut self, field: u8) -> Result<(), EncodeError> {
        const HEADER_MAX: usize = 2;
        if self.len + HEADER_MAX + 2 > self.buf.len() {
            return Err(EncodeError::BufferFull);
        }
        let value = Value::Debug {
            text: "",
            truncated: true,
        };
        self.push(field, value)
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
        format: impl Fn(&mut dyn fmt::Write) -> fmt::Result,
    ) -> Result<bool, EncodeError> {
        self.push_fmt_constant(field, limit, format, None, 0, |_, _| Constant::No)
            .map(|pushed| pushed == Pushed::Cut)
    }

    /// Like [`push_fmt`](Self::push_fmt); when the text was written in one piece (one
    /// `write_str`, not cut), `constant` is asked, with the piece's address and length, whether
    /// it goes as a [`Value::Constant`] the host keeps, as a [`Value::FlashText`] reference to
    /// it (its offset from `flash_start`), or as [`Value::SameConstant`] (one byte), or as
    /// text. A sender answers from where the piece lies (in flash, it cannot change) and from
    /// what it sent before at this call site.
    ///
    /// `same` is the piece (address and length) whose constant the host keeps: a text that
    /// is exactly that piece is neither copied nor asked about, it goes as
    /// [`Value::SameConstant`] at once. Should more pieces follow it, `format` runs a second
    /// time to write the whole text. With `None` nothing is skipped.
    pub fn push_fmt_constant(
        &mut self,
        field: u8,
        limit: usize,
        format: impl Fn(&mut dyn fmt::Write) -> fmt::Result,
        same: Option<(*const u8, usize)>,
        flash_start: usize,
        constant: impl FnOnce(*const u8, usize) -> Constant,
    ) -> Result<Pushed, EncodeError> {
        // Header (at most 2 bytes for a u8 field index), then the text length as a varint we
        // reserve 2 bytes for (texts up to 16383 bytes), then the text.
        const HEADER_MAX: usize = 2;
        let start = self.len;
        let text_at = start + HEADER_MAX + 2;
        let room = self.buf.len().saturating_sub(text_at);
        let limit = limit.min(room).min(0x3fff);
        let Some(text_buf) = self.buf.get_mut(text_at..text_at + limit) else {
            return Err(EncodeError::BufferFull);
        };
        let mut w = Truncating::new(text_buf, same);
        // A formatting error from a value's own `Debug` impl leaves what was written so far.
        let _ = format(&mut w);
        let decided = if w.state == SKIPPED {
            Constant::Same
        } else {
            if w.state == RETRY {
                // More pieces after the skipped one: the whole text, formatted again.
                w = Truncating::new(text_buf, None);
                let _ = format(&mut w);
            }
            if w.state == ONE {
                constant(w.first.0, w.first.1)
            } else {
                Constant::No
            }
        };
        let (text_len, truncated, piece) = (w.len, w.state == CUT, w.first.0 as usize);
        let kind = match decided {
            Constant::No if truncated => KIND_DEBUG_TRUNCATED,
            Constant::No => KIND_DEBUG,
            Constant::New => KIND_CONSTANT,
            Constant::Same => KIND_SAME_CONSTANT,
            Constant::Flash => KIND_FLASH_TEXT,
        };
        let header = (u32::from(field) << 4) | kind;
        if decided == Constant::Flash {
            let offset = piece.wrapping_sub(flash_start);
            return self.push_reference(start, header, offset, text_len);
        }
        // The prefix goes where the text was reserved room in front of it; the text moves
        // down next to it (it sits at most 2 bytes too far).
        let Some(room) = self.buf.get_mut(start..text_at) else {
            return Err(EncodeError::BufferFull);
        };
        let mut out = Out::new(room);
        out.varint_cold(header)?;
        if decided == Constant::Same {
            self.len = start + out.len();
            return Ok(Pushed::Same);
        }
        out.varint_cold(text_len as u32)?;
        let to = start + out.len();
        move_down(self.buf, text_at, to, text_len);
        self.len = to + text_len;
        Ok(if truncated {
            Pushed::Cut
        } else {
            Pushed::Whole
        })
    }
}

impl ValuesWriter<'_> {
    /// Writes a reference at `start` over the text copied behind it (the rare path: once per
    /// call site): at most 2 + 5 + 2 bytes, in the room of the header and the length reserved
    /// in front of the text, the text's own bytes, and what the buffer has beyond them.
    #[cold]
    #[inline(never)]
    fn push_reference(
        &mut self,
        start: usize,
        header: u32,
        offset: usize,
        len: usize,
    ) -> Result<Pushed, EncodeError> {
        const HEADER_MAX: usize = 2;
        let offset = u32::try_from(offset).map_err(|_| EncodeError::BufferFull)?;
        let end = (start + HEADER_MAX + 2 + len)
            .max(start + HEADER_MAX + 5 + 2)
            .min(self.buf.len());
        let Some(room) = self.buf.get_mut(start..end) else {
            return Err(EncodeError::BufferFull);
        };
        let mut out = Out::new(room);
        out.varint_cold(header)?;
        out.varint_cold(offset)?;
        out.varint_cold(len as u32)?;
        self.len = start + out.len();
        Ok(Pushed::Whole)
    }
}

/// Moves `len` bytes at `from` down to `to` (`to <= from`), byte by byte: a text sits at most
/// 2 bytes too far, and a loop of our own keeps `memmove` out of the firmware. Out of line,
/// as are the varints around it: a formatted text costs its formatting far more.
#[inline(never)]
fn move_down(buf: &mut [MaybeUninit<u8>], from: usize, to: usize, len: usize) {
    if to == from || from + len > buf.len() {
        return;
    }
    for i in 0..len {
        if let (Some(&byte), true) = (buf.get(from + i), to + i < buf.len()) {
            // SAFETY: `to + i` is in bounds (checked). Volatile, so that this stays a loop
            // rather than a call to `memmove`.
            unsafe { buf.as_mut_ptr().add(to + i).write_volatile(byte) };
        }
    }
}

/// A `fmt::Write` into a fixed slice that cuts at a character boundary when full, and notes
/// the first piece it was given and whether more came.
struct Truncating<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    len: usize,
    /// The first piece's address and length.
    first: (*const u8, usize),
    /// A first piece that is exactly this is noted but not copied.
    skip: Option<(*const u8, usize)>,
    /// [`EMPTY`], [`ONE`], [`MORE`], [`CUT`], [`SKIPPED`] or [`RETRY`].
    state: u8,
}

/// Nothing written yet.
const EMPTY: u8 = 0;
/// One piece, copied.
const ONE: u8 = 1;
/// More than one piece.
const MORE: u8 = 2;
/// Cut short: the rest is refused.
const CUT: u8 = 3;
/// One piece, the one to skip: noted, not copied.
const SKIPPED: u8 = 4;
/// A piece came after a skipped one: the text has to be formatted again, without skipping.
const RETRY: u8 = 5;

impl<'b> Truncating<'b> {
    #[inline(always)]
    fn new(buf: &'b mut [MaybeUninit<u8>], skip: Option<(*const u8, usize)>) -> Self {
        Self {
            first: (buf.as_ptr().cast(), 0),
            skip,
            buf,
            len: 0,
            state: EMPTY,
        }
    }
}

impl fmt::Write for Truncating<'_> {
    // Not `#[inline]`: an inline function is compiled again in each crate that makes a
    // `dyn Write` of it, and LTO keeps every copy (this crate's and the sender's, 250 bytes each).
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.state {
            EMPTY => {
                self.first = (s.as_ptr(), s.len());
                if self.skip == Some(self.first) {
                    self.state = SKIPPED;
                    return Ok(());
                }
                self.state = ONE;
            }
            SKIPPED => {
                self.state = RETRY;
                return Err(fmt::Error);
            }
            CUT | RETRY => return Err(fmt::Error),
            _ => self.state = MORE,
        }
        let at = self.len;
        let mut n = s.len();
        let room = self.buf.len().saturating_sub(at);
        if n > room {
            // Cut at the last character boundary that fits.
            n = room;
            while !s.is_char_boundary(n) {
                n -= 1;
            }
        }
        // One copy for the whole piece and for the part of it that fits.
        if let (Some(dst), Some(src)) = (self.buf.get_mut(at..at + n), s.as_bytes().get(..n)) {
            wire::copy(dst, src);
        }
        self.len = at + n;
        if n < s.len() {
            self.state = CUT;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// Field names by index, for [`FieldNames::from_source`]: a sender's view of its call
/// site's field set.
pub trait NameSource {
    /// The name of field `index` (below the length given to
    /// [`FieldNames::from_source`]).
    fn name(&self, index: usize) -> &str;
}

/// The field names at the end of a `CallSite` message.
#[derive(Clone, Copy)]
pub struct FieldNames<'a> {
    repr: NamesRepr<'a>,
}

#[derive(Clone, Copy)]
enum NamesRepr<'a> {
    Names(&'a [&'a str]),
    /// Names `next..len`, each from the function.
    Indexed {
        next: usize,
        len: usize,
        names: &'a (dyn NameSource + 'a),
    },
    Encoded(&'a [u8]),
}

impl<'a> FieldNames<'a> {
    /// Field names from a slice, as the sender has them in `tracing-core`'s `FieldSet`.
    pub const fn new(names: &'a [&'a str]) -> Self {
        Self {
            repr: NamesRepr::Names(names),
        }
    }

    /// The first `len` names of `names`, in index order: a sender writes them straight from
    /// where they are (`tracing-core`'s `FieldSet`, whose names it reaches one field at a
    /// time), without gathering them into a slice first.
    pub const fn from_source(len: usize, names: &'a (dyn NameSource + 'a)) -> Self {
        Self {
            repr: NamesRepr::Indexed {
                next: 0,
                len,
                names,
            },
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
        let mut out = Out::new(wire::as_uninit(out));
        for name in self.iter() {
            out.str(name)?;
        }
        Ok(out.len())
    }
}

impl FieldNames<'_> {
    /// Writes the names for [`Message::write_cold`](crate::Message): a decoded list as the
    /// bytes it was decoded from (the same bytes), without decoding it again.
    pub(crate) fn write_cold(&self, w: &mut wire::Cold<'_, '_>) {
        match self.repr {
            NamesRepr::Names(names) => {
                for name in names {
                    w.str(name);
                }
            }
            NamesRepr::Indexed { next, len, names } => {
                for i in next..len {
                    w.str(names.name(i));
                }
            }
            NamesRepr::Encoded(bytes) => w.raw(bytes),
        }
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
            NamesRepr::Indexed { next, len, names } => {
                if *next >= *len {
                    return None;
                }
                *next += 1;
                Some(names.name(*next - 1))
            }
            NamesRepr::Encoded(bytes) => {
                let (name, rest) = take::<&str>(bytes).ok()?;
                *bytes = rest;
                Some(name)
            }
        }
    }
}
