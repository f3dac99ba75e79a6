//! Board support shared by the firmware that runs in QEMU's MPS2 boards.
//!
//! The target triple selects the board (`build.rs` links the matching `memory.x`):
//!
//! | target                       | QEMU machine  | core        |
//! |------------------------------|---------------|-------------|
//! | `thumbv7m-none-eabi`         | `mps2-an385`  | Cortex-M3   |
//! | `thumbv7em-none-eabihf`      | `mps2-an386`  | Cortex-M4F  |
//! | `thumbv8m.main-none-eabihf`  | `mps2-an505`  | Cortex-M33  |
//!
//! Firmware ends itself through semihosting exit, so QEMU's exit code is the firmware's verdict:
//! [`exit`] with `true` exits 0, and a panic or a HardFault exits 1. Link this crate into every
//! binary (`use qemu_boards as _;`) to get the panic and fault handlers.
#![no_std]

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};

/// The QEMU machine this build is for (`mps2-an385`, `mps2-an386` or `mps2-an505`).
pub const BOARD: &str = env!("QEMU_BOARD");

/// Ends the firmware through semihosting: QEMU exits with 0 when `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached when semihosting is off (QEMU without `-semihosting-config enable=on`).
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware panicked: {}", info);
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("HardFault at pc {:#010x}", frame.pc());
    exit(false)
}
