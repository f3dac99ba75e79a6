//! rtt-tunnel on an STM32F411 "Black Pill": the firmware traces with the ordinary `tracing`
//! macros, and `cargo run --release` flashes it and shows its spans and events (the runner is
//! `host-receiver run --chip STM32F411CEUx`, in `.cargo/config.toml`).
//!
//! Every half second a `round` span blinks the LED on PC13, checksums a buffer in an
//! `#[instrument]`ed function and reports the sum in an event; every tenth round warns.
//! Timestamps come from the DWT cycle counter at 100 MHz (the 25 MHz crystal through the PLL).
//! The whole rtt-tunnel set-up is the one `init!` line; the main loop never calls `poll()`.
//! See README.md.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;

/// The CPU clock, and so the rate of the cycle counter: 100 MHz.
const CPU_HZ: u32 = 100_000_000;

#[entry]
fn main() -> ! {
    rtt_tunnel_sender::init!(clock = dwt(CPU_HZ));

    let core = cortex_m::Peripherals::take().unwrap();
    let device = pac::Peripherals::take().unwrap();
    // 100 MHz from the 25 MHz crystal rather than the RC oscillator: exact timestamps.
    let mut rcc = device.RCC.freeze(Config::hse(25.MHz()).sysclk(CPU_HZ.Hz()));
    tracing::info!(
        board = "STM32F411 Black Pill",
        cpu_hz = rcc.clocks.sysclk().raw(),
        "up"
    );

    // The blue LED (PC13), lit when low.
    let gpioc = device.GPIOC.split(&mut rcc);
    let mut led = gpioc.pc13.into_push_pull_output();
    led.set_high();
    let mut delay = core.SYST.delay(&rcc.clocks);
    let mut buffer = [0u8; 256];

    let mut round = 0u32;
    loop {
        let span = tracing::info_span!("round", round);
        let entered = span.enter();
        led.toggle();
        for (i, byte) in buffer.iter_mut().enumerate() {
            *byte = (i as u32).wrapping_mul(round) as u8;
        }
        let sum = checksum(&buffer);
        tracing::info!(sum, "buffer checked");
        if round % 10 == 9 {
            tracing::warn!(round, "ten more rounds");
        }
        drop(entered);
        delay.delay_ms(500);
        round = round.wrapping_add(1);
    }
}

/// A Fletcher-16 checksum: some work for a `debug` span to time.
#[tracing::instrument(level = "debug", skip(data), fields(len = data.len()))]
fn checksum(data: &[u8]) -> u16 {
    let (mut a, mut b) = (0u16, 0u16);
    for &byte in data {
        a = (a + u16::from(byte)) % 255;
        b = (b + a) % 255;
    }
    (b << 8) | a
}
