//! rtt-tunnel on the nRF52840-DK: the firmware traces with the ordinary `tracing` macros, and
//! `host-receiver --chip nRF52840_xxAA` shows its spans and events on the host.
//!
//! Every half second a `round` span blinks LED1, measures the die temperature in an
//! `#[instrument]`ed function and reports it in an event; every tenth round warns. Timestamps
//! come from the DWT cycle counter at 64 MHz (the external crystal). The RTT up channel 1 and down channel 0, both named `rtt-tunnel`, carry the frames and the
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
use embedded_hal::digital::StatefulOutputPin;
use nrf52840_hal::clocks::Clocks;
use nrf52840_hal::gpio::{p0, Level};
use nrf52840_hal::{pac, Delay, Temp};
use rtt_target::rtt_init;
use rtt_tunnel_sender::{firmware_id, Clock, Identity, OneShotAlloc, RttLink, Tunnel};

/// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// The CPU clock, and so the rate of the cycle counter: 64 MHz.
const CPU_HZ: u64 = 64_000_000;

/// Timestamps from the DWT cycle counter: 32 bits at 64 MHz, a wrap every 67 s. The sender
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
    // 64 MHz from the 32 MHz crystal rather than the RC oscillator: exact timestamps.
    let _clocks = Clocks::new(device.CLOCK).enable_ext_hfosc();

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
         keeps running), then watch with `host-receiver --chip nRF52840_xxAA --elf <this ELF> --resend`",
        firmware_id!()
    );
    if let Err(error) = TUNNEL.init(RttLink::new(channels.up.1, Some(channels.down.0)), identity) {
        panic!("rtt-tunnel did not start: {:?}", error);
    }
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
        // Host requests (re-send everything, level changes) and pending drop reports.
        TUNNEL.poll();
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
