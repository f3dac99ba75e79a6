//! A reset in the middle of entered spans: the first boot enters two spans, waits for the host
//! to read everything and resets the core (`SCB::sys_reset`; QEMU boots the image again). The
//! second boot, knowing itself by the boot counter in `.uninit` RAM, traces a little and ends.

use cortex_m::peripheral::SCB;
use tracing::{debug_span, info, info_span, warn};

use qemu_boards::{boot_count, exit};

use crate::sync;

pub fn run() {
    match boot_count() {
        1 => {
            let _outer = info_span!("before_reset", boot = 1u32).entered();
            let _inner = debug_span!("inner").entered();
            warn!("about to reset with two spans entered");
            sync();
            SCB::sys_reset()
        }
        2 => {
            let _after = info_span!("after_reset", boot = 2u32).entered();
            info!("booted again after the reset");
            sync();
        }
        boot => {
            warn!(boot, "one boot too many");
            sync();
            exit(false)
        }
    }
}
