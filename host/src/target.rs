//! Opening a target whose RTT ring the host drains: firmware run in QEMU, a target behind a
//! GDB server, a chip behind a debug probe (feature `probe-rs`); and where its RTT control
//! block is.
//!
//! [`OpenTarget::open`] starts or connects to what a [`Target`] names and holds the link (a
//! [`TargetMemory`]) and, for QEMU, the emulator (killed when dropped). [`rtt_options`] turns
//! a [`Locate`] into the reader's options. A UART is not a target here: it is a byte source
//! (`serial::SerialSource`, feature `serial`).
//!
//! ```no_run
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_host::rtt::RttReader;
//! use rtt_tunnel_host::qemu::QemuOptions;
//! use rtt_tunnel_host::session::Session;
//! use rtt_tunnel_host::target::{Locate, OpenTarget, Target};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let elf = "boards/target/thumbv7m-none-eabi/release/demo";
//! let mut target = OpenTarget::open(&Target::Qemu(QemuOptions::new(elf)))?;
//! let options = target.rtt_options(&Locate::Elf(elf.into()))?;
//! let session = Session::new(RttReader::new(target.link_mut(), options), Receiver::default());
//! # drop(session);
//! # Ok(())
//! # }
//! ```

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use crate::elf::{ElfError, FirmwareElf};
use crate::gdb::{GdbError, GdbMemory, GdbOptions};
use crate::memory::{MemoryError, TargetMemory};
use crate::qemu::{Qemu, QemuError, QemuOptions};
use crate::rtt::{RttError, RttOptions};

/// What to open.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// Run this firmware in `qemu-system-arm` and reach it through QEMU's gdbstub.
    Qemu(QemuOptions),
    /// A target behind the GDB server at this `host:port`.
    Gdb(String),
    /// A chip behind a debug probe.
    #[cfg(feature = "probe-rs")]
    Probe(crate::probe::ProbeOptions),
}

/// Where the RTT control block is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locate {
    /// From this ELF's `_SEGGER_RTT` symbol, or, when it has none (stripped), by searching
    /// the RAM the ELF's sections lie in.
    Elf(PathBuf),
    /// By searching these RAM ranges.
    Ram(Vec<Range<u64>>),
    /// By searching the chip's RAM, from probe-rs's memory map (a probe link only).
    ChipRam,
}

/// Why a target could not be opened or its control block not be located.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// QEMU could not be started.
    #[error(transparent)]
    Qemu(#[from] QemuError),
    /// The GDB server could not be reached.
    #[error(transparent)]
    Gdb(#[from] GdbError),
    /// The probe or the chip could not be reached.
    #[cfg(feature = "probe-rs")]
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    /// The firmware ELF could not be read.
    #[error(transparent)]
    Elf(#[from] ElfError),
    /// The ELF cannot locate the control block.
    #[error(transparent)]
    Rtt(#[from] RttError),
    /// [`Locate::ChipRam`] without a chip RAM to search: not a probe link, or probe-rs knows
    /// no RAM of the chip.
    #[error("no RAM of the chip is known to search for the RTT control block: locate it by the firmware ELF or a RAM range")]
    NoChipRam,
}

/// The link to an open target.
#[derive(Debug)]
#[non_exhaustive]
pub enum Link {
    /// A GDB server (QEMU's gdbstub when the target is QEMU).
    Gdb(GdbMemory),
    /// A debug probe.
    #[cfg(feature = "probe-rs")]
    Probe(crate::probe::ProbeMemory),
}

impl Link {
    fn memory(&mut self) -> &mut dyn TargetMemory {
        match self {
            Link::Gdb(gdb) => gdb,
            #[cfg(feature = "probe-rs")]
            Link::Probe(probe) => probe,
        }
    }
}

impl TargetMemory for Link {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.memory().read(address, buf)
    }

    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.memory().write(address, data)
    }

    fn read_u32(&mut self, address: u64) -> Result<u32, MemoryError> {
        self.memory().read_u32(address)
    }

    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), MemoryError> {
        self.memory().write_u32(address, value)
    }

    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        self.memory().begin_batch()
    }

    fn end_batch(&mut self) -> Result<(), MemoryError> {
        self.memory().end_batch()
    }

    fn halts_in_batch(&self) -> bool {
        match self {
            Link::Gdb(gdb) => gdb.halts_in_batch(),
            #[cfg(feature = "probe-rs")]
            Link::Probe(probe) => probe.halts_in_batch(),
        }
    }
}

/// An open target: its link, and QEMU when the host started it. Dropping it kills QEMU and
/// lets go of the GDB connection or the probe.
#[derive(Debug)]
pub struct OpenTarget {
    link: Link,
    qemu: Option<Qemu>,
}

impl OpenTarget {
    /// Starts QEMU, connects to the GDB server, or opens the probe and connects to the chip.
    ///
    /// # Errors
    ///
    /// QEMU is missing or ends at once, the GDB server does not answer, no probe or chip
    /// answers (see [`OpenError`]).
    pub fn open(target: &Target) -> Result<Self, OpenError> {
        Ok(match target {
            Target::Qemu(options) => {
                let (qemu, gdb) = Qemu::launch(options, GdbOptions::default())?;
                OpenTarget {
                    link: Link::Gdb(gdb),
                    qemu: Some(qemu),
                }
            }
            Target::Gdb(address) => OpenTarget {
                link: Link::Gdb(GdbMemory::connect(address.as_str(), GdbOptions::default())?),
                qemu: None,
            },
            #[cfg(feature = "probe-rs")]
            Target::Probe(options) => OpenTarget {
                link: Link::Probe(crate::probe::ProbeMemory::open(options)?),
                qemu: None,
            },
        })
    }

    /// The RTT options for the control block `locate` describes, on this target.
    ///
    /// # Errors
    ///
    /// As [`rtt_options`].
    pub fn rtt_options(&self, locate: &Locate) -> Result<RttOptions, OpenError> {
        rtt_options(locate, &self.chip_ram())
    }

    /// The chip's RAM, for a probe link (probe-rs's memory map); empty otherwise.
    pub fn chip_ram(&self) -> Vec<Range<u64>> {
        match &self.link {
            Link::Gdb(_) => Vec::new(),
            #[cfg(feature = "probe-rs")]
            Link::Probe(probe) => probe.ram_ranges(),
        }
    }

    /// The link, to read the target through (an RTT reader takes `&mut Link` as memory).
    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// The link.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The emulator, when the target runs in QEMU.
    pub fn qemu(&self) -> Option<&Qemu> {
        self.qemu.as_ref()
    }

    /// The firmware's exit code, once QEMU has ended (it ends right after the firmware's
    /// semihosting exit; waits up to 5 s): `Ok(None)` without QEMU.
    ///
    /// # Errors
    ///
    /// QEMU was killed by a signal, or did not end.
    pub fn qemu_exit_code(&mut self) -> Result<Option<i32>, QemuError> {
        match &mut self.qemu {
            Some(qemu) => qemu.wait(Duration::from_secs(5)).map(Some),
            None => Ok(None),
        }
    }

    /// What the firmware printed on the semihosting console: QEMU's standard output (when
    /// captured), or what a probe found it writing (`SYS_WRITEC`, `SYS_WRITE0`).
    pub fn console(&self) -> String {
        match (&self.qemu, &self.link) {
            (Some(qemu), _) => qemu.stdout(),
            #[cfg(feature = "probe-rs")]
            (None, Link::Probe(probe)) => probe.console().to_owned(),
            _ => String::new(),
        }
    }

    /// Lets a target behind a GDB server (not one in QEMU) run on without a debugger: sends
    /// the server a detach. Errors are ignored: the connection ends anyway.
    pub fn detach(&mut self) {
        if self.qemu.is_some() {
            return;
        }
        #[allow(irrefutable_let_patterns)] // without probe-rs, GDB is the only link
        if let Link::Gdb(gdb) = &mut self.link {
            let _ = gdb.client_mut().detach();
        }
    }
}

/// The RTT options for the control block `locate` describes; `chip_ram` is the chip's RAM,
/// for [`Locate::ChipRam`].
///
/// # Errors
///
/// The ELF cannot be read, or [`OpenError::NoChipRam`].
pub fn rtt_options(locate: &Locate, chip_ram: &[Range<u64>]) -> Result<RttOptions, OpenError> {
    match locate {
        Locate::Ram(ranges) => Ok(RttOptions::scan(ranges.clone())),
        Locate::ChipRam if chip_ram.is_empty() => Err(OpenError::NoChipRam),
        Locate::ChipRam => Ok(RttOptions::scan(chip_ram.to_vec())),
        Locate::Elf(path) => Ok(RttOptions::from_elf(&FirmwareElf::read(path)?)?),
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one RAM range is meant
mod tests {
    use super::*;

    #[test]
    fn locating_by_ram_and_chip_ram() {
        let ram = vec![0x2000_0000..0x2001_0000];
        let options = rtt_options(&Locate::Ram(ram.clone()), &[]).unwrap();
        assert_eq!(options, RttOptions::scan(ram.clone()));
        assert!(matches!(
            rtt_options(&Locate::ChipRam, &[]),
            Err(OpenError::NoChipRam)
        ));
        let options = rtt_options(&Locate::ChipRam, &ram).unwrap();
        assert_eq!(options, RttOptions::scan(ram));
    }

    #[test]
    fn a_missing_elf_is_an_elf_error() {
        let error = rtt_options(&Locate::Elf("/nonexistent/fw.elf".into()), &[]).unwrap_err();
        assert!(matches!(error, OpenError::Elf(_)), "{error}");
    }

    #[test]
    fn a_gdb_server_that_is_not_there_is_a_gdb_error() {
        // A port nothing listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = OpenTarget::open(&Target::Gdb(format!("127.0.0.1:{port}"))).unwrap_err();
        assert!(
            matches!(error, OpenError::Gdb(GdbError::Connect { .. })),
            "{error}"
        );
    }
}
