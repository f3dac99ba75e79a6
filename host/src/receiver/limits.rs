//! Bounds on what a target's frames can make the receiver keep or do.
//!
//! Every number a frame carries that decides host memory or work has a bound here, with a
//! default far above what a real sender can reach (its tables hold 32 spans, 64 call sites
//! and 16 entered spans by default): a frame that would go past a bound is refused with a
//! [`ReceiveError`](super::ReceiveError) and counted in [`LimitStats`]; persisted metadata
//! past its bound drops the firmware identity used least recently. With the defaults, the
//! receiver's own state and the host spans it holds stay under about 32 MB whatever the
//! stream (measured in `host/tests/receiver_limits.rs`; see `docs/hardening.md`).

/// The bounds of one [`Receiver`](super::Receiver) ([`Receiver::set_limits`](super::Receiver::set_limits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Spans of the current boot alive at once. A `NewSpan` or `LiveSpan` beyond it is
    /// refused ([`ReceiveError::SpanLimit`](super::ReceiveError::SpanLimit)).
    pub spans: usize,
    /// Depth of the stack of entered spans. An `Enter` beyond it is refused
    /// ([`ReceiveError::EnteredLimit`](super::ReceiveError::EnteredLimit)).
    pub entered: usize,
    /// Entries one `LiveSpan` frame may claim
    /// ([`ReceiveError::TooManyEntries`](super::ReceiveError::TooManyEntries)).
    pub live_entries: u32,
    /// Call sites of the running firmware. A new call site beyond it is refused
    /// ([`ReceiveError::CallSiteLimit`](super::ReceiveError::CallSiteLimit)).
    pub call_sites: usize,
    /// Firmware identities kept in the persisted metadata
    /// ([`Receiver::persist_metadata`](super::Receiver::persist_metadata)): the one used
    /// least recently goes first. The running firmware's is never dropped.
    pub firmware: usize,
    /// Bytes of call sites kept in the persisted metadata (their strings, roughly), all
    /// identities together; past it, identities are dropped as for
    /// [`firmware`](Self::firmware), and the running firmware's new call sites are relayed
    /// but not persisted.
    pub metadata_bytes: usize,
}

impl Limits {
    /// The defaults: 16,384 spans, 1,024 entered, 1,024 entries per `LiveSpan`, 16,384 call
    /// sites, 16 firmware identities and 8 MiB of persisted metadata.
    pub const DEFAULT: Limits = Limits {
        spans: 16_384,
        entered: 1_024,
        live_entries: 1_024,
        call_sites: 16_384,
        firmware: 16,
        metadata_bytes: 8 << 20,
    };

    /// Sets [`spans`](Self::spans).
    pub fn spans(mut self, spans: usize) -> Self {
        self.spans = spans;
        self
    }

    /// Sets [`entered`](Self::entered).
    pub fn entered(mut self, entered: usize) -> Self {
        self.entered = entered;
        self
    }

    /// Sets [`live_entries`](Self::live_entries).
    pub fn live_entries(mut self, entries: u32) -> Self {
        self.live_entries = entries;
        self
    }

    /// Sets [`call_sites`](Self::call_sites).
    pub fn call_sites(mut self, call_sites: usize) -> Self {
        self.call_sites = call_sites;
        self
    }

    /// Sets [`firmware`](Self::firmware).
    pub fn firmware(mut self, firmware: usize) -> Self {
        self.firmware = firmware;
        self
    }

    /// Sets [`metadata_bytes`](Self::metadata_bytes).
    pub fn metadata_bytes(mut self, bytes: usize) -> Self {
        self.metadata_bytes = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the [`Limits`] refused or dropped, since the receiver was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitStats {
    /// `NewSpan` and `LiveSpan` frames refused: [`Limits::spans`] spans were alive.
    pub spans_refused: u64,
    /// The most spans alive at once.
    pub spans_peak: usize,
    /// `Enter` entries refused (`LiveSpan` entries included): [`Limits::entered`] were
    /// entered.
    pub entries_refused: u64,
    /// The deepest the stack of entered spans was.
    pub entered_peak: usize,
    /// `LiveSpan` frames refused for claiming more than [`Limits::live_entries`] entries.
    pub live_spans_refused: u64,
    /// Call sites refused: [`Limits::call_sites`] were known.
    pub call_sites_refused: u64,
    /// Call sites relayed but not persisted: the running firmware's alone filled
    /// [`Limits::metadata_bytes`].
    pub call_sites_not_persisted: u64,
    /// Firmware identities dropped from the persisted metadata, least recently used first.
    pub firmware_dropped: u64,
    /// Call sites refused because the process-wide leak limit was reached
    /// ([`ReceiveError::ArenaFull`](super::ReceiveError::ArenaFull),
    /// [`set_leak_limit`](super::set_leak_limit)).
    pub arena_refused: u64,
}

impl LimitStats {
    /// Whether any bound was reached.
    pub fn any(&self) -> bool {
        self.spans_refused
            + self.entries_refused
            + self.live_spans_refused
            + self.call_sites_refused
            + self.call_sites_not_persisted
            + self.firmware_dropped
            + self.arena_refused
            > 0
    }
}
