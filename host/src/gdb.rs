//! The GDB remote serial protocol transport: any GDB server as [`TargetMemory`](crate::memory::TargetMemory).
//!
//! [`GdbClient`] speaks the protocol over TCP; [`GdbMemory`] puts it behind
//! [`TargetMemory`](crate::memory::TargetMemory), halting the target for each batch of
//! accesses (one RTT poll) and resuming it after, since all-stop servers — QEMU's gdbstub
//! first of all — only read memory while the target is halted.
//!
//! Tested against QEMU 7.2's gdbstub (acknowledged packets, no `QStartNoAckMode`, no `X`,
//! reads of at most 2 KiB). The same client works with OpenOCD, pyOCD, SEGGER's J-Link GDB
//! Server and the Black Magic Probe, which all serve memory in all-stop mode while the core is
//! halted; there a poll stops the core for its few milliseconds. With the `testing` feature,
//! `fake::FakeGdbServer` is an in-process server over a `memory::SimMemory`, for tests.

mod client;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
mod memory;
mod packet;
#[cfg(test)]
mod tests;

pub use client::{GdbClient, GdbError, GdbOptions, GdbStats};
pub use memory::GdbMemory;
pub use packet::{StopReply, SIGINT};
