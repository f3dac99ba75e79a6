//! The probe-rs transport (`--chip`): a debug probe reads the target's RTT while it runs.
//!
//! [`ProbeMemory`] puts a probe-rs 0.32 [`Session`](probe_rs::Session) behind
//! [`TargetMemory`](crate::memory::TargetMemory), so the RTT reader that the QEMU tests run over
//! GDB is the one that runs on hardware. On Cortex-M a probe reads memory through the debug
//! access port without stopping the core: no halts, and the reader's extra check for a target
//! that resets between two reads is on. [`Pacer::new(false)`](crate::rtt::Pacer) paces such a
//! link: poll again at once while data comes, back off when idle.
//!
//! [`ProbeOptions`] follow probe-rs's command line: `--chip NAME`, `--probe VID:PID[:SERIAL]`
//! ([`ProbeSelector`]), `--speed KHZ`, `--protocol swd|jtag` ([`Protocol`]),
//! `--connect-under-reset`, and `--reset` ([`Startup::Reset`]) versus attaching to the running
//! firmware without disturbing it ([`Startup::Attach`], the default). [`list_probes`] and
//! [`chips`] answer `host-receiver list` and `host-receiver chips FILTER`.
//!
//! Errors ([`ProbeError`]) say what to try: plug a probe in, install udev rules, pass
//! `--probe`, look the chip name up with `host-receiver chips`, connect under reset or lower
//! the speed.
//!
//! This module is the `probe-rs` feature of host-receiver (on by default):
//!
//! ```toml
//! host-receiver = { version = "0.1", default-features = false } # without probe-rs
//! ```

mod catalog;
mod error;
mod memory;
mod options;
#[cfg(test)]
mod tests;

pub use catalog::{chips, choose_probe, list_probes, ChipFamily, ListedProbe};
pub use error::{NoAnswer, ProbeError, PROBE_SETUP_URL};
pub use memory::ProbeMemory;
pub use options::{ProbeOptions, ProbeSelector, Protocol, ProtocolError, SelectorError, Startup};
