//! The hand-written encoder: postcard's bytes (LEB128 varints, zigzag for signed integers,
//! length-prefixed strings, little-endian floats), written without serde into memory that
//! need not be initialised. The property tests check it against postcard's serde encoder.
//!
//! Every write is bounds-checked and fails with [`EncodeError::BufferFull`]; nothing here
//! panics.

use core::mem::MaybeUninit;

use crate::error::EncodeError;

/// A write position in a buffer of possibly uninitialised bytes. Invariant: `buf[..pos]`
/// has been written.
pub(crate) struct Out<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    pos: usize,
}

impl<'b> Out<'b> {
    #[inline(always)]
    pub(crate) fn new(buf: &'b mut [MaybeUninit<u8>]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub(crate) fn byte(&mut self, byte: u8) -> Result<(), EncodeError> {
        let slot = self.buf.get_mut(self.pos).ok_or(EncodeError::BufferFull)?;
        slot.write(byte);
        self.pos += 1;
        Ok(())
    }

    /// A `u8`, `u16` or `u32` as postcard writes it.
    #[inline(always)]
    pub(crate) fn varint(&mut self, mut value: u32) -> Result<(), EncodeError> {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.byte(value as u8)
    }

    /// [`varint`](Self::varint) out of line: for the messages a sender writes rarely.
    #[inline(never)]
    pub(crate) fn varint_cold(&mut self, value: u32) -> Result<(), EncodeError> {
        self.varint(value)
    }

    /// A `u64` as postcard writes it.
    #[inline(never)]
    pub(crate) fn varint64(&mut self, mut value: u64) -> Result<(), EncodeError> {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.byte(value as u8)
    }

    /// A `u128` as postcard writes it.
    #[inline(never)]
    pub(crate) fn varint128(&mut self, mut value: u128) -> Result<(), EncodeError> {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.byte(value as u8)
    }

    /// Raw bytes.
    #[inline]
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferFull)?;
        copy(dst, bytes);
        self.pos = end;
        Ok(())
    }

    /// [`bytes`](Self::bytes) out of line.
    #[inline(never)]
    pub(crate) fn bytes_cold(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.bytes(bytes)
    }

    /// A `&str`: its length as a varint, then its bytes.
    #[inline(never)]
    pub(crate) fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.varint_cold(len32(s.len())?)?;
        self.bytes_cold(s.as_bytes())
    }
}

/// A writer for the messages a sender writes rarely (`Message::write_cold`), small rather
/// than fast: each field is one call to the out-of-line writer of its shape, with no check at
/// the call; a field that does not fit is left out and remembered, and [`finish`](Self::finish)
/// reports it (what was written is then of no use).
pub(crate) struct Cold<'o, 'b> {
    out: &'o mut Out<'b>,
    full: bool,
}

impl<'o, 'b> Cold<'o, 'b> {
    #[inline(always)]
    pub(crate) fn new(out: &'o mut Out<'b>) -> Self {
        Self { out, full: false }
    }

    /// A `u8`, `u16` or `u32` (a tag, an id, a discriminant) as postcard writes it.
    #[inline(never)]
    pub(crate) fn int(&mut self, value: u32) {
        self.full |= self.out.varint_cold(value).is_err();
    }

    /// A `u64`.
    #[inline(never)]
    pub(crate) fn int64(&mut self, value: u64) {
        self.full |= self.out.varint64(value).is_err();
    }

    /// Raw bytes (values, field names or span ids already encoded).
    #[inline(never)]
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.full |= self.out.bytes_cold(bytes).is_err();
    }

    /// A `&str`.
    #[inline(never)]
    pub(crate) fn str(&mut self, s: &str) {
        self.full |= self.out.str(s).is_err();
    }

    /// An `Option<&str>`.
    #[inline(never)]
    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.int(0),
            Some(s) => {
                self.int(1);
                self.str(s);
            }
        }
    }

    /// Whether every field fitted.
    #[inline(always)]
    pub(crate) fn finish(self) -> Result<(), EncodeError> {
        if self.full {
            Err(EncodeError::BufferFull)
        } else {
            Ok(())
        }
    }
}

/// A length that postcard writes as a varint `usize`: the same bytes on every platform while
/// it fits a `u32`.
#[inline(always)]
pub(crate) fn len32(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::BufferFull)
}

/// Copies `src` into `dst` (of the same length, or the shorter of the two): byte by byte for
/// the few bytes most texts are, `memcpy` beyond.
#[inline(always)]
pub(crate) fn copy(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    if src.len() <= SHORT {
        for (d, s) in dst.iter_mut().zip(src) {
            // SAFETY: `d` is a valid byte to write. Volatile, so that the compiler keeps this
            // loop rather than calling `memcpy` for a few bytes.
            unsafe { d.as_mut_ptr().write_volatile(*s) };
        }
    } else {
        let n = dst.len().min(src.len());
        if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
            for (d, s) in d.iter_mut().zip(s) {
                d.write(*s);
            }
        }
    }
}

/// Copies up to this many bytes go byte by byte.
const SHORT: usize = 16;

/// `bytes` as uninitialised memory, to be written by an [`Out`].
#[inline(always)]
pub(crate) fn as_uninit(bytes: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`; everything here writes initialised
    // bytes only (`MaybeUninit::write`, or copies of initialised bytes), so `bytes` stays
    // initialised.
    unsafe { &mut *(core::ptr::from_mut(bytes) as *mut [MaybeUninit<u8>]) }
}

/// The bytes of `buf`, which the caller has written.
///
/// # Safety
///
/// Every byte of `buf` must have been written.
#[inline(always)]
pub(crate) unsafe fn assume_init(buf: &[MaybeUninit<u8>]) -> &[u8] {
    // SAFETY: the caller guarantees the bytes are initialised; the layouts are the same.
    unsafe { &*(core::ptr::from_ref(buf) as *const [u8]) }
}
