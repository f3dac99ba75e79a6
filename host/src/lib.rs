//! The host side of rtt-tunnel: drains a target's RTT up channel and relays its spans and
//! events into the host's `tracing` dispatcher.
#![warn(missing_docs)]

// Receiver side (issue 4).
pub mod output;
pub mod receiver;
pub mod target_time;

// Transports and the RTT reader (issue 5).
pub mod elf;
pub mod gdb;
pub mod memory;
pub mod qemu;
pub mod rtt;

// The probe-rs transport (issue 6).
#[cfg(feature = "probe-rs")]
pub mod probe;

// The serial transport (issue 13).
#[cfg(feature = "serial")]
pub mod serial;

// The drain pipeline and capture files (issue 5).
pub mod capture;
pub mod pipeline;
pub mod session;

// defmt side by side (issue 6).
pub mod defmt;
