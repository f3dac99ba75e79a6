//! Everything the sender keeps, behind one critical-section mutex, and the writing of frames.
//!
//! Before a frame goes into the ring, what it depends on goes first: the boot's `Hello`, the
//! `Dropped` report of frames lost since the last one, and the announcement of the frame's
//! call site. If any of those does not fit, the frame is dropped too (and counted), so the
//! host never sees a frame it cannot place.

use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, FrameBuilder, Hello, Kind, LiveSpan, Message, NameSource,
    Parent, Request, PROTOCOL_VERSION,
};

use crate::callsites::{Announce, CallsiteTable};
use crate::clock::{self, Clock};
use crate::entered::EnteredStack;
use crate::level;
use crate::maybe::Maybe;
use crate::requests::RequestReader;
use crate::seal;
use crate::spans::SpanTable;
use crate::{Identity, Link, Stats};

mod owed;

/// Field names announced per call site, and values sent per span or event: tracing's own
/// limit on the fields of a call site.
pub(crate) const MAX_FIELDS: usize = 32;

/// Strings of a call site that does not fit a frame are cut to their last this many bytes
/// (where a file name and line number are) for a second try.
const SHORT_STRING: usize = 40;

/// A call site's field names, straight from its field set.
struct FieldSetNames(&'static tracing_core::field::FieldSet);

impl NameSource for FieldSetNames {
    fn name(&self, index: usize) -> &str {
        self.0.iter().nth(index).map_or("", |field| field.name())
    }
}

/// What one step of [`State::flush_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Wrote a frame or otherwise made progress: call again.
    Progress,
    /// The ring is full: try again later.
    Blocked,
    /// Nothing is pending.
    Idle,
}

/// What became of a frame encoded in the scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Written,
    /// No room in the ring (or not connected): keep it pending.
    RingFull,
    /// It does not fit the frame buffer.
    TooLarge,
}

/// How a frame's timestamp is stamped.
#[derive(Debug, Clone, Copy)]
enum Stamp {
    SincePrevious,
    SinceBoot,
}

/// The link and the time of the last frame written into it. `FRAME`: the size of the frame
/// buffers whose frames it writes.
#[derive(Debug)]
struct Output<L, const FRAME: usize> {
    link: Maybe<L>,
    /// The clock's reading for the last frame written.
    last_written: u64,
    /// The host's time of the last frame written: the sum of the deltas since the first
    /// `Hello`. Unlike the clock, it does not wrap, so a re-sent `Hello` carries it.
    elapsed: i64,
    /// The first `Hello` went out.
    started: bool,
}

impl<L: Link, const FRAME: usize> Output<L, FRAME> {
    /// Seals `frame` with its timestamp delta and writes it whole, or not at all.
    #[inline]
    fn write<C: Clock>(
        &mut self,
        stats: &mut Stats,
        now: u64,
        stamp: Stamp,
        frame: FrameBuilder<'_>,
    ) -> bool {
        let delta = clock::delta::<C>(now, self.last_written);
        match stamp {
            Stamp::SincePrevious => self.put(stats, now, delta, frame),
            Stamp::SinceBoot => self.write_boot::<C>(stats, now, delta, frame),
        }
    }

    /// [`write`](Self::write) stamped with the time since boot (a `Hello`).
    #[cold]
    #[inline(never)]
    fn write_boot<C: Clock>(
        &mut self,
        stats: &mut Stats,
        now: u64,
        delta: i64,
        frame: FrameBuilder<'_>,
    ) -> bool {
        let t = if self.started {
            // A re-sent `Hello`: the time the host has summed so far, carried on.
            self.elapsed.wrapping_add(delta)
        } else {
            clock::since_boot::<C>(now)
        };
        // The host's time after it is `t` itself: `put` adds the delta to an elapsed of 0.
        let elapsed = core::mem::replace(&mut self.elapsed, 0);
        let written = self.put(stats, now, t, frame);
        if !written {
            self.elapsed = elapsed;
        }
        self.started |= written;
        written
    }

    /// Seals `frame` with the delta `dt` and writes it whole, or not at all; once written, the
    /// host's time is `dt` later. (The sum is taken here, not in each inlined caller.)
    #[inline(never)]
    fn put(&mut self, stats: &mut Stats, now: u64, dt: i64, frame: FrameBuilder<'_>) -> bool {
        let Some(link) = self.link.as_mut() else {
            return false;
        };
        let exception = crate::context::exception();
        // Sealed straight into the ring when the link lends it room enough in one piece;
        // otherwise sealed in a buffer and copied.
        let body = frame.body();
        let written = link.write_in_place(body.len() + seal::OVERHEAD, |out| {
            seal::encode(out, dt, exception, body)
        }) || seal::write_copied::<L, FRAME>(link, dt, exception, frame);
        if !written {
            return false;
        }
        self.last_written = now;
        self.elapsed = self.elapsed.wrapping_add(dt);
        stats.frames_written = stats.frames_written.saturating_add(1);
        true
    }

    /// Encodes `message` in `scratch` and writes it.
    fn send<C: Clock>(
        &mut self,
        stats: &mut Stats,
        scratch: &mut [u8],
        now: u64,
        stamp: Stamp,
        message: &Message<'_>,
    ) -> Sent {
        let mut frame = FrameBuilder::new(scratch);
        if frame.push_message_cold(message).is_err() {
            return Sent::TooLarge;
        }
        if self.write::<C>(stats, now, stamp, frame) {
            Sent::Written
        } else {
            Sent::RingFull
        }
    }
}

/// The sender's state: tables, pending reports, the link. `FRAME` is the size of the frame
/// buffers (the one on the stack of each span and event operation, and `scratch` here).
#[derive(Debug)]
pub(crate) struct State<
    L,
    const SPANS: usize,
    const CALLSITES: usize,
    const DEPTH: usize,
    const FRAME: usize,
> {
    out: Output<L, FRAME>,
    identity: Maybe<Identity>,
    hello_pending: bool,
    unreported_drops: u32,
    /// What a loss made due, and the capacity last reported (see `owed.rs`).
    owed: owed::Owed,
    pub(crate) spans: SpanTable<SPANS>,
    pub(crate) entered: EnteredStack<DEPTH>,
    pub(crate) callsites: CallsiteTable<CALLSITES>,
    requests: RequestReader,
    /// Frames encoded inside the critical section (announcements, reports) are built here,
    /// not on the stack.
    scratch: [u8; FRAME],
    /// The firmware's flash, `start..end`: texts there go as call-site constants, by
    /// reference. From [`Tunnel::set_flash`](crate::Tunnel::set_flash), or the linker's
    /// read-only data when the link is connected (`crate::flash`); empty until then.
    pub(crate) flash: (usize, usize),
    /// [`Tunnel::set_flash`](crate::Tunnel::set_flash) was called: `flash` is the firmware's
    /// choice, not the default.
    flash_set: bool,
    pub(crate) stats: Stats,
}

impl<
        L: Link,
        const SPANS: usize,
        const CALLSITES: usize,
        const DEPTH: usize,
        const FRAME: usize,
    > State<L, SPANS, CALLSITES, DEPTH, FRAME>
{
    pub(crate) const fn new() -> Self {
        Self {
            out: Output {
                link: Maybe::None,
                last_written: 0,
                elapsed: 0,
                started: false,
            },
            identity: Maybe::None,
            hello_pending: false,
            unreported_drops: 0,
            owed: owed::Owed::new(),
            spans: SpanTable::new(),
            entered: EnteredStack::new(),
            callsites: CallsiteTable::new(),
            requests: RequestReader::new(),
            scratch: [0; FRAME],
            flash: (0, 0),
            flash_set: false,
            stats: Stats {
                frames_written: 0,
                frames_dropped: 0,
                spans_untracked: 0,
                events_untracked: 0,
                enters_untracked: 0,
                values_dropped: 0,
                values_truncated: 0,
                flushes_incomplete: 0,
            },
        }
    }

    /// Takes the link and queues the `Hello`; `false` if already connected.
    pub(crate) fn connect(&mut self, link: L, identity: Identity) -> bool {
        if self.out.link.is_some() {
            return false;
        }
        self.out.link.set(link);
        self.identity.set(identity);
        if !self.flash_set {
            self.flash = crate::flash::from_linker();
        }
        self.hello_pending = true;
        true
    }

    /// Sets the flash range; a `Hello` that already went out with another start goes out
    /// again, so that the host reads later references from the right base.
    pub(crate) fn set_flash(&mut self, flash: (usize, usize)) {
        let moved = self.flash.0 != flash.0;
        self.flash = flash;
        self.flash_set = true;
        if moved && self.out.started {
            self.hello_pending = true;
        }
    }

    pub(crate) fn link_mut(&mut self) -> Option<&mut L> {
        self.out.link.as_mut()
    }

    /// Writes `frame` after what must precede it; counts it as dropped if anything failed.
    #[inline]
    pub(crate) fn deliver<C: Clock>(
        &mut self,
        now: u64,
        callsite: Option<u32>,
        frame: FrameBuilder<'_>,
    ) -> bool {
        let ok = self.prepare::<C>(now, callsite)
            && self
                .out
                .write::<C>(&mut self.stats, now, Stamp::SincePrevious, frame);
        if !ok {
            self.count_drop();
        }
        ok
    }

    /// Writes what is due before a frame (see [`prepare`](Self::prepare)); `false` if it could
    /// not be. An `enter`, `exit` or `close` calls it before it changes the tables, so that a
    /// `Resync` written here describes the state before the operation its own frame tells.
    #[inline(always)]
    pub(crate) fn ready<C: Clock>(&mut self, now: u64) -> bool {
        !(self.hello_pending || self.unreported_drops > 0) || self.send_reports::<C>(now)
    }

    /// [`deliver`](Self::deliver) out of line, for the operations whose instructions count
    /// less than their flash (record, follows-from): one copy of the path to the ring.
    #[inline(never)]
    pub(crate) fn deliver_rare<C: Clock>(&mut self, now: u64, frame: FrameBuilder<'_>) -> bool {
        self.deliver::<C>(now, None, frame)
    }

    /// Counts a frame that could not be written, for the next `Dropped` report, and makes a
    /// `Resync` due before it.
    pub(crate) fn count_drop(&mut self) {
        self.owed.lost();
        self.unreported_drops = self.unreported_drops.saturating_add(1);
        self.stats.frames_dropped = self.stats.frames_dropped.saturating_add(1);
    }

    /// Writes the `Hello`, the `Dropped` report and the call site's announcement, whichever
    /// are due; `false` if one of them could not be written.
    #[inline(always)]
    fn prepare<C: Clock>(&mut self, now: u64, callsite: Option<u32>) -> bool {
        if !self.ready::<C>(now) {
            return false;
        }
        let Some(id) = callsite else { return true };
        match self.callsites.get(id).map(|e| e.announce) {
            Some(Announce::Done) => true,
            Some(Announce::Pending) => self.announce::<C>(now, id) == Sent::Written,
            Some(Announce::TooLarge) | None => false,
        }
    }

    /// The `Hello` and the `Dropped` report, if due; `false` if one could not be written.
    #[cold]
    #[inline(never)]
    fn send_reports<C: Clock>(&mut self, now: u64) -> bool {
        if self.out.link.is_none() {
            return false;
        }
        if self.hello_pending && self.send_hello::<C>(now) != Sent::Written {
            return false;
        }
        if self.owed.resync && self.resync::<C>(now) == Sent::RingFull {
            return false;
        }
        if self.unreported_drops > 0 && self.send_dropped::<C>(now) != Sent::Written {
            return false;
        }
        true
    }

    fn send_hello<C: Clock>(&mut self, now: u64) -> Sent {
        let Some(&identity) = self.identity.as_ref() else {
            return Sent::RingFull;
        };
        // A firmware identity too long for a frame is cut rather than block every frame.
        let firmware = head(identity.firmware, FRAME.saturating_sub(48));
        let hello = Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            boot: identity.boot,
            tick_hz: identity.tick_hz,
            firmware,
            flash_base: self.flash_base(),
            flash_len: self.flash_len(),
        });
        let sent = self.out.send::<C>(
            &mut self.stats,
            &mut self.scratch,
            now,
            Stamp::SinceBoot,
            &hello,
        );
        if sent == Sent::Written {
            self.hello_pending = false;
        }
        sent
    }

    /// The start of flash as the `Hello` says it (Cortex-M addresses are 32 bits; 0 with no
    /// flash range).
    fn flash_base(&self) -> u32 {
        match self.flash {
            (start, end) if start < end => start as u32,
            _ => 0,
        }
    }

    /// The length of flash as the `Hello` says it.
    fn flash_len(&self) -> u32 {
        match self.flash {
            (start, end) if start < end => u32::try_from(end - start).unwrap_or(u32::MAX),
            _ => 0,
        }
    }

    fn send_dropped<C: Clock>(&mut self, now: u64) -> Sent {
        let dropped = Message::Dropped {
            frames: self.unreported_drops,
        };
        let sent = self.out.send::<C>(
            &mut self.stats,
            &mut self.scratch,
            now,
            Stamp::SincePrevious,
            &dropped,
        );
        if sent == Sent::Written {
            self.unreported_drops = 0;
        }
        sent
    }

    /// Writes a call site's `CallSite` frame; one that does not fit is tried again with its
    /// strings cut to their ends, then given up on ([`Announce::TooLarge`]).
    fn announce<C: Clock>(&mut self, now: u64, id: u32) -> Sent {
        let Some(entry) = self.callsites.get(id) else {
            return Sent::TooLarge;
        };
        let meta = entry.meta;
        // The names straight from the call site's field set (at most `MAX_FIELDS`: tracing's
        // own limit), without a copy.
        let fields = FieldSetNames(meta.fields());
        let mut callsite = CallSite {
            id: CallsiteId(id),
            kind: if meta.is_span() {
                Kind::Span
            } else {
                Kind::Event
            },
            level: level::to_wire(meta.level()),
            name: meta.name(),
            target: meta.target(),
            module_path: meta.module_path(),
            file: meta.file(),
            line: meta.line(),
            fields: FieldNames::from_source(fields.0.len().min(MAX_FIELDS), &fields),
        };
        let mut sent = self.out.send::<C>(
            &mut self.stats,
            &mut self.scratch,
            now,
            Stamp::SincePrevious,
            &Message::CallSite(callsite),
        );
        if sent == Sent::TooLarge {
            callsite.name = tail(callsite.name, SHORT_STRING);
            callsite.target = tail(callsite.target, SHORT_STRING);
            callsite.module_path = callsite.module_path.map(|m| tail(m, SHORT_STRING));
            callsite.file = callsite.file.map(|f| tail(f, SHORT_STRING));
            sent = self.out.send::<C>(
                &mut self.stats,
                &mut self.scratch,
                now,
                Stamp::SincePrevious,
                &Message::CallSite(callsite),
            );
        }
        match sent {
            Sent::Written => self.callsites.set(id, Announce::Done),
            Sent::TooLarge => self.callsites.set(id, Announce::TooLarge),
            Sent::RingFull => {}
        }
        sent
    }

    /// Writes a `LiveSpan` for a span marked for re-send.
    fn send_live_span<C: Clock>(&mut self, now: u64, id: u32) -> Sent {
        let key = u64::from(id);
        let Some(live) = self.spans.get(key).copied() else {
            return Sent::Written;
        };
        let parent = match live.parent {
            Parent::Explicit(p) => Parent::Explicit(self.spans.host_id(u64::from(p.0))),
            other => other,
        };
        let message = Message::LiveSpan(LiveSpan {
            id: SpanTable::<SPANS>::wire(key),
            callsite: CallsiteId(live.callsite),
            parent,
            entered: live.entered,
        });
        let sent = self.out.send::<C>(
            &mut self.stats,
            &mut self.scratch,
            now,
            Stamp::SincePrevious,
            &message,
        );
        if sent != Sent::RingFull {
            if let Some(live) = self.spans.get_mut(key) {
                live.resend = false;
                live.sent |= sent == Sent::Written;
            }
        }
        if sent == Sent::Written {
            self.entered.mark_sent(key);
        }
        sent
    }

    /// Writes one pending frame: the `Hello`, what a loss made due (see `owed.rs`), a `Dropped`
    /// report, a `Status`, a call-site announcement, a re-sent live span, in that order.
    pub(crate) fn flush_one<C: Clock>(&mut self, now: u64) -> Flush {
        let progress = |sent| match sent {
            Sent::RingFull => Flush::Blocked,
            Sent::Written | Sent::TooLarge => Flush::Progress,
        };
        if self.out.link.is_none() {
            return Flush::Idle;
        }
        if self.hello_pending {
            return progress(self.send_hello::<C>(now));
        }
        if self.owed.resync {
            return progress(self.resync::<C>(now));
        }
        if self.unreported_drops > 0 {
            return progress(self.send_dropped::<C>(now));
        }
        if self.status_due() {
            return progress(self.send_status::<C>(now));
        }
        if let Some(id) = self.callsites.next_pending() {
            return progress(self.announce::<C>(now, id));
        }
        if let Some(id) = self.spans.next_resend() {
            if !self.resend_placeable(id) {
                // Its call site cannot be announced: the host cannot place the span.
                return Flush::Progress;
            }
            return progress(self.send_live_span::<C>(now, id));
        }
        Flush::Idle
    }

    /// Reads and applies the host's requests; returns the last level filter it asked for.
    pub(crate) fn read_requests(&mut self) -> Option<rtt_tunnel_protocol::LevelFilter> {
        let link = self.out.link.as_mut()?;
        let mut level = None;
        let mut resend = false;
        let mut buf = [0u8; 16];
        // Bounded: a host that keeps writing cannot keep us here.
        for _ in 0..8 {
            let n = link.read_down(&mut buf);
            if n == 0 {
                break;
            }
            for &byte in buf.get(..n).unwrap_or_default() {
                match self.requests.push(byte) {
                    Some(Request::ResendAll) => resend = true,
                    Some(Request::SetLevel(filter)) => level = Some(filter),
                    // Mid-frame, a request this build does not know, or garbage.
                    None => {}
                }
            }
        }
        if resend {
            self.hello_pending = self.identity.is_some();
            self.callsites.mark_all_pending();
            self.spans.mark_all_for_resend();
        }
        level
    }
}

/// The first at most `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last at most `max` bytes of `s`, cut at a character boundary.
fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_character_boundaries() {
        assert_eq!(head("abc", 5), "abc");
        assert_eq!(head("aé", 2), "a");
        assert_eq!(tail("src/main.rs", 7), "main.rs");
        assert_eq!(tail("éa", 2), "a");
    }
}
