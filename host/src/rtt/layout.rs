//! The SEGGER RTT control block as it lies in a 32-bit target's RAM, and its validation.
//!
//! ```text
//! offset  field
//! 0       char id[16]          "SEGGER RTT\0\0\0\0\0\0"
//! 16      i32  max_up          number of up-channel descriptors
//! 20      i32  max_down        number of down-channel descriptors
//! 24      descriptor up[max_up], then descriptor down[max_down], 24 bytes each:
//!         u32 name, u32 buffer, u32 size, u32 write, u32 read, u32 flags
//! ```
//!
//! For an up channel (target to host) the target advances `write` and the host `read`; for a
//! down channel the host advances `write`. The low two bits of `flags` are the mode.
//! rtt-target zeroes the block, fills in the descriptors and writes the id last, backwards,
//! so a block whose id is complete is fully initialised.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// The 16 bytes that start an RTT control block.
pub const CONTROL_BLOCK_ID: [u8; 16] = *b"SEGGER RTT\0\0\0\0\0\0";
/// The part of the id that is checked: "SEGGER RTT" and its terminating NUL. SEGGER's own code
/// and rtt-target leave the rest zero, but nothing reads it.
pub(crate) const ID_CHECKED: usize = 11;
/// Size of the header: id, `max_up`, `max_down`.
pub const HEADER_SIZE: u64 = 24;
/// Size of one channel descriptor.
pub const DESCRIPTOR_SIZE: u64 = 24;
/// More channels than this in either direction is taken for garbage.
pub const MAX_CHANNELS: u32 = 255;
/// A ring larger than this (16 MiB) is taken for garbage.
pub const MAX_BUFFER_SIZE: u32 = 16 * 1024 * 1024;

/// Offsets of the fields inside a descriptor.
pub(crate) const WRITE_OFFSET: u64 = 12;
pub(crate) const READ_OFFSET: u64 = 16;
pub(crate) const FLAGS_OFFSET: u64 = 20;

/// What the target does when an up channel's ring has no room for a write (the low two bits
/// of the descriptor's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelMode {
    /// Drop the whole write if it does not fit (rtt-target's default; never blocks).
    NoBlockSkip,
    /// Write what fits, drop the rest (never blocks).
    NoBlockTrim,
    /// Spin until the host has made room. The target stalls while no host reads: the reader
    /// always puts a channel back into a non-blocking mode when it closes.
    BlockIfFull,
}

impl ChannelMode {
    /// The mode encoded in a descriptor's flags (the value 3 is reserved and read as
    /// `NoBlockSkip`, as rtt-target does).
    pub fn from_flags(flags: u32) -> Self {
        match flags & 3 {
            1 => ChannelMode::NoBlockTrim,
            2 => ChannelMode::BlockIfFull,
            _ => ChannelMode::NoBlockSkip,
        }
    }

    /// The two flag bits of this mode.
    pub fn bits(self) -> u32 {
        match self {
            ChannelMode::NoBlockSkip => 0,
            ChannelMode::NoBlockTrim => 1,
            ChannelMode::BlockIfFull => 2,
        }
    }

    /// `flags` with its mode bits replaced by this mode.
    pub fn apply_to(self, flags: u32) -> u32 {
        (flags & !3) | self.bits()
    }

    /// Whether the target may stall on this channel.
    pub fn is_blocking(self) -> bool {
        self == ChannelMode::BlockIfFull
    }
}

impl fmt::Display for ChannelMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelMode::NoBlockSkip => "no-block-skip",
            ChannelMode::NoBlockTrim => "no-block-trim",
            ChannelMode::BlockIfFull => "block-if-full",
        })
    }
}

/// Direction of an RTT channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Target to host.
    Up,
    /// Host to target.
    Down,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// Which channel to use: by index or by name (`ChannelSelector::name("rtt-tunnel")`, or `1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelSelector {
    /// The channel with this index.
    Index(usize),
    /// The first channel with exactly this name.
    Name(String),
}

impl ChannelSelector {
    /// Selects by name.
    pub fn name(name: impl Into<String>) -> Self {
        ChannelSelector::Name(name.into())
    }
}

impl FromStr for ChannelSelector {
    type Err = std::convert::Infallible;

    /// A number selects by index, anything else by name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(index) => ChannelSelector::Index(index),
            Err(_) => ChannelSelector::Name(s.to_owned()),
        })
    }
}

impl fmt::Display for ChannelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelSelector::Index(index) => write!(f, "{index}"),
            ChannelSelector::Name(name) => write!(f, "'{name}'"),
        }
    }
}

/// One channel of an attached control block, as the host found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Up or down.
    pub direction: Direction,
    /// Index among the channels of its direction.
    pub index: usize,
    /// Its name, if it has one the host could read.
    pub name: Option<String>,
    /// Address of its descriptor in the control block.
    pub descriptor: u64,
    /// Address of its ring (0: the channel is declared but not initialised).
    pub buffer: u64,
    /// Size of its ring in bytes.
    pub size: u32,
    /// Its mode when the host found it.
    pub mode: ChannelMode,
}

impl fmt::Display for ChannelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.index)?;
        match &self.name {
            Some(name) => write!(f, " '{name}'")?,
            None => f.write_str(" (unnamed)")?,
        }
        if self.buffer == 0 {
            f.write_str(" (not initialised)")
        } else {
            write!(f, " ({} bytes)", self.size)
        }
    }
}

/// A channel descriptor as raw words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Descriptor {
    pub name: u32,
    pub buffer: u32,
    pub size: u32,
    pub write: u32,
    pub read: u32,
    pub flags: u32,
}

impl Descriptor {
    pub fn parse(bytes: &[u8]) -> Self {
        let word = |i: usize| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
        Descriptor {
            name: word(0),
            buffer: word(1),
            size: word(2),
            write: word(3),
            read: word(4),
            flags: word(5),
        }
    }

    pub fn is_initialised(&self) -> bool {
        self.buffer != 0
    }

    pub fn mode(&self) -> ChannelMode {
        ChannelMode::from_flags(self.flags)
    }

    /// Checks an initialised descriptor: a sane size, a ring inside RAM (when `ram` is not
    /// empty), offsets inside the ring.
    pub fn validate(&self, ram: &[Range<u64>]) -> Result<(), String> {
        if self.size == 0 || self.size > MAX_BUFFER_SIZE {
            return Err(format!(
                "ring size {} is not in 1..={MAX_BUFFER_SIZE}",
                self.size
            ));
        }
        let start = u64::from(self.buffer);
        let end = start + u64::from(self.size);
        if end > 1 << 32 {
            return Err(format!(
                "ring {start:#010x}+{} runs past the 32-bit address space",
                self.size
            ));
        }
        if !ram.is_empty() && !ram.iter().any(|r| r.start <= start && end <= r.end) {
            return Err(format!(
                "ring {start:#010x}..{end:#010x} is not inside the target's RAM ({})",
                format_ranges(ram)
            ));
        }
        if self.write >= self.size || self.read >= self.size {
            return Err(format!(
                "offsets write {} / read {} are not inside the ring of {} bytes",
                self.write, self.read, self.size
            ));
        }
        Ok(())
    }

    /// Bytes waiting in an up channel's ring.
    pub fn readable(&self) -> u32 {
        if self.write >= self.read {
            self.write - self.read
        } else {
            self.size - self.read + self.write
        }
    }

    /// Room for the host in a down channel's ring (one byte always stays free).
    pub fn writable(&self) -> u32 {
        if self.read > self.write {
            self.read - self.write - 1
        } else {
            self.size - self.write + self.read - 1
        }
    }
}

/// The header of a control block: id check and channel counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub max_up: u32,
    pub max_down: u32,
}

impl Header {
    /// `None` when the id is not there; `Err` when it is but the counts are garbage.
    pub fn parse(bytes: &[u8]) -> Option<Result<Self, String>> {
        if bytes[..ID_CHECKED] != CONTROL_BLOCK_ID[..ID_CHECKED] {
            return None;
        }
        let max_up = i32::from_le_bytes(bytes[16..20].try_into().unwrap());
        let max_down = i32::from_le_bytes(bytes[20..24].try_into().unwrap());
        let sane = |n: i32| (0..=MAX_CHANNELS as i32).contains(&n);
        Some(
            if !sane(max_up) || !sane(max_down) || max_up + max_down == 0 {
                Err(format!(
                    "channel counts up {max_up} / down {max_down} are not in 0..={MAX_CHANNELS} \
                 (with at least one channel)"
                ))
            } else {
                Ok(Header {
                    max_up: max_up as u32,
                    max_down: max_down as u32,
                })
            },
        )
    }

    /// Size of the whole control block.
    pub fn block_size(&self) -> u64 {
        HEADER_SIZE + DESCRIPTOR_SIZE * u64::from(self.max_up + self.max_down)
    }
}

/// Address of a descriptor inside the block at `control_block`.
pub(crate) fn descriptor_address(
    control_block: u64,
    header: &Header,
    direction: Direction,
    index: usize,
) -> u64 {
    let slot = match direction {
        Direction::Up => index as u64,
        Direction::Down => u64::from(header.max_up) + index as u64,
    };
    control_block + HEADER_SIZE + DESCRIPTOR_SIZE * slot
}

pub(crate) fn format_ranges(ranges: &[Range<u64>]) -> String {
    ranges
        .iter()
        .map(|r| format!("{:#010x}..{:#010x}", r.start, r.end))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one RAM range is meant
mod tests {
    use super::*;

    fn descriptor(size: u32, write: u32, read: u32) -> Descriptor {
        Descriptor {
            name: 0,
            buffer: 0x2000_0100,
            size,
            write,
            read,
            flags: 0,
        }
    }

    #[test]
    fn modes_round_trip_through_flags() {
        for mode in [
            ChannelMode::NoBlockSkip,
            ChannelMode::NoBlockTrim,
            ChannelMode::BlockIfFull,
        ] {
            assert_eq!(ChannelMode::from_flags(mode.apply_to(0xffff_fff0)), mode);
            assert_eq!(mode.apply_to(0xffff_fff0) & !3, 0xffff_fff0);
        }
        assert_eq!(ChannelMode::from_flags(3), ChannelMode::NoBlockSkip);
        assert!(ChannelMode::BlockIfFull.is_blocking());
        assert!(!ChannelMode::NoBlockTrim.is_blocking());
    }

    #[test]
    fn readable_and_writable_wrap() {
        assert_eq!(descriptor(16, 5, 5).readable(), 0);
        assert_eq!(descriptor(16, 9, 5).readable(), 4);
        assert_eq!(descriptor(16, 2, 14).readable(), 4);
        assert_eq!(descriptor(16, 5, 5).writable(), 15);
        assert_eq!(descriptor(16, 4, 5).writable(), 0);
        assert_eq!(descriptor(16, 14, 2).writable(), 3);
        assert_eq!(descriptor(16, 15, 0).writable(), 0);
    }

    #[test]
    fn validation_names_the_problem() {
        let ram = [0x2000_0000..0x2000_1000];
        assert!(descriptor(256, 0, 0).validate(&ram).is_ok());
        assert!(descriptor(0, 0, 0)
            .validate(&ram)
            .unwrap_err()
            .contains("size 0"));
        let outside = descriptor(0x2000, 0, 0).validate(&ram).unwrap_err();
        assert!(outside.contains("not inside the target's RAM"), "{outside}");
        assert!(
            descriptor(0x2000, 0, 0).validate(&[]).is_ok(),
            "no RAM given: no check"
        );
        let offsets = descriptor(16, 16, 0).validate(&ram).unwrap_err();
        assert!(offsets.contains("write 16"), "{offsets}");
        let mut wraps = descriptor(16, 0, 0);
        wraps.buffer = 0xffff_fff8;
        assert!(wraps.validate(&[]).unwrap_err().contains("32-bit"));
    }

    #[test]
    fn header_needs_the_id_and_sane_counts() {
        let mut bytes = [0u8; 24];
        assert_eq!(Header::parse(&bytes), None);
        bytes[..16].copy_from_slice(&CONTROL_BLOCK_ID);
        bytes[16] = 2;
        bytes[20] = 1;
        assert_eq!(
            Header::parse(&bytes),
            Some(Ok(Header {
                max_up: 2,
                max_down: 1
            }))
        );
        bytes[16..20].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(Header::parse(&bytes).unwrap().is_err());
        bytes[16..20].copy_from_slice(&0i32.to_le_bytes());
        bytes[20..24].copy_from_slice(&0i32.to_le_bytes());
        assert!(Header::parse(&bytes).unwrap().is_err());
    }

    #[test]
    fn selectors_parse_and_print() {
        assert_eq!(
            "2".parse::<ChannelSelector>().unwrap(),
            ChannelSelector::Index(2)
        );
        assert_eq!(
            "tracing".parse::<ChannelSelector>().unwrap(),
            ChannelSelector::name("tracing")
        );
        assert_eq!(ChannelSelector::name("tracing").to_string(), "'tracing'");
    }
}
