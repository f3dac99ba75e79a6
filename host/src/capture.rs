//! Capture files: what a session drained, recorded to be replayed later.
//!
//! One format for recordings of live runs and for the test fixtures. A capture holds
//! the raw bytes as they were drained (not decoded frames), so a replay goes through exactly
//! the path of a live session — the same splitter, decoder and [`Receiver`] — and shows the
//! same frame errors, the same resets and the same output.
//!
//! ```text
//! header:  magic "RTTTCAPT" (8 bytes)
//!          format version   u16 LE   (FORMAT_VERSION, 1)
//!          protocol version u16 LE   (rtt_tunnel_protocol::PROTOCOL_VERSION of the recorder)
//! records: kind u8, len u32 LE, payload (len bytes), until the end of the file
//!   0  data   the raw bytes of one drain of the up channel
//!   1  reset  the link noticed the target reset; payload: the cause, UTF-8 text
//!   2  boot   a boot's Hello, written the first time it was relayed;
//!             payload: boot u32 LE, tick_hz u64 LE, firmware identity (UTF-8, the rest)
//!   3  data+defmt  one poll that drained a defmt channel too (`Session::with_defmt`);
//!             payload: defmt length u32 LE, the defmt bytes, then the up channel's bytes
//!   4  flash text  a text the target sent by reference (protocol `Value::FlashText`), as the
//!             host read it from the ELF or target memory, after the record whose frames
//!             needed it; payload: target address u64 LE, the text (UTF-8, the rest)
//! ```
//!
//! Format 2 (rtt-tunnel protocol 3) added kind 4; a file of format 1 holds frames of
//! protocol 2, which this host does not read either, and is refused with
//! [`CaptureError::UnsupportedFormat`]. A replay ([`replay_with`], or a
//! [`Drain`](crate::pipeline::Drain) of a [`CaptureSource`], which yields them as
//! [`Pulled::FlashText`]) gives the recorded texts to the receiver before the frames of the
//! record they follow, so it needs neither the target nor the ELF.
//!
//! What the capture says about its source: the header, the protocol version of the frames;
//! each boot record, the firmware identity, the boot number and the tick rate of the target's
//! clock, from the boot's `Hello` ([`summarize`] collects them). A capture of a host that
//! attached to a running target without asking for a re-send has no boot record until the
//! target resets.
//!
//! Other kinds are reserved: a reader yields them as [`Record::Unknown`] and a replay skips
//! them (so a host that predates kind 3 replays the tracing frames of such a capture and skips
//! its defmt lines). The [`CaptureWriter`] writes each record with one write and flushes it, so a file is
//! complete up to the last byte drained even when the link or the host dies; a file cut in
//! the middle of a record (a killed host) replays up to that record.
//!
//! defmt lines are recorded as the raw bytes of the defmt channel, not decoded: a replay needs
//! the firmware's defmt table, from its ELF ([`replay_with`]).
//!
//! ```
//! use rtt_tunnel_host::capture::{CaptureReader, CaptureWriter, Record};
//!
//! let mut writer = CaptureWriter::new(Vec::new())?;
//! writer.write_data(&[0x02, 0x01, 0x00])?;
//! writer.write_reset("the RTT control block is gone")?;
//! let file = writer.into_inner();
//!
//! let records: Vec<Record> = CaptureReader::new(&file[..])?.collect::<Result<_, _>>()?;
//! assert_eq!(records[0], Record::Data(vec![0x02, 0x01, 0x00]));
//! assert_eq!(records[1], Record::Reset { cause: "the RTT control block is gone".into() });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use rtt_tunnel_protocol::PROTOCOL_VERSION;

use crate::defmt::DefmtDecoder;
use crate::pipeline::{ByteSource, Pipeline, Pulled, SessionStats};
use crate::receiver::{BootInfo, Receiver, RECEIVER_TARGET};
use crate::target_time;

/// The first 8 bytes of a capture file.
pub const MAGIC: [u8; 8] = *b"RTTTCAPT";
/// The version of the capture format this host writes and reads.
pub const FORMAT_VERSION: u16 = 2;
/// The largest record a reader accepts: a record is one poll, at most one ring (and the
/// defmt ring beside it), and the RTT reader takes no ring over 16 MiB
/// ([`layout::MAX_BUFFER_SIZE`](crate::rtt::layout::MAX_BUFFER_SIZE)). A longer record is
/// corrupt, not cut off.
pub const MAX_RECORD: u32 = 2 * crate::rtt::layout::MAX_BUFFER_SIZE + 4;

/// Record kinds.
const KIND_DATA: u8 = 0;
const KIND_RESET: u8 = 1;
const KIND_BOOT: u8 = 2;
const KIND_DATA_DEFMT: u8 = 3;
const KIND_FLASH_TEXT: u8 = 4;

const HEADER_LEN: usize = 12;

/// One record of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The raw bytes of one drain of the up channel.
    Data(Vec<u8>),
    /// The link noticed the target reset (the control block vanished or was laid out again):
    /// a frame cut by it must be discarded.
    Reset {
        /// What the link saw.
        cause: String,
    },
    /// The `Hello` of a boot, the first time it was relayed.
    Boot(BootInfo),
    /// One poll that drained a defmt channel too.
    DataWithDefmt {
        /// The raw bytes of the up channel (possibly none).
        data: Vec<u8>,
        /// The raw bytes of the defmt channel.
        defmt: Vec<u8>,
    },
    /// A text the target sent by reference, as the host resolved it.
    FlashText {
        /// Its target address.
        address: u64,
        /// The text.
        text: String,
    },
    /// A record of a kind this host does not know.
    Unknown {
        /// Its kind.
        kind: u8,
        /// Its payload.
        payload: Vec<u8>,
    },
}

/// Why a capture could not be read or replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading or writing the file failed.
    #[error("capture file {}: {source}", .path.display())]
    Io {
        /// The file (`<stream>` for a reader or writer not made from a path).
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file does not start with the capture magic.
    #[error("{} is not an rtt-tunnel capture (it does not start with {:?})", .path.display(), String::from_utf8_lossy(&MAGIC))]
    NotACapture {
        /// The file.
        path: PathBuf,
    },
    /// The file is in a capture format this host does not read.
    #[error("{} is in capture format {found}, this host reads format {FORMAT_VERSION}", .path.display())]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// Its format version.
        found: u16,
    },
    /// The capture was recorded from a target that speaks another protocol version.
    #[error("{} was recorded with protocol version {found}, this host speaks {PROTOCOL_VERSION}", .path.display())]
    ProtocolVersion {
        /// The file.
        path: PathBuf,
        /// The protocol version in its header.
        found: u16,
    },
    /// The file ends inside its 12-byte header.
    #[error("{} ends after {len} bytes, inside the {HEADER_LEN}-byte header of a capture: the recording was cut off before it began", .path.display())]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The file ends in the middle of a record (the recorder was killed while writing it).
    #[error("{} ends in the middle of a record at byte {offset}: the recording was cut off", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the cut record starts.
        offset: u64,
    },
    /// A record is malformed.
    #[error("{} is corrupt at byte {offset}: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Writes a capture: the header at once, then one record per call, each flushed.
#[derive(Debug)]
pub struct CaptureWriter<W: Write> {
    inner: W,
    scratch: Vec<u8>,
    records: u64,
}

impl CaptureWriter<File> {
    /// Creates (or truncates) the file at `path` and writes the header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot create {}: {error}", path.display()),
            )
        })?;
        Self::new(file)
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the header into `inner`.
    pub fn new(mut inner: W) -> io::Result<Self> {
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        header[10..12].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        inner.write_all(&header)?;
        inner.flush()?;
        Ok(CaptureWriter {
            inner,
            scratch: Vec::new(),
            records: 0,
        })
    }

    /// Records the raw bytes of one drain.
    pub fn write_data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_record(KIND_DATA, &[bytes])
    }

    /// Records one poll's bytes of the up channel and of the defmt channel.
    pub fn write_data_with_defmt(&mut self, data: &[u8], defmt: &[u8]) -> io::Result<()> {
        let len = u32::try_from(defmt.len())
            .map_err(|_| io::Error::other(format!("{} defmt bytes in one poll", defmt.len())))?;
        self.write_record(KIND_DATA_DEFMT, &[&len.to_le_bytes(), defmt, data])
    }

    /// Records that the link noticed a target reset.
    pub fn write_reset(&mut self, cause: &str) -> io::Result<()> {
        self.write_record(KIND_RESET, &[cause.as_bytes()])
    }

    /// Records a boot's `Hello`.
    pub fn write_boot(&mut self, boot: &BootInfo) -> io::Result<()> {
        self.write_record(
            KIND_BOOT,
            &[
                &boot.boot.to_le_bytes(),
                &boot.tick_hz.to_le_bytes(),
                boot.firmware.as_bytes(),
            ],
        )
    }

    /// Records the text at target `address` that the target sent by reference.
    pub fn write_flash_text(&mut self, address: u64, text: &str) -> io::Result<()> {
        self.write_record(KIND_FLASH_TEXT, &[&address.to_le_bytes(), text.as_bytes()])
    }

    /// Writes one record of `kind` whose payload is `parts` one after the other, with one
    /// write, and flushes.
    fn write_record(&mut self, kind: u8, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .ok()
            .filter(|&len| len <= MAX_RECORD)
            .ok_or_else(|| io::Error::other(format!("a capture record of {len} bytes")))?;
        self.scratch.clear();
        self.scratch.push(kind);
        self.scratch.extend_from_slice(&len.to_le_bytes());
        for part in parts {
            self.scratch.extend_from_slice(part);
        }
        self.inner.write_all(&self.scratch)?;
        self.inner.flush()?;
        self.records += 1;
        Ok(())
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes the writer underneath (every record is flushed already).
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The writer underneath.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Gives the writer underneath back.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The same writer behind a `Box<dyn Write>`.
    pub fn boxed(self) -> CaptureWriter<Box<dyn Write + Send>>
    where
        W: Send + 'static,
    {
        CaptureWriter {
            inner: Box::new(self.inner),
            scratch: self.scratch,
            records: self.records,
        }
    }
}

/// Reads a capture: checks the header, then yields its [`Record`]s.
#[derive(Debug)]
pub struct CaptureReader<R: Read> {
    inner: R,
    path: PathBuf,
    protocol_version: u16,
    offset: u64,
    done: bool,
}

impl CaptureReader<io::BufReader<File>> {
    /// Opens the capture at `path` and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::named(io::BufReader::new(file), path.to_owned())
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the header from `inner`.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        Self::named(inner, PathBuf::from("<stream>"))
    }

    fn named(mut inner: R, path: PathBuf) -> Result<Self, CaptureError> {
        let mut header = [0u8; HEADER_LEN];
        match read_full(&mut inner, &mut header) {
            Ok(n) if n >= MAGIC.len() && header[..8] == MAGIC && n == HEADER_LEN => {}
            Ok(n) if n >= MAGIC.len() && header[..8] == MAGIC => {
                return Err(CaptureError::TruncatedHeader { path, len: n })
            }
            Ok(n) if n < MAGIC.len() && n > 0 && header[..n] == MAGIC[..n] => {
                return Err(CaptureError::TruncatedHeader { path, len: n })
            }
            Ok(_) => return Err(CaptureError::NotACapture { path }),
            Err(source) => return Err(CaptureError::Io { path, source }),
        }
        let format = u16::from_le_bytes([header[8], header[9]]);
        if format != FORMAT_VERSION {
            return Err(CaptureError::UnsupportedFormat {
                path,
                found: format,
            });
        }
        Ok(CaptureReader {
            inner,
            path,
            protocol_version: u16::from_le_bytes([header[10], header[11]]),
            offset: HEADER_LEN as u64,
            done: false,
        })
    }

    /// The protocol version of the host that recorded the capture.
    pub fn protocol_version(&self) -> u16 {
        self.protocol_version
    }

    /// The file's path (`<stream>` when not opened from a path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut head = [0u8; 5];
        let n = read_full(&mut self.inner, &mut head).map_err(|e| self.io(e))?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        if n < head.len() {
            self.done = true;
            return Err(self.truncated(start));
        }
        let kind = head[0];
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_RECORD {
            return Err(self.corrupt(
                start,
                format!("a record of {len} bytes, more than the {MAX_RECORD} allowed"),
            ));
        }
        // Read what is there, not what the length claims: memory follows the file.
        let mut payload = Vec::new();
        let read = (&mut self.inner)
            .take(u64::from(len))
            .read_to_end(&mut payload);
        let n = read.map_err(|e| self.io(e))?;
        if n < len as usize {
            self.done = true;
            return Err(self.truncated(start));
        }
        self.offset += 5 + u64::from(len);
        let record = match kind {
            KIND_DATA => Record::Data(payload),
            KIND_RESET => Record::Reset {
                cause: String::from_utf8_lossy(&payload).into_owned(),
            },
            KIND_BOOT => {
                if payload.len() < 12 {
                    return Err(self.corrupt(
                        start,
                        format!("a boot record of {} bytes, less than 12", payload.len()),
                    ));
                }
                let (boot, rest) = payload.split_at(4);
                let (tick_hz, firmware) = rest.split_at(8);
                Record::Boot(BootInfo {
                    boot: u32::from_le_bytes(boot.try_into().expect("4 bytes")),
                    tick_hz: u64::from_le_bytes(tick_hz.try_into().expect("8 bytes")),
                    firmware: String::from_utf8_lossy(firmware).into_owned(),
                })
            }
            KIND_DATA_DEFMT => {
                let len = payload
                    .get(..4)
                    .map(|len| u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize)
                    .filter(|&len| len <= payload.len() - 4);
                let Some(len) = len else {
                    return Err(self.corrupt(
                        start,
                        "a data+defmt record whose defmt length runs past its end",
                    ));
                };
                let data = payload.split_off(4 + len);
                payload.drain(..4);
                Record::DataWithDefmt {
                    data,
                    defmt: payload,
                }
            }
            KIND_FLASH_TEXT => {
                if payload.len() < 8 {
                    return Err(self.corrupt(
                        start,
                        format!(
                            "a flash text record of {} bytes, less than 8",
                            payload.len()
                        ),
                    ));
                }
                let (address, text) = payload.split_at(8);
                Record::FlashText {
                    address: u64::from_le_bytes(address.try_into().expect("8 bytes")),
                    text: String::from_utf8_lossy(text).into_owned(),
                }
            }
            kind => Record::Unknown { kind, payload },
        };
        Ok(Some(record))
    }

    fn io(&mut self, source: io::Error) -> CaptureError {
        self.done = true;
        CaptureError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// A record that cannot be what it claims: the reader ends there.
    fn corrupt(&mut self, offset: u64, reason: impl Into<String>) -> CaptureError {
        self.done = true;
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn truncated(&self, offset: u64) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            offset,
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Record, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(n)
}

/// Replays a capture into `receiver` through the same pipeline as a live
/// [`Session`](crate::session::Session): data records go through the frame splitter, the
/// decoder and the receiver; reset records discard a frame cut by the reset. Frame, decode and
/// receive errors are counted and reported as `WARN` events, as live. Boot and unknown records
/// are skipped. Call under the dispatcher to relay to.
///
/// A file cut in the middle of its last record replays up to there, with a `WARN` event.
///
/// The defmt bytes of a capture recorded with a defmt channel are skipped (and counted in
/// [`SessionStats::defmt_bytes`]): [`replay_with`] decodes them.
///
/// # Errors
///
/// A capture of another protocol version ([`CaptureError::ProtocolVersion`]), an I/O error,
/// a corrupt record.
pub fn replay<R: Read>(
    capture: &mut CaptureReader<R>,
    receiver: &mut Receiver,
) -> Result<SessionStats, CaptureError> {
    replay_with(capture, receiver, None)
}

/// [`replay`], decoding the defmt lines of the capture with `defmt` (the firmware's table,
/// from its ELF) and relaying them among the tracing frames exactly as the live session did;
/// `None` skips them, as [`replay`] does.
///
/// # Errors
///
/// As [`replay`].
pub fn replay_with<R: Read>(
    capture: &mut CaptureReader<R>,
    receiver: &mut Receiver,
    defmt: Option<DefmtDecoder>,
) -> Result<SessionStats, CaptureError> {
    if capture.protocol_version() != PROTOCOL_VERSION {
        return Err(CaptureError::ProtocolVersion {
            path: capture.path().to_owned(),
            found: capture.protocol_version(),
        });
    }
    let mut relay = Pipeline::new().with_defmt(defmt);
    let io = |source| CaptureError::Io {
        path: PathBuf::from("<replay>"),
        source,
    };
    let mut records = TextsFirst::default();
    loop {
        match records.next_record(capture) {
            Ok(None) => break,
            Ok(Some(Record::FlashText { address, text })) => {
                receiver.preload_flash_text(address, &text);
            }
            Ok(Some(Record::Data(mut bytes))) => {
                relay.feed(&mut bytes, receiver).map_err(io)?;
            }
            Ok(Some(Record::DataWithDefmt { mut data, defmt })) => {
                relay.feed_poll(&mut data, &defmt, receiver).map_err(io)?;
            }
            Ok(Some(Record::Reset { cause })) => relay.link_reset(&cause, receiver).map_err(io)?,
            Ok(Some(Record::Boot(_) | Record::Unknown { .. })) => {}
            Err(error @ CaptureError::Truncated { .. }) => {
                let _time = target_time::set_current(receiver.target_time());
                tracing::warn!(target: RECEIVER_TARGET, parent: None, "{error}");
                break;
            }
            Err(error) => return Err(error),
        }
    }
    relay.finish(receiver);
    Ok(relay.stats(receiver))
}

/// A recording as a [`ByteSource`]: the tracing channel's bytes of each poll, in order, the
/// target resets the link noticed, and the texts sent by reference that the live run resolved
/// ([`Pulled::FlashText`]), each before the poll whose frames needed it, as [`replay_with`]
/// gives them; then [`Pulled::Ended`]. defmt bytes and boot records are passed over (a
/// [`replay_with`] relays the defmt lines too). A file cut short ends where it was cut, with a
/// `WARN` event.
#[derive(Debug)]
pub struct CaptureSource<R: Read> {
    reader: CaptureReader<R>,
    records: TextsFirst,
}

/// The records of a capture in the order a relay needs them: the texts sent by reference
/// recorded after a record (among boot records) are the ones its frames needed, so they come
/// first, then the record. Boot records among those texts are passed over.
#[derive(Debug, Default)]
struct TextsFirst {
    /// What the next calls give before reading on: the texts recorded after a record, then
    /// that record.
    ready: VecDeque<Record>,
    /// The record read past those texts, not given yet.
    next: Option<Result<Option<Record>, CaptureError>>,
}

impl TextsFirst {
    /// The next record of `reader` in that order.
    fn next_record<R: Read>(
        &mut self,
        reader: &mut CaptureReader<R>,
    ) -> Result<Option<Record>, CaptureError> {
        if let Some(record) = self.ready.pop_front() {
            return Ok(Some(record));
        }
        let record = match self.next.take() {
            Some(record) => record?,
            None => reader.next_record()?,
        };
        let Some(record) = record else {
            return Ok(None);
        };
        loop {
            match reader.next_record() {
                Ok(Some(text @ Record::FlashText { .. })) => self.ready.push_back(text),
                Ok(Some(Record::Boot(_))) => {}
                next => {
                    self.next = Some(next);
                    break;
                }
            }
        }
        self.ready.push_back(record);
        Ok(self.ready.pop_front())
    }
}

impl<R: Read> CaptureSource<R> {
    /// The records of `reader`, from where it is.
    pub fn new(reader: CaptureReader<R>) -> Self {
        CaptureSource {
            reader,
            records: TextsFirst::default(),
        }
    }

    /// The reader back (a record it read ahead, to give the texts that follow it first, is
    /// not in it any more).
    pub fn into_inner(self) -> CaptureReader<R> {
        self.reader
    }
}

impl<R: Read> ByteSource for CaptureSource<R> {
    fn pull(&mut self, buf: &mut Vec<u8>) -> io::Result<Pulled> {
        match self.records.next_record(&mut self.reader) {
            Ok(None) => Ok(Pulled::Ended),
            Ok(Some(Record::Data(data) | Record::DataWithDefmt { data, .. })) => {
                buf.extend_from_slice(&data);
                Ok(Pulled::Data(data.len()))
            }
            Ok(Some(Record::Reset { cause })) => Ok(Pulled::Reset(cause)),
            Ok(Some(Record::FlashText { address, text })) => {
                Ok(Pulled::FlashText { address, text })
            }
            Ok(Some(Record::Boot(_) | Record::Unknown { .. })) => Ok(Pulled::Data(0)),
            Err(error @ CaptureError::Truncated { .. }) => {
                tracing::warn!(target: RECEIVER_TARGET, parent: None, "{error}");
                Ok(Pulled::Ended)
            }
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

/// What a capture holds, for a status line before a replay: see [`summarize`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureSummary {
    /// The protocol version in the header.
    pub protocol_version: u16,
    /// The boots recorded (firmware identity, boot number, tick rate), in order.
    pub boots: Vec<BootInfo>,
    /// Data records (polls that brought bytes).
    pub polls: u64,
    /// Bytes of the up channel.
    pub bytes: u64,
    /// Bytes of the defmt channel.
    pub defmt_bytes: u64,
    /// Target resets the link noticed.
    pub resets: u64,
    /// Texts the target sent by reference, recorded as the host resolved them.
    pub flash_texts: u64,
    /// Where the file is cut in the middle of a record, if it is.
    pub cut_at: Option<u64>,
}

impl std::fmt::Display for CaptureSummary {
    /// `protocol 1; firmware 'demo 0.1' (boot 1, 25000000 ticks/s); 891 polls, 15698 bytes`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol {}", self.protocol_version)?;
        if self.boots.is_empty() {
            f.write_str("; no boot recorded (the host attached to a running target)")?;
        }
        for boot in &self.boots {
            write!(
                f,
                "; firmware '{}' (boot {}, {} ticks/s)",
                boot.firmware, boot.boot, boot.tick_hz
            )?;
        }
        write!(f, "; {} polls, {} bytes", self.polls, self.bytes)?;
        if self.defmt_bytes > 0 {
            write!(f, " and {} defmt bytes", self.defmt_bytes)?;
        }
        if self.resets > 0 {
            write!(f, "; {} resets", self.resets)?;
        }
        if self.flash_texts > 0 {
            write!(f, "; {} texts sent by reference", self.flash_texts)?;
        }
        if let Some(at) = self.cut_at {
            write!(f, "; cut off at byte {at}")?;
        }
        Ok(())
    }
}

/// Reads the whole capture and says what it holds: its protocol version, the firmware
/// identity and tick rate of each boot, how much was drained.
///
/// # Errors
///
/// An I/O error or a corrupt record (a file cut in the middle of a record is not an error:
/// [`CaptureSummary::cut_at`] says where).
pub fn summarize<R: Read>(capture: &mut CaptureReader<R>) -> Result<CaptureSummary, CaptureError> {
    let mut summary = CaptureSummary {
        protocol_version: capture.protocol_version(),
        ..CaptureSummary::default()
    };
    loop {
        match capture.next_record() {
            Ok(None) => break,
            Ok(Some(Record::Data(bytes))) => {
                summary.polls += 1;
                summary.bytes += bytes.len() as u64;
            }
            Ok(Some(Record::DataWithDefmt { data, defmt })) => {
                summary.polls += 1;
                summary.bytes += data.len() as u64;
                summary.defmt_bytes += defmt.len() as u64;
            }
            Ok(Some(Record::Reset { .. })) => summary.resets += 1,
            Ok(Some(Record::Boot(boot))) => summary.boots.push(boot),
            Ok(Some(Record::FlashText { .. })) => summary.flash_texts += 1,
            Ok(Some(Record::Unknown { .. })) => {}
            Err(CaptureError::Truncated { offset, .. }) => {
                summary.cut_at = Some(offset);
                break;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> BootInfo {
        BootInfo {
            firmware: "demo 0.1".into(),
            boot: 7,
            tick_hz: 25_000_000,
        }
    }

    fn sample() -> Vec<u8> {
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer.write_data(b"\x02\x01\x00abc").unwrap();
        writer.write_boot(&boot()).unwrap();
        writer.write_reset("gone").unwrap();
        writer.write_data(b"").unwrap();
        assert_eq!(writer.records(), 4);
        writer.into_inner()
    }

    /// Every record of `file`, which must read.
    fn read_all(file: &[u8]) -> Vec<Record> {
        CaptureReader::new(file)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn the_bytes_of_the_format() {
        let file = sample();
        let mut expected = b"RTTTCAPT\x02\x00".to_vec();
        expected.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        expected.extend_from_slice(b"\x00\x06\x00\x00\x00\x02\x01\x00abc");
        expected.extend_from_slice(b"\x02\x14\x00\x00\x00");
        expected.extend_from_slice(&7u32.to_le_bytes());
        expected.extend_from_slice(&25_000_000u64.to_le_bytes());
        expected.extend_from_slice(b"demo 0.1");
        expected.extend_from_slice(b"\x01\x04\x00\x00\x00gone");
        expected.extend_from_slice(b"\x00\x00\x00\x00\x00");
        assert_eq!(file, expected);
    }

    #[test]
    fn flash_text_records_round_trip_and_a_short_one_is_corrupt() {
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer.write_flash_text(0x4000, "ready").unwrap();
        let file = writer.into_inner();
        let mut expected = vec![4, 13, 0, 0, 0];
        expected.extend_from_slice(&0x4000u64.to_le_bytes());
        expected.extend_from_slice(b"ready");
        assert_eq!(file[HEADER_LEN..], expected);
        let records = read_all(&file);
        assert_eq!(
            records,
            [Record::FlashText {
                address: 0x4000,
                text: "ready".into()
            }]
        );
        let mut short = file[..HEADER_LEN].to_vec();
        short.extend_from_slice(&[4, 2, 0, 0, 0, 0, 0]);
        let error = CaptureReader::new(&short[..])
            .unwrap()
            .next_record()
            .unwrap_err();
        assert!(
            error.to_string().contains("a flash text record of 2 bytes"),
            "{error}"
        );
        let summary = summarize(&mut CaptureReader::new(&file[..]).unwrap()).unwrap();
        assert_eq!(summary.flash_texts, 1);
    }

    /// A capture of the previous release (format 1, protocol 2) is refused by its format.
    #[test]
    fn a_capture_of_format_1_is_refused_naming_its_format() {
        let mut file = b"RTTTCAPT\x01\x00\x02\x00".to_vec();
        file.extend_from_slice(b"\x00\x01\x00\x00\x00\x00");
        let error = CaptureReader::new(&file[..]).unwrap_err();
        assert!(
            matches!(error, CaptureError::UnsupportedFormat { found: 1, .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "<stream> is in capture format 1, this host reads format 2"
        );
    }

    #[test]
    fn records_round_trip() {
        let file = sample();
        let reader = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(reader.protocol_version(), PROTOCOL_VERSION);
        let records: Vec<Record> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(
            records,
            vec![
                Record::Data(b"\x02\x01\x00abc".to_vec()),
                Record::Boot(boot()),
                Record::Reset {
                    cause: "gone".into()
                },
                Record::Data(Vec::new()),
            ]
        );
    }

    #[test]
    fn a_cut_file_yields_what_is_whole_then_says_where_it_was_cut() {
        let file = sample();
        // Cut inside the boot record's payload.
        let cut = &file[..HEADER_LEN + 11 + 5 + 3];
        let mut reader = CaptureReader::new(cut).unwrap();
        assert!(matches!(reader.next_record(), Ok(Some(Record::Data(_)))));
        let error = reader.next_record().unwrap_err();
        assert!(
            matches!(error, CaptureError::Truncated { offset: 23, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("cut off"), "{error}");
        assert!(reader.next_record().unwrap().is_none());
    }

    #[test]
    fn wrong_files_are_clear_errors() {
        let error = CaptureReader::new(&b"\x7fELF not a capture"[..]).unwrap_err();
        assert!(matches!(error, CaptureError::NotACapture { .. }), "{error}");
        assert!(
            error.to_string().contains("not an rtt-tunnel capture"),
            "{error}"
        );
        let error = CaptureReader::new(&b""[..]).unwrap_err();
        assert!(matches!(error, CaptureError::NotACapture { .. }), "{error}");

        let mut file = sample();
        file[8] = 9;
        let error = CaptureReader::new(&file[..]).unwrap_err();
        assert!(
            matches!(error, CaptureError::UnsupportedFormat { found: 9, .. }),
            "{error}"
        );

        let mut file = sample();
        file[HEADER_LEN + 1..HEADER_LEN + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        let error = reader.next_record().unwrap_err();
        assert!(matches!(error, CaptureError::Corrupt { .. }), "{error}");

        let error = CaptureReader::open("/nonexistent/x.rttcap").unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/x.rttcap"),
            "{error}"
        );
    }

    #[test]
    fn unknown_kinds_are_yielded_and_a_short_boot_record_is_corrupt() {
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer.write_record(9, &[b"future"]).unwrap();
        writer.write_record(KIND_BOOT, &[b"short"]).unwrap();
        let file = writer.into_inner();
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        assert_eq!(
            reader.next_record().unwrap(),
            Some(Record::Unknown {
                kind: 9,
                payload: b"future".to_vec()
            })
        );
        assert!(matches!(
            reader.next_record(),
            Err(CaptureError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_poll_with_defmt_bytes_is_one_record() {
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer.write_data_with_defmt(b"frames", b"dfm").unwrap();
        writer.write_data_with_defmt(b"", b"x").unwrap();
        let file = writer.into_inner();
        let mut expected = file[..HEADER_LEN].to_vec();
        expected.extend_from_slice(b"\x03\x0d\x00\x00\x00\x03\x00\x00\x00dfmframes");
        expected.extend_from_slice(b"\x03\x05\x00\x00\x00\x01\x00\x00\x00x");
        assert_eq!(file, expected);
        let records = read_all(&file);
        assert_eq!(
            records,
            [
                Record::DataWithDefmt {
                    data: b"frames".to_vec(),
                    defmt: b"dfm".to_vec()
                },
                Record::DataWithDefmt {
                    data: Vec::new(),
                    defmt: b"x".to_vec()
                },
            ]
        );

        // A defmt length past the record's end.
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer
            .write_record(KIND_DATA_DEFMT, &[&9u32.to_le_bytes(), b"abc"])
            .unwrap();
        let file = writer.into_inner();
        let error = CaptureReader::new(&file[..])
            .unwrap()
            .next_record()
            .unwrap_err();
        assert!(matches!(error, CaptureError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("defmt length"), "{error}");
    }

    #[test]
    fn a_summary_says_what_the_capture_holds() {
        let mut file = sample();
        let mut writer = CaptureWriter::new(Vec::new()).unwrap();
        writer.write_data_with_defmt(b"ab", b"cde").unwrap();
        file.extend_from_slice(&writer.into_inner()[HEADER_LEN..]);
        let summary = summarize(&mut CaptureReader::new(&file[..]).unwrap()).unwrap();
        assert_eq!(
            summary,
            CaptureSummary {
                protocol_version: PROTOCOL_VERSION,
                boots: vec![boot()],
                polls: 3,
                bytes: 8,
                defmt_bytes: 3,
                resets: 1,
                flash_texts: 0,
                cut_at: None,
            }
        );
        assert_eq!(
            summary.to_string(),
            format!(
                "protocol {PROTOCOL_VERSION}; firmware 'demo 0.1' (boot 7, 25000000 ticks/s); \
                 3 polls, 8 bytes and 3 defmt bytes; 1 resets"
            )
        );
        let cut = &file[..file.len() - 2];
        let summary = summarize(&mut CaptureReader::new(cut).unwrap()).unwrap();
        // The last record: 5 bytes of head, 4 of defmt length, 3 defmt bytes, 2 data bytes.
        let last = file.len() - 14;
        assert_eq!(summary.cut_at, Some(last as u64));
        assert_eq!(summary.polls, 2);
        assert!(summary
            .to_string()
            .ends_with(&format!("cut off at byte {last}")));
        let empty = CaptureWriter::new(Vec::new()).unwrap().into_inner();
        let summary = summarize(&mut CaptureReader::new(&empty[..]).unwrap()).unwrap();
        assert_eq!(
            summary.to_string(),
            format!(
                "protocol {PROTOCOL_VERSION}; no boot recorded (the host attached to a running \
                 target); 0 polls, 0 bytes"
            )
        );
    }

    #[test]
    fn replay_refuses_another_protocol_version() {
        let mut file = sample();
        file[10..12].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        let mut receiver = Receiver::default();
        let error = replay(&mut reader, &mut receiver).unwrap_err();
        assert!(
            matches!(error, CaptureError::ProtocolVersion { .. }),
            "{error}"
        );
    }
}
