//! RTT smoke firmware: proves the host's GDB transport and RTT reader byte for byte.
//!
//! The host test (`tests/tests/qemu_rtt.rs`) mirrors this protocol:
//!
//! 1. Up channel 1 ("smoke", 1 KiB) starts in `NoBlockSkip`; the firmware waits until the host
//!    has attached and switched it to `BlockIfFull`, so no byte can be dropped.
//! 2. It writes [`CHUNKS`] chunks of the pattern below, of varying lengths, about 100 KiB in
//!    all, so the ring wraps about a hundred times at varying offsets.
//! 3. It reads one line from down channel 0 ("smoke") and writes it back on up channel 1 after
//!    `echo:`.
//! 4. It waits until the host has read everything, then until the host has restored the
//!    channel to a non-blocking mode (the host does that when it closes its reader), and exits
//!    with success. A panic exits with failure.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use qemu_boards::exit;
use rtt_target::{rtt_init, ChannelMode};

// tracing-core (linked through qemu-boards) needs a global allocator; nothing here allocates.
#[global_allocator]
static ALLOCATOR: rtt_tunnel_sender::OneShotAlloc = rtt_tunnel_sender::OneShotAlloc::new();

/// How many pattern chunks the firmware writes.
const CHUNKS: u32 = 2000;

/// Length of chunk `j`: 1 to 97 bytes.
fn chunk_len(j: u32) -> usize {
    1 + (j.wrapping_mul(37) % 97) as usize
}

/// Byte `i` of chunk `j`.
fn pattern(j: u32, i: usize) -> u8 {
    (j.wrapping_mul(31) as u8).wrapping_add((i as u8).wrapping_mul(7)) ^ (j >> 8) as u8
}

#[entry]
fn main() -> ! {
    let channels = rtt_init! {
        up: {
            0: { size: 64, name: "Terminal" }
            1: { size: 1024, mode: ChannelMode::NoBlockSkip, name: "smoke" }
        }
        down: {
            0: { size: 64, name: "smoke" }
        }
    };
    let (_terminal, mut up) = channels.up;
    let (mut down,) = channels.down;

    // 1. The host attaches and asks for blocking mode.
    while up.mode() != ChannelMode::BlockIfFull {
        core::hint::spin_loop();
    }

    // 2. The pattern, in blocking mode: every byte must arrive.
    let mut chunk = [0u8; 97];
    for j in 0..CHUNKS {
        let len = chunk_len(j);
        for (i, byte) in chunk[..len].iter_mut().enumerate() {
            *byte = pattern(j, i);
        }
        let written = up.write(&chunk[..len]);
        if written != len {
            panic!(
                "blocking write of chunk {} wrote {} of {} bytes",
                j, written, len
            );
        }
    }

    // 3. Echo one line from the down channel.
    let mut line = [0u8; 64];
    let mut len = 0;
    while len == 0 || line[len - 1] != b'\n' {
        if len == line.len() {
            panic!("no newline in the first {} bytes of the down channel", len);
        }
        len += down.read(&mut line[len..]);
    }
    up.write(b"echo:");
    up.write(&line[..len]);

    // 4. Everything read, then the host's restore of non-blocking mode, then success.
    up.flush();
    while up.mode() == ChannelMode::BlockIfFull {
        core::hint::spin_loop();
    }
    exit(true)
}
