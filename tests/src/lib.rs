//! End-to-end tests of rtt-tunnel: the firmware of `boards/` runs in QEMU on three boards, the
//! host drains it through QEMU's gdbstub into the `Receiver`, and what the host's `tracing`
//! saw is compared with checked-in snapshots.
//!
//! - [`boards`]: the QEMU boards, and the firmware built for them once per test process.
//! - [`layer`]: what the capture layer (`rtt-tunnel-testing`, shared with the host library's
//!   tests) saw, as deterministic text.
//! - [`scenario`]: the scenarios of the `scenarios` firmware, run in QEMU or replayed from
//!   their recorded captures (`fixtures/`).
//! - [`checks`]: what every run must show besides its snapshot.
//!
//! The tests are in `tests/`: `qemu_scenarios.rs` (QEMU, every scenario on every board) and
//! `fixtures.rs` (the recorded captures replayed, no QEMU). Both compare with the snapshots in
//! `tests/snapshots/`; `cargo xtask bless` records both again. `qemu_rtt.rs` checks the GDB
//! transport and the RTT reader byte for byte against the `rtt-smoke` firmware. host-receiver's
//! own QEMU tests use [`boards`] too (a dev-dependency on this crate). Without `qemu-system-arm` the
//! QEMU tests fail with the command that installs it; they never skip.
#![warn(missing_docs)]

pub mod boards;
pub mod checks;
pub mod layer;
pub mod scenario;
pub mod timeline;
