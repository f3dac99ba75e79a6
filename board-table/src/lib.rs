//! The one table of the QEMU boards rtt-tunnel's firmware runs on.
//!
//! Everything that needs to know which QEMU machine goes with which target triple reads it
//! from here: the build scripts of `boards/qemu` and `boards/bench/common` (the memory map and
//! the clock), the host's default machine (`rtt_tunnel_host::qemu`, `host-receiver --qemu`),
//! `cargo xtask` (demo, bench) and the tests. A board added here is a board everywhere.
//!
//! ```
//! let board = rtt_tunnel_boards::for_target("thumbv7em-none-eabihf").unwrap();
//! assert_eq!(board.cpu, "cortex-m4");
//! assert!(board.memory_x().contains("FLASH"));
//! ```
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

/// A QEMU board the firmware runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The Rust target triple the firmware is built for.
    pub target: &'static str,
    /// Other triples that build for the same core (soft-float variants), which run here too.
    pub also: &'static [&'static str],
    /// The QEMU machine (`-machine`).
    pub machine: &'static str,
    /// The QEMU CPU (`-cpu`).
    pub cpu: &'static str,
    /// The core, for people.
    pub core: &'static str,
    /// Ticks per second of the firmware's clock: the FPGA I/O block's COUNTER, as measured
    /// under QEMU against the FPGA's 100 Hz counter (also the core clock SysTick counts).
    pub tick_hz: u64,
    /// The address of that COUNTER register.
    pub counter: u32,
    /// The memory the firmware's code goes in: origin and length in bytes.
    pub flash: (u32, u32),
    /// The memory its data goes in: origin and length in bytes.
    pub ram: (u32, u32),
    /// An IoT Kit board with TrustZone: the firmware runs secure, its I/O at other addresses.
    pub trustzone: bool,
}

/// 4 MiB.
const MIB4: u32 = 4 << 20;

/// The boards: Cortex-M3, Cortex-M4F, Cortex-M33. The first is the default.
pub const BOARDS: [Board; 3] = [
    Board {
        target: "thumbv7m-none-eabi",
        also: &[],
        machine: "mps2-an385",
        cpu: "cortex-m3",
        core: "Cortex-M3",
        tick_hz: 25_000_000,
        counter: 0x4002_8018,
        // ZBT SSRAM1 holds the code, ZBT SSRAM2/3 the data.
        flash: (0x0000_0000, MIB4),
        ram: (0x2000_0000, MIB4),
        trustzone: false,
    },
    Board {
        target: "thumbv7em-none-eabihf",
        also: &["thumbv7em-none-eabi"],
        machine: "mps2-an386",
        cpu: "cortex-m4",
        core: "Cortex-M4F",
        tick_hz: 25_000_000,
        counter: 0x4002_8018,
        // The AN385's memory map.
        flash: (0x0000_0000, MIB4),
        ram: (0x2000_0000, MIB4),
        trustzone: false,
    },
    Board {
        target: "thumbv8m.main-none-eabihf",
        also: &["thumbv8m.main-none-eabi"],
        machine: "mps2-an505",
        cpu: "cortex-m33",
        core: "Cortex-M33",
        tick_hz: 20_000_000,
        // The secure alias of the FPGA I/O block.
        counter: 0x5030_2018,
        // The core boots secure from the secure alias of ZBT SSRAM1; data in ZBT SSRAM2/3.
        flash: (0x1000_0000, MIB4),
        ram: (0x2800_0000, MIB4),
        trustzone: true,
    },
];

/// The board a firmware runs on when nothing says otherwise.
pub const DEFAULT: &Board = &BOARDS[0];

/// The board for a target triple (its own, or one of [`Board::also`]).
pub fn for_target(target: &str) -> Option<&'static Board> {
    BOARDS
        .iter()
        .find(|b| b.target == target || b.also.contains(&target))
}

/// The board of a QEMU machine.
pub fn for_machine(machine: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.machine == machine)
}

/// The triples of every board, for messages: `a (m), b (m) or c (m)`.
pub fn describe_targets() -> String {
    let mut out = String::new();
    for (i, b) in BOARDS.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == BOARDS.len() { " or " } else { ", " });
        }
        out.push_str(&format!("{} ({})", b.target, b.machine));
    }
    out
}

impl Board {
    /// cortex-m-rt's `memory.x` for this board.
    pub fn memory_x(&self) -> String {
        format!(
            "/* {} ({}) in QEMU, from rtt-tunnel-boards. */\nMEMORY\n{{\n  FLASH : ORIGIN = {:#010x}, LENGTH = {}K\n  RAM   : ORIGIN = {:#010x}, LENGTH = {}K\n}}\n",
            self.machine,
            self.core,
            self.flash.0,
            self.flash.1 / 1024,
            self.ram.0,
            self.ram.1 / 1024,
        )
    }

    /// The Rust constants a firmware build script writes for this board: `BOARD` (the
    /// machine), `TICK_HZ`, `FPGAIO_COUNTER`.
    pub fn constants_rs(&self) -> String {
        format!(
            "/// The QEMU machine this build is for.\npub const BOARD: &str = {:?};\n\
             /// Ticks per second of the FPGA I/O block's COUNTER.\npub const TICK_HZ: u64 = {};\n\
             /// The FPGA I/O block's free-running COUNTER.\n\
             const FPGAIO_COUNTER: *const u32 = {:#x} as *const u32;\n",
            self.machine, self.tick_hz, self.counter
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_and_machines_are_unique_and_found() {
        for b in &BOARDS {
            assert_eq!(for_target(b.target), Some(b));
            assert_eq!(for_machine(b.machine), Some(b));
            for t in b.also {
                assert_eq!(for_target(t), Some(b));
            }
        }
        assert_eq!(for_target("thumbv6m-none-eabi"), None);
        assert_eq!(DEFAULT.target, "thumbv7m-none-eabi");
    }

    #[test]
    fn memory_x_is_what_cortex_m_rt_reads() {
        let m = for_target("thumbv8m.main-none-eabihf").unwrap().memory_x();
        assert!(
            m.contains("FLASH : ORIGIN = 0x10000000, LENGTH = 4096K"),
            "{m}"
        );
        assert!(
            m.contains("RAM   : ORIGIN = 0x28000000, LENGTH = 4096K"),
            "{m}"
        );
    }
}
