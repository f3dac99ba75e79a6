//! Counters of what the sender had to leave out.

/// What the sender wrote and what it had to leave out since it was connected. Counters
/// saturate. Read them with [`Tunnel::stats`](crate::Tunnel::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Frames written into the ring (announcements and reports included).
    pub frames_written: u32,
    /// Frames dropped: the ring had no room for them, for the `Dropped` report or call-site
    /// announcement that had to go first, or the sender was not connected yet. The host
    /// learns each of these from a `Dropped` frame.
    pub frames_dropped: u32,
    /// Spans that got the untracked id because the span table was full, or their call site
    /// could not be tracked. Their enter, exit, record and close are not sent; events inside
    /// them are.
    pub spans_untracked: u32,
    /// Events not sent because their call site found no room in the call-site table (or its
    /// announcement does not fit a frame).
    pub events_untracked: u32,
    /// `enter`s that found the stack of entered spans full: not sent, and the span is not the
    /// contextual parent while entered.
    pub enters_untracked: u32,
    /// Values left out for lack of room in the frame, or of a field beyond the 32nd.
    pub values_dropped: u32,
    /// `Debug`, `Display` and string values cut short (the host sees them marked).
    pub values_truncated: u32,
    /// Calls of [`Tunnel::flush`](crate::Tunnel::flush) that gave up with frames still
    /// pending.
    pub flushes_incomplete: u32,
}
