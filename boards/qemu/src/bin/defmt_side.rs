//! defmt and rtt-tunnel side by side in one firmware: `defmt` logs on RTT up channel 1
//! (`defmt`, rtt-target's defmt logger), `tracing` spans and events on up channel 0
//! (`rtt-tunnel`), both in the one control block that `init_tunnel!` declares.
//!
//! The two streams interleave: tracing events, defmt lines at every level (and a `println`),
//! some inside tracing spans. defmt's timestamps come from the same clock as the tunnel's (the
//! FPGAIO counter, in microseconds since boot), so the host can put each defmt line where it
//! belongs among the tracing events. A few microseconds pass between two logs, so that no two
//! share a timestamp. At the end the firmware waits for the host to read both channels and
//! exits 0.
//!
//! Only this binary links defmt's `defmt.x` (build.rs) and logs with defmt; `DEFMT_LOG=trace`
//! (build.rs) keeps every level. The host test is `host-receiver/tests/defmt_side.rs`; by hand:
//!
//! ```text
//! cargo build --release --manifest-path boards/Cargo.toml --target thumbv7m-none-eabi --bin defmt-side
//! host-receiver --qemu boards/target/thumbv7m-none-eabi/release/defmt-side
//! ```
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use qemu_boards::{finish, init_tunnel, wait_up_drained, Counter, BOARD, TICK_HZ};

/// Rounds of the loop.
const ROUNDS: u32 = 3;

// defmt's timestamp: microseconds since boot, from the tunnel's clock.
defmt::timestamp!(
    "{=u64:us}",
    u64::from(Counter::read()) * 1_000_000 / TICK_HZ
);

#[entry]
fn main() -> ! {
    // Up channel 0 `rtt-tunnel`, up channel 1 `defmt` (rtt-target's defmt logger).
    let boot = init_tunnel!(2048, defmt = 1024);

    tracing::info!(boot, board = BOARD, "tracing on up channel 0");
    pause();
    defmt::info!("defmt on up channel 1, board {=str}", BOARD);
    pause();
    {
        let _work = tracing::info_span!("work").entered();
        for round in 0..ROUNDS {
            let _round = tracing::debug_span!("round", round).entered();
            tracing::trace!("tracing step");
            pause();
            defmt::debug!("defmt step {=u32}", round);
            pause();
            let value = round * 7;
            tracing::info!(value, "measured");
            pause();
            defmt::trace!("defmt trace value={=u32}", value);
            pause();
        }
        defmt::warn!("defmt warning {=u32:#x}", 0xbeef);
        pause();
        tracing::warn!("tracing warning");
        pause();
    }
    defmt::error!("defmt error: {=str}", "none really");
    pause();
    defmt::println!("defmt println, no level");
    pause();
    tracing::info!("done");

    // The defmt channel too must be read before QEMU ends.
    wait_up_drained(1, 5_000);
    finish(true)
}

/// Some microseconds between two logs, so that their timestamps differ (defmt's are whole
/// microseconds).
fn pause() {
    Counter::delay_us(20);
}
