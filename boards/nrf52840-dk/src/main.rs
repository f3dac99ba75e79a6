//! rtt-tunnel on the nRF52840-DK: the firmware traces with the ordinary `tracing` macros, and
//! `cargo run --release` flashes it and shows its spans and events (the runner is
//! `host-receiver run --chip nRF52840_xxAA`, in `.cargo/config.toml`).
//!
//! Every half second a `round` span blinks LED1, measures the die temperature in an
//! `#[instrument]`ed function and reports it in an event; every tenth round warns. Timestamps
//! come from the DWT cycle counter at 64 MHz (the external crystal). The whole rtt-tunnel
//! set-up is the one `init!` line: RTT channels, allocator, boot counter, the tunnel, the panic
//! handler (the sender's `panic-handler` feature). The main loop never calls `poll()`: the
//! sender serves a host that attaches late on its own. See README.md.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::StatefulOutputPin;
use nrf52840_hal::clocks::Clocks;
use nrf52840_hal::gpio::{p0, Level};
use nrf52840_hal::{pac, Delay, Temp};

/// The CPU clock, and so the rate of the cycle counter: 64 MHz.
const CPU_HZ: u32 = 64_000_000;

#[entry]
fn main() -> ! {
    rtt_tunnel_sender::init!(clock = dwt(CPU_HZ));

    let core = cortex_m::Peripherals::take().unwrap();
    let device = pac::Peripherals::take().unwrap();
    // 64 MHz from the 32 MHz crystal rather than the RC oscillator: exact timestamps.
    let _clocks = Clocks::new(device.CLOCK).enable_ext_hfosc();
    tracing::info!(board = "nRF52840-DK", cpu_hz = CPU_HZ, "up");

    let port0 = p0::Parts::new(device.P0);
    // LED1 (P0.13), lit when low.
    let mut led = port0.p0_13.into_push_pull_output(Level::High);
    let mut temp = Temp::new(device.TEMP);
    let mut delay = Delay::new(core.SYST);

    let mut round = 0u32;
    loop {
        let span = tracing::info_span!("round", round);
        let entered = span.enter();
        led.toggle().unwrap();
        let celsius = measure(&mut temp);
        tracing::info!(celsius, "die temperature");
        if round % 10 == 9 {
            tracing::warn!(round, "ten more rounds");
        }
        drop(entered);
        delay.delay_ms(500);
        round = round.wrapping_add(1);
    }
}

/// One temperature reading, in degrees Celsius (the sensor counts quarter degrees).
#[tracing::instrument(level = "debug", skip(temp))]
fn measure(temp: &mut Temp) -> f64 {
    f64::from(temp.measure().to_bits()) / 4.0
}
