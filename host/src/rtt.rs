//! The one RTT reader, over any [`TargetMemory`](crate::memory::TargetMemory).
//!
//! The firmware's RTT control block (SEGGER's layout, as rtt-target 0.6 writes it; see
//! [`layout`]) is found by the `_SEGGER_RTT` symbol of the firmware ELF ([`Locate::Address`],
//! [`RttOptions::from_elf`]) or by searching RAM for its id ([`Locate::Scan`]). It is validated
//! (id, channel counts, rings inside RAM, offsets inside rings) before the reader attaches.
//!
//! [`RttReader::poll`] drains the selected up channel, writing the read offset back only after
//! the bytes are read, and reports what happened as a [`Poll`]: waiting for the block,
//! attached, data, or a target reset (the block vanished, was initialised again, or its read
//! offset or mode moved without the host). [`RttReader::poll_channels`] drains more up
//! channels in the same poll ([`RttOptions::extra_up`]: a defmt channel beside rtt-tunnel's). [`RttReader::write_down`] writes the down channel
//! without ever overwriting unread bytes. A reader that set the up channel blocking — or found
//! it blocking — leaves it non-blocking when closed or dropped.
//!
//! [`Pacer`] says how long to wait before the next poll.
//!
//! With the `testing` feature, `sim::SimRtt` is the target side of the same layout over a
//! `memory::SimMemory`, for tests.

mod error;
pub mod layout;
mod pacer;
mod reader;
#[cfg(any(test, feature = "testing"))]
pub mod sim;
#[cfg(test)]
mod tests;

pub use error::RttError;
pub use layout::{ChannelInfo, ChannelMode, ChannelSelector, Direction};
pub use pacer::Pacer;
pub use reader::{Attachment, ExtraUp, Locate, Poll, ResetCause, RttOptions, RttReader, RttStats};
