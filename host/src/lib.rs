//! The host side of rtt-tunnel: `tracing` for microcontrollers, as a library.
//!
//! Firmware traces with the ordinary `tracing` macros; its sender (`rtt-tunnel-sender`) writes
//! every span and event as a COBS-framed postcard message (`rtt-tunnel-protocol`) into an RTT
//! ring, or onto a UART. This crate takes those bytes from wherever they come, rebuilds the
//! target's call sites and spans, and relays them into the host's `tracing` dispatcher, at
//! the time they happened on the target. The `host-receiver` command line tool is built on
//! it; `docs/architecture.md` in the repository shows the whole data path.
//!
//! # The pipeline
//!
//! ```text
//! byte source ──► Splitter ──► Frame::decode ──► Receiver ──► dispatcher: Sinks (Layers)
//! (ByteSource)   (0x00, COBS    (protocol)       (call sites,   fmt text, JSON, your own
//!  RTT reader     in place)                       spans, time)
//!  serial port           └─ taps: capture file (raw bytes), defmt lines interleaved
//!  capture replay
//! ```
//!
//! - **Sources** ([`pipeline::ByteSource`]): [`rtt::RttReader`] drains an RTT up channel
//!   through any [`memory::TargetMemory`] — [`gdb::GdbMemory`] (QEMU's gdbstub, OpenOCD,
//!   pyOCD, J-Link and Black Magic Probe GDB servers) or `probe::ProbeMemory` (a debug probe,
//!   feature `probe-rs`); `serial::SerialSource` reads a UART (feature `serial`);
//!   [`capture::CaptureSource`] replays a recording. [`session::Session`] drives an RTT reader
//!   with what only RTT has: attach timeouts, a defmt channel in the same polls, requests on
//!   the down channel, adaptive polling, retries.
//! - **[`pipeline::Pipeline`]** splits, decodes and relays, with the two taps;
//!   [`pipeline::Drain`] feeds it from any source. What the target sends never stops the
//!   stream and never panics the host: bytes that are not a frame, frames that do not decode
//!   and frames the receiver refuses are counted and reported as `WARN` events of target
//!   [`rtt_tunnel`](receiver::RECEIVER_TARGET).
//! - **[`receiver::Receiver`]** is tracing-tunnel's `TracingEventReceiver` for a
//!   microcontroller: call sites become leaked `&'static Metadata` (deduplicated, capped),
//!   remote span ids become local spans; a target reset force-exits and closes every span the
//!   old boot had open; receivers persist and restore across host runs.
//! - **Outputs** ([`output::Sinks`]): a list of `tracing-subscriber` `Layer`s, each with its
//!   own filter; [`output::Output`] makes the text and JSON ones, [`timeline::Timeline`] a
//!   trace file for the Perfetto UI and speedscope, streamed in target time.
//!
//! # Target time
//!
//! Every frame carries the ticks since the frame before it; the receiver sums them into the
//! time since the target's boot and publishes it while it relays the frame:
//! [`target_time::current`] returns it to any `Layer` (the sinks of [`output`] print it as
//! the first column, [`target_time::TargetTimer`] for your own `fmt` layers), and
//! [`receiver::Receiver::clock`] gives a handle readable from any thread. Host time is never
//! used for what the target traced: a recording replays with the same times, and a layer
//! that measures durations with `Instant` measures the host, not the target. After a target
//! reset the time starts again from the new boot, with its epoch counted.
//!
//! # Example
//!
//! Drain a firmware's RTT channel through a GDB server into the terminal:
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//!
//! use rtt_tunnel_host::elf::FirmwareElf;
//! use rtt_tunnel_host::gdb::{GdbMemory, GdbOptions};
//! use rtt_tunnel_host::output::{Format, Output, Sinks};
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_host::rtt::{RttOptions, RttReader};
//! use rtt_tunnel_host::session::{RunOptions, Session};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dispatch = Sinks::new()
//!     .with_output(&Output::new(Format::Compact).filter("info"))?
//!     .dispatch();
//! tracing_core::dispatcher::set_global_default(dispatch)?;
//!
//! // The `_SEGGER_RTT` symbol of the firmware's ELF says where its control block is.
//! let options = RttOptions::from_elf(&FirmwareElf::read("firmware.elf")?)?;
//! let memory = GdbMemory::connect("127.0.0.1:3333", GdbOptions::default())?;
//! let mut session = Session::new(RttReader::new(memory, options), Receiver::default());
//! let stop = AtomicBool::new(false); // set it from a Ctrl-C handler
//! let end = session.run(&stop, &RunOptions::default())?;
//! let closed = session.close(); // the up channel is left non-blocking
//! eprintln!("{end:?}: {}", closed.stats);
//! # Ok(())
//! # }
//! ```
//!
//! Any byte stream goes through the same [`pipeline::Pipeline`]; see [`pipeline::Drain`] for
//! a source of your own and module `serial` (feature `serial`) for a UART.
//!
//! # Features
//!
//! - `probe-rs` (off): the probe-rs transport, module `probe`: a debug probe reads
//!   the running core without halting it. Brings probe-rs 0.32, which needs Rust 1.89.
//!   `rtt-tunnel-host = { version = "0.1", features = ["probe-rs"] }`
//! - `serial` (off): `serial::SerialSource`, through the `serialport` crate (without libudev:
//!   nothing to install). `rtt-tunnel-host = { version = "0.1", features = ["serial"] }`
//! - `testing` (off): test scaffolding, not a stable API — a simulated target memory, the
//!   target side of an RTT block in it, an in-process GDB server.
//!
//! GDB, QEMU, capture files, defmt decoding (`defmt-decoder` 1.x) and ELF reading are always
//! there.
//!
//! # Supported Rust versions
//!
//! Rust 1.89 or later (probe-rs 0.32's minimum; the crate declares it for every feature set).
//! Linux is what the project tests on; nothing in the crate is Linux-only but the QEMU
//! launcher's use of `qemu-system-arm` from `PATH`.
#![warn(missing_docs)]

// The receiver and where it relays to.
pub mod output;
pub mod receiver;
pub mod target_time;
pub mod timeline;

// The pipeline every source feeds, and the capture files it records.
pub mod capture;
pub mod pipeline;
pub mod session;

// Sources and transports.
pub mod elf;
pub mod gdb;
pub mod memory;
pub mod qemu;
pub mod rtt;
pub mod target;

#[cfg(feature = "probe-rs")]
pub mod probe;

#[cfg(feature = "serial")]
pub mod serial;

// defmt side by side.
pub mod defmt;
