//! What the QEMU tests share: the boards, the firmware built once per test process (by the
//! end-to-end tests' own module, `tests/src/boards.rs`, so both suites build it one way), and
//! insisting on QEMU.

#![allow(dead_code)]

use std::path::PathBuf;

#[path = "../../../tests/src/boards.rs"]
mod boards;

pub use boards::require_qemu;

/// The boards we test on: (target triple, QEMU machine).
pub const BOARDS: [(&str, &str); 3] = [
    (boards::BOARDS[0].target, boards::BOARDS[0].machine),
    (boards::BOARDS[1].target, boards::BOARDS[1].machine),
    (boards::BOARDS[2].target, boards::BOARDS[2].machine),
];

/// The path of firmware binary `bin` of the `qemu-boards` package for `target`, built (for
/// all three boards) the first time any test of the process asks.
pub fn firmware(bin: &str, target: &str) -> PathBuf {
    let board = boards::BOARDS
        .iter()
        .find(|b| b.target == target)
        .unwrap_or_else(|| panic!("no QEMU board for target {target}"));
    boards::firmware(bin, board)
}
