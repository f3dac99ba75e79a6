//! Target memory access: the one seam between the RTT reader and a transport.
//!
//! Every way of reaching a target — a GDB server ([`crate::gdb::GdbMemory`]), a debug probe
//! (probe-rs), or the simulated memory of the tests (`SimMemory`, feature `testing`) — implements
//! [`TargetMemory`]: read and write bytes at a target address. The RTT reader
//! ([`crate::rtt::RttReader`]) is written once against this trait.
//!
//! # Batches
//!
//! Some links can only touch memory while the core is halted (QEMU's gdbstub, and every GDB
//! server in all-stop mode). The reader therefore groups the accesses of one poll — read the
//! channel descriptor, read the ring, write back the read offset — into a *batch*, bracketed by
//! [`TargetMemory::begin_batch`] and [`TargetMemory::end_batch`]. A GDB transport halts the core
//! in `begin_batch` and resumes it in `end_batch`, so a poll costs one halt; a probe that reads a
//! running core (probe-rs) keeps the default no-ops. Use [`batch`] rather than calling the pair by
//! hand: it always ends a batch it began, even when the body fails.
//!
//! Targets are 32-bit little-endian (Cortex-M); addresses are `u64` so that a transport can pass
//! them through unchanged.

#[cfg(any(test, feature = "testing"))]
mod sim;

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

#[cfg(any(test, feature = "testing"))]
pub use sim::{SimMemory, SimStats};

/// Reads and writes the memory of a target.
///
/// Implementations should make an aligned 4-byte [`read_u32`](Self::read_u32) or
/// [`write_u32`](Self::write_u32) a single 32-bit bus access where the link allows it: the RTT
/// reader publishes its read offset with one `write_u32`, and a running core must never see half
/// of it.
pub trait TargetMemory {
    /// Fills `buf` with the target's memory starting at `address`.
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError>;

    /// Writes `data` into the target's memory starting at `address`.
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError>;

    /// Reads the little-endian `u32` at `address`.
    fn read_u32(&mut self, address: u64) -> Result<u32, MemoryError> {
        let mut word = [0; 4];
        self.read(address, &mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    /// Writes `value` as a little-endian `u32` at `address`.
    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), MemoryError> {
        self.write(address, &value.to_le_bytes())
    }

    /// Starts a batch of accesses that belong together (one RTT poll). A transport that can
    /// only reach memory while the core is halted halts it here. The default does nothing.
    ///
    /// Batches do not nest: call [`batch`] instead of this pair where you can.
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        Ok(())
    }

    /// Ends the batch begun by [`begin_batch`](Self::begin_batch): a transport that halted the
    /// core resumes it here. The default does nothing.
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        Ok(())
    }

    /// Whether the target is stopped for the whole of a batch, so memory cannot change
    /// between two reads of one batch (true for GDB, which halts; false for a probe reading a
    /// running core, the default). The RTT reader then skips the check it otherwise makes
    /// before it moves the read offset.
    fn halts_in_batch(&self) -> bool {
        false
    }
}

impl<T: TargetMemory + ?Sized> TargetMemory for &mut T {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        (**self).read(address, buf)
    }
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        (**self).write(address, data)
    }
    fn read_u32(&mut self, address: u64) -> Result<u32, MemoryError> {
        (**self).read_u32(address)
    }
    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), MemoryError> {
        (**self).write_u32(address, value)
    }
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        (**self).begin_batch()
    }
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        (**self).end_batch()
    }
    fn halts_in_batch(&self) -> bool {
        (**self).halts_in_batch()
    }
}

impl<T: TargetMemory + ?Sized> TargetMemory for Box<T> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        (**self).read(address, buf)
    }
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        (**self).write(address, data)
    }
    fn read_u32(&mut self, address: u64) -> Result<u32, MemoryError> {
        (**self).read_u32(address)
    }
    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), MemoryError> {
        (**self).write_u32(address, value)
    }
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        (**self).begin_batch()
    }
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        (**self).end_batch()
    }
    fn halts_in_batch(&self) -> bool {
        (**self).halts_in_batch()
    }
}

/// Target memory as the source of the texts a target sends by reference (see
/// [`Receiver::try_receive_with`](crate::receiver::Receiver::try_receive_with)): what a
/// `--chip` or GDB session without the firmware's ELF resolves texts with. The receiver reads
/// the flash its `Hello` names once, in a batch of its own, and keeps it.
///
/// A read that finds the target gone (it exited, the link dropped) is not tried again; the
/// session then ends as the next poll would ([`gone`](Self::gone)).
#[derive(Debug)]
pub struct MemoryFlash<'m, M: TargetMemory + ?Sized> {
    memory: &'m mut M,
    gone: Option<MemoryError>,
}

impl<'m, M: TargetMemory + ?Sized> MemoryFlash<'m, M> {
    /// Reads texts from `memory`.
    pub fn new(memory: &'m mut M) -> Self {
        MemoryFlash { memory, gone: None }
    }

    /// The error that found the target gone, if a read met one.
    pub fn gone(self) -> Option<MemoryError> {
        self.gone
    }
}

impl<M: TargetMemory + ?Sized> crate::receiver::FlashSource for MemoryFlash<'_, M> {
    fn read_flash(&mut self, address: u64, len: usize) -> Result<Vec<u8>, String> {
        if let Some(error) = &self.gone {
            return Err(format!("target memory: {error}"));
        }
        let mut buf = vec![0; len];
        match batch(&mut *self.memory, |memory| memory.read(address, &mut buf)) {
            Ok(()) => Ok(buf),
            Err(error) => {
                let why = format!("target memory: {error}");
                if error.is_target_gone() {
                    self.gone = Some(error);
                }
                Err(why)
            }
        }
    }
}

/// Runs `body` inside one batch of `memory`: [`begin_batch`](TargetMemory::begin_batch), the
/// body, then [`end_batch`](TargetMemory::end_batch) — the end runs even when the body fails,
/// so a halted core is always resumed. The body's error wins over an error from ending the
/// batch. If beginning the batch fails, neither the body nor the end runs.
pub fn batch<M, T, E>(memory: &mut M, body: impl FnOnce(&mut M) -> Result<T, E>) -> Result<T, E>
where
    M: TargetMemory + ?Sized,
    E: From<MemoryError>,
{
    memory.begin_batch()?;
    let result = body(memory);
    let end = memory.end_batch();
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(error), _) => Err(error),
        (Ok(_), Err(error)) => Err(error.into()),
    }
}

/// Whether a failed access was a read or a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading target memory.
    Read,
    /// Writing target memory.
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// Why an access to target memory failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The target refused the access: no memory there, a bus fault, or a protection.
    #[error("cannot {access} {len} bytes at {address:#010x}: {reason}")]
    Access {
        /// Read or write.
        access: Access,
        /// First address of the access.
        address: u64,
        /// Length of the access in bytes.
        len: usize,
        /// What the transport said.
        reason: String,
    },
    /// The program on the target ended (for QEMU: the firmware's semihosting exit).
    #[error("the target program exited with code {code}")]
    TargetExited {
        /// Its exit code.
        code: i32,
    },
    /// The target was terminated by a signal (GDB's `X` stop reply).
    #[error("the target was terminated by signal {signal}")]
    TargetTerminated {
        /// The signal number the server reported.
        signal: u8,
    },
    /// The link to the target is gone: the GDB server closed the connection or died, the
    /// probe was unplugged.
    #[error("the link to the target is lost: {reason}")]
    Disconnected {
        /// What the transport saw.
        reason: String,
    },
    /// The target or the link did not answer in time.
    #[error("no answer from the target within {timeout:?} while {during}")]
    Timeout {
        /// What the transport was waiting for.
        during: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// Any other failure of the transport (a protocol error, an I/O error).
    #[error(transparent)]
    Transport(Box<dyn StdError + Send + Sync>),
}

impl MemoryError {
    /// Wraps a transport's own error.
    pub fn transport(error: impl StdError + Send + Sync + 'static) -> Self {
        MemoryError::Transport(Box::new(error))
    }

    /// True when the target or the link is gone for good (the program exited or was
    /// terminated, or the link is lost): polling again cannot succeed.
    pub fn is_target_gone(&self) -> bool {
        matches!(
            self,
            MemoryError::TargetExited { .. }
                | MemoryError::TargetTerminated { .. }
                | MemoryError::Disconnected { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_helpers_are_little_endian() {
        let mut memory = SimMemory::new();
        memory.add_ram(0x2000_0000, 16);
        memory.write_u32(0x2000_0004, 0x1122_3344).unwrap();
        assert_eq!(memory.peek(0x2000_0004, 4), [0x44, 0x33, 0x22, 0x11]);
        assert_eq!(memory.read_u32(0x2000_0004).unwrap(), 0x1122_3344);
    }

    #[test]
    fn batch_ends_even_when_the_body_fails() {
        let mut memory = SimMemory::new();
        memory.add_ram(0x2000_0000, 16);
        let result: Result<(), MemoryError> = batch(&mut memory, |m| {
            let mut buf = [0; 4];
            m.read(0x3000_0000, &mut buf)
        });
        assert!(matches!(result, Err(MemoryError::Access { .. })));
        let stats = memory.stats();
        assert_eq!((stats.batches_begun, stats.batches_ended), (1, 1));
    }

    #[test]
    fn batch_through_a_trait_object_and_a_reference() {
        let mut sim = SimMemory::new();
        sim.add_ram(0x2000_0000, 8);
        {
            let mut boxed: Box<dyn TargetMemory + '_> = Box::new(&mut sim);
            let value = batch(&mut boxed, |m| {
                m.write_u32(0x2000_0000, 7)?;
                m.read_u32(0x2000_0000)
            })
            .unwrap();
            assert_eq!(value, 7);
        }
        assert_eq!(sim.stats().batches_ended, 1);
    }

    #[test]
    fn target_gone_classification() {
        assert!(MemoryError::TargetExited { code: 0 }.is_target_gone());
        assert!(MemoryError::Disconnected {
            reason: "eof".into()
        }
        .is_target_gone());
        assert!(!MemoryError::Timeout {
            during: "x".into(),
            timeout: Duration::from_secs(1)
        }
        .is_target_gone());
        let access = MemoryError::Access {
            access: Access::Read,
            address: 0x10,
            len: 4,
            reason: "E14".into(),
        };
        assert!(!access.is_target_gone());
        assert_eq!(access.to_string(), "cannot read 4 bytes at 0x00000010: E14");
    }
}
