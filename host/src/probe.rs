//! The probe-rs transport: a debug probe reads the target's RTT while it runs.
//!
//! [`ProbeMemory`] puts a probe-rs 0.32 [`Session`](probe_rs::Session) behind
//! [`TargetMemory`](crate::memory::TargetMemory), so the RTT reader that the QEMU tests run over
//! GDB is the one that runs on hardware. On Cortex-M a probe reads memory through the debug
//! access port without stopping the core: no halts, and the reader's extra check for a target
//! that resets between two reads is on. [`Pacer::new(false)`](crate::rtt::Pacer) paces such a
//! link: poll again at once while data comes, back off when idle. While it reads, it asks the
//! core's status every 100 ms (no halt): a firmware halted on a semihosting exit ends the run
//! with its code ([`MemoryError::TargetExited`](crate::memory::MemoryError::TargetExited), the
//! ring drained first), a `SYS_WRITEC`/`SYS_WRITE0` text is kept as its console
//! ([`ProbeMemory::console`]) and the core resumed.
//!
//! [`ProbeOptions`] hold what probe-rs's own tools take: the chip's name, which probe
//! ([`ProbeSelector`], `VID:PID[:SERIAL]`), the wire's speed and [`Protocol`], connecting
//! under reset, and resetting the chip first ([`Startup::Reset`]) versus attaching to the
//! running firmware without disturbing it ([`Startup::Attach`], the default). [`list_probes`]
//! lists the probes plugged in, [`chips`] the chip names probe-rs knows. [`FlashImage`] reads
//! a firmware ELF's loadable segments (from its file, or from the
//! [`FirmwareElf`](crate::elf::FirmwareElf) read already) and [`flash_image`] writes them
//! into the chip with probe-rs's flash loader, as `probe-rs run` does.
//!
//! Errors ([`ProbeError`]) carry what was found (the probes, the chip names, the link) and
//! what usually fixes it: plug a probe in, install udev rules, pick a probe, give the chip's
//! full name, connect under reset or lower the speed.
//!
//! This module is the library's `probe-rs` feature (off by default):
//!
//! ```toml
//! rtt-tunnel-host = { version = "0.1", features = ["probe-rs"] }
//! ```

mod catalog;
mod error;
mod flash;
mod halt;
mod memory;
mod options;
#[cfg(test)]
mod tests;

pub use catalog::{chips, choose_probe, list_probes, ChipFamily, ListedProbe};
pub use error::{NoAnswer, ProbeError, PROBE_SETUP_URL};
pub use flash::{flash_image, FlashImage, FlashPhase, FlashStep};
pub use memory::ProbeMemory;
pub use options::{ProbeOptions, ProbeSelector, Protocol, ProtocolError, SelectorError, Startup};
