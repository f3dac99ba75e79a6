//! Errors of encoding, decoding and framing.

use core::fmt;

/// Encoding a message or frame failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The caller's buffer is too small for the encoded bytes.
    BufferFull,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferFull => f.write_str("the buffer is too small for the encoded frame"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// A frame's bytes (after COBS decoding) are not a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame ended in the middle of a value.
    Truncated,
    /// A varint had too many bytes for its type.
    BadVarint,
    /// A string was not valid UTF-8.
    BadUtf8,
    /// A tag (message kind, value kind, option, bool, level, ...) had no meaning.
    BadTag {
        /// What the tag was meant to select.
        what: &'static str,
        /// The tag that was found.
        tag: u32,
    },
    /// A message that has no tail of values or field names was followed by more bytes.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A field index did not fit the protocol's limit.
    FieldIndexTooLarge {
        /// The index that was found.
        index: u32,
    },
    /// A `Hello` announced a protocol version this build does not speak.
    UnsupportedVersion {
        /// The version the target speaks.
        found: u16,
    },
    /// The bytes are malformed in another way that postcard reported.
    Malformed,
}

impl DecodeError {
    pub(crate) fn from_postcard(err: postcard::Error) -> Self {
        use postcard::Error as E;
        match err {
            E::DeserializeUnexpectedEnd => Self::Truncated,
            E::DeserializeBadVarint => Self::BadVarint,
            E::DeserializeBadUtf8 | E::DeserializeBadChar => Self::BadUtf8,
            E::DeserializeBadBool => Self::BadTag {
                what: "bool",
                tag: 0,
            },
            E::DeserializeBadOption => Self::BadTag {
                what: "option",
                tag: 0,
            },
            E::DeserializeBadEnum => Self::BadTag {
                what: "enum",
                tag: 0,
            },
            _ => Self::Malformed,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("frame ends in the middle of a value"),
            Self::BadVarint => f.write_str("varint too long for its type"),
            Self::BadUtf8 => f.write_str("string is not valid UTF-8"),
            Self::BadTag { what, tag } => write!(f, "invalid {what} tag {tag}"),
            Self::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the message")
            }
            Self::FieldIndexTooLarge { index } => write!(f, "field index {index} is too large"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "target speaks protocol version {found}, this host speaks {}: \
                 build the firmware and the host from the same rtt-tunnel release",
                crate::PROTOCOL_VERSION
            ),
            Self::Malformed => f.write_str("malformed message"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// The frame splitter could not deliver a frame; it resynchronises at the next delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FrameError {
    /// A frame was longer than the splitter's buffer; its bytes were skipped.
    Oversized {
        /// How many encoded bytes were skipped, delimiter not included.
        len: usize,
    },
    /// The bytes between two delimiters were not valid COBS.
    Cobs {
        /// How many encoded bytes were skipped, delimiter not included.
        len: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oversized { len } => {
                write!(
                    f,
                    "skipped a frame of {len} bytes, more than the frame buffer holds"
                )
            }
            Self::Cobs { len } => write!(f, "skipped {len} bytes that are not a valid COBS frame"),
        }
    }
}

impl core::error::Error for FrameError {}
