//! Any stream of bytes into the pipeline: the [`ByteSource`] seam, and [`Drain`], the loop
//! that pulls from one and feeds a [`Pipeline`]. Besides bytes and resets, a source may give
//! texts sent by reference that it already has resolved (a recording's: [`Pulled::FlashText`]);
//! the drain hands them to the [`Receiver`] before the bytes that follow.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rtt_tunnel_protocol::Request;

use super::{Pipeline, SessionStats};
use crate::memory::TargetMemory;
use crate::receiver::Receiver;
use crate::rtt::{Poll, RttError, RttReader};

/// Where a pipeline's bytes come from: the frames the target writes, in order, in chunks of
/// any size.
///
/// Implemented by `serial::SerialSource` (a UART, feature `serial`), by
/// [`RttReader`] (one up channel of an RTT control block in target memory) and by
/// [`CaptureSource`](crate::capture::CaptureSource) (a recording).
pub trait ByteSource {
    /// Appends the bytes that are there now to `buf` and says what happened. When nothing is
    /// there, a source may wait a short while (tens of milliseconds) for bytes: [`Drain`]
    /// calls it again at once.
    ///
    /// # Errors
    ///
    /// The source failed; the drain stops with the error.
    fn pull(&mut self, buf: &mut Vec<u8>) -> io::Result<Pulled>;

    /// Sends `bytes` (request frames, see [`Request`]) to the target; returns how many the
    /// source took now (the rest is offered again later). A source with no way back takes
    /// none, which is the default.
    ///
    /// # Errors
    ///
    /// The source failed.
    fn push(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let _ = bytes;
        Ok(0)
    }
}

/// What one [`ByteSource::pull`] brought.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pulled {
    /// This many bytes were appended (0: none this time).
    Data(usize),
    /// The link noticed that the target reset, for this reason: a frame cut by the reset is
    /// discarded.
    Reset(String),
    /// A text the target sends by reference (the protocol's `Value::FlashText`), already
    /// resolved: a recording holds the texts its live run read from the ELF or target memory.
    /// [`Drain`] gives it to the receiver
    /// ([`Receiver::preload_flash_text`](crate::receiver::Receiver::preload_flash_text))
    /// before the bytes that follow, so their references show it.
    FlashText {
        /// Its target address.
        address: u64,
        /// The text.
        text: String,
    },
    /// No more bytes will come: the end of a recording, a port that hung up.
    Ended,
}

/// How [`Drain::run`] ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// The stop flag was set.
    Stopped,
    /// The source ended ([`Pulled::Ended`]).
    Ended,
}

/// Why a [`Drain`] stopped working.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrainError {
    /// The byte source failed.
    #[error("the byte source failed: {0}")]
    Source(#[source] io::Error),
    /// The capture file could not be written.
    #[error("cannot write the capture file: {0}")]
    Capture(#[source] io::Error),
}

/// Feeds what a [`ByteSource`] brings through a [`Pipeline`] into a [`Receiver`], and sends
/// requests back when the source has a way back.
///
/// ```
/// use std::io;
/// use std::sync::atomic::AtomicBool;
/// use rtt_tunnel_host::pipeline::{ByteSource, Drain, DrainEnd, Pipeline, Pulled};
/// use rtt_tunnel_host::receiver::Receiver;
///
/// /// Bytes already in memory, handed out at once.
/// struct Bytes(Option<Vec<u8>>);
///
/// impl ByteSource for Bytes {
///     fn pull(&mut self, buf: &mut Vec<u8>) -> io::Result<Pulled> {
///         Ok(match self.0.take() {
///             Some(bytes) => {
///                 buf.extend_from_slice(&bytes);
///                 Pulled::Data(bytes.len())
///             }
///             None => Pulled::Ended,
///         })
///     }
/// }
///
/// let mut receiver = Receiver::default();
/// let mut drain = Drain::new(Bytes(Some(vec![0x02, 0x07, 0x00])), Pipeline::new());
/// let end = drain.run(&mut receiver, &AtomicBool::new(false))?;
/// assert_eq!(end, DrainEnd::Ended);
/// // One frame, which is not a message: counted, reported, skipped.
/// assert_eq!(drain.stats(&receiver).decode_errors, 1);
/// # Ok::<(), rtt_tunnel_host::pipeline::DrainError>(())
/// ```
pub struct Drain<S> {
    source: S,
    pipeline: Pipeline,
    buffer: Vec<u8>,
    /// Request bytes the source has not taken yet.
    pending_down: Vec<u8>,
}

impl<S> fmt::Debug for Drain<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("pipeline", &self.pipeline)
            .field("pending_down", &self.pending_down.len())
            .finish_non_exhaustive()
    }
}

/// How long [`Drain::run`] pauses after a pull that brought nothing, so that a source that
/// does not wait itself is not polled in a busy loop.
const IDLE_PAUSE: Duration = Duration::from_millis(1);

impl<S: ByteSource> Drain<S> {
    /// Drains `source` through `pipeline`.
    pub fn new(source: S, pipeline: Pipeline) -> Self {
        Drain {
            source,
            pipeline,
            buffer: Vec::new(),
            pending_down: Vec::new(),
        }
    }

    /// Sends `request`, framed, through the source; what it does not take now goes with the
    /// next pulls, in order. Returns whether all of it went.
    ///
    /// # Errors
    ///
    /// The source failed.
    pub fn request(&mut self, request: Request) -> Result<bool, DrainError> {
        queue_request(&mut self.pending_down, request);
        self.flush_down()?;
        Ok(self.pending_down.is_empty())
    }

    fn flush_down(&mut self) -> Result<(), DrainError> {
        if !self.pending_down.is_empty() {
            let n = self
                .source
                .push(&self.pending_down)
                .map_err(DrainError::Source)?;
            self.pending_down.drain(..n.min(self.pending_down.len()));
        }
        Ok(())
    }

    /// One pull: relays every whole frame it brought, handles a reset, gives the receiver a
    /// resolved text, sends request bytes that wait.
    ///
    /// # Errors
    ///
    /// The source failed, or the capture could not be written.
    pub fn poll(&mut self, receiver: &mut Receiver) -> Result<Pulled, DrainError> {
        self.buffer.clear();
        let pulled = self
            .source
            .pull(&mut self.buffer)
            .map_err(DrainError::Source)?;
        match &pulled {
            Pulled::Ended => {
                self.pipeline.finish(receiver);
            }
            Pulled::Data(_) if !self.buffer.is_empty() => {
                self.pipeline
                    .feed(&mut self.buffer, receiver)
                    .map_err(DrainError::Capture)?;
            }
            Pulled::Reset(cause) => {
                self.pending_down.clear();
                self.pipeline
                    .link_reset(cause, receiver)
                    .map_err(DrainError::Capture)?;
            }
            Pulled::FlashText { address, text } => receiver.preload_flash_text(*address, text),
            _ => {}
        }
        self.flush_down()?;
        Ok(pulled)
    }

    /// Pulls until `stop` is set or the source ends.
    ///
    /// # Errors
    ///
    /// The source failed, or the capture could not be written.
    pub fn run(
        &mut self,
        receiver: &mut Receiver,
        stop: &AtomicBool,
    ) -> Result<DrainEnd, DrainError> {
        loop {
            if stop.load(Ordering::Relaxed) {
                self.pipeline.flush().map_err(DrainError::Capture)?;
                return Ok(DrainEnd::Stopped);
            }
            match self.poll(receiver)? {
                Pulled::Ended => {
                    self.pipeline.flush().map_err(DrainError::Capture)?;
                    return Ok(DrainEnd::Ended);
                }
                Pulled::Data(0) => std::thread::sleep(IDLE_PAUSE),
                _ => {}
            }
        }
    }

    /// What the drain relayed so far.
    pub fn stats(&self, receiver: &Receiver) -> SessionStats {
        self.pipeline.stats(receiver)
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The source, mutably.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// The source and the pipeline back.
    pub fn into_parts(self) -> (S, Pipeline) {
        (self.source, self.pipeline)
    }
}

/// One up channel of an RTT control block ([`RttOptions::up`](crate::rtt::RttOptions)), its
/// requests on the down channel. Not attached yet or re-attaching is `Data(0)`; a control
/// block that changed is a `Reset`. [`Session`](crate::session::Session) drives a reader with
/// more (a defmt channel in the same polls, attach timeouts, retries, a pacer); this is the
/// reader as a plain source.
impl<M: TargetMemory> ByteSource for RttReader<M> {
    fn pull(&mut self, buf: &mut Vec<u8>) -> io::Result<Pulled> {
        match self.poll(buf) {
            Ok(Poll::Data(n)) => Ok(Pulled::Data(n)),
            Ok(Poll::Reset(cause)) => Ok(Pulled::Reset(cause.to_string())),
            Ok(_) => Ok(Pulled::Data(0)),
            Err(error) if error.is_target_gone() => Ok(Pulled::Ended),
            Err(error) => Err(io::Error::other(error)),
        }
    }

    fn push(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.write_down(bytes) {
            Ok(n) => Ok(n),
            // Not attached yet, or the block changed: offered again after the next pull.
            Err(RttError::NotAttached | RttError::ControlBlockChanged) => Ok(0),
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

/// Appends `request`, framed, to the bytes waiting for the target's down channel or RX line.
pub(crate) fn queue_request(pending: &mut Vec<u8>, request: Request) {
    let mut frame = [0u8; 32];
    let n = request
        .encode_frame(&mut frame)
        .expect("a request frame is a few bytes");
    pending.extend_from_slice(&frame[..n]);
}
