//! rtt-tunnel over a UART: the sender writes its frames to UART0 instead of an RTT ring.
//!
//! QEMU connects UART0 to its first `-serial` chardev; the host reads it as a serial port
//! (`host-receiver/tests/cli_serial.rs` runs this with `-serial pty` under
//! `host-receiver --serial /dev/pts/N --resend`):
//!
//! 1. The firmware waits for the host's first request (`--resend`), so that nothing is sent
//!    before the host listens: a pseudo-terminal nobody has opened drops what is written.
//! 2. A span `uart` with three `round` spans inside, each with events of three levels and a
//!    value of each kind.
//! 3. A last event `done`, then a pause for the host to read everything before QEMU exits
//!    (with 0) and closes the pseudo-terminal.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use qemu_boards::uart::Uart0;
use qemu_boards::{boot_count, exit, Counter, BOARD, TICK_HZ};
use rtt_tunnel_sender::{Identity, Tunnel};
use tracing::{debug, info, info_span, warn};

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: rtt_tunnel_sender::OneShotAlloc = rtt_tunnel_sender::OneShotAlloc::new();

/// The sender, over UART0.
static UART_TUNNEL: Tunnel<Uart0, Counter> = Tunnel::new();

/// Rounds traced.
const ROUNDS: u32 = 3;

#[entry]
fn main() -> ! {
    let uart = Uart0::init();
    // 1. Nothing before the host listens (the request is read by the sender's poll below).
    while !uart.rx_ready() {
        core::hint::spin_loop();
    }
    let identity = Identity {
        boot: boot_count(),
        tick_hz: TICK_HZ,
        firmware: concat!(
            env!("CARGO_PKG_NAME"),
            "/uart-demo ",
            env!("CARGO_PKG_VERSION")
        ),
    };
    UART_TUNNEL.set_flash(qemu_boards::flash());
    if UART_TUNNEL.init(uart, identity).is_err() {
        exit(false);
    }
    UART_TUNNEL.poll();

    // 2.
    let outer = info_span!("uart", board = BOARD);
    let _outer = outer.enter();
    for round in 0..ROUNDS {
        let span = info_span!("round", round);
        let _entered = span.enter();
        debug!(
            value = round * 10,
            ok = round % 2 == 0,
            label = "over the line",
            "sample"
        );
        if round == 1 {
            warn!(ratio = 0.5, "half way");
        }
        info!(signed = -i64::from(round), "round done");
    }
    drop(_outer);

    // 3.
    info!(rounds = ROUNDS, "done");
    UART_TUNNEL.poll();
    Counter::delay_us(300_000);
    exit(true)
}
