//! The ring filler of the drain benchmark: writes [`TOTAL`] bytes of a known pattern into up
//! channel 0 (4 KiB, rtt-tunnel's documented ring size) as fast as it can.
//!
//! 1. Prints `drain-total <bytes>` through semihosting, then waits until the host has
//!    attached and switched the channel to `BlockIfFull`, so nothing is lost and the ring is
//!    refilled the moment the host frees room.
//! 2. Writes the pattern: byte `i` of the stream is `i % 251`.
//! 3. Waits until the host has read everything and has put the channel back into a
//!    non-blocking mode (the host measures the link's raw read rate in between), then exits 0.
#![no_std]
#![no_main]

use bench_common::up0;
use cortex_m_rt::entry;
use rtt_target::{rtt_init, ChannelMode};

/// Bytes written.
const TOTAL: u32 = 2 * 1024 * 1024;
/// Bytes per write.
const CHUNK: usize = 1024;
/// The pattern's period: a prime, so that chunks start at ever other phases.
const PERIOD: usize = 251;

/// `PERIOD + CHUNK` bytes of the pattern: a chunk starting at any phase is a slice of it.
static PATTERN: [u8; PERIOD + CHUNK] = {
    let mut table = [0u8; PERIOD + CHUNK];
    let mut i = 0;
    while i < table.len() {
        table[i] = (i % PERIOD) as u8;
        i += 1;
    }
    table
};

#[entry]
fn main() -> ! {
    let channels = rtt_init! {
        up: {
            0: { size: 4096, mode: ChannelMode::NoBlockSkip, name: "drain" }
        }
    };
    let mut up = channels.up.0;
    bench_common::print("drain-total ");
    bench_common::print_u32(TOTAL);
    bench_common::print("\n");
    while up.mode() != ChannelMode::BlockIfFull {
        core::hint::spin_loop();
    }
    let mut written = 0u32;
    while written < TOTAL {
        let len = CHUNK.min((TOTAL - written) as usize);
        let phase = written as usize % PERIOD;
        written += up.write(&PATTERN[phase..phase + len]) as u32;
    }
    while !up0::is_empty() || up.mode() == ChannelMode::BlockIfFull {
        core::hint::spin_loop();
    }
    bench_common::exit(true)
}
