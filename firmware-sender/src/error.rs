//! Errors of setting the sender up.

use core::fmt;

/// [`Tunnel::init`](crate::Tunnel::init) or [`Tunnel::connect`](crate::Tunnel::connect)
/// failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InitError {
    /// The tunnel already has a link: connect it once, at start-up.
    AlreadyConnected,
    /// Another global `tracing` dispatcher was set first: set up rtt-tunnel instead of it,
    /// not beside it.
    GlobalDefaultAlreadySet,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyConnected => f.write_str(
                "the rtt-tunnel sender is already connected: call `init` once, at start-up",
            ),
            Self::GlobalDefaultAlreadySet => f.write_str(
                "a global tracing dispatcher was already set: \
                 let rtt-tunnel's `init` be the only one",
            ),
        }
    }
}

impl core::error::Error for InitError {}
