//! An RTT reader driven to its end: RTT reader → [`Pipeline`] (frame splitter → decoder) →
//! [`Receiver`].
//!
//! A [`Session`] owns an [`RttReader`], a [`Pipeline`] and a [`Receiver`], and adds what only
//! an RTT link has: attaching (with a timeout), a defmt channel drained in the same polls,
//! requests on the down channel, pacing, retries, and leaving the channel non-blocking.
//! [`Session::poll`] does one poll of the reader and relays every whole frame it brought;
//! [`Session::run`] polls until a stop flag is set or the target is gone, paced by the reader's
//! [`Pacer`]. What the target sends never stops the stream: bytes that are not a frame, frames
//! that do not decode and frames the receiver refuses are counted in [`SessionStats`] and
//! reported as `WARN` events with target [`rtt_tunnel`](RECEIVER_TARGET), so they show in any
//! output; the next frame is handled normally.
//!
//! With [`Session::with_capture`] every chunk of bytes drained, every target reset the link
//! noticed, and every boot's `Hello` are written to a [capture file](crate::capture), which
//! [`replay`](crate::capture::replay) feeds through this same pipeline later.
//!
//! With [`Session::with_defmt`] the session drains a defmt channel too, in the same polls, and
//! relays its lines among the tracing frames (see [`crate::defmt`]).
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use rtt_tunnel_host::elf::FirmwareElf;
//! use rtt_tunnel_host::gdb::{GdbMemory, GdbOptions};
//! use rtt_tunnel_host::output::{Format, Output};
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_host::rtt::{ChannelSelector, RttOptions, RttReader};
//! use rtt_tunnel_host::session::{RunEnd, RunOptions, Session};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dispatch = Output::new(Format::Compact).filter("trace").dispatch()?;
//! tracing_core::dispatcher::set_global_default(dispatch)?;
//!
//! let elf = FirmwareElf::read("firmware.elf")?;
//! let options = RttOptions::from_elf(&elf)?.up_channel(ChannelSelector::name("rtt-tunnel"));
//! let memory = GdbMemory::connect("127.0.0.1:3333", GdbOptions::default())?;
//! let mut session = Session::new(RttReader::new(memory, options), Receiver::default());
//! let stop = AtomicBool::new(false); // set it from a Ctrl-C handler
//! match session.run(&stop, &RunOptions::default())? {
//!     RunEnd::Exited(code) => eprintln!("the firmware exited with {code}"),
//!     RunEnd::Stopped => eprintln!("stopped"),
//!     RunEnd::Gone(error) => eprintln!("{error}"),
//! }
//! let closed = session.close(); // the up channel is left non-blocking
//! eprintln!("{}", closed.stats);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rtt_tunnel_protocol::Request;

use crate::capture::CaptureWriter;
use crate::defmt::DefmtDecoder;
use crate::memory::{MemoryError, MemoryFlash, TargetMemory};
use crate::pipeline::Pipeline;
use crate::receiver::{Receiver, RECEIVER_TARGET};
use crate::rtt::{Attachment, ChannelSelector, ExtraUp, Pacer, Poll, RttError, RttReader};
use crate::target_time;

pub use crate::pipeline::{SessionStats, MAX_FRAME};
/// Why a session stopped working.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The RTT reader failed: the transport, or a control block that cannot be used.
    #[error(transparent)]
    Rtt(#[from] RttError),
    /// The capture file could not be written.
    #[error("cannot write the capture file: {0}")]
    Capture(#[source] io::Error),
}

impl SessionError {
    /// True when the target or its link is gone for good: polling again cannot succeed.
    pub fn is_target_gone(&self) -> bool {
        matches!(self, SessionError::Rtt(error) if error.is_target_gone())
    }
}

/// How [`Session::run`] ended, when it did not fail.
#[derive(Debug)]
pub enum RunEnd {
    /// The stop flag was set (Ctrl-C).
    Stopped,
    /// The target program exited with this code, as the link reported it (a GDB server's
    /// `W` stop reply: QEMU's semihosting exit).
    Exited(i32),
    /// The target or the link is gone another way: terminated by a signal, connection
    /// closed, probe unplugged. For QEMU, its own exit status says more.
    Gone(RttError),
}

/// How [`Session::run`] polls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// How long to wait for the first attach before giving up with the reader's
    /// [`RttError::NotFound`] (which says where it looked and what to try). `None`: wait
    /// forever. After the first attach, a target that resets is waited for without limit.
    pub attach_timeout: Option<Duration>,
    /// After the stop flag is set (or the target is gone), keep polling while data comes, for
    /// at most this long, so frames already in the ring are not lost.
    pub final_drain: Duration,
    /// How long transport errors that do not mean the target is gone may go on before the run
    /// fails: a chip that stops answering its probe for a moment (it resets, or sleeps with its
    /// debug port off) is polled again, with a `WARN` event, until it answers or this much time
    /// has passed since the first error in a row. Zero: the first such error ends the run.
    pub retry_for: Duration,
}

impl Default for RunOptions {
    /// Wait 10 s for the first attach; drain for at most 1 s at the end; no retries.
    fn default() -> Self {
        RunOptions {
            attach_timeout: Some(Duration::from_secs(10)),
            final_drain: Duration::from_secs(1),
            retry_for: Duration::ZERO,
        }
    }
}

impl RunOptions {
    /// Waits at most `timeout` for the first attach (`None`: forever).
    pub fn attach_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attach_timeout = timeout;
        self
    }

    /// Drains for at most `limit` at the end.
    pub fn final_drain(mut self, limit: Duration) -> Self {
        self.final_drain = limit;
        self
    }

    /// Retries transport errors for up to `window` (see [`retry_for`](Self::retry_for)).
    pub fn retry_for(mut self, window: Duration) -> Self {
        self.retry_for = window;
        self
    }
}

/// What [`Session::close`] leaves.
#[derive(Debug)]
pub struct Closed {
    /// What the session relayed.
    pub stats: SessionStats,
    /// The receiver, to persist or to drop (under the dispatcher it relayed to).
    pub receiver: Receiver,
    /// Whether the up channel was put back into non-blocking mode (a target that is gone
    /// needs no restoring, and gives a target-gone error here).
    pub restore: Result<(), RttError>,
}

/// Drains one target's RTT up channel into a [`Receiver`]. See the [module docs](self).
///
/// All calls, and dropping the session, must run under the dispatcher the receiver relays to.
pub struct Session<M: TargetMemory> {
    reader: RttReader<M>,
    receiver: Receiver,
    relay: Pipeline,
    buffer: Vec<u8>,
    /// One buffer per extra up channel of the reader.
    extra: Vec<Vec<u8>>,
    /// The defmt channel's position among the reader's extra up channels.
    defmt_slot: Option<usize>,
    /// Bytes of extra channels the last poll brought.
    extra_bytes: usize,
    /// Requests sent every time the reader attaches.
    on_attach: Vec<Request>,
    /// What to do when the reader attaches, instead of the `DEBUG` event.
    attach_report: Option<AttachReport>,
    /// Request bytes waiting for room in the down channel.
    pending_down: Vec<u8>,
    attaches: u64,
}

type AttachReport = Box<dyn FnMut(&Attachment) + Send>;

impl<M: TargetMemory> fmt::Debug for Session<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("reader", &self.reader)
            .field("receiver", &self.receiver)
            .field("relay", &self.relay)
            .field("on_attach", &self.on_attach)
            .field("pending_down", &self.pending_down.len())
            .finish_non_exhaustive()
    }
}

impl<M: TargetMemory> Session<M> {
    /// A session draining `reader` into `receiver`. The reader attaches on the first poll.
    pub fn new(reader: RttReader<M>, receiver: Receiver) -> Self {
        Session {
            reader,
            receiver,
            relay: Pipeline::new(),
            buffer: Vec::new(),
            extra: Vec::new(),
            defmt_slot: None,
            extra_bytes: 0,
            on_attach: Vec::new(),
            attach_report: None,
            pending_down: Vec::new(),
            attaches: 0,
        }
    }

    /// Drains the defmt up channel `channel` too, in the same polls (one halt over GDB), and
    /// relays its lines, decoded with `decoder`, among the tracing frames (see
    /// [`crate::defmt`]). `required`: attaching fails when the control block has no such
    /// channel; else the session drains the tracing channel alone. The capture, if any,
    /// records both channels. Call before the first poll.
    pub fn with_defmt(
        mut self,
        decoder: DefmtDecoder,
        channel: ChannelSelector,
        required: bool,
    ) -> Self {
        self.defmt_slot = Some(self.reader.options.extra_up.len());
        self.reader
            .options
            .extra_up
            .push(ExtraUp { channel, required });
        self.extra.push(Vec::new());
        self.relay = self.relay.with_defmt(Some(decoder));
        self
    }

    /// Calls `report` with the attachment every time the reader attaches, instead of relaying
    /// the `DEBUG` event (target `rtt_tunnel`, no target time) the session relays by default:
    /// for a host that shows its own status apart from what the target traces (the CLI
    /// prints it on standard error, so that standard output is the same live and replayed).
    pub fn report_attach(mut self, report: impl FnMut(&Attachment) + Send + 'static) -> Self {
        self.attach_report = Some(Box::new(report));
        self
    }

    /// Records everything drained into `capture` (see [`crate::capture`]): the raw bytes as
    /// they come, each target reset the link notices, and each boot's `Hello` once. Every
    /// record is flushed as it is written.
    pub fn with_capture<W: Write + Send + 'static>(mut self, capture: CaptureWriter<W>) -> Self {
        self.relay = self.relay.with_capture(capture);
        self
    }

    /// Sends these requests every time the reader attaches (the first time, and again after
    /// each target reset): [`Request::ResendAll`] for a host that attaches to a running
    /// target, [`Request::SetLevel`] to keep a level across resets. Needs a down channel
    /// ([`RttOptions::down_channel`](crate::rtt::RttOptions::down_channel)).
    pub fn on_attach(mut self, requests: impl IntoIterator<Item = Request>) -> Self {
        self.on_attach.extend(requests);
        self
    }

    /// One poll: attach if not attached, else drain the up channel and relay every whole
    /// frame; send request bytes that wait for room.
    ///
    /// Returns what the reader did. Errors only for the transport, a control block that
    /// cannot be used (see [`RttReader::poll`]), or a capture that cannot be written; never
    /// for what the target sent. An [`RttError::Corrupt`] ring is let go (the next poll
    /// searches again) and a frame cut by it discarded.
    pub fn poll(&mut self) -> Result<Poll, SessionError> {
        self.buffer.clear();
        for buffer in &mut self.extra {
            buffer.clear();
        }
        self.extra_bytes = 0;
        let poll = match self.reader.poll_channels(&mut self.buffer, &mut self.extra) {
            Ok(poll) => poll,
            Err(error) => {
                if matches!(error, RttError::Corrupt { .. }) {
                    self.relay.forget_partial_frame();
                    self.pending_down.clear();
                }
                return Err(error.into());
            }
        };
        match &poll {
            Poll::Data(n) => {
                self.extra_bytes = self.extra.iter().map(Vec::len).sum();
                let defmt = self
                    .defmt_slot
                    .map_or(&[][..], |slot| self.extra[slot].as_slice());
                if *n > 0 || !defmt.is_empty() {
                    // Texts sent by reference that the receiver has from nowhere else (no
                    // ELF) are read from the target's memory, once.
                    let mut flash = MemoryFlash::new(self.reader.memory_mut());
                    self.relay
                        .feed_poll_with(
                            &mut self.buffer,
                            defmt,
                            &mut self.receiver,
                            Some(&mut flash),
                        )
                        .map_err(SessionError::Capture)?;
                    // The target went while a text was read: the session ends as a poll
                    // would have ended it.
                    if let Some(error) = flash.gone() {
                        return Err(RttError::Memory(error).into());
                    }
                }
            }
            Poll::Attached(attachment) => self.attached(attachment)?,
            Poll::Reset(cause) => {
                // Half a request frame would be garbage to the new boot.
                self.pending_down.clear();
                self.relay
                    .link_reset(&cause.to_string(), &self.receiver)
                    .map_err(SessionError::Capture)?;
            }
            _ => {}
        }
        self.flush_down()?;
        Ok(poll)
    }

    fn attached(&mut self, attachment: &Attachment) -> Result<(), SessionError> {
        self.attaches += 1;
        match &mut self.attach_report {
            Some(report) => report(attachment),
            // A host event: no target time.
            None => tracing::debug!(
                target: RECEIVER_TARGET,
                parent: None,
                "attached to {attachment}"
            ),
        }
        let requests = self.on_attach.clone();
        for request in requests {
            self.request(request)?;
        }
        Ok(())
    }

    /// Sends `request` on the down channel, framed. Returns whether all of it is in the ring
    /// now; the rest (when the ring is full, or the reader is not attached yet) goes out with
    /// the next polls, in order. Requests still waiting when the target resets are dropped:
    /// the new boot did not ask for them.
    ///
    /// # Errors
    ///
    /// [`RttError::NoDownChannel`] when no down channel was selected; transport errors.
    pub fn request(&mut self, request: Request) -> Result<bool, SessionError> {
        if self.reader.options().down.is_none() {
            return Err(RttError::NoDownChannel.into());
        }
        crate::pipeline::queue_request(&mut self.pending_down, request);
        self.flush_down()?;
        Ok(self.pending_down.is_empty())
    }

    /// Writes what fits of the waiting request bytes.
    fn flush_down(&mut self) -> Result<(), SessionError> {
        if self.pending_down.is_empty() || self.reader.attachment().is_none() {
            return Ok(());
        }
        match self.reader.write_down(&self.pending_down) {
            Ok(n) => {
                self.pending_down.drain(..n);
                Ok(())
            }
            // The next poll sees the reset and re-attaches.
            Err(RttError::ControlBlockChanged) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Request bytes waiting for room in the down channel.
    pub fn pending_request_bytes(&self) -> usize {
        self.pending_down.len()
    }

    /// Polls until `stop` is set or the target is gone, pausing between polls as the
    /// reader's [`Pacer`] says. At the end it keeps polling while data comes (at most
    /// [`RunOptions::final_drain`]), so frames already in the ring are relayed.
    ///
    /// A corrupt ring is reported as a `WARN` event and searched for again.
    ///
    /// # Errors
    ///
    /// No control block within [`RunOptions::attach_timeout`] ([`RttError::NotFound`]), a
    /// control block that cannot be used, a transport error that does not mean the target is
    /// gone, a capture that cannot be written.
    pub fn run(&mut self, stop: &AtomicBool, options: &RunOptions) -> Result<RunEnd, SessionError> {
        let start = Instant::now();
        let mut pacer = Pacer::new(self.reader.memory().halts_in_batch());
        // When the current run of transport errors began.
        let mut failing_since: Option<Instant> = None;
        loop {
            if stop.load(Ordering::Relaxed) {
                self.final_drain(options.final_drain);
                return Ok(RunEnd::Stopped);
            }
            let ring = self.reader.attachment().map_or(0, |a| a.up.size as usize);
            let polled = self.poll();
            if polled.is_ok() {
                failing_since = None;
            }
            let bytes = match polled {
                Ok(Poll::Data(n)) => n + self.extra_bytes,
                Ok(Poll::Waiting) => {
                    self.check_attach_timeout(start, options)?;
                    0
                }
                Ok(_) => 0,
                Err(SessionError::Rtt(error)) if error.is_target_gone() => {
                    self.final_drain(options.final_drain);
                    return Ok(match error {
                        RttError::Memory(MemoryError::TargetExited { code }) => {
                            RunEnd::Exited(code)
                        }
                        error => RunEnd::Gone(error),
                    });
                }
                Err(SessionError::Rtt(error @ RttError::Corrupt { .. })) => {
                    let _time = target_time::set_current(self.receiver.target_time());
                    tracing::warn!(
                        target: RECEIVER_TARGET,
                        parent: None,
                        "{error}; searching for the control block again"
                    );
                    0
                }
                Err(SessionError::Rtt(RttError::Memory(error)))
                    if failing_since.is_none_or(|since| since.elapsed() < options.retry_for)
                        && !options.retry_for.is_zero() =>
                {
                    if failing_since.is_none() {
                        failing_since = Some(Instant::now());
                        let _time = target_time::set_current(self.receiver.target_time());
                        tracing::warn!(
                            target: RECEIVER_TARGET,
                            parent: None,
                            "{error}; trying again for up to {:?}",
                            options.retry_for
                        );
                    }
                    0
                }
                Err(error) => return Err(error),
            };
            std::thread::sleep(pacer.next(bytes, ring));
        }
    }

    fn check_attach_timeout(
        &mut self,
        start: Instant,
        options: &RunOptions,
    ) -> Result<(), SessionError> {
        let Some(timeout) = options.attach_timeout else {
            return Ok(());
        };
        if self.attaches > 0 || start.elapsed() < timeout {
            return Ok(());
        }
        // One more look, which says where it looked when it finds nothing.
        let attachment = self.reader.attach()?.clone();
        self.attached(&attachment)
    }

    /// Polls while data comes, for at most `limit`; errors end it quietly (a target that is
    /// gone cannot be drained).
    fn final_drain(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit && self.reader.attachment().is_some() {
            match self.poll() {
                Ok(Poll::Data(n)) if n > 0 => {}
                _ => break,
            }
        }
    }

    /// What the session relayed so far.
    pub fn stats(&self) -> SessionStats {
        self.relay.stats(&self.receiver)
    }

    /// The receiver.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The receiver, mutably.
    pub fn receiver_mut(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    /// The RTT reader.
    pub fn reader(&self) -> &RttReader<M> {
        &self.reader
    }

    /// The RTT reader, mutably (for the transport's own calls: do not poll it behind the
    /// session's back, or the frames it drains are lost).
    pub fn reader_mut(&mut self) -> &mut RttReader<M> {
        &mut self.reader
    }

    /// Ends the session: puts the up channel back into a non-blocking mode (see
    /// [`RttReader::close`]), flushes the capture, and hands back the receiver with the
    /// counters. Dropping a session restores the channel too, ignoring errors.
    pub fn close(mut self) -> Closed {
        let restore = self.reader.close();
        if let Err(error) = self.relay.flush() {
            let _time = target_time::set_current(self.receiver.target_time());
            tracing::warn!(target: RECEIVER_TARGET, parent: None, "cannot flush the capture file: {error}");
        }
        Closed {
            stats: self.relay.stats(&self.receiver),
            receiver: self.receiver,
            restore,
        }
    }
}
