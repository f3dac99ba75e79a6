//! What can go wrong while reading RTT, with what was found and what usually fixes it.

use crate::elf::ElfError;
use crate::memory::MemoryError;

use super::layout::{ChannelSelector, Direction};

/// Why the RTT reader could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RttError {
    /// No control block where the reader looked. While a target boots this is expected:
    /// [`RttReader::poll`](super::RttReader::poll) reports it as [`Poll::Waiting`](super::Poll)
    /// and only [`RttReader::attach`](super::RttReader::attach) returns it as an error.
    #[error("no RTT control block found {searched}: is the sender initialised (has the firmware run its rtt_init! yet)? {hint}")]
    NotFound {
        /// Where the reader looked.
        searched: String,
        /// What to try.
        hint: &'static str,
    },
    /// The id is there, but the block is garbage.
    #[error("the RTT control block at {address:#010x} is invalid: {reason}; is the firmware ELF the one running on the target?")]
    Invalid {
        /// Address of the control block.
        address: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Several valid control blocks were found while scanning RAM.
    #[error("{} RTT control blocks found in RAM (at {}): the firmware ELF's `_SEGGER_RTT` symbol tells which is the firmware's", .addresses.len(), format_addresses(.addresses))]
    Ambiguous {
        /// Their addresses.
        addresses: Vec<u64>,
    },
    /// The channel asked for is not in the control block.
    #[error("{direction} channel {wanted} not found; {direction} channels are: {available}")]
    ChannelNotFound {
        /// Up or down.
        direction: Direction,
        /// What was asked for.
        wanted: ChannelSelector,
        /// The channels there are, one `index 'name' (size)` each.
        available: String,
    },
    /// The same up channel is selected twice (as the main channel and an extra one, or as two
    /// extra ones).
    #[error("up channel {channel} is selected twice: pick another channel to drain beside it")]
    ChannelTwice {
        /// The channel, `index 'name' (size)`.
        channel: String,
    },
    /// An attached ring holds offsets outside it: the target overwrote its control block.
    #[error("the RTT {direction} channel at {descriptor:#010x} is corrupt: {reason}; the firmware may have overwritten its control block")]
    Corrupt {
        /// Up or down.
        direction: Direction,
        /// Address of the channel's descriptor.
        descriptor: u64,
        /// What is wrong.
        reason: String,
    },
    /// The reader has not found a control block yet.
    #[error("not attached to an RTT control block yet: poll until the reader reports it attached")]
    NotAttached,
    /// A down channel was used, but none was selected.
    #[error("no RTT down channel was selected (RttOptions::down_channel): sending to the target needs one")]
    NoDownChannel,
    /// The control block changed while writing to the down channel (the target reset): the
    /// next poll re-attaches.
    #[error(
        "the RTT control block changed (the target reset?): poll to re-attach, then write again"
    )]
    ControlBlockChanged,
    /// The reader was closed.
    #[error("the RTT reader is closed")]
    Closed,
    /// The firmware ELF could not give what the options need.
    #[error(transparent)]
    Elf(#[from] ElfError),
    /// The transport failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

impl RttError {
    /// True when the target or its link is gone for good (see
    /// [`MemoryError::is_target_gone`]): the caller should stop polling.
    pub fn is_target_gone(&self) -> bool {
        matches!(self, RttError::Memory(error) if error.is_target_gone())
    }
}

fn format_addresses(addresses: &[u64]) -> String {
    addresses
        .iter()
        .map(|a| format!("{a:#010x}"))
        .collect::<Vec<_>>()
        .join(", ")
}
