//! The firmware side of rtt-tunnel: `tracing` for microcontrollers.
//!
//! Firmware uses the ordinary `tracing` macros (`info!`, `span!`, `#[instrument]`). This crate
//! is the `tracing-core` [`Subscriber`](tracing_core::Subscriber) on the chip: `no_std`, no
//! allocation after start-up, fixed capacity. It turns every span and event into a compact
//! postcard frame (see `rtt-tunnel-protocol`) in an RTT up channel, from thread mode and
//! interrupts alike; the host tool drains that channel through a debug probe and replays
//! everything into the host's `tracing-subscriber`.
//!
//! # How it works
//!
//! - **One static [`Tunnel`]** holds all state, with fixed capacity (const generics): the
//!   span table (slot + generation ids, reference counts), the stack of entered spans, the
//!   call sites seen. The `tracing` subscriber, [`Sender`], is a handle of one pointer to it.
//! - **Frames** are encoded on the stack outside any critical section, then copied into the
//!   ring inside one (`critical-section`), whole or not at all. Frames never interleave.
//! - **Timestamps** come from a [`Clock`] the firmware supplies; each frame carries the ticks
//!   since the previous frame written. A `Hello` frame (protocol version, boot identity, tick
//!   rate, firmware identity) starts every boot: see [`Identity`].
//! - **Call sites** are announced once, on first use, before the first frame that refers to
//!   them; one whose announcement found the ring full is announced before the next frame that
//!   needs it, or by [`Tunnel::poll`].
//! - **Full ring**: the frame is dropped whole and counted; a `Dropped` frame tells the host
//!   how many, before the next frame that fits.
//! - **Lost frames are made good** (the guarantee): after any loss, before the next frame that
//!   fits, the sender writes a `Resync` (its live spans and its stack of entered spans), a
//!   `LiveSpan` for each span whose `NewSpan` was lost, and a second `Resync` if there were
//!   any. The host closes the spans the target no longer has and makes its entered stack the
//!   target's: from there on its live spans and entered stack equal the target's, and every
//!   later span and event has the parent it has on the target; the exits and closes it makes
//!   are late (the span ended at or before that time). Not recovered: values of a lost
//!   `NewSpan` or `Record`, a lost `FollowsFrom`, lost events (counted). Until a span's
//!   `NewSpan` or `LiveSpan` is written, its enter, record and close are not sent. On the hot
//!   path this costs one check of what is due before an enter, exit or close, the check every
//!   frame already made.
//! - **Capacity**: what the tables could not hold ([`Stats`]: spans and enters untracked,
//!   events of refused call sites, values left out or cut) goes to the host in a `Status`
//!   frame from [`Tunnel::poll`] whenever it changed; the host warns once per kind, with the
//!   count and the fix.
//! - **At the end**: [`Tunnel::flush`] keeps writing until nothing is pending (reports, what
//!   a loss made due, the `Status`), waiting for the host to make room, within a bound; call
//!   it before the firmware stops, resets or halts, so the host's counts equal [`Stats`].
//! - **Span ids**: the `tracing` id packs a table slot and the slot's generation, so an id
//!   kept after its span closed never names a later span; the wire names the slot alone
//!   (`slot + 1`), one byte for tables of up to 127 spans however long the firmware runs. A
//!   new span takes the lowest free slot; a slot is reused only after its span's `Close` was
//!   written or dropped (the host then replaces the span it still had under that id).
//! - **Full tables**: a span that finds no slot gets the untracked id (the host knows it);
//!   events inside it are still sent. Events from a call site that finds no slot are dropped.
//!   Everything is counted in [`Stats`]; nothing panics.
//! - **Constants by reference**: text that lies in the firmware's flash and reaches the sender
//!   in one piece — a constant message (`info!("ready")`, whose one static piece
//!   `fmt::Arguments` hands to `write_str` as is), a static `&str` value — is not sent: the
//!   call site's first event carries its offset from the start of flash and its length (3 or
//!   4 bytes), the host reads the text from the firmware's ELF, from the target's memory or
//!   from a capture, and keeps it; the events after it send a one-byte marker while it stays
//!   the same. Formatted messages (`info!("n = {}", n)`), numbers, `Debug` output written in
//!   pieces and strings in RAM are sent as text every time. The flash is cortex-m-rt's
//!   read-only data (`__srodata..__erodata`) by default, or what [`Tunnel::set_flash`] says.
//! - **Hot path**: the message is encoded by hand (the protocol crate's encoder, no serde)
//!   into a stack buffer that is never zeroed; inside the critical section it is sealed
//!   straight into the RTT ring's free space (code byte, timestamp delta, body COBS-encoded a
//!   word at a time as it is copied, delimiter: one pass, no call to `memcpy`). A frame that
//!   would wrap around the end of the ring is sealed in its buffer and copied in two parts.
//!   Nothing on the way panics. A constant message's text is read from its `fmt::Arguments`
//!   without running `core::fmt`.
//! - **Values**: every `Visit` method (`bool`, integers up to 128 bits, `f64`, `&str`,
//!   `Debug`; `Display` and errors through `Debug`). `Debug`, `Display` and string values are
//!   formatted straight into the frame and cut at [`Tunnel::TEXT_LIMIT`] (`FRAME / 2`, 128
//!   bytes by default) or at the room left, marked as cut. At most 32 fields per span or event
//!   (tracing's own limit); a value that does not fit the frame is replaced by an empty text
//!   marked as cut.
//! - **The host can ask** on the RTT down channel to re-send the `Hello`, every known call
//!   site and every live span with its entered count (a host that attached late), or to change
//!   the runtime level filter ([`Tunnel::set_level`]). The sender looks at the down channel on
//!   its own every [`Tunnel::REQUEST_CHECK`] new spans, events and span clones in thread
//!   mode (a word counted down per operation, two offsets compared per check);
//!   [`Tunnel::poll`] serves it at once, for idle loops.
//! - **Levels**: `tracing`'s `max_level_*` / `release_max_level_*` features compile levels
//!   out, as usual; below that, the runtime level filters (default: everything).
//! - **Allocation**: tracing-core 0.1 puts the dispatcher in an `Arc` (12 bytes here), once,
//!   at [`Tunnel::init`]. [`OneShotAlloc`] is a `#[global_allocator]` that serves that one
//!   allocation and refuses any other, loudly. Spans and events never allocate.
//! - **Panics**: [`report_panic`] sends the panic message and location as an `ERROR` event.
//!
//! # Set-up in one line
//!
//! With the features `cortex-m` (and `panic-handler` for the panic handler), [`init!`]
//! declares the RTT channels, the allocator, the boot counter and the tunnel, and starts it:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! #[cortex_m_rt::entry]
//! fn main() -> ! {
//!     rtt_tunnel_sender::init!(clock = dwt(64_000_000));
//!     tracing::info!("up");
//!     loop {
//!         let _round = tracing::info_span!("round").entered();
//!         // …
//!     }
//! }
//! ```
//!
//! ```toml
//! [dependencies]
//! rtt-tunnel-sender = { version = "0.1", features = ["cortex-m", "panic-handler"] }
//! tracing = { version = "0.1", default-features = false, features = ["attributes"] }
//! cortex-m = { version = "0.7", features = ["critical-section-single-core"] }
//! cortex-m-rt = "0.7"
//! ```
//!
//! # Example firmware, set up by hand
//!
//! What [`init!`] does, spelled out, for other capacities, another link or a clock of your
//! own: a Cortex-M4 firmware with defmt on RTT up channel 0 and rtt-tunnel on up channel 1, in
//! one control block (`Cargo.toml` below):
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! use cortex_m_rt::entry;
//! use rtt_target::rtt_init;
//! use rtt_tunnel_sender::{firmware_id, Clock, Identity, OneShotAlloc, RttLink, Tunnel};
//!
//! // tracing-core's one allocation (the dispatcher's `Arc`), and no other.
//! #[global_allocator]
//! static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();
//!
//! /// Timestamps from the DWT cycle counter: 32 bits, wraps.
//! struct Cycles;
//! impl Clock for Cycles {
//!     const BITS: u32 = 32;
//!     fn now() -> u64 {
//!         cortex_m::peripheral::DWT::cycle_count() as u64
//!     }
//! }
//!
//! // 32 live spans, 64 call sites, 16 entered at once, 256-byte frames: 3.9 KiB of RAM.
//! static TUNNEL: Tunnel<RttLink, Cycles> = Tunnel::new();
//!
//! const SYSCLK_HZ: u64 = 64_000_000;
//!
//! #[entry]
//! fn main() -> ! {
//!     let mut cp = cortex_m::Peripherals::take().unwrap();
//!     cp.DCB.enable_trace();
//!     cp.DWT.enable_cycle_counter();
//!
//!     let channels = rtt_init! {
//!         up: {
//!             0: { size: 1024, name: "defmt" }
//!             1: { size: 4096, name: "rtt-tunnel" }
//!         }
//!         down: {
//!             0: { size: 16, name: "rtt-tunnel" }
//!         }
//!     };
//!     // defmt logs on up channel 0 (rtt-target's `defmt` feature).
//!     rtt_target::set_defmt_channel(channels.up.0);
//!     // tracing on up channel 1, host requests on down channel 0.
//!     let link = RttLink::new(channels.up.1, Some(channels.down.0));
//!     let identity = Identity { boot: boot_nonce(), tick_hz: SYSCLK_HZ, firmware: firmware_id!() };
//!     TUNNEL.init(link, identity).unwrap();
//!
//!     defmt::info!("defmt still works");
//!     let mut n = 0u32;
//!     loop {
//!         let _round = tracing::info_span!("round", n).entered();
//!         let reading = measure(n);
//!         tracing::info!(reading, "measured");
//!         n = n.wrapping_add(1);
//!     }
//! }
//!
//! #[tracing::instrument(level = "debug")]
//! fn measure(n: u32) -> u32 {
//!     n * 3
//! }
//!
//! /// A counter in RAM that cortex-m-rt does not zero: it survives a reset, so each boot gets
//! /// a new number (after power-up it starts from whatever the RAM held). A hardware random
//! /// number does as well.
//! #[link_section = ".uninit.rtt_tunnel_boot"]
//! static mut BOOT: core::mem::MaybeUninit<u32> = core::mem::MaybeUninit::uninit();
//!
//! fn boot_nonce() -> u32 {
//!     // SAFETY: called once at start-up, before interrupts are enabled; the RAM holds some
//!     // u32, whatever it is.
//!     unsafe {
//!         let boot = core::ptr::addr_of_mut!(BOOT).cast::<u32>();
//!         let next = boot.read_volatile().wrapping_add(1);
//!         boot.write_volatile(next);
//!         next
//!     }
//! }
//!
//! #[panic_handler]
//! fn panic(info: &core::panic::PanicInfo) -> ! {
//!     rtt_tunnel_sender::report_panic(info);
//!     loop {
//!         cortex_m::asm::bkpt();
//!     }
//! }
//! ```
//!
//! ```toml
//! [dependencies]
//! rtt-tunnel-sender = "0.1"
//! tracing = { version = "0.1", default-features = false, features = ["attributes"] }
//! rtt-target = { version = "0.6", features = ["defmt"] } # `defmt` only to share RTT with defmt
//! defmt = "0.3"                                          # rtt-target 0.6 implements defmt 0.3's logger
//! cortex-m = { version = "0.7", features = ["critical-section-single-core"] }
//! cortex-m-rt = "0.7"
//! ```
//!
//! The defmt 0.3 that rtt-target 0.6 names is, from 0.3.100 on, defmt 1 underneath:
//! `defmt = "1"` works as well. Link defmt's `-Tdefmt.x` as usual. `host-receiver --elf` finds
//! the defmt table in the ELF and the up channel named `defmt`, and shows its lines among the
//! spans and events; a timestamp from the tunnel's clock (`defmt::timestamp!("{=u64:us}",
//! …)`, microseconds since boot) puts each line in its place and inside its spans.
//!
//! Without defmt, declare only the rtt-tunnel channels and leave rtt-target's `defmt`
//! feature off. Without a down channel, pass `None`: the host then cannot ask for re-sends or
//! level changes. Interrupt handlers trace like thread mode; interrupts nest, so their spans
//! nest inside whatever thread mode had entered.
//!
//! The same code runs on the host against an in-memory ring: see [`Tunnel`]'s example.
//!
//! # Memory
//!
//! Measured on `thumbv7em-none-eabihf`, release with `opt-level = "s"` and LTO, the defaults
//! (`Tunnel<RttLink, C, 32, 64, 16, 256>`):
//!
//! - **RAM**: the tunnel takes 3.9 KiB of `.bss` (its constructor is all zeros, so no flash
//!   for an initial image), plus the 12-byte dispatcher allocation.
//! - **Stack**: each span or event operation puts a `FRAME`-byte buffer on the stack (never
//!   zeroed): the `event`, `new_span` and `record` functions take 400 to 450 bytes of stack,
//!   the deepest path (the first event of a call site, announced on the way) about 1 KiB, plus
//!   what your `Debug` impls need. An interrupt handler that traces needs that much too. A
//!   smaller `FRAME` shrinks it.
//! - **Flash**: about 23 KiB for the whole tracing stack next to a firmware that only writes
//!   RTT (`BENCHMARKS.md`, the demo-like application), of which about 8 KiB is `tracing`
//!   itself (the same application into a subscriber that does nothing): the sender (10 KiB),
//!   the protocol's hand encoder (2.2 KiB; the rare messages through one out-of-line copy),
//!   more of `core::fmt` and the float conversions, and the code and metadata of the
//!   firmware's own call sites. No serde or postcard code, no `memcpy`, and neither
//!   rtt-target's `write` nor its `read` is linked.
//!
//! # Features
//!
//! - `rtt` (default): [`RttLink`], the [`Link`] over rtt-target 0.6's `UpChannel` and
//!   `DownChannel`. Without it, implement [`Link`] for your own transport.
//! - `defmt`: `defmt::Format` for [`Stats`] and [`InitError`], to log them with defmt; with
//!   `rtt`, rtt-target's defmt logger (`init!(…, defmt = BYTES)`).
//! - `cortex-m`: Cortex-M board support: the [`Dwt`] and [`SysTickMs`] clocks,
//!   [`boot_count`], [`Tunnel::poll_and_wait`], and with `rtt` the [`init!`] set-up.
//! - `panic-handler` (implies `cortex-m`): a `#[panic_handler]`, as panic-probe's: the panic
//!   is reported ([`report_panic`]), the host given time to read it, then `udf`.
//! - `cortex-m-rt` (default): on bare-metal ARM targets, the flash of texts sent by reference
//!   is cortex-m-rt's read-only data, from the linker symbols `__srodata` and `__erodata`
//!   that its `link.x` defines. Firmware linked without cortex-m-rt turns it off (it would not
//!   link) and calls [`Tunnel::set_flash`], or sends every text in full.
//! - `embassy-time`: the [`EmbassyTime`] clock (`embassy_time::Instant`, at
//!   `embassy_time::TICK_HZ`), `init!(clock = embassy())`; the firmware links a time driver.
//!
//! ```toml
//! rtt-tunnel-sender = { version = "0.1", default-features = false } # no rtt-target
//! rtt-tunnel-sender = { version = "0.1", features = ["defmt"] }
//! rtt-tunnel-sender = { version = "0.1", features = ["cortex-m", "panic-handler"] }
//! ```
//!
//! A critical-section implementation must be linked in, as for any user of the
//! `critical-section` crate: on a single-core Cortex-M, cortex-m's
//! `critical-section-single-core` feature.
//!
//! # Supported targets
//!
//! Cortex-M3, M4, M7, M33 and M55: `thumbv7m-none-eabi`,
//! `thumbv7em-none-eabi(hf)`, `thumbv8m.main-none-eabi(hf)`, and any target with atomic
//! compare-and-swap (the host, for tests).
//!
//! **Cortex-M0 and M0+ (`thumbv6m-none-eabi`) are not supported**: tracing-core itself needs
//! atomic compare-and-swap, which those cores do not have, so tracing-core does not build
//! there.
//!
//! Rust 1.85 or later.
#![no_std]
#![warn(missing_docs)]
// The docs link the board support, `init!`, `RttLink` and `EmbassyTime`, which exist only
// with their features. The documented configuration (`[package.metadata.docs.rs]`) has them
// all, and `cargo xtask test` checks its links with warnings as errors; with fewer features
// the links to what is not compiled in stay plain text instead of failing `cargo doc`.
#![cfg_attr(
    not(all(feature = "rtt", feature = "cortex-m", feature = "embassy-time")),
    allow(rustdoc::broken_intra_doc_links)
)]

mod alloc;
#[cfg(feature = "cortex-m")]
mod board;
mod callsites;
mod clock;
mod context;
mod entered;
mod error;
mod flash;
mod identity;
#[cfg(all(feature = "cortex-m", feature = "rtt"))]
mod init;
mod level;
mod link;
mod maybe;
mod panic;
mod requests;
#[cfg(feature = "rtt")]
mod rtt;
mod seal;
mod spans;
mod state;
mod stats;
mod subscriber;
mod tunnel;
mod visit;

pub use alloc::OneShotAlloc;
#[cfg(feature = "cortex-m")]
pub use board::{boot_count, flush_registered, register_flush, Dwt, SysTickMs};
pub use clock::Clock;
#[cfg(feature = "embassy-time")]
pub use clock::EmbassyTime;
pub use error::InitError;
pub use identity::Identity;
pub use link::{Link, MemoryLink};
pub use panic::report_panic;
#[cfg(feature = "rtt")]
pub use rtt::RttLink;
pub use stats::Stats;
pub use subscriber::Sender;
pub use tunnel::Tunnel;

/// What [`init!`] expands to needs; not an API.
#[doc(hidden)]
#[cfg(all(feature = "cortex-m", feature = "rtt"))]
pub mod __private {
    pub use critical_section;
    pub use rtt_target;
}

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;
