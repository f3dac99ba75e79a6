//! rtt-tunnel on an STM32F411 "Black Pill": the firmware traces with the ordinary `tracing`
//! macros, and `host-receiver --chip STM32F411CEUx` shows its spans and events on the host.
//!
//! Every half second a `round` span blinks the LED on PC13, checksums a buffer in an
//! `#[instrument]`ed function and reports the sum in an event; every tenth round warns.
//! Timestamps come from the DWT cycle counter at 100 MHz (the 25 MHz crystal through the PLL).
//! The RTT up channel 1 and down channel 0, both named `rtt-tunnel`, carry the frames and the
//! host's requests (re-send after a late attach, level changes); up channel 0, `Terminal`, says
//! in plain text how to watch, for `probe-rs run` (the runner shows only that channel). See
//! README.md for how to flash and watch.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use cortex_m::peripheral::DWT;
use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use rtt_target::rtt_init;
use rtt_tunnel_sender::{firmware_id, Clock, Identity, OneShotAlloc, RttLink, Tunnel};
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;

/// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// The CPU clock, and so the rate of the cycle counter: 100 MHz.
const CPU_HZ: u64 = 100_000_000;

/// Timestamps from the DWT cycle counter: 32 bits at 100 MHz, a wrap every 43 s. The sender
/// sends differences, so wraps do no harm while two frames are less than a wrap apart (this
/// firmware sends one every half second).
struct Cycles;

impl Clock for Cycles {
    const BITS: u32 = 32;
    fn now() -> u64 {
        u64::from(DWT::cycle_count())
    }
}

/// The sender's state: 32 live spans, 64 call sites, 16 entered at once, 256-byte frames.
static TUNNEL: Tunnel<RttLink, Cycles> = Tunnel::new();

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().unwrap();
    let device = pac::Peripherals::take().unwrap();
    // The cycle counter only counts while trace is enabled.
    core.DCB.enable_trace();
    core.DWT.enable_cycle_counter();
    // 100 MHz from the 25 MHz crystal rather than the RC oscillator: exact timestamps.
    let mut rcc = device
        .RCC
        .freeze(Config::hse(25.MHz()).sysclk((CPU_HZ as u32).Hz()));

    let channels = rtt_init! {
        up: {
            0: { size: 256, name: "Terminal" }
            1: { size: 4096, name: "rtt-tunnel" }
        }
        down: {
            0: { size: 16, name: "rtt-tunnel" }
        }
    };
    let identity = Identity {
        boot: boot_count(),
        tick_hz: CPU_HZ,
        firmware: firmware_id!(),
    };
    rtt_target::set_print_channel(channels.up.0);
    rtt_target::rprintln!(
        "{} is up and traces on RTT channel 'rtt-tunnel': quit probe-rs (Ctrl-C, the firmware \
         keeps running), then watch with `host-receiver --chip STM32F411CEUx --elf <this ELF> --resend`",
        firmware_id!()
    );
    if let Err(error) = TUNNEL.init(RttLink::new(channels.up.1, Some(channels.down.0)), identity) {
        panic!("rtt-tunnel did not start: {:?}", error);
    }
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
        // Host requests (re-send everything, level changes) and pending drop reports.
        TUNNEL.poll();
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

/// Counts boots in RAM that cortex-m-rt does not initialise (`.uninit`), so a reset gives the
/// next number and the host tells the boots apart. After power-up it starts from whatever the
/// RAM held, which is as good.
fn boot_count() -> u32 {
    #[link_section = ".uninit.rtt_tunnel_boot"]
    static mut BOOT: MaybeUninit<u32> = MaybeUninit::uninit();
    // SAFETY: called once, from `main`, before any interrupt is enabled; whatever the RAM
    // holds is a valid u32.
    unsafe {
        let boot = addr_of_mut!(BOOT).cast::<u32>();
        let next = boot.read_volatile().wrapping_add(1);
        boot.write_volatile(next);
        next
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // The panic message and place, as an ERROR event.
    rtt_tunnel_sender::report_panic(info);
    loop {
        // Halts under a debugger (`probe-rs run` shows where); without one the breakpoint
        // escalates to a HardFault, whose default handler spins.
        cortex_m::asm::bkpt();
    }
}
