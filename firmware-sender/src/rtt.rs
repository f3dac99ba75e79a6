//! The real link: rtt-target's up and down channels.

use rtt_target::{ChannelMode, DownChannel, UpChannel};

use crate::Link;

/// An RTT up channel for frames and, optionally, a down channel for the host's requests.
///
/// The up channel is put in [`ChannelMode::NoBlockSkip`]: a frame that does not fit is skipped
/// whole and counted, never written in part, and tracing never waits for the host. (A host
/// that switches the channel to another mode gets what it asked for: `NoBlockTrim` cuts frames,
/// which the host resynchronises past; `BlockIfFull` makes tracing wait for the host.)
pub struct RttLink {
    up: UpChannel,
    down: Option<DownChannel>,
}

impl RttLink {
    /// The sender's up channel, and its down channel if there is one.
    pub fn new(mut up: UpChannel, down: Option<DownChannel>) -> Self {
        up.set_mode(ChannelMode::NoBlockSkip);
        Self { up, down }
    }
}

impl core::fmt::Debug for RttLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RttLink")
            .field("down", &self.down.is_some())
            .finish_non_exhaustive()
    }
}

impl Link for RttLink {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        // In `NoBlockSkip` mode rtt-target copies what fits and commits nothing unless all of
        // it fit; it returns the bytes copied either way.
        self.up.write(frame) == frame.len()
    }

    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        self.down.as_mut().map_or(0, |down| down.read(buf))
    }
}

/// An up channel alone: no requests from the host.
impl Link for UpChannel {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        self.write(frame) == frame.len()
    }
}
