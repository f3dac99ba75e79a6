//! The decode pipeline that every byte source feeds: frame splitter → decoder →
//! [`Receiver`], with two taps: a [capture file](crate::capture) that records the raw bytes,
//! and the [defmt](crate::defmt) interleave that puts a defmt channel's lines among the
//! frames.
//!
//! A [`Pipeline`] knows nothing of where its bytes come from: the RTT [`Session`] feeds it
//! what each poll of target memory drained, [`replay`](crate::capture::replay) the records of
//! a capture, [`Drain`] any [`ByteSource`] (a serial port, a stream). It borrows the
//! [`Receiver`] it relays into, so one receiver can outlive several pipelines (a replay after
//! a live run, say).
//!
//! What the target sends never stops the stream: bytes that are not a frame, frames that do
//! not decode and frames the receiver refuses are counted in [`SessionStats`] and reported as
//! `WARN` events with target [`rtt_tunnel`](RECEIVER_TARGET); the next frame is handled
//! normally.
//!
//! ```
//! use rtt_tunnel_host::pipeline::Pipeline;
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_protocol::{Frame, Hello, Message, PROTOCOL_VERSION};
//!
//! // One frame as the target writes it: COBS-encoded, then the 0x00 delimiter.
//! let hello = Hello { version: PROTOCOL_VERSION, boot: 1, tick_hz: 1_000, firmware: "fw", flash_base: 0, flash_len: 0 };
//! let mut wire = [0u8; 64];
//! let n = Frame { exception: 0, dt: 0, message: Message::Hello(hello) }.encode(&mut wire).unwrap();
//!
//! let mut receiver = Receiver::default();
//! let mut pipeline = Pipeline::new();
//! // The bytes may come in any pieces; the pipeline decodes them where they lie.
//! let (first, second) = wire[..n].split_at_mut(3);
//! assert_eq!(pipeline.feed(first, &mut receiver)?, 0);
//! assert_eq!(pipeline.feed(second, &mut receiver)?, 1);
//! assert_eq!(pipeline.stats(&receiver).frames, 1);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`Session`]: crate::session::Session

mod drain;
mod splitter;
mod throttle;

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};

use rtt_tunnel_protocol::{Capacity, Frame, FrameError, Message};

use crate::capture::CaptureWriter;
use crate::defmt::{line_time, DefmtDecoder, DefmtEvents, DefmtLine};
use crate::receiver::{
    BootInfo, FlashSource, LimitStats, ReceiveError, Receiver, Reconciled, RECEIVER_TARGET,
};
use crate::target_time;

pub(crate) use drain::queue_request;
pub use drain::{ByteSource, Drain, DrainEnd, DrainError, Pulled};
pub use splitter::Splitter;

/// The largest frame the host accepts, in encoded bytes (the sender's default is 256). A
/// longer run of bytes between two delimiters is skipped and counted as a frame error.
pub const MAX_FRAME: usize = 4096;

/// What a pipeline relayed (for a [`Session`](crate::session::Session), a
/// [replay](crate::capture::replay) or a [`Drain`]), and what went wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Bytes drained from the up channel.
    pub bytes: u64,
    /// Frames relayed into the host's dispatcher.
    pub frames: u64,
    /// Runs of bytes between two delimiters that were not a frame (not valid COBS, or longer
    /// than [`MAX_FRAME`]): bytes lost, a host that attached mid-frame, or a ring that is not
    /// rtt-tunnel's.
    pub frame_errors: u64,
    /// Frames that did not decode as a message.
    pub decode_errors: u64,
    /// Decoded frames the [`Receiver`] refused (see [`ReceiveError`]).
    pub receive_errors: u64,
    /// Target resets the link noticed (the control block vanished or was laid out again).
    pub link_resets: u64,
    /// Target resets the receiver saw (a `Hello` of a new boot).
    pub target_resets: u64,
    /// Frames the target reported it dropped because its ring was full.
    pub dropped_frames: u64,
    /// Bytes drained from the defmt channel ([`Pipeline::with_defmt`]).
    pub defmt_bytes: u64,
    /// defmt lines relayed.
    pub defmt_lines: u64,
    /// Runs of bytes on the defmt channel that were not a defmt frame.
    pub defmt_errors: u64,
    /// Bytes of a frame the stream ended in the middle of ([`Pipeline::finish`]).
    pub trailing_bytes: u64,
    /// What the receiver's [`Limits`](crate::receiver::Limits) refused or dropped.
    pub limits: LimitStats,
    /// Texts the target sent by reference that no source resolved (shown as a placeholder
    /// that says why: see [`Receiver::with_flash_source`]).
    pub unresolved_texts: u64,
    /// Spans of the target still open on the host when the stats were taken (at the end of a
    /// session: the ones the receiver then closes).
    pub spans_open: u64,
    /// Entries of the host's mirror of the target's entered stack when the stats were taken
    /// (at the end of a session: force-exited then).
    pub spans_entered: u64,
    /// What the receiver made good after lost frames and forced at resets.
    pub reconciled: Reconciled,
    /// What the target's tables and frames could not hold, as its `Status` frames said.
    pub target_capacity: Capacity,
}

impl SessionStats {
    /// Frame, decode and receive errors together.
    pub fn errors(&self) -> u64 {
        self.frame_errors + self.decode_errors + self.receive_errors
    }
}

/// `1234 bytes, 56 frames; dropped by the target: 0; errors: 0 frame, 0 decode, 0 receive;
/// resets: 0 (seen by the link: 0)`, then `; defmt: 12 lines (300 bytes), 0 errors` when a
/// defmt channel brought bytes, the bytes of a frame the stream ended in, and what the
/// receiver's bounds refused, when any; then, when any, what is left open
/// (`; left open: 2 spans, 1 entered (exited and closed at the end)`), what resets forced and
/// lost frames made good, and the target's capacity overflows.
impl fmt::Display for SessionStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes, {} frames; dropped by the target: {}; errors: {} frame, {} decode, \
             {} receive; resets: {} (seen by the link: {})",
            self.bytes,
            self.frames,
            self.dropped_frames,
            self.frame_errors,
            self.decode_errors,
            self.receive_errors,
            self.target_resets,
            self.link_resets,
        )?;
        if self.defmt_bytes > 0 {
            write!(
                f,
                "; defmt: {} lines ({} bytes), {} errors",
                self.defmt_lines, self.defmt_bytes, self.defmt_errors
            )?;
        }
        if self.unresolved_texts > 0 {
            write!(
                f,
                "; texts sent by reference not resolved: {} (no ELF?)",
                self.unresolved_texts
            )?;
        }
        if self.trailing_bytes > 0 {
            write!(
                f,
                "; the stream ended in the middle of a frame ({} bytes)",
                self.trailing_bytes
            )?;
        }
        let l = &self.limits;
        let reached = [
            (l.spans_refused, "spans refused"),
            (l.entries_refused, "entries refused"),
            (l.live_spans_refused, "live spans refused"),
            (l.call_sites_refused, "call sites refused"),
            (l.arena_refused, "call sites over the leak limit"),
            (l.call_sites_not_persisted, "call sites not persisted"),
            (l.firmware_dropped, "firmware identities dropped"),
        ];
        write_counts(f, "; bounds reached: ", reached)?;
        if self.spans_open > 0 {
            write!(
                f,
                "; left open: {} spans, {} entered (exited and closed at the end)",
                self.spans_open, self.spans_entered
            )?;
        }
        let r = &self.reconciled;
        if r.reset_exits + r.reset_closes > 0 {
            write!(
                f,
                "; forced by resets: {} exits, {} closes",
                r.reset_exits, r.reset_closes
            )?;
        }
        if r.late_exits + r.late_closes + r.late_enters > 0 {
            write!(
                f,
                "; made good after lost frames: {} exits, {} closes, {} enters",
                r.late_exits, r.late_closes, r.late_enters
            )?;
        }
        let c = &self.target_capacity;
        let overflow = [
            (c.spans_untracked, "spans untracked (SPANS)"),
            (c.enters_untracked, "enters untracked (DEPTH)"),
            (
                c.events_untracked,
                "events of refused call sites (CALLSITES)",
            ),
            (c.values_dropped, "values left out (FRAME)"),
            (c.values_truncated, "values cut (FRAME)"),
        ];
        write_counts(f, "; target capacity: ", overflow)?;
        Ok(())
    }
}

/// `{lead}{count} {what}, {count} {what}` for the counts above 0; nothing when none is.
fn write_counts<N: Into<u64>>(
    f: &mut fmt::Formatter<'_>,
    lead: &str,
    counts: impl IntoIterator<Item = (N, &'static str)>,
) -> fmt::Result {
    let mut sep = lead;
    let counts = counts.into_iter().map(|(n, what)| (n.into(), what));
    for (count, what) in counts.filter(|&(n, _): &(u64, _)| n > 0) {
        write!(f, "{sep}{count} {what}")?;
        sep = ", ";
    }
    Ok(())
}

/// Splitter, decoder, capture tap, defmt interleave and counters: everything between a byte
/// source and a [`Receiver`]. See the [module docs](self).
///
/// All calls must run under the dispatcher the receiver relays to.
pub struct Pipeline {
    splitter: Splitter,
    stats: SessionStats,
    capture: Option<CaptureWriter<Box<dyn Write + Send>>>,
    /// The boot of the last `Hello` relayed.
    last_boot: Option<BootInfo>,
    /// The defmt side, when there is one.
    defmt: Option<DefmtRelay>,
    /// Frame and receive errors by kind, for throttling their warnings.
    refused: throttle::Kinds,
}

/// The defmt side of a relay: the decoder, and the lines of the current poll not relayed yet.
#[derive(Debug)]
pub(crate) struct DefmtRelay {
    /// `None`: a replay without the firmware's table; defmt bytes are counted and skipped.
    decoder: Option<DefmtDecoder>,
    events: DefmtEvents,
    pending: VecDeque<DefmtLine>,
}

impl DefmtRelay {
    pub(crate) fn new(decoder: Option<DefmtDecoder>) -> Self {
        DefmtRelay {
            decoder,
            events: DefmtEvents::default(),
            pending: VecDeque::new(),
        }
    }

    /// Decodes one poll's bytes into pending lines; reports what is not a frame.
    fn decode(&mut self, bytes: &[u8], stats: &mut SessionStats, receiver: &Receiver) {
        stats.defmt_bytes += bytes.len() as u64;
        let Some(decoder) = &mut self.decoder else {
            return;
        };
        let mut lines = Vec::new();
        decoder.feed(bytes, &mut lines);
        for line in lines {
            match line {
                Ok(line) => self.pending.push_back(line),
                Err(error) => {
                    stats.defmt_errors += 1;
                    warn(receiver, stats.defmt_errors, format_args!("{error}"));
                }
            }
        }
    }

    /// Relays the pending lines logged before `frame`, which the receiver relays next.
    #[inline(always)]
    fn before(&mut self, frame: &Frame<'_>, stats: &mut SessionStats, receiver: &mut Receiver) {
        if !self.pending.is_empty() {
            if let Some(micros) = frame_micros(frame, receiver) {
                self.relay_until(micros, stats, receiver);
            }
        }
    }

    /// Relays the pending lines whose timestamp is not after `micros`, in order.
    fn relay_until(&mut self, micros: u64, stats: &mut SessionStats, receiver: &mut Receiver) {
        while let Some(due) = self.pending.front().and_then(|l| l.micros) {
            if due > micros {
                break;
            }
            let line = self.pending.pop_front().expect("a front line");
            self.relay(&line, stats, receiver);
        }
    }

    /// Relays every pending line.
    fn flush(&mut self, stats: &mut SessionStats, receiver: &mut Receiver) {
        while let Some(line) = self.pending.pop_front() {
            self.relay(&line, stats, receiver);
        }
    }

    fn relay(&mut self, line: &DefmtLine, stats: &mut SessionStats, receiver: &mut Receiver) {
        let Some(decoder) = &self.decoder else {
            return;
        };
        let now = receiver.target_time();
        // A line placed by its timestamp is inside the spans the target had entered then.
        let (time, parent) = match line.micros {
            Some(micros) => (line_time(micros, now), receiver.current_span()),
            None => (now, None),
        };
        if self.events.relay(decoder.table(), line, time, parent) {
            stats.defmt_lines += 1;
        } else {
            stats.defmt_errors += 1;
            warn(
                receiver,
                stats.defmt_errors,
                format_args!(
                    "a defmt line was not relayed: the host's leak limit for call sites is \
                     reached ({})",
                    line.message
                ),
            );
        }
    }

    fn reset(&mut self) {
        self.pending.clear();
        if let Some(decoder) = &mut self.decoder {
            decoder.reset();
        }
    }
}

/// `flash` for one call, the caller keeping it for the next.
#[inline(always)]
fn reborrow<'s>(flash: &'s mut Option<&mut dyn FlashSource>) -> Option<&'s mut dyn FlashSource> {
    match flash {
        Some(flash) => Some(&mut **flash),
        None => None,
    }
}

/// The time of `frame` in microseconds since boot, once the receiver relays it (`None` when
/// the tick rate is unknown or the time is before boot).
fn frame_micros(frame: &Frame<'_>, receiver: &Receiver) -> Option<u64> {
    let (ticks, hz) = match &frame.message {
        Message::Hello(hello) => (frame.dt, hello.tick_hz),
        _ => {
            let now = receiver.target_time();
            (now.ticks.wrapping_add(frame.dt), now.tick_hz?.get())
        }
    };
    let ticks = u64::try_from(ticks).ok()?;
    if hz == 0 {
        return None;
    }
    u64::try_from(u128::from(ticks) * 1_000_000 / u128::from(hz)).ok()
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("pending", &self.splitter.pending())
            .field("stats", &self.stats)
            .field("capture", &self.capture.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// A pipeline without taps.
    pub fn new() -> Self {
        Pipeline {
            splitter: Splitter::new(MAX_FRAME),
            stats: SessionStats::default(),
            capture: None,
            last_boot: None,
            defmt: None,
            refused: throttle::Kinds::default(),
        }
    }

    /// Records everything fed into `capture` (see [`crate::capture`]): the raw bytes as they
    /// come, each link reset, and each boot's `Hello` once. Every record is flushed as it is
    /// written.
    pub fn with_capture<W: Write + Send + 'static>(mut self, capture: CaptureWriter<W>) -> Self {
        self.capture = Some(capture.boxed());
        self
    }

    /// Decodes the defmt bytes fed with [`feed_poll`](Self::feed_poll) with `decoder` and
    /// relays each line at its place among the tracing frames (see [`crate::defmt`]). `None`:
    /// defmt bytes are counted and skipped (a replay without the firmware's table).
    pub fn with_defmt(mut self, decoder: Option<DefmtDecoder>) -> Self {
        self.defmt = Some(DefmtRelay::new(decoder));
        self
    }

    /// Relays the frames `bytes` complete; keeps the start of a frame they cut off for the
    /// next call. Returns how many frames were relayed.
    ///
    /// The frames are COBS-decoded in `bytes` itself: its contents are scratch afterwards.
    ///
    /// # Errors
    ///
    /// Only writing the capture can fail; what the target sent never does.
    pub fn feed(&mut self, bytes: &mut [u8], receiver: &mut Receiver) -> io::Result<u64> {
        self.feed_poll(bytes, &[], receiver)
    }

    /// Relays one poll: the tracing channel's `bytes` as [`feed`](Self::feed) does, and the
    /// defmt channel's `defmt` bytes, each line at its place among the frames (see
    /// [`crate::defmt`]). Returns the tracing frames relayed.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_poll(
        &mut self,
        bytes: &mut [u8],
        defmt: &[u8],
        receiver: &mut Receiver,
    ) -> io::Result<u64> {
        self.feed_poll_with(bytes, defmt, receiver, None)
    }

    /// [`feed_poll`](Self::feed_poll), reading the texts frames send by reference from
    /// `flash` (the target's memory) when the receiver has them neither already nor from its
    /// own source (see [`Receiver::try_receive_with`]). The texts the receiver read from a
    /// source go into the capture, after the poll's bytes.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_poll_with(
        &mut self,
        bytes: &mut [u8],
        defmt: &[u8],
        receiver: &mut Receiver,
        flash: Option<&mut dyn FlashSource>,
    ) -> io::Result<u64> {
        if let Some(capture) = &mut self.capture {
            if defmt.is_empty() {
                capture.write_data(bytes)?;
            } else {
                capture.write_data_with_defmt(bytes, defmt)?;
            }
        }
        if !defmt.is_empty() {
            if let Some(relay) = &mut self.defmt {
                relay.decode(defmt, &mut self.stats, receiver);
            }
        }
        let frames = self.relay_frames(bytes, receiver, flash)?;
        if let Some(relay) = &mut self.defmt {
            relay.flush(&mut self.stats, receiver);
        }
        if receiver.has_new_flash_texts() {
            let texts = receiver.take_new_flash_texts();
            if let Some(capture) = &mut self.capture {
                for (address, text) in texts {
                    capture.write_flash_text(address, &text)?;
                }
            }
        }
        Ok(frames)
    }

    fn relay_frames(
        &mut self,
        bytes: &mut [u8],
        receiver: &mut Receiver,
        mut flash: Option<&mut dyn FlashSource>,
    ) -> io::Result<u64> {
        self.stats.bytes += bytes.len() as u64;
        let before = self.stats.frames;
        let mut written = Ok(());
        let Pipeline {
            splitter,
            stats,
            defmt,
            capture,
            last_boot,
            refused,
        } = self;
        // The frames' time and context are published by each frame and restored once, here.
        let _scope = target_time::frame_scope();
        // Inlined into the splitter's loop: a call per frame, and its saved registers, less.
        splitter.split(
            bytes,
            #[inline(always)]
            |frame| {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(error) => {
                        stats.frame_errors += 1;
                        let kind = match error {
                            FrameError::Oversized { .. } => "oversized frame",
                            _ => "bad frame",
                        };
                        warn(
                            receiver,
                            refused.count(kind),
                            format_args!(
                                "{error} (bytes lost, or the host attached in the middle of a \
                             frame); the stream goes on at the next frame"
                            ),
                        );
                        return;
                    }
                };
                // The usual frame, a compact message, is read inline and relayed by value:
                // its message is matched right where it was read, with no `Result` to go
                // through and never a `Hello`. Anything else is read by `decode_deferred`
                // and relayed out of line.
                // Values unchecked in both: the receiver checks each as it reads it (one walk,
                // not two), and a bad one comes back as `ReceiveError::BadValue`, counted below
                // as the decode error it is.
                let (hello, received) = match Frame::decode_compact(frame) {
                    Some(frame) => {
                        if let Some(relay) = defmt {
                            relay.before(&frame, stats, receiver);
                        }
                        (false, receiver.relay_frame(frame, reborrow(&mut flash)))
                    }
                    None => match Frame::decode_deferred(frame) {
                        Ok(frame) => {
                            if let Some(relay) = defmt {
                                relay.before(&frame, stats, receiver);
                            }
                            let hello = matches!(frame.message, Message::Hello(_));
                            let flash = reborrow(&mut flash);
                            (hello, receiver.relay_other_frame(frame, flash))
                        }
                        Err(error) => {
                            decode_failed(stats, receiver, &error);
                            return;
                        }
                    },
                };
                match received {
                    Ok(()) => {
                        stats.frames += 1;
                        if hello && written.is_ok() {
                            written = note_boot(capture, last_boot, receiver);
                        }
                    }
                    Err(ReceiveError::BadValue { error, .. }) => {
                        decode_failed(stats, receiver, &error);
                    }
                    Err(error) => {
                        stats.receive_errors += 1;
                        let count = refused.count(error.kind());
                        warn(
                            receiver,
                            count,
                            format_args!("a frame was not relayed: {error}"),
                        );
                    }
                }
            },
        );
        written?;
        Ok(self.stats.frames - before)
    }

    /// Forgets the start of a frame held from the last chunk, without reporting anything (the
    /// source let go of a ring it could not trust, say).
    pub fn forget_partial_frame(&mut self) {
        self.splitter.reset();
    }

    /// The link saw the target reset: a frame cut by it is discarded, and the reset is
    /// recorded and reported (an `INFO` event with target [`rtt_tunnel`](RECEIVER_TARGET)).
    ///
    /// # Errors
    ///
    /// Only writing the capture can fail.
    pub fn link_reset(&mut self, cause: &str, receiver: &Receiver) -> io::Result<()> {
        if let Some(capture) = &mut self.capture {
            capture.write_reset(cause)?;
        }
        self.splitter.reset();
        if let Some(relay) = &mut self.defmt {
            relay.reset();
        }
        self.stats.link_resets += 1;
        let _time = target_time::set_current(receiver.target_time());
        tracing::info!(
            target: RECEIVER_TARGET,
            parent: None,
            "the target reset ({cause}): waiting for its new RTT control block"
        );
        Ok(())
    }

    /// The stream ended: the start of a frame still held (or skipped, if too long) is
    /// counted as a frame error and in [`SessionStats::trailing_bytes`], and reported.
    /// Returns those bytes (0: the stream ended between frames).
    pub fn finish(&mut self, receiver: &Receiver) -> u64 {
        let pending = self.splitter.pending() as u64;
        self.splitter.reset();
        if pending > 0 {
            self.stats.trailing_bytes += pending;
            self.stats.frame_errors += 1;
            warn(
                receiver,
                self.refused.count("trailing bytes"),
                format_args!(
                    "the stream ended in the middle of a frame: its last {pending} bytes have \
                     no delimiter after them"
                ),
            );
        }
        pending
    }

    /// Frame errors and receive errors by kind (`"bad frame"`, `"oversized frame"`,
    /// `"trailing bytes"`, and [`ReceiveError::kind`](crate::receiver::ReceiveError::kind)),
    /// in the order the kinds first came. Warnings are shown for the first of each kind and
    /// at each power of ten.
    pub fn errors_by_kind(&self) -> &[(&'static str, u64)] {
        self.refused.counts()
    }

    /// The counters, with the receiver's own (resets, frames the target dropped, bounds).
    pub fn stats(&self, receiver: &Receiver) -> SessionStats {
        SessionStats {
            target_resets: receiver.resets(),
            dropped_frames: receiver.dropped_frames(),
            limits: receiver.limit_stats(),
            unresolved_texts: receiver.unresolved_flash_texts(),
            spans_open: receiver.span_count() as u64,
            spans_entered: receiver.entered().len() as u64,
            reconciled: receiver.reconciled(),
            target_capacity: receiver.target_capacity(),
            ..self.stats
        }
    }

    /// Flushes the capture, if any.
    ///
    /// # Errors
    ///
    /// Writing the capture failed.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.capture {
            Some(capture) => capture.flush(),
            None => Ok(()),
        }
    }
}

/// Counts and reports a frame that did not decode: its message, or one of its values (which
/// the receiver reads as it relays them).
#[cold]
fn decode_failed(stats: &mut SessionStats, receiver: &Receiver, error: &impl fmt::Display) {
    stats.decode_errors += 1;
    warn(
        receiver,
        stats.decode_errors,
        format_args!("a frame did not decode ({error}); it was skipped"),
    );
}

/// Writes a boot record the first time a boot's `Hello` is relayed.
fn note_boot(
    capture: &mut Option<CaptureWriter<Box<dyn Write + Send>>>,
    last_boot: &mut Option<BootInfo>,
    receiver: &Receiver,
) -> io::Result<()> {
    let Some(boot) = receiver.boot() else {
        return Ok(());
    };
    if last_boot.as_ref() == Some(boot) {
        return Ok(());
    }
    if let Some(capture) = capture {
        capture.write_boot(boot)?;
    }
    *last_boot = Some(boot.clone());
    Ok(())
}

/// A `WARN` event of the host itself, at the time of the last frame, for the `count`th
/// warning of its kind: only the first and each power of ten are shown (the totals are in
/// [`SessionStats`]).
pub(crate) fn warn(receiver: &Receiver, count: u64, message: fmt::Arguments<'_>) {
    if !throttle::shown(count) {
        return;
    }
    let _time = target_time::set_current_host(receiver.target_time());
    if count == 1 {
        tracing::warn!(target: RECEIVER_TARGET, parent: None, count, "{message}");
    } else {
        tracing::warn!(
            target: RECEIVER_TARGET,
            parent: None,
            count,
            "{message} ({count} of this kind so far; the next report at {})",
            count.saturating_mul(10)
        );
    }
}
