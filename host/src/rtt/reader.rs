//! The RTT reader: attach to a control block, drain an up channel (and more up channels in the
//! same poll), write a down channel, and notice when the target resets under us.

use std::fmt;
use std::ops::Range;

use crate::elf::FirmwareElf;
use crate::memory::{batch, TargetMemory};

use super::error::RttError;
use super::layout::{
    descriptor_address, format_ranges, ChannelInfo, ChannelMode, ChannelSelector, Descriptor,
    Direction, Header, CONTROL_BLOCK_ID, DESCRIPTOR_SIZE, FLAGS_OFFSET, HEADER_SIZE, ID_CHECKED,
    READ_OFFSET, WRITE_OFFSET,
};

/// Where to look for the control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locate {
    /// At this address (the `_SEGGER_RTT` symbol of the firmware ELF).
    Address(u64),
    /// Anywhere in these ranges, on a 4-byte boundary. Each search reads all of them, so keep
    /// them to the target's RAM; the reader tries the last address it found first.
    Scan(Vec<Range<u64>>),
}

/// How the reader finds and uses the control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttOptions {
    /// Where the control block is.
    pub locate: Locate,
    /// The target's RAM: every ring must lie inside one of these ranges. Empty: only check
    /// that rings fit the 32-bit address space.
    pub ram: Vec<Range<u64>>,
    /// The up channel to drain.
    pub up: ChannelSelector,
    /// More up channels drained in the same poll as [`up`](Self::up) (one batch: one halt over
    /// GDB), into buffers of their own ([`RttReader::poll_channels`]): a defmt channel beside
    /// rtt-tunnel's.
    pub extra_up: Vec<ExtraUp>,
    /// The down channel to write, if any.
    pub down: Option<ChannelSelector>,
    /// A mode to put the up channel into while the reader is attached (`BlockIfFull` loses
    /// nothing but stalls the target while the host is slow). However the reader ends, the
    /// channel is left in a non-blocking mode.
    pub mode: Option<ChannelMode>,
    /// Most bytes one poll drains (the whole ring when larger).
    pub max_poll_bytes: usize,
}

impl RttOptions {
    /// The control block is at `address`; drain up channel 0.
    pub fn at(address: u64) -> Self {
        Self::with_locate(Locate::Address(address), Vec::new())
    }

    /// Search these RAM ranges for the control block; drain up channel 0.
    pub fn scan(ram: Vec<Range<u64>>) -> Self {
        Self::with_locate(Locate::Scan(ram.clone()), ram)
    }

    /// From the firmware ELF: the `_SEGGER_RTT` symbol when it has one, else a search of its
    /// writable sections; rings must lie in those sections.
    pub fn from_elf(elf: &FirmwareElf) -> Result<Self, RttError> {
        let ram = elf.ram_ranges().to_vec();
        match elf.rtt_control_block() {
            Some(address) => Ok(Self::with_locate(Locate::Address(address), ram)),
            None if !ram.is_empty() => Ok(Self::with_locate(Locate::Scan(ram.clone()), ram)),
            None => Err(elf.require_rtt_control_block().unwrap_err().into()),
        }
    }

    fn with_locate(locate: Locate, ram: Vec<Range<u64>>) -> Self {
        RttOptions {
            locate,
            ram,
            up: ChannelSelector::Index(0),
            extra_up: Vec::new(),
            down: None,
            mode: None,
            max_poll_bytes: usize::MAX,
        }
    }

    /// Drains this up channel.
    pub fn up_channel(mut self, channel: ChannelSelector) -> Self {
        self.up = channel;
        self
    }

    /// Also drains this up channel, in the same polls; attaching fails without it.
    pub fn extra_up_channel(mut self, channel: ChannelSelector) -> Self {
        self.extra_up.push(ExtraUp {
            channel,
            required: true,
        });
        self
    }

    /// Also drains this up channel when the control block has it; without it the reader
    /// attaches all the same (its entry of [`Attachment::extra_up`] is `None`).
    pub fn optional_up_channel(mut self, channel: ChannelSelector) -> Self {
        self.extra_up.push(ExtraUp {
            channel,
            required: false,
        });
        self
    }

    /// Writes to this down channel.
    pub fn down_channel(mut self, channel: ChannelSelector) -> Self {
        self.down = Some(channel);
        self
    }

    /// Puts the up channel into `mode` while attached.
    pub fn mode(mut self, mode: ChannelMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Checks rings against these RAM ranges.
    pub fn ram(mut self, ram: Vec<Range<u64>>) -> Self {
        self.ram = ram;
        self
    }

    /// Drains at most `bytes` per poll.
    pub fn max_poll_bytes(mut self, bytes: usize) -> Self {
        self.max_poll_bytes = bytes.max(1);
        self
    }
}

/// An up channel drained beside the main one ([`RttOptions::extra_up`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraUp {
    /// Which channel.
    pub channel: ChannelSelector,
    /// Whether attaching fails without it ([`RttError::ChannelNotFound`]); if not, the reader
    /// attaches without it.
    pub required: bool,
}

/// The control block the reader is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its address.
    pub control_block: u64,
    /// The up channel being drained.
    pub up: ChannelInfo,
    /// The extra up channels, one entry per [`RttOptions::extra_up`], in order: `None` for an
    /// optional channel the block does not have.
    pub extra_up: Vec<Option<ChannelInfo>>,
    /// The down channel, when one was selected.
    pub down: Option<ChannelInfo>,
    /// Every channel of the block, up ones first.
    pub channels: Vec<ChannelInfo>,
}

/// `the RTT control block at 0x20000000: up channel 0 'rtt-tunnel' (1024 bytes), down
/// channel 0 'rtt-tunnel' (16 bytes)`, then the extra up channels (`; also up channel 1
/// 'defmt' (1024 bytes)`).
impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the RTT control block at {:#010x}: up channel {}, down channel ",
            self.control_block, self.up
        )?;
        match &self.down {
            Some(down) => write!(f, "{down}")?,
            None => f.write_str("none")?,
        }
        for extra in self.extra_up.iter().flatten() {
            write!(f, "; also up channel {extra}")?;
        }
        Ok(())
    }
}

/// Why the reader let go of its control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetCause {
    /// The id is gone (RAM cleared at boot, or the block overwritten).
    ControlBlockGone,
    /// The block is there but laid out anew (other counts, ring, or name).
    Reinitialised {
        /// What changed.
        what: String,
    },
    /// The up channel's read offset, which only the host moves, moved.
    ReadOffsetMoved {
        /// Where the host left it.
        expected: u32,
        /// Where it is.
        found: u32,
    },
    /// The read offset of an extra up channel ([`RttOptions::extra_up`]) moved.
    ExtraReadOffsetMoved {
        /// The channel's index among the up channels.
        channel: usize,
        /// Where the host left it.
        expected: u32,
        /// Where it is.
        found: u32,
    },
    /// The mode the host set is back to another (the firmware initialised the channel again).
    ModeReverted {
        /// The mode the host set.
        expected: ChannelMode,
        /// The mode found.
        found: ChannelMode,
    },
}

impl fmt::Display for ResetCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetCause::ControlBlockGone => f.write_str("the RTT control block is gone"),
            ResetCause::Reinitialised { what } => {
                write!(f, "the RTT control block was initialised again ({what})")
            }
            ResetCause::ReadOffsetMoved { expected, found } => write!(
                f,
                "the up channel's read offset moved from {expected} to {found} without the host"
            ),
            ResetCause::ExtraReadOffsetMoved {
                channel,
                expected,
                found,
            } => write!(
                f,
                "up channel {channel}'s read offset moved from {expected} to {found} without \
                 the host"
            ),
            ResetCause::ModeReverted { expected, found } => write!(
                f,
                "the up channel's mode went from {expected} back to {found}"
            ),
        }
    }
}

/// What one [`RttReader::poll`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Poll {
    /// No control block yet (the target has not initialised RTT, or is rebooting). Poll
    /// again; [`RttReader::attach`] says where it looked.
    Waiting,
    /// Found a control block and attached to it; data follows on the next polls. After a
    /// [`Reset`](Poll::Reset) this is the re-attach to the new boot's block.
    Attached(Box<Attachment>),
    /// Appended this many bytes of the main up channel to the caller's buffer (0: nothing
    /// new). Bytes of extra up channels ([`RttReader::poll_channels`]) went to their own
    /// buffers.
    Data(usize),
    /// The control block changed under us (the target reset): the reader let go of it, and
    /// will re-attach on later polls. Bytes already handed out are from the old boot; a
    /// frame cut by the reset must be discarded.
    Reset(ResetCause),
}

/// Counters of what a reader did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RttStats {
    /// Calls of [`RttReader::poll`].
    pub polls: u64,
    /// Bytes drained from the up channel.
    pub bytes_read: u64,
    /// Bytes written to the down channel.
    pub bytes_written: u64,
    /// Attaches, the first one included.
    pub attaches: u64,
    /// Resets seen.
    pub resets: u64,
}

/// What the reader remembers of the block it is attached to.
#[derive(Debug)]
struct Attached {
    info: Attachment,
    header: Header,
    up: Descriptor,
    up_address: u64,
    down_address: Option<u64>,
    down: Option<Descriptor>,
    /// The up channel's read offset as the host last left it.
    read: u32,
    /// The mode the host put the up channel into.
    applied_mode: Option<ChannelMode>,
    /// The up channel's mode as the firmware set it.
    firmware_mode: ChannelMode,
    /// The extra up channels the block has.
    extra: Vec<ExtraAttached>,
}

/// An extra up channel the reader attached to.
#[derive(Debug, Clone)]
struct ExtraAttached {
    /// Its position in [`RttOptions::extra_up`] (and so in the caller's buffers).
    slot: usize,
    /// Its index among the up channels.
    index: usize,
    descriptor: Descriptor,
    address: u64,
    /// Its read offset as the host last left it.
    read: u32,
}

impl Attached {
    /// Bytes from the control block up to the end of the descriptor at `descriptor`.
    fn span_to(&self, descriptor: u64) -> usize {
        (descriptor + DESCRIPTOR_SIZE - self.info.control_block) as usize
    }

    /// Bytes from the control block up to the end of the last up descriptor drained.
    fn up_span(&self) -> usize {
        let last = self
            .extra
            .iter()
            .map(|e| e.address)
            .fold(self.up_address, u64::max);
        self.span_to(last)
    }

    /// Checks an extra channel in `span` against what the reader attached to: the same ring,
    /// sane offsets, a read offset only the host moved.
    fn check_extra(&self, span: &[u8], extra: &ExtraAttached) -> Result<Descriptor, Checked> {
        let found = self
            .check(span, extra.address, &extra.descriptor)
            .map_err(Checked::Reset)?;
        found.validate(&[]).map_err(|reason| {
            Checked::Error(RttError::Corrupt {
                direction: Direction::Up,
                descriptor: extra.address,
                reason,
            })
        })?;
        if found.read != extra.read {
            return Err(Checked::Reset(ResetCause::ExtraReadOffsetMoved {
                channel: extra.index,
                expected: extra.read,
                found: found.read,
            }));
        }
        Ok(found)
    }

    /// Compares what is in memory now with what the reader attached to.
    fn check(
        &self,
        span: &[u8],
        descriptor: u64,
        expected: &Descriptor,
    ) -> Result<Descriptor, ResetCause> {
        match Header::parse(&span[..HEADER_SIZE as usize]) {
            None => return Err(ResetCause::ControlBlockGone),
            Some(Err(reason)) => return Err(ResetCause::Reinitialised { what: reason }),
            Some(Ok(header)) if header != self.header => {
                return Err(ResetCause::Reinitialised {
                    what: format!(
                        "channel counts went from {}/{} to {}/{}",
                        self.header.max_up, self.header.max_down, header.max_up, header.max_down
                    ),
                })
            }
            Some(Ok(_)) => {}
        }
        let offset = (descriptor - self.info.control_block) as usize;
        let found = Descriptor::parse(&span[offset..offset + DESCRIPTOR_SIZE as usize]);
        if (found.name, found.buffer, found.size) != (expected.name, expected.buffer, expected.size)
        {
            return Err(ResetCause::Reinitialised {
                what: format!(
                    "ring {:#010x}+{} became {:#010x}+{}",
                    expected.buffer, expected.size, found.buffer, found.size
                ),
            });
        }
        Ok(found)
    }

    /// The mode to leave the up channel in: the firmware's own if it is non-blocking.
    fn restore_mode(&self) -> ChannelMode {
        if self.firmware_mode.is_blocking() {
            ChannelMode::NoBlockSkip
        } else {
            self.firmware_mode
        }
    }
}

/// Outcome of a poll while attached, before the reader updates its state.
enum Drained {
    Data(usize),
    Reset(ResetCause),
}

/// Why a channel check failed: the target reset, or the ring is corrupt.
enum Checked {
    Reset(ResetCause),
    Error(RttError),
}

/// The one RTT reader, over any [`TargetMemory`].
///
/// ```no_run
/// use rtt_tunnel_host::memory::SimMemory;
/// use rtt_tunnel_host::rtt::{ChannelMode, ChannelSelector, Poll, RttOptions, RttReader};
///
/// # fn memory() -> SimMemory { SimMemory::new() }
/// let options = RttOptions::at(0x2000_0000)
///     .up_channel(ChannelSelector::name("tracing"))
///     .mode(ChannelMode::BlockIfFull);
/// let mut reader = RttReader::new(memory(), options);
/// let mut bytes = Vec::new();
/// loop {
///     match reader.poll(&mut bytes)? {
///         Poll::Data(0) | Poll::Waiting => std::thread::sleep(std::time::Duration::from_millis(1)),
///         Poll::Data(_) => { /* feed `bytes` to the frame splitter, then clear it */ bytes.clear() }
///         Poll::Attached(at) => eprintln!("attached to RTT at {:#x}", at.control_block),
///         Poll::Reset(cause) => eprintln!("target reset: {cause}"),
///         _ => {}
///     }
/// #   break;
/// }
/// reader.close()?; // leaves the channel non-blocking; dropping the reader does the same
/// # Ok::<(), rtt_tunnel_host::rtt::RttError>(())
/// ```
///
/// Every poll is one [`batch`](crate::memory::batch) of the memory: over GDB, one halt. The
/// reader reads the block's header and the up channel's descriptor, checks that they are
/// still the ones it attached to, reads the bytes between the read and write offsets (two
/// pieces when the ring wraps), and only then writes the new read offset. On a link that does
/// not halt the core during a batch ([`TargetMemory::halts_in_batch`] false: a probe) it reads
/// the header and descriptor once more before that write, so a target that reset during the
/// poll is caught and its new block left alone.
///
/// Extra up channels ([`RttOptions::extra_up`], [`poll_channels`](Self::poll_channels)) are
/// drained in the same batch, with the same checks: one read of the descriptors covers them
/// all, and a reset seen on any channel discards the bytes of every channel of that poll.
pub struct RttReader<M: TargetMemory> {
    memory: M,
    pub(crate) options: RttOptions,
    attached: Option<Attached>,
    /// The address of the last block found, tried first by the next search.
    last_found: Option<u64>,
    stats: RttStats,
    closed: bool,
    /// The up channel may be left blocking: restore before letting go.
    restore_pending: bool,
}

impl<M: TargetMemory> fmt::Debug for RttReader<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RttReader")
            .field("options", &self.options)
            .field("attachment", &self.attachment())
            .field("stats", &self.stats)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<M: TargetMemory> RttReader<M> {
    /// A reader over `memory`; it attaches on the first [`poll`](Self::poll) that finds the
    /// control block.
    pub fn new(memory: M, options: RttOptions) -> Self {
        RttReader {
            memory,
            options,
            attached: None,
            last_found: None,
            stats: RttStats::default(),
            closed: false,
            restore_pending: false,
        }
    }

    /// The options the reader was made with.
    pub fn options(&self) -> &RttOptions {
        &self.options
    }

    /// The memory underneath.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// The memory underneath, for the transport's own calls. Accesses made through it are
    /// not seen by the reader: do not move the up channel's read offset.
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.memory
    }

    /// The block the reader is attached to.
    pub fn attachment(&self) -> Option<&Attachment> {
        self.attached.as_ref().map(|a| &a.info)
    }

    /// What the reader did so far.
    pub fn stats(&self) -> RttStats {
        self.stats
    }

    /// Attaches now, or says why it cannot: unlike [`poll`](Self::poll), a missing control
    /// block is an error ([`RttError::NotFound`]). Returns the attachment (the current one if
    /// already attached).
    pub fn attach(&mut self) -> Result<&Attachment, RttError> {
        if self.closed {
            return Err(RttError::Closed);
        }
        if self.attached.is_none() {
            let found = batch(&mut self.memory, |memory| {
                attach(memory, &self.options, self.last_found)
            })?;
            match found {
                Some(attached) => self.adopt(attached),
                None => return Err(self.not_found()),
            }
        }
        Ok(self.attachment().expect("attached above"))
    }

    /// One poll: attach if not attached, else drain what the target wrote (appended to `out`)
    /// and check the control block is still the one attached to.
    ///
    /// Extra up channels ([`RttOptions::extra_up`]) are checked (a reset seen on them is a
    /// reset) but not drained: use [`poll_channels`](Self::poll_channels) to drain them too.
    ///
    /// Errors: [`RttError::Memory`] from the transport (stop when
    /// [`is_target_gone`](RttError::is_target_gone)); [`RttError::Invalid`],
    /// [`RttError::ChannelNotFound`] or [`RttError::Ambiguous`] when a block is found but
    /// cannot be used; [`RttError::Corrupt`] when an attached ring holds impossible offsets
    /// (the reader lets go, and the next poll searches again). Never panics on what the
    /// target holds.
    pub fn poll(&mut self, out: &mut Vec<u8>) -> Result<Poll, RttError> {
        self.poll_channels(out, &mut [])
    }

    /// [`poll`](Self::poll), draining the extra up channels too, in the same batch: the bytes
    /// of the main channel are appended to `out`, those of extra channel `i`
    /// ([`RttOptions::extra_up`]`[i]`) to `extra[i]`. Extra channels without a buffer (when
    /// `extra` is shorter) are checked but not drained. When the poll reports anything but
    /// [`Poll::Data`], or fails, no buffer has grown.
    pub fn poll_channels(
        &mut self,
        out: &mut Vec<u8>,
        extra: &mut [Vec<u8>],
    ) -> Result<Poll, RttError> {
        if self.closed {
            return Err(RttError::Closed);
        }
        self.stats.polls += 1;
        let Some(attached) = self.attached.as_mut() else {
            let found = batch(&mut self.memory, |memory| {
                attach(memory, &self.options, self.last_found)
            })?;
            return Ok(match found {
                Some(attached) => {
                    self.adopt(attached);
                    Poll::Attached(Box::new(self.attachment().expect("adopted").clone()))
                }
                None => Poll::Waiting,
            });
        };

        let start = out.len();
        let starts: Vec<usize> = extra.iter().map(Vec::len).collect();
        let max = self.options.max_poll_bytes;
        let drained = batch(&mut self.memory, |memory| {
            drain(memory, attached, out, extra, max)
        });
        let undo = |out: &mut Vec<u8>, extra: &mut [Vec<u8>]| {
            out.truncate(start);
            for (buffer, start) in extra.iter_mut().zip(&starts) {
                buffer.truncate(*start);
            }
        };
        match drained {
            Ok(Drained::Data(n)) => {
                let extra_bytes: usize = extra
                    .iter()
                    .zip(&starts)
                    .map(|(buffer, start)| buffer.len() - start)
                    .sum();
                self.stats.bytes_read += (n + extra_bytes) as u64;
                Ok(Poll::Data(n))
            }
            Ok(Drained::Reset(cause)) => {
                undo(out, extra);
                self.detach();
                self.stats.resets += 1;
                Ok(Poll::Reset(cause))
            }
            Err(error) => {
                undo(out, extra);
                if matches!(error, RttError::Corrupt { .. }) {
                    self.detach();
                }
                Err(error)
            }
        }
    }

    /// Writes as much of `data` into the down channel as its ring has room for, and returns
    /// how much that was (0 when the target has not read what was written before). Never
    /// overwrites bytes the target has not read.
    pub fn write_down(&mut self, data: &[u8]) -> Result<usize, RttError> {
        if self.closed {
            return Err(RttError::Closed);
        }
        let Some(attached) = self.attached.as_ref() else {
            return Err(RttError::NotAttached);
        };
        let (Some(down_address), Some(down)) = (attached.down_address, attached.down) else {
            return Err(RttError::NoDownChannel);
        };
        let written = batch(&mut self.memory, |memory| {
            let mut span = vec![0; attached.span_to(down_address)];
            memory.read(attached.info.control_block, &mut span)?;
            let found = attached
                .check(&span, down_address, &down)
                .map_err(|_| RttError::ControlBlockChanged)?;
            found.validate(&[]).map_err(|reason| RttError::Corrupt {
                direction: Direction::Down,
                descriptor: down_address,
                reason,
            })?;
            let n = (found.writable() as usize).min(data.len());
            if n == 0 {
                return Ok(0);
            }
            let buffer = u64::from(found.buffer);
            let first = n.min((found.size - found.write) as usize);
            memory.write(buffer + u64::from(found.write), &data[..first])?;
            if n > first {
                memory.write(buffer, &data[first..n])?;
            }
            let write = ((found.write as usize + n) % found.size as usize) as u32;
            memory.write_u32(down_address + WRITE_OFFSET, write)?;
            Ok::<_, RttError>(n)
        })?;
        self.stats.bytes_written += written as u64;
        Ok(written)
    }

    /// Closes the reader: puts the up channel back into the firmware's own mode when the host
    /// changed it, and in any case into a non-blocking mode (`NoBlockSkip` when the firmware's
    /// own mode was blocking), whoever made it blocking. Later polls
    /// fail with [`RttError::Closed`]. Calling it again is harmless: after a failed restore it
    /// tries again, after a successful one it does nothing. Dropping the reader restores too,
    /// ignoring errors; call `close` to see them (a target that is gone cannot be restored,
    /// and needs no restoring).
    pub fn close(&mut self) -> Result<(), RttError> {
        self.closed = true;
        self.restore()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn restore(&mut self) -> Result<(), RttError> {
        if !self.restore_pending {
            return Ok(());
        }
        let Some(attached) = self.attached.as_ref() else {
            self.restore_pending = false;
            return Ok(());
        };
        batch(&mut self.memory, |memory| {
            let mut span = vec![0; attached.up_span()];
            memory.read(attached.info.control_block, &mut span)?;
            // Extra channels: the host never sets their mode, but leaves none blocking.
            for extra in &attached.extra {
                if let Ok(found) = attached.check(&span, extra.address, &extra.descriptor) {
                    if found.mode().is_blocking() {
                        memory.write_u32(
                            extra.address + FLAGS_OFFSET,
                            ChannelMode::NoBlockSkip.apply_to(found.flags),
                        )?;
                    }
                }
            }
            // A block that changed is not ours to touch.
            if let Ok(found) = attached.check(&span, attached.up_address, &attached.up) {
                // Undo the host's mode; in any case leave no blocking mode behind.
                let mode = if attached.applied_mode.is_some() || found.mode().is_blocking() {
                    attached.restore_mode()
                } else {
                    found.mode()
                };
                if mode != found.mode() {
                    memory.write_u32(
                        attached.up_address + FLAGS_OFFSET,
                        mode.apply_to(found.flags),
                    )?;
                }
            }
            Ok::<_, RttError>(())
        })?;
        self.restore_pending = false;
        Ok(())
    }

    fn adopt(&mut self, attached: Attached) {
        self.last_found = Some(attached.info.control_block);
        self.attached = Some(attached);
        self.restore_pending = true;
        self.stats.attaches += 1;
    }

    fn detach(&mut self) {
        self.attached = None;
        self.restore_pending = false;
    }

    fn not_found(&self) -> RttError {
        match &self.options.locate {
            Locate::Address(address) => RttError::NotFound {
                searched: format!("at {address:#010x}"),
                hint: "is the ELF the one running on the target?",
            },
            Locate::Scan(ranges) => RttError::NotFound {
                searched: format!("in RAM {}", format_ranges(ranges)),
                hint: "the firmware ELF's `_SEGGER_RTT` symbol would give its address",
            },
        }
    }
}

impl<M: TargetMemory> Drop for RttReader<M> {
    fn drop(&mut self) {
        // Never leave the target blocking; a target that is gone needs no restoring.
        let _ = self.restore();
    }
}

/// One drain of the attached up channels, inside a batch.
fn drain<M: TargetMemory + ?Sized>(
    memory: &mut M,
    attached: &mut Attached,
    out: &mut Vec<u8>,
    extra: &mut [Vec<u8>],
    max: usize,
) -> Result<Drained, RttError> {
    let up_address = attached.up_address;
    let mut span = vec![0; attached.up_span()];
    memory.read(attached.info.control_block, &mut span)?;
    let found = match attached.check(&span, up_address, &attached.up) {
        Ok(found) => found,
        Err(cause) => return Ok(Drained::Reset(cause)),
    };
    found.validate(&[]).map_err(|reason| RttError::Corrupt {
        direction: Direction::Up,
        descriptor: up_address,
        reason,
    })?;
    if found.read != attached.read {
        return Ok(Drained::Reset(ResetCause::ReadOffsetMoved {
            expected: attached.read,
            found: found.read,
        }));
    }
    if let Some(expected) = attached.applied_mode {
        if found.mode() != expected {
            return Ok(Drained::Reset(ResetCause::ModeReverted {
                expected,
                found: found.mode(),
            }));
        }
    }
    // The extra channels: (descriptor as found, bytes to take), for those with a buffer.
    let mut extra_found = Vec::with_capacity(attached.extra.len());
    for channel in &attached.extra {
        match attached.check_extra(&span, channel) {
            Ok(found) => {
                let n = if channel.slot < extra.len() {
                    (found.readable() as usize).min(max)
                } else {
                    0
                };
                extra_found.push((found, n));
            }
            Err(Checked::Reset(cause)) => return Ok(Drained::Reset(cause)),
            Err(Checked::Error(error)) => return Err(error),
        }
    }

    let n = (found.readable() as usize).min(max);
    if n == 0 && extra_found.iter().all(|(_, n)| *n == 0) {
        return Ok(Drained::Data(0));
    }
    read_ring(memory, &found, n, out)?;
    for (channel, (found, n)) in attached.extra.iter().zip(&extra_found) {
        if *n > 0 {
            read_ring(memory, found, *n, &mut extra[channel.slot])?;
        }
    }

    // The bytes are only ours if the block is still the same after reading them: on a link
    // that does not halt the core, the target may have reset meanwhile.
    if !memory.halts_in_batch() {
        memory.read(attached.info.control_block, &mut span)?;
        let again = match attached.check(&span, up_address, &attached.up) {
            Err(cause) => return Ok(Drained::Reset(cause)),
            Ok(again) if again.read != attached.read => {
                return Ok(Drained::Reset(ResetCause::ReadOffsetMoved {
                    expected: attached.read,
                    found: again.read,
                }))
            }
            Ok(again) => again,
        };
        if let Some(cause) = went_back(&found, &again) {
            return Ok(Drained::Reset(cause));
        }
        for (channel, (found, _)) in attached.extra.iter().zip(&extra_found) {
            match attached.check_extra(&span, channel) {
                Ok(again) => {
                    if let Some(cause) = went_back(found, &again) {
                        return Ok(Drained::Reset(cause));
                    }
                }
                Err(Checked::Reset(cause)) => return Ok(Drained::Reset(cause)),
                // Offsets that became impossible while we read: a new boot laying out the
                // block.
                Err(Checked::Error(error)) => {
                    return Ok(Drained::Reset(ResetCause::Reinitialised {
                        what: error.to_string(),
                    }))
                }
            }
        }
    }

    if n > 0 {
        let read = commit(memory, attached.up_address, &found, n)?;
        attached.read = read;
    }
    for (channel, (found, n)) in attached.extra.iter_mut().zip(&extra_found) {
        if *n > 0 {
            channel.read = commit(memory, channel.address, found, *n)?;
        }
    }
    Ok(Drained::Data(n))
}

/// Appends the `n` bytes after `found`'s read offset (two pieces when the ring wraps).
fn read_ring<M: TargetMemory + ?Sized>(
    memory: &mut M,
    found: &Descriptor,
    n: usize,
    out: &mut Vec<u8>,
) -> Result<(), RttError> {
    if n == 0 {
        return Ok(());
    }
    let buffer = u64::from(found.buffer);
    let start = out.len();
    out.resize(start + n, 0);
    let first = n.min((found.size - found.read) as usize);
    memory.read(
        buffer + u64::from(found.read),
        &mut out[start..start + first],
    )?;
    if n > first {
        memory.read(buffer, &mut out[start + first..])?;
    }
    Ok(())
}

/// The target only adds bytes while the host reads: fewer waiting bytes (or offsets that no
/// longer make sense) mean the write offset went back, which only a new boot does.
fn went_back(before: &Descriptor, again: &Descriptor) -> Option<ResetCause> {
    (again.validate(&[]).is_err() || again.readable() < before.readable()).then(|| {
        ResetCause::Reinitialised {
            what: format!(
                "the write offset went back from {} to {}",
                before.write, again.write
            ),
        }
    })
}

/// Hands the `n` bytes read from `found`'s ring (whose descriptor is at `descriptor`) back to
/// the target; returns the new read offset.
fn commit<M: TargetMemory + ?Sized>(
    memory: &mut M,
    descriptor: u64,
    found: &Descriptor,
    n: usize,
) -> Result<u32, RttError> {
    let read = ((found.read as usize + n) % found.size as usize) as u32;
    memory.write_u32(descriptor + READ_OFFSET, read)?;
    Ok(read)
}

/// One search for the control block, inside a batch: `Ok(None)` when there is none.
fn attach<M: TargetMemory + ?Sized>(
    memory: &mut M,
    options: &RttOptions,
    last_found: Option<u64>,
) -> Result<Option<Attached>, RttError> {
    let address = match &options.locate {
        Locate::Address(address) => match read_block(memory, *address, &options.ram)? {
            Some(block) => return select(memory, *address, block, options).map(Some),
            None => return Ok(None),
        },
        Locate::Scan(ranges) => {
            // The block rarely moves: try where it was before reading all of RAM.
            if let Some(address) = last_found {
                if let Ok(Some(block)) = read_block(memory, address, &options.ram) {
                    return select(memory, address, block, options).map(Some);
                }
            }
            match scan(memory, ranges, &options.ram)? {
                Some(address) => address,
                None => return Ok(None),
            }
        }
    };
    let block = read_block(memory, address, &options.ram)?.ok_or_else(|| RttError::Invalid {
        address,
        reason: "the id vanished while it was being read".into(),
    })?;
    select(memory, address, block, options).map(Some)
}

/// A validated control block: its header and descriptors.
struct Block {
    header: Header,
    descriptors: Vec<Descriptor>,
}

/// Reads and validates the block at `address`: `Ok(None)` when the id is not there.
fn read_block<M: TargetMemory + ?Sized>(
    memory: &mut M,
    address: u64,
    ram: &[Range<u64>],
) -> Result<Option<Block>, RttError> {
    let mut head = [0u8; HEADER_SIZE as usize];
    memory.read(address, &mut head)?;
    let header = match Header::parse(&head) {
        None => return Ok(None),
        Some(Err(reason)) => return Err(RttError::Invalid { address, reason }),
        Some(Ok(header)) => header,
    };
    let mut bytes = vec![0u8; (header.block_size() - HEADER_SIZE) as usize];
    memory.read(address + HEADER_SIZE, &mut bytes)?;
    let descriptors: Vec<Descriptor> = bytes
        .chunks_exact(DESCRIPTOR_SIZE as usize)
        .map(Descriptor::parse)
        .collect();
    for (slot, descriptor) in descriptors.iter().enumerate() {
        if descriptor.is_initialised() {
            descriptor.validate(ram).map_err(|reason| {
                let (direction, index) = if slot < header.max_up as usize {
                    (Direction::Up, slot)
                } else {
                    (Direction::Down, slot - header.max_up as usize)
                };
                RttError::Invalid {
                    address,
                    reason: format!("{direction} channel {index}: {reason}"),
                }
            })?;
        }
    }
    Ok(Some(Block {
        header,
        descriptors,
    }))
}

/// Searches `ranges` for blocks that validate: `Ok(None)` when there is none.
fn scan<M: TargetMemory + ?Sized>(
    memory: &mut M,
    ranges: &[Range<u64>],
    ram: &[Range<u64>],
) -> Result<Option<u64>, RttError> {
    const CHUNK: u64 = 4096;
    let overlap = ID_CHECKED as u64 - 1;
    let mut found = Vec::new();
    let mut first_invalid = None;
    let mut chunk = Vec::new();
    for range in ranges {
        // Candidates sit on 4-byte boundaries.
        let mut at = (range.start + 3) & !3;
        while at + ID_CHECKED as u64 <= range.end {
            let end = (at + CHUNK + overlap).min(range.end);
            chunk.resize((end - at) as usize, 0);
            memory.read(at, &mut chunk)?;
            let mut offset = 0;
            while offset + ID_CHECKED <= chunk.len() {
                if chunk[offset..offset + ID_CHECKED] == CONTROL_BLOCK_ID[..ID_CHECKED] {
                    let candidate = at + offset as u64;
                    match read_block(memory, candidate, ram) {
                        Ok(Some(_)) => found.push(candidate),
                        Ok(None) => {}
                        Err(error @ RttError::Invalid { .. }) => {
                            first_invalid.get_or_insert(error);
                        }
                        Err(error) => return Err(error),
                    }
                }
                offset += 4;
            }
            at += CHUNK;
        }
    }
    found.dedup();
    match found.len() {
        0 => first_invalid.map_or(Ok(None), Err),
        1 => Ok(Some(found[0])),
        _ => Err(RttError::Ambiguous { addresses: found }),
    }
}

/// Picks the channels the options ask for, reads the names, applies the mode.
fn select<M: TargetMemory + ?Sized>(
    memory: &mut M,
    address: u64,
    block: Block,
    options: &RttOptions,
) -> Result<Attached, RttError> {
    let header = block.header;
    let mut channels = Vec::with_capacity(block.descriptors.len());
    for (slot, descriptor) in block.descriptors.iter().enumerate() {
        let (direction, index) = if slot < header.max_up as usize {
            (Direction::Up, slot)
        } else {
            (Direction::Down, slot - header.max_up as usize)
        };
        channels.push(ChannelInfo {
            direction,
            index,
            name: read_name(memory, descriptor.name)?,
            descriptor: descriptor_address(address, &header, direction, index),
            buffer: u64::from(descriptor.buffer),
            size: descriptor.size,
            mode: descriptor.mode(),
        });
    }

    let pick = |direction: Direction, wanted: &ChannelSelector| -> Result<usize, RttError> {
        let slot = channels.iter().position(|c| {
            c.direction == direction
                && c.buffer != 0
                && match wanted {
                    ChannelSelector::Index(index) => c.index == *index,
                    ChannelSelector::Name(name) => c.name.as_deref() == Some(name.as_str()),
                }
        });
        slot.ok_or_else(|| {
            let listed: Vec<String> = channels
                .iter()
                .filter(|c| c.direction == direction)
                .map(ToString::to_string)
                .collect();
            RttError::ChannelNotFound {
                direction,
                wanted: wanted.clone(),
                available: if listed.is_empty() {
                    "none".into()
                } else {
                    listed.join(", ")
                },
            }
        })
    };
    let up_slot = pick(Direction::Up, &options.up)?;
    let mut extra = Vec::new();
    let mut extra_up = Vec::with_capacity(options.extra_up.len());
    for (slot, wanted) in options.extra_up.iter().enumerate() {
        let found = match pick(Direction::Up, &wanted.channel) {
            Ok(found) => found,
            Err(_) if !wanted.required => {
                extra_up.push(None);
                continue;
            }
            Err(error) => return Err(error),
        };
        if found == up_slot || extra.iter().any(|e: &ExtraAttached| e.index == found) {
            return Err(RttError::ChannelTwice {
                channel: channels[found].to_string(),
            });
        }
        extra.push(ExtraAttached {
            slot,
            index: found,
            descriptor: block.descriptors[found],
            address: channels[found].descriptor,
            read: block.descriptors[found].read,
        });
        extra_up.push(Some(channels[found].clone()));
    }
    let down_slot = options
        .down
        .as_ref()
        .map(|wanted| pick(Direction::Down, wanted))
        .transpose()?;

    let up = block.descriptors[up_slot];
    let up_address = channels[up_slot].descriptor;
    let mut applied_mode = None;
    if let Some(mode) = options.mode {
        if up.mode() != mode {
            memory.write_u32(up_address + FLAGS_OFFSET, mode.apply_to(up.flags))?;
        }
        applied_mode = Some(mode);
    }
    Ok(Attached {
        header,
        up,
        up_address,
        down_address: down_slot.map(|slot| channels[slot].descriptor),
        down: down_slot.map(|slot| block.descriptors[slot]),
        read: up.read,
        applied_mode,
        firmware_mode: up.mode(),
        extra,
        info: Attachment {
            control_block: address,
            up: channels[up_slot].clone(),
            extra_up,
            down: down_slot.map(|slot| channels[slot].clone()),
            channels,
        },
    })
}

/// Reads a channel's NUL-terminated name (at most 64 bytes). A name the link cannot read is
/// `None`, not an error; a lost link is.
fn read_name<M: TargetMemory + ?Sized>(
    memory: &mut M,
    address: u32,
) -> Result<Option<String>, RttError> {
    const MAX: usize = 64;
    if address == 0 {
        return Ok(None);
    }
    let address = u64::from(address);
    let mut name = Vec::new();
    let mut chunk = [0u8; 16];
    while name.len() < MAX {
        let at = address + name.len() as u64;
        match memory.read(at, &mut chunk) {
            Ok(()) => {
                if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                    name.extend_from_slice(&chunk[..nul]);
                    return Ok(Some(String::from_utf8_lossy(&name).into_owned()));
                }
                name.extend_from_slice(&chunk);
            }
            // Near the end of a region a 16-byte read can fail where the name's bytes can
            // be read one by one.
            Err(error) if error.is_target_gone() => return Err(error.into()),
            Err(_) => {
                let mut byte = [0u8; 1];
                for i in 0..chunk.len() {
                    match memory.read(at + i as u64, &mut byte) {
                        Ok(()) if byte[0] == 0 => {
                            return Ok(Some(String::from_utf8_lossy(&name).into_owned()))
                        }
                        Ok(()) => name.push(byte[0]),
                        Err(error) if error.is_target_gone() => return Err(error.into()),
                        Err(_) => return Ok(None),
                    }
                }
            }
        }
    }
    // No NUL within MAX bytes: not a name.
    Ok(None)
}
